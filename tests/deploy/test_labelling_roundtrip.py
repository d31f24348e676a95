"""`predict --format` with a real exported model (the shared tiny SSD's fp32 .tflite,
tests/deploy/conftest.py) and real predict: each format's files, read back by `odwrap convert`,
hold the boxes (1e-4 of the image), classes and sizes of predict's own detections.jsonl and
images.jsonl of the same run, and its scores where the format has a place for them."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from defusedxml import ElementTree
from PIL import Image

from tests.conftest import run_odwrap
from tests.deploy.test_labelling import FORMATS, read_back, tool_source

pytestmark = pytest.mark.tf

SIZES = {"a.jpg": (64, 64), "sub/b.png": (80, 48), "c.jpg": (48, 72)}  # width, height


@pytest.fixture(scope="module")
def photos_folder(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("labelling") / "photos"
    rng = np.random.default_rng(0)
    for name, (width, height) in SIZES.items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(
            data / name)
    return data


def expected_images(out: Path, names: list[str]) -> dict:
    """What the records must hold, from predict's own files: {image stem: {"size",
    "objects": [(class name, xmin, ymin, xmax, ymax) as fractions, clipped to the image as
    convert clips, None for the mask)]}}."""
    found = {}
    for entry in map(json.loads, (out / "images.jsonl").read_text().splitlines()):
        found[Path(entry["filename"]).stem] = {"size": (entry["width"], entry["height"]),
                                               "objects": []}
    sizes = {stem: image["size"] for stem, image in found.items()}
    for line in map(json.loads, (out / "detections.jsonl").read_text().splitlines()):
        stem = Path(line["filename"]).stem
        width, height = sizes[stem]
        x, y, w, h = line["bbox"]
        found[stem]["objects"].append((
            names[line["category_id"] - 1], min(max(x / width, 0), 1),
            min(max(y / height, 0), 1), min(max((x + w) / width, 0), 1),
            min(max((y + h) / height, 0), 1), None))
    return found


def tool_scores(format: str, out: Path) -> list:
    """The scores in FORMAT's files, image by image in run order, each image's in its order."""
    folder = out / format
    if format == "labelme":
        order = [Path(json.loads(line)["filename"]).stem
                 for line in (out / "images.jsonl").read_text().splitlines()]
        return [shape["score"] for stem in order for shape in json.loads(
            (folder / f"{stem}.json").read_text(encoding="utf-8"))["shapes"]]
    if format == "cvat":
        root = ElementTree.parse(folder / "annotations.xml", forbid_dtd=True).getroot()
        return [float(box.findtext("attribute[@name='score']"))
                for image in root.iter("image") for box in image]
    return [annotation["score"] for annotation in
            json.loads((folder / "annotations.json").read_text())["annotations"]]


def rounded(objects) -> list:
    return sorted(objects, key=lambda row: (row[0], *(round(value, 3) for value in row[1:5])))


@pytest.mark.parametrize("format", FORMATS)
def test_the_tool_files_read_back_as_predicts_own_detections(tflite_export, photos_folder,
                                                             tmp_path, format):
    model, _ = tflite_export("none")
    names = (model.parent / "labels.txt").read_text().splitlines()
    data = tmp_path / "data"
    shutil.copytree(photos_folder, data / "photos")
    out = data / "out"
    only = ["--classes", names[0]] if format == "coco" else []  # --classes applies too
    result = run_odwrap("predict", model, data / "photos", "-o", out, "--threshold", 0,
                        "--jsonl", "--no-annotate", "--format", format, *only)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{format} files for the labelling tool in {out / format}" in result.stdout
    expected = expected_images(out, names)
    lines = [json.loads(line) for line in (out / "detections.jsonl").read_text().splitlines()]
    assert len(lines) >= 3 and set(expected) == {Path(name).stem for name in SIZES}
    if only:
        assert {line["category_id"] for line in lines} == {1}
    source, options = tool_source(format, data, out)
    found, problems = read_back(format, source, tmp_path / "records", **options)
    assert problems == {}
    assert set(found) == set(expected)
    for stem, image in expected.items():
        assert found[stem]["size"] == image["size"] == SIZES[
            next(name for name in SIZES if Path(name).stem == stem)]
        assert len(found[stem]["objects"]) == len(image["objects"]), stem
        for got, wanted in zip(rounded(found[stem]["objects"]), rounded(image["objects"])):
            assert got[0] == wanted[0], stem
            assert got[1:5] == pytest.approx(wanted[1:5], abs=1e-4), stem
    if format != "yolo":  # YOLO's label files have no place for a score
        assert tool_scores(format, out) == pytest.approx([line["score"] for line in lines])
