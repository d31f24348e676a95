"""Issue 27: datasets written by converter libraries that no one here wrote. One COCO file, made
here by hand, goes through globox (YOLO, LabelMe, CVAT for images) and supervision (YOLO,
LabelMe, Create ML), each with its own defaults, in the converters venv
(scripts/setup-converters.sh; tests/data/third_party_export.py in a child process). odwrap
converts every export, and its records must hold the boxes of the records it converts from the
COCO file itself: images matched by file name, classes by name (each export numbers them its own
way), every coordinate to 1e-4 of the image's side (the records' own unit).

Neither library writes all four formats: globox 2.9.0 has no Create ML writer, supervision 0.31.2
no CVAT writer; YOLO and LabelMe come from both. What each loses, read in their sources:
globox keeps Python floats and writes them in full (repr) everywhere; supervision holds boxes as
float32 (about 1e-5 pixel here) and writes YOLO with 5 decimals (each value within 5e-6 of the
image's side, a corner within 1e-5): both well inside 1e-4, so one tolerance serves every
format. Without the venv these tests fail under CI and are skipped elsewhere."""

import json
import os
import posixpath
import shutil
import subprocess
from pathlib import Path

import pytest

from odwrap import cli
from tests.conftest import side_venv_python
from tests.recordcheck import assert_valid, features, read_examples

SCRIPT = Path(__file__).with_name("third_party_export.py")
TOLERANCE = 1e-4  # of the image's width or height, as the records hold boxes

# (file name, width, height); the last one has no box. Sizes are odd and not square, so that a
# writer that swaps width and height or rounds to whole pixels is seen.
IMAGES = [("street.jpg", 97, 61), ("park.png", 50, 83), ("room.jpg", 120, 90),
          ("empty.jpg", 64, 48)]
# COCO category ids, not in name order, with gaps: every format numbers classes its own way.
CATEGORIES = {"zebra": 2, "cat": 7, "traffic light": 11, "dog": 5}
# (image, class, [x, y, width, height] in pixels, COCO's bbox). cat is in two images, dog in one.
BOXES = [
    ("street.jpg", "cat", [1.25, 2.5, 30.125, 20.75]),
    ("street.jpg", "traffic light", [40.3, 10.7, 50.1, 33.3]),
    ("street.jpg", "zebra", [60.6, 30.55, 36.4, 30.45]),  # to the right and bottom edges
    ("park.png", "zebra", [0, 0, 49.8, 82.7]),  # from the top left corner
    ("room.jpg", "cat", [12.3456789, 7.654321, 33.3333333, 44.4444444]),
    ("room.jpg", "cat", [70.01, 50.99, 0.75, 1.5]),  # under 2 pixels
    ("room.jpg", "dog", [99.5, 0.5, 20.5, 89.5]),
]
# (library, format): what each library writes; the folder odwrap converts is laid out below.
EXPORTS = [("globox", "yolo"), ("globox", "labelme"), ("globox", "cvat"),
           ("supervision", "yolo"), ("supervision", "labelme"), ("supervision", "createml")]
# What convert counts of an export: nothing. supervision's YOLO (5 decimals) gives park.png's
# zebra, nearly the image's height, cy 0.49819 and h 0.99639: ymin -5e-6, 0.0004 pixel above
# the image, which convert clamps to 0 without a count (dataset.CLIP_SLACK).
PROBLEMS = {}


@pytest.fixture(scope="module")
def converters_python():
    return side_venv_python("converters")


def coco_dataset(folder: Path) -> Path:
    """The images and, beside them, the COCO file of IMAGES and BOXES."""
    from PIL import Image

    folder.mkdir(parents=True)
    for index, (name, width, height) in enumerate(IMAGES):
        Image.new("RGB", (width, height), (40 * index, 120, 200)).save(folder / name)
    ids = {name: index for index, (name, _, _) in enumerate(IMAGES, start=1)}
    data = {
        "images": [{"id": ids[name], "file_name": name, "width": width, "height": height}
                   for name, width, height in IMAGES],
        "categories": [{"id": number, "name": name, "supercategory": "thing"}
                       for name, number in CATEGORIES.items()],
        "annotations": [{"id": index, "image_id": ids[image], "category_id": CATEGORIES[name],
                         "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0}
                        for index, (image, name, bbox) in enumerate(BOXES, start=1)]}
    path = folder / "instances.json"
    path.write_text(json.dumps(data))
    return path


def with_images(folder: Path, images: Path) -> Path:
    """Copy the images into FOLDER (where a YOLO or LabelMe export looks for them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, _, _ in IMAGES:
        shutil.copy(images / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def exports(tmp_path_factory, converters_python):
    """{(library, format): the convert arguments of its export}, and the COCO file's."""
    root = tmp_path_factory.mktemp("third_party")
    coco = coco_dataset(root / "coco")
    done = subprocess.run([str(converters_python), str(SCRIPT), str(coco), str(root)],
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr[-3000:]
    images = coco.parent
    for library in ("globox", "supervision"):
        with_images(root / library / "yolo" / "images", images)
        with_images(root / library / "labelme", images)  # imagePath: the image's name
    return {
        ("coco", "coco"): [coco],
        ("globox", "yolo"): [root / "globox" / "yolo"],  # images/, labels/, classes.txt
        ("globox", "labelme"): [root / "globox" / "labelme"],
        ("globox", "cvat"): [root / "globox" / "cvat.xml", "--images", images],
        ("supervision", "yolo"): [root / "supervision" / "yolo"],  # and data.yaml
        ("supervision", "labelme"): [root / "supervision" / "labelme"],
        ("supervision", "createml"): [root / "supervision" / "createml.json", "--images",
                                      images],
    }


def converted(fmt: str, source: list, out: Path, problems: dict) -> dict:
    """{image file name: [(class, xmin, ymin, xmax, ymax)] as the records hold them, in order
    of class and position}, each record checked for the OD API; PROBLEMS {reason: count} are
    all that convert may count."""
    assert cli.main(["convert", fmt, *map(str, source), "-o", str(out), "--workers", "1"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert {reason: entry["count"] for reason, entry in report["problems"].items()} == problems
    found = {}
    for shard in sorted(out.glob("*.tfrecord")):
        for example in read_examples(shard):
            assert_valid(example)
            values = features(example)
            name = posixpath.basename(values["image/filename"][0].decode())
            assert name not in found, name
            found[name] = sorted(
                (label.decode(), xmin, ymin, xmax, ymax)
                for label, xmin, ymin, xmax, ymax in zip(
                    values["image/object/class/text"], values["image/object/bbox/xmin"],
                    values["image/object/bbox/ymin"], values["image/object/bbox/xmax"],
                    values["image/object/bbox/ymax"]))
    return found


@pytest.fixture(scope="module")
def from_coco(exports, tmp_path_factory):
    found = converted("coco", exports[("coco", "coco")], tmp_path_factory.mktemp("coco_out"), {})
    # The reference itself, against the boxes above: the COCO reader is tested elsewhere, but
    # a wrong reference would make every comparison below meaningless.
    sizes = {name: (width, height) for name, width, height in IMAGES}
    expected = {name: [] for name, _, _ in IMAGES}
    for image, label, (x, y, w, h) in BOXES:
        width, height = sizes[image]
        expected[image].append((label, x / width, y / height, (x + w) / width, (y + h) / height))
    assert found == {image: [(label, *(pytest.approx(v, abs=1e-6) for v in box))
                             for label, *box in sorted(boxes)]
                     for image, boxes in expected.items()}
    return found


@pytest.mark.parametrize("library, fmt", EXPORTS, ids=[f"{lib}-{fmt}" for lib, fmt in EXPORTS])
def test_an_export_converts_to_the_boxes_of_its_coco_file(exports, from_coco, tmp_path,
                                                           library, fmt):
    found = converted(fmt, exports[(library, fmt)], tmp_path / "out",
                      PROBLEMS.get((library, fmt), {}))
    assert sorted(found) == sorted(from_coco)  # every image, the one without boxes too
    for image, boxes in from_coco.items():
        assert [label for label, *_ in found[image]] == [label for label, *_ in boxes], image
        for (label, *got), (_, *want) in zip(found[image], boxes):
            assert got == pytest.approx(want, abs=TOLERANCE), f"{image}: {label}"
