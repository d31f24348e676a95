"""A finished predict run as the labelling writers read it: each predicted image with its size
and detections (from the image log and the detection lines, in order), the classes' names,
the folder image names are relative to, file names per image, boxes and mask outlines."""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from odwrap.deploy.exportdir import UNNAMED_CLASS

SIMPLIFY_PIXELS = 1.0  # a mask's outline keeps within this of the traced one (fewer corners)
MAX_STEM_BYTES = 150  # a file name made from an image's, well under the usual 255


@dataclass
class Predicted:
    """One predicted image: its id and file name as predict's log has them, its size (EXIF
    orientation applied, as predict read it) and its detection lines."""

    image_id: int
    filename: str
    width: int
    height: int
    detections: list = field(default_factory=list)


@dataclass
class Run:
    log: Path  # images.jsonl(.part)
    lines: Path  # detections.jsonl(.part)
    names: dict  # the model's classes {id: name}
    arguments: list  # the images predict was given
    folder: Path  # where the tool's files end up (OUTPUT/FORMAT)
    keypoints: dict = field(default_factory=dict)  # a keypoint model's {class id: ClassPoints}
    count: int = 0  # images predicted
    used: set = field(default_factory=set)  # class ids detected
    images_root: Path | None = None  # the folder image names are relative to

    def __post_init__(self):
        folders = [os.path.abspath(a) for a in map(str, self.arguments) if os.path.isdir(a)]
        common = os.path.commonpath(folders) if folders else None
        for image in self.images():
            self.count += 1
            self.used |= {line["category_id"] for line in image.detections}
            parent = os.path.dirname(os.path.abspath(image.filename))
            common = parent if common is None else os.path.commonpath([common, parent])
        self.images_root = Path(common) if common else None

    def images(self) -> Iterator[Predicted]:
        """Each image the run read, in order, with its detections; images it could not read
        (logged as skipped) are left out."""
        with open(self.log, "rb") as log, open(self.lines, "rb") as lines:
            for entry in map(json.loads, log):
                if "skipped" in entry:
                    continue
                found = [json.loads(next(lines)) for _ in range(entry["detections"])]
                yield Predicted(image_id=entry["image_id"], filename=entry["filename"],
                                width=entry["width"], height=entry["height"], detections=found)

    def label(self, class_id: int) -> str:
        """A class's name: the model's, or its id where the model names none ('???' in an
        export's labels.txt marks an id the label map leaves unused)."""
        name = self.names.get(class_id)
        return name if name and name != UNNAMED_CLASS else str(class_id)

    def classes(self) -> dict[int, str]:
        """Every class, {id: name} in id order: the model's named ones and any detected."""
        named = {key for key, value in self.names.items() if value != UNNAMED_CLASS}
        return {key: self.label(key) for key in sorted(named | self.used)}

    def relative_name(self, image: Predicted) -> str:
        """IMAGE's path relative to the images root, '/'-separated."""
        return Path(os.path.relpath(os.path.abspath(image.filename),
                                    self.images_root)).as_posix()

    def path_from_folder(self, image: Predicted) -> str:
        """IMAGE's path relative to the tool's folder, through the real folders of both (a link
        in either path would make '..' lead elsewhere); the image's own name is kept even when
        it is a link."""
        real_image = os.path.join(os.path.realpath(os.path.dirname(
            os.path.abspath(image.filename))), os.path.basename(image.filename))
        real_folder = os.path.join(os.path.realpath(self.folder.parent), self.folder.name)
        return Path(os.path.relpath(real_image, real_folder)).as_posix()


class Stems:
    """A file name per image for the flat formats (a YOLO label and image, a LabelMe JSON):
    the image's name without its suffix, or NAME.2, NAME.3 ... when an earlier image of the run
    took it (a/x.jpg, b/x.jpg, a/x.png), letter case ignored (macOS's disks)."""

    def __init__(self):
        self.taken = set()

    def __call__(self, filename: str) -> str:
        stem = Path(filename).stem.replace("\0", "_") or "image"
        while len(stem.encode("utf-8", "surrogateescape")) > MAX_STEM_BYTES:
            stem = stem[:-1]
        name, count = stem, 1
        while name.casefold() in self.taken:
            count += 1
            name = f"{stem}.{count}"
        self.taken.add(name.casefold())
        return name


def _inside(value: float, side: int) -> float:
    """VALUE (pixels) rounded to 0.01 as predict's lines are, and within 0..SIDE."""
    return min(max(round(value, 2), 0.0), float(side))


def corners(line: dict, width: int, height: int) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) in pixels of a detection line's bbox, inside the image (the
    line's rounding to 0.01 may put an edge of a box at the border a hair outside it)."""
    x, y, w, h = line["bbox"]
    return _inside(x, width), _inside(y, height), _inside(x + w, width), _inside(y + h, height)


def point_inside(x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """A predicted point (pixels) moved onto the image: a model may place a point a little past
    an edge, where no labelling tool can hold it and `convert` would count it outside."""
    return _inside(x, width), _inside(y, height)


def rectangle(box) -> list[tuple[float, float]]:
    xmin, ymin, xmax, ymax = box
    return [(xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax)]


def outlines(line: dict, width: int, height: int) -> list[list[tuple[float, float]]]:
    """The outlines of a detection's mask (its compressed RLE), largest first, as polygons of
    pixel centres (OpenCV traces the outer border's pixels; holes are not kept), simplified to
    within SIMPLIFY_PIXELS; the box's rectangle when the mask has no part of 3 corners."""
    import cv2
    import numpy as np

    from odwrap.deploy.predicted_masks import decode

    mask = decode(line["segmentation"]).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True):
        simple = cv2.approxPolyDP(contour, SIMPLIFY_PIXELS, True).reshape(-1, 2)
        if len(simple) >= 3:
            parts.append([(float(x) + 0.5, float(y) + 0.5) for x, y in simple])
    return parts or [rectangle(corners(line, width, height))]


def number(value: float) -> str:
    """A coordinate in pixels as text: at most 2 decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
