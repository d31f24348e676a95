"""YOLO (Ultralytics, Label Studio, `odwrap convert yolo`): OUTPUT/yolo/ with

    images/NAME.jpg    each image: a hard link to it where the disk allows, else a copy
    labels/NAME.txt    its detections, `class cx cy w h` (a mask model: `class x1 y1 x2 y2 ...`,
                       its mask's outline), fractions of the image; empty without detections
    data.yaml          names (the model's classes, YOLO id = class id - 1), nc, train: images
    classes.txt        the same names, a line each (Label Studio, LabelImg)

The label files need their images beside them in an images/ folder (Ultralytics' rule turns
images/ into labels/), and the input folders must not be written to, so the images come in:
as hard links (the same file under a second name, no space used; OUTPUT/yolo may be deleted
freely) or, across disks, as copies. An image whose suffix YOLO tools do not read (.gif, none)
is written as a PNG of the pixels predict saw. NAME is the image's name without its suffix
(NAME.2 ... for later images of the same name).
"""

import os
import shutil
from pathlib import Path

import yaml

from odwrap.data.formats.yolo import IMAGE_SUFFIXES
from odwrap.deploy.labelling.run import Predicted, Run, Stems, corners, outlines
from odwrap.errors import InputError

HEADER = ("# odwrap predict --format yolo: the model's detections, to correct in a labelling "
          "tool.\n# Ultralytics also wants a val: to train (val: images takes the same "
          "images).\n")


def _fraction(value: float, side: int) -> str:
    return f"{value / side:.6f}"


def label_lines(image: Predicted) -> str:
    """IMAGE's label file: a line per detection."""
    text = []
    for line in image.detections:
        class_id = line["category_id"] - 1
        if "segmentation" in line:
            (polygon, *_) = outlines(line, image.width, image.height)
            values = [f"{_fraction(x, image.width)} {_fraction(y, image.height)}"
                      for x, y in polygon]
        else:
            xmin, ymin, xmax, ymax = corners(line, image.width, image.height)
            values = [_fraction((xmin + xmax) / 2, image.width),
                      _fraction((ymin + ymax) / 2, image.height),
                      _fraction(xmax - xmin, image.width), _fraction(ymax - ymin, image.height)]
        text.append(f"{class_id} {' '.join(values)}\n")
    return "".join(text)


def place_image(image: Predicted, folder: Path, name: str) -> str:
    """Put IMAGE into FOLDER as NAME plus its suffix; 'linked', 'copied' or 'converted'."""
    source = Path(image.filename)
    try:
        if source.suffix.lower() not in IMAGE_SUFFIXES:
            from PIL import Image

            from odwrap.deploy.runtime import load_rgb

            Image.fromarray(load_rgb(source)).save(folder / f"{name}.png", "PNG")
            return "converted"
        target = folder / f"{name}{source.suffix}"
        try:
            # The file a link names, as predict read it: os.link on Linux links the link
            # itself whatever its follow_symlinks says (link(2) does not follow).
            os.link(os.path.realpath(source), target)
            return "linked"
        except OSError:  # another disk, a file system without hard links, another's file
            shutil.copyfile(source, target)
            return "copied"
    except (OSError, InputError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{source}: cannot put the image into {folder} ({why}); it must stay "
                         "where predict read it until the run ends") from None


def write(folder: Path, run: Run) -> list[str]:
    (folder / "images").mkdir()
    (folder / "labels").mkdir()
    stems = Stems()
    placed = {"linked": 0, "copied": 0, "converted": 0}
    for image in run.images():
        name = stems(image.filename)
        (folder / "labels" / f"{name}.txt").write_text(label_lines(image), encoding="utf-8")
        placed[place_image(image, folder / "images", name)] += 1
    classes = run.classes()
    names = [run.label(class_id) for class_id in range(1, max(classes, default=0) + 1)]
    data = {"names": names, "nc": len(names), "train": "images"} if names else \
        {"train": "images"}
    (folder / "data.yaml").write_text(
        HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    if names:
        (folder / "classes.txt").write_text("".join(f"{name}\n" for name in names),
                                            encoding="utf-8")
    kinds = {"linked": "hard link(s) to the images (the same files: editing one in place edits "
                       "the original)", "copied": "copies", "converted": "written as PNG"}
    return ["images/: " + ", ".join(f"{count} {kinds[kind]}"
                                    for kind, count in placed.items() if count)]
