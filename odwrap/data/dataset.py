"""The annotation model shared by the dataset readers, the converter and the report.

A reader turns one annotation format into Samples: an image path inside the dataset root and
its objects in pixel coordinates. What is wrong with the data is counted per reason in a
Problems, never raised, unless the conversion is strict.
"""

import base64
import json
import math
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from odwrap.data import orientation
from odwrap.errors import InputError

# Why an image or a box was dropped or changed; the report counts each.
REASONS = {
    "missing_image": "image file missing (image dropped)",
    "corrupt_image": "image corrupt, truncated or not an image (image dropped)",
    "path_escape": "image path outside the dataset root (image dropped)",
    "bad_annotation": "annotation unreadable or malformed (its image dropped)",
    "size_mismatch": "annotated size differs from the image (the image's size used)",
    "box_clipped": "box partly outside the image, by more than 0.01 pixel (clipped)",
    "box_degenerate": "box outside the image or empty after clipping (dropped)",
    "box_zero_area": "box with zero width or height (dropped)",
    "unknown_class": "class not in the label map (box dropped)",
    "filtered_class": "class left out by --keep/--drop (box dropped)",
    "group_of": "group-of box left out by --no-group-of (dropped)",
    "crowd": "crowd annotation left out by --crowd drop (dropped)",
    "duplicate_image": "image annotated twice (second annotation dropped)",
    "bad_coordinate": "box coordinate not a finite number (box dropped)",
    "bad_flag": "difficult, iscrowd or group_of not 0 or 1 (box dropped)",
    "bad_size": "annotated width or height not a whole number in 1..1000000 (dropped)",
    "unknown_image": "annotation for an image the file does not list (dropped)",
    "bad_mask": "segmentation malformed, out of bounds or not the image's size (box dropped)",
    "box_mask": "object with no mask under --masks, or one with no pixel in the image (its "
                "box used as its mask)",
    "bad_exif": "EXIF block or orientation tag unreadable (the image taken as stored)",
    "exif_oriented": "annotated as EXIF-oriented: the image written turned, as viewers show it",
    "exif_raw": "annotated on the stored pixels despite an EXIF orientation (written as stored)",
    "unsupported_shape": "shape with no box (point, line, tag) or no mask odwrap reads (dropped)",
    "rotated_box": "rotated box (CVAT rotation) read as the upright box around it",
    "bad_keypoints": "keypoints not a list of x, y, v for each of the category's keypoints "
                     "(the object kept, its keypoints unlabeled)",
    "bad_keypoint": "keypoint coordinate not a finite number, visibility not 0, 1 or 2, or a "
                    "point shape without one [x, y] or a name (the point unlabeled)",
    "loose_keypoint": "point shape without a group_id, or whose group has no box shape or two "
                      "(the point left out)",
    "duplicate_keypoint": "keypoint named twice in one object (that keypoint unlabeled)",
    "keypoint_outside": "labeled keypoint outside the image, by more than 0.01 pixel (the "
                        "point unlabeled)",
}
# Reasons counted for the report that are no problem: --strict does not fail on them.
NOTES = frozenset({"exif_oriented", "exif_raw"})

# Limits on what an annotation may say; beyond them a value is counted, never used.
MAX_SIDE = 1_000_000  # annotated width or height in pixels
MAX_COORDINATE = 1e9  # |coordinate|; larger is no box in any image (and overflows float32)
# A box past the image's edge by at most this many pixels is clamped without a count: the
# rounding of a normalized format (YOLO's 5 or 6 decimals) puts an edge box there, not an error.
CLIP_SLACK = 0.01
MAX_EMBEDDED_BYTES = 256 * 1024 ** 2  # an annotation file holding its image (LabelMe)


class BadValue(ValueError):
    """A value read from an annotation that is not what it must be; `reason` is a REASONS key."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _real(value) -> float:
    """A number from JSON (int/float, not bool) or text; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    return float(value.strip() if isinstance(value, str) else value)


def coordinate(value, what: str) -> float:
    """A finite box coordinate, |value| <= MAX_COORDINATE."""
    try:
        number = _real(value)
    except (ValueError, OverflowError):
        raise BadValue("bad_coordinate", f"{what} {shown(value)} is not a number") from None
    if not math.isfinite(number) or abs(number) > MAX_COORDINATE:
        raise BadValue("bad_coordinate", f"{what} {shown(value)} is not a finite number "
                                         f"within +-{MAX_COORDINATE:g}")
    return number


def side(value, what: str) -> int:
    """An annotated width or height: a whole number in 1..MAX_SIDE."""
    try:
        number = _real(value)
    except (ValueError, OverflowError):
        number = math.nan
    if not (math.isfinite(number) and number.is_integer() and 1 <= number <= MAX_SIDE):
        raise BadValue("bad_size", f"{what} {shown(value)} is not a whole number in "
                                   f"1..{MAX_SIDE}")
    return int(number)


def flag(value, what: str) -> int:
    """difficult, iscrowd or group_of: 0 or 1 (JSON false/true too)."""
    if isinstance(value, bool):
        return int(value)
    try:
        number = _real(value)
    except (ValueError, OverflowError):
        number = math.nan
    if number not in (0.0, 1.0):
        raise BadValue("bad_flag", f"{what} {shown(value)} is not 0 or 1")
    return int(number)


def text(value, what: str) -> str:
    """A non-empty string without NUL or line breaks (an image path, a class name)."""
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\0\n\r"):
        raise BadValue("bad_annotation", f"{what} {shown(value)} is not a non-empty name "
                                         "without NUL or line breaks")
    return value


def shown(value, limit: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "..."


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
    mask: object = None  # COCO segmentation (polygons or RLE), turned into a PNG mask; [] none
    keypoints: list | None = None  # --keypoints: [x, y, v, ...] in the class's order, pixels


@dataclass
class Sample:
    image: str  # path relative to the images root, "/"-separated
    width: int | None  # as annotated; None when the format does not say
    height: int | None
    objects: list[Obj] = field(default_factory=list)
    source: str = ""  # where the annotation came from, for messages
    normalized: bool = False  # boxes are fractions of the image size (Open Images, YOLO)
    split: str | None = None  # the dataset's own split (splits.source_split), when it has them
    exif: str = orientation.DEFAULT  # oriented | raw: the image boxes describe if size can't tell
    # The annotation file (relative to the images root) that holds the image as base64
    # "imageData" (LabelMe), read when the shard is written instead of the file `image`.
    embedded: str | None = None


@dataclass
class Problems:
    """Counts per reason, plus the first example of each for the report."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    strict: bool = False

    def add(self, reason: str, where: str, count: int = 1) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown problem reason {reason!r}")
        if self.strict and reason not in NOTES:
            raise InputError(f"{where}: {REASONS[reason]} (--strict)")
        self.counts[reason] += count
        self.examples.setdefault(reason, where)

    def merge(self, other: "Problems") -> None:
        self.counts.update(other.counts)
        for reason, where in other.examples.items():
            self.examples.setdefault(reason, where)


def inside_root(root, relative: str) -> Path | None:
    """root/relative, or None when it would escape root (.., absolute paths, symlinks out)."""
    if "\0" in relative:
        return None
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, relative))
    inside = candidate == real_root or candidate.startswith(real_root.rstrip(os.sep) + os.sep)
    return Path(candidate) if inside else None


class RootLocator:
    """inside_root for many images: the real path of each folder is resolved once, then only
    the image's own name is looked at (a symlink there is resolved in full), with the same
    result as inside_root's realpath of the whole path."""

    def __init__(self):
        self._folders = {}  # (root, folder) -> (real root, real folder)

    def __call__(self, root, relative: str) -> Path | None:
        folder, _, name = relative.rpartition("/")
        if "\0" in relative or name in ("", ".", ".."):
            return inside_root(root, relative)
        real = self._folders.get((root, folder))
        if real is None:
            real_root = os.path.realpath(root)
            real = self._folders[(root, folder)] = (
                real_root, os.path.realpath(os.path.join(real_root, folder)))
        real_root, real_folder = real
        candidate = os.path.join(real_folder, name)
        if os.path.islink(candidate):
            candidate = os.path.realpath(candidate)
        inside = candidate == real_root or candidate.startswith(real_root.rstrip(os.sep) + os.sep)
        return Path(candidate) if inside else None


def _stored_positive(xmin, xmax, ymin, ymax, area) -> bool:
    """Whether the box keeps a positive width, height and area as the float32s a record holds
    (a box narrower than float32 can tell apart is zero-area in the record)."""
    xmin, xmax, ymin, ymax, area = struct.unpack("<5f", struct.pack("<5f", xmin, xmax, ymin,
                                                                     ymax, area))
    return xmin < xmax and ymin < ymax and area > 0


def clip_objects(sample: Sample, width: int, height: int, problems: Problems) -> list[Obj]:
    """Objects clipped to the image; degenerate and zero-area boxes dropped and counted."""
    kept = []
    for obj in sample.objects:
        where = f"{sample.source}: {obj.name}"
        corners = (obj.xmin, obj.ymin, obj.xmax, obj.ymax)
        if not all(math.isfinite(value) for value in corners):
            problems.add("bad_coordinate", f"{where}: {corners}")
            continue
        if obj.xmax <= obj.xmin or obj.ymax <= obj.ymin:
            problems.add("box_zero_area", where)
            continue
        xmin, ymin = max(obj.xmin, 0.0), max(obj.ymin, 0.0)
        xmax, ymax = min(obj.xmax, float(width)), min(obj.ymax, float(height))
        if xmax <= xmin or ymax <= ymin:
            problems.add("box_degenerate", where)
            continue
        if not _stored_positive(xmin / width, xmax / width, ymin / height, ymax / height,
                                (xmax - xmin) * (ymax - ymin)):
            problems.add("box_zero_area", where)
            continue
        moved = max(abs(new - old) for new, old in zip((xmin, ymin, xmax, ymax), corners))
        if moved > CLIP_SLACK:
            problems.add("box_clipped", where)
        kept.append(Obj(obj.name, xmin, ymin, xmax, ymax, obj.difficult, obj.is_crowd,
                        obj.group_of, obj.mask, obj.keypoints))
    return kept


class EmbeddedImage:
    """The image that an annotation file holds (Sample.embedded), decoded from it when its
    shard is written rather than kept in memory from the reading on. FILE is what locate()
    gave for the annotation file (a Path, a remote.RemoteImage); read_bytes() fails as a
    missing or broken image file does (FileNotFoundError, OSError)."""

    def __init__(self, file):
        self.file = file

    def read_bytes(self) -> bytes:
        data = self.file.read_bytes()
        if len(data) > MAX_EMBEDDED_BYTES:
            raise OSError(f"over the limit of {MAX_EMBEDDED_BYTES} bytes")
        try:
            return base64.b64decode(json.loads(data.decode("utf-8-sig"))["imageData"],
                                    validate=True)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:  # binascii.Error too
            raise OSError(f"no base64 imageData: {exc}") from None
