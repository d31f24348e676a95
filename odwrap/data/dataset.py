"""The annotation model shared by the dataset readers, the converter and the report.

A reader turns one annotation format into Samples: an image path inside the dataset root and
its objects in pixel coordinates. What is wrong with the data is counted per reason in a
Problems, never raised, unless the conversion is strict.
"""

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from odwrap.errors import InputError

# Why an image or a box was dropped or changed; the report counts each.
REASONS = {
    "missing_image": "image file missing (image dropped)",
    "corrupt_image": "image corrupt, truncated or not an image (image dropped)",
    "path_escape": "image path outside the dataset root (image dropped)",
    "bad_annotation": "annotation unreadable or malformed (its image dropped)",
    "size_mismatch": "annotated size differs from the image (the image's size used)",
    "box_clipped": "box partly outside the image (clipped)",
    "box_degenerate": "box outside the image or empty after clipping (dropped)",
    "box_zero_area": "box with zero width or height (dropped)",
    "unknown_class": "class not in the label map (box dropped)",
    "filtered_class": "class left out by --keep/--drop (box dropped)",
    "group_of": "group-of box left out by --no-group-of (dropped)",
    "crowd": "crowd annotation left out by --crowd drop (dropped)",
    "duplicate_image": "image annotated twice (second annotation dropped)",
}


@dataclass
class Obj:
    name: str
    xmin: float  # pixels
    ymin: float
    xmax: float
    ymax: float
    difficult: int = 0
    is_crowd: int = 0
    group_of: int = 0
    mask: object = None  # COCO segmentation (polygons or RLE), turned into a PNG mask


@dataclass
class Sample:
    image: str  # path relative to the images root, "/"-separated
    width: int | None  # as annotated; None when the format does not say
    height: int | None
    objects: list[Obj] = field(default_factory=list)
    source: str = ""  # where the annotation came from, for messages
    normalized: bool = False  # boxes are fractions of the image size (Open Images)


@dataclass
class Problems:
    """Counts per reason, plus the first example of each for the report."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    strict: bool = False

    def add(self, reason: str, where: str, count: int = 1) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown problem reason {reason!r}")
        if self.strict:
            raise InputError(f"{where}: {REASONS[reason]} (--strict)")
        self.counts[reason] += count
        self.examples.setdefault(reason, where)

    def merge(self, other: "Problems") -> None:
        self.counts.update(other.counts)
        for reason, where in other.examples.items():
            self.examples.setdefault(reason, where)


def inside_root(root, relative: str) -> Path | None:
    """root/relative, or None when it would escape root (.., absolute paths, symlinks out)."""
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, relative))
    inside = candidate == real_root or candidate.startswith(real_root.rstrip(os.sep) + os.sep)
    return Path(candidate) if inside else None


def clip_objects(sample: Sample, width: int, height: int, problems: Problems) -> list[Obj]:
    """Objects clipped to the image; degenerate and zero-area boxes dropped and counted."""
    kept = []
    for obj in sample.objects:
        where = f"{sample.source}: {obj.name}"
        if obj.xmax <= obj.xmin or obj.ymax <= obj.ymin:
            problems.add("box_zero_area", where)
            continue
        xmin, ymin = max(obj.xmin, 0.0), max(obj.ymin, 0.0)
        xmax, ymax = min(obj.xmax, float(width)), min(obj.ymax, float(height))
        if xmax <= xmin or ymax <= ymin:
            problems.add("box_degenerate", where)
            continue
        if (xmin, ymin, xmax, ymax) != (obj.xmin, obj.ymin, obj.xmax, obj.ymax):
            problems.add("box_clipped", where)
        kept.append(Obj(obj.name, xmin, ymin, xmax, ymax, obj.difficult, obj.is_crowd,
                        obj.group_of, obj.mask))
    return kept
