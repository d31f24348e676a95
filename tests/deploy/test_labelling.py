"""`predict --format` (issue 27, model-assisted labelling) without a model: a stand-in detector
finds the red rectangle of phone photos (tests/exifphotos.py, every EXIF orientation) and the
run's tool files are read back by odwrap's own readers into records (checked by protobuf,
tests/recordcheck.py) whose boxes, sizes and names are compared with values worked out here.
Masks come from files written here as predict writes them, drawn with numpy; the XML is parsed
with defusedxml. The round trip through a real exported model is test_labelling_roundtrip.py.
"""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from defusedxml import ElementTree
from PIL import Image

import odwrap
from odwrap import cli
from odwrap.deploy.runtime import Detections
from odwrap.errors import InputError
from tests import exifphotos as photos
from tests.recordcheck import assert_valid, features, read_examples

FORMATS = ("yolo", "labelme", "cvat", "coco")
NAME = "red <&\"'> é"  # a class name that XML, JSON and YAML must each escape or quote
GREY_SIZE = (50, 40)


def has_red(image: np.ndarray) -> bool:
    red = (image[..., 0] > 160) & (image[..., 1] < 80) & (image[..., 2] < 80)
    return bool(red.any())


class RedFinder:
    """Class 1 (NAME): the red pixels' box, score 0.9, when there are any; class 2 ('other'):
    a box of the top left quarter, score 0.3, always (below the tests' threshold 0.5)."""

    runtime = "stand-in"
    labels = [NAME, "other"]

    def detect(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        boxes, classes, scores = [[0.0, 0.0, 0.5, 0.5]], [2], [0.3]
        if has_red(image):
            xmin, ymin, xmax, ymax = photos.red_box(image)
            boxes.append([ymin / height, xmin / width, ymax / height, xmax / width])
            classes.append(1)
            scores.append(0.9)
        return Detections(boxes=np.array(boxes, np.float32), classes=np.array(classes),
                          scores=np.array(scores, np.float32), milliseconds=0.0)


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr("odwrap.deploy.runtime.load_detector",
                        lambda *args, **kwargs: RedFinder())


def predict(model_folder, *argv) -> int:
    return cli.main(["predict", str(model_folder / "model.tflite"), *map(str, argv),
                     "--no-annotate", "--jsonl"])


def read_back(format, source, out, **options) -> tuple[dict, dict]:
    """({image stem: {"size", "objects": [(class, xmin, ymin, xmax, ymax normalized, mask)]}},
    problems) of `odwrap convert FORMAT SOURCE`, the records checked as the OD API needs."""
    report = odwrap.convert(format, source, out, workers=1, **options)
    found = {}
    for shard in sorted(Path(out).glob("*.tfrecord")):
        for example in read_examples(shard):
            assert_valid(example)
            values = features(example)
            masks = [np.asarray(Image.open(io.BytesIO(png))) > 0
                     for png in values.get("image/object/mask", [])]
            objects = [(name.decode(), *box) for name, *box in zip(
                values["image/object/class/text"], values["image/object/bbox/xmin"],
                values["image/object/bbox/ymin"], values["image/object/bbox/xmax"],
                values["image/object/bbox/ymax"])]
            found[Path(values["image/filename"][0].decode()).stem] = {
                "size": (values["image/width"][0], values["image/height"][0]),
                "objects": [(*item, mask) for item, mask in
                            zip(objects, masks or [None] * len(objects))]}
    return found, report.problems


def tool_source(format, data: Path, out: Path) -> tuple[Path, dict]:
    """What `convert FORMAT` reads of predict's OUT (images in DATA/photos): (source, options).
    LabelMe's imagePath must stay inside the folder converted: the one holding both."""
    return {"yolo": (out / "yolo", {}), "labelme": (data, {}),
            "cvat": (out / "cvat" / "annotations.xml", {"images": data / "photos"}),
            "coco": (out / "coco" / "annotations.json", {"images": data / "photos"})}[format]


@pytest.mark.parametrize("format", FORMATS)
def test_photos_read_back_as_the_boxes_found_on_the_image_a_viewer_shows(tmp_path, stand_in,
                                                                        format, capsys):
    data = tmp_path / "data"
    (data / "photos" / "sub").mkdir(parents=True)
    for tag in range(1, 9):
        (data / "photos" / f"tag{tag}.jpg").write_bytes(photos.photo(tag))
    Image.new("RGB", GREY_SIZE, photos.GREY).save(data / "photos" / "sub" / "grey.png")
    out = data / "out"
    assert predict(tmp_path, data / "photos", "-o", out, "--threshold", 0.5,
                   "--format", format) == 0
    assert f"{format} files for the labelling tool in {out / format}" in capsys.readouterr().out
    source, options = tool_source(format, data, out)
    found, problems = read_back(format, source, tmp_path / "records", **options)
    assert problems.pop("exif_oriented")["count"] == 7  # tags 2-8 turned, as predict saw them
    assert problems == {}
    xmin, ymin, xmax, ymax = photos.RECT
    red = (NAME, xmin / photos.WIDTH, ymin / photos.HEIGHT, xmax / photos.WIDTH,
           ymax / photos.HEIGHT, None)
    assert set(found) == {f"tag{tag}" for tag in range(1, 9)} | {"grey"}
    for tag in range(1, 9):  # the size and box of the upright photo, whatever its tag
        image = found[f"tag{tag}"]
        assert image["size"] == (photos.WIDTH, photos.HEIGHT), tag
        assert image["objects"] == [pytest.approx(red, abs=1e-4)], tag
    assert found["grey"] == {"size": GREY_SIZE, "objects": []}  # predicted, nothing found


def test_scores_and_empty_images_are_kept_where_each_format_has_a_place(tmp_path, stand_in):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "tag6.jpg").write_bytes(photos.photo(6))
    Image.new("RGB", GREY_SIZE, photos.GREY).save(tmp_path / "photos" / "grey.png")
    for format in FORMATS:
        assert predict(tmp_path, tmp_path / "photos", "-o", tmp_path / format,
                       "--threshold", 0.5, "--format", format) == 0
    yolo = tmp_path / "yolo" / "yolo"
    assert (yolo / "labels" / "grey.txt").read_text() == ""
    assert (yolo / "labels" / "tag6.txt").read_text().split()[0] == "0"  # class 1 - 1
    assert (yolo / "classes.txt").read_text() == f"{NAME}\nother\n"
    labelme = {path.stem: json.loads(path.read_text(encoding="utf-8"))
               for path in (tmp_path / "labelme" / "labelme").glob("*.json")}
    assert labelme["grey"]["shapes"] == []
    (shape,) = labelme["tag6"]["shapes"]
    assert (shape["label"], shape["score"], shape["shape_type"]) == (NAME, 0.9, "rectangle")
    assert labelme["tag6"]["imageData"] is None and labelme["tag6"]["version"].startswith("5.")
    root = ElementTree.parse(tmp_path / "cvat" / "cvat" / "annotations.xml").getroot()
    images = {image.get("name"): image for image in root.iter("image")}
    assert list(images["grey.png"]) == []
    (box,) = images["tag6.jpg"]
    assert [(item.get("name"), item.text) for item in box] == [("score", "0.9")]
    coco = json.loads((tmp_path / "coco" / "coco" / "annotations.json").read_text())
    ids = {image["file_name"]: image["id"] for image in coco["images"]}
    assert [(a["image_id"], a["score"]) for a in coco["annotations"]] == [(ids["tag6.jpg"],
                                                                           0.9)]


def test_the_cvat_xml_is_cvat_for_images_with_its_names_escaped(tmp_path, stand_in):
    data = tmp_path / "data"
    (data / "photos" / "sub").mkdir(parents=True)
    (data / "photos" / "sub" / "a & b.jpg").write_bytes(photos.photo(1))
    (data / "photos" / "c.jpg").write_bytes(photos.photo(8))
    assert predict(tmp_path, data / "photos", "-o", data / "out", "--threshold", 0,
                   "--format", "cvat") == 0
    text = (data / "out" / "cvat" / "annotations.xml").read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<annotations>')
    root = ElementTree.fromstring(text.encode("utf-8"), forbid_dtd=True)
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    labels = root.findall("meta/task/labels/label")
    assert [label.findtext("name") for label in labels] == [NAME, "other"]
    assert all(label.findtext("attributes/attribute/name") == "score" for label in labels)
    assert root.findtext("meta/task/size") == "2"
    images = root.findall("image")
    assert [(image.get("id"), image.get("name"), image.get("width"), image.get("height"))
            for image in images] == [("0", "c.jpg", "96", "64"), ("1", "sub/a & b.jpg", "96",
                                                                     "64")]
    for image in images:
        boxes = image.findall("box")
        assert [box.get("label") for box in boxes] == ["other", NAME]
        other, red = ([float(box.get(key)) for key in ("xtl", "ytl", "xbr", "ybr")]
                      for box in boxes)
        assert other == [0, 0, 48, 32] and red == list(photos.RECT)
        assert all((box.get("occluded"), box.get("source"), box.get("z_order")) ==
                   ("0", "auto", "0") for box in boxes)
        assert [box.findtext("attribute[@name='score']") for box in boxes] == ["0.3", "0.9"]
    # Through the reader: the names as they were, the boxes in pixels.
    found, problems = read_back("cvat", data / "out" / "cvat" / "annotations.xml",
                                tmp_path / "records", images=data / "photos")
    assert set(problems) == {"exif_oriented"}  # c.jpg: tag 8, annotated as viewers show it
    assert {row[0] for image in found.values() for row in image["objects"]} == {NAME, "other"}


def test_a_name_with_characters_xml_cannot_hold_becomes_a_replacement_character(tmp_path,
                                                                              monkeypatch):
    class Odd(RedFinder):
        labels = ["bell\x07", "other"]

    monkeypatch.setattr("odwrap.deploy.runtime.load_detector", lambda *args, **kwargs: Odd())
    (tmp_path / "c.jpg").write_bytes(photos.photo(1))
    assert predict(tmp_path, tmp_path / "c.jpg", "-o", tmp_path / "out", "--threshold", 0.5,
                   "--format", "cvat") == 0
    root = ElementTree.parse(tmp_path / "out" / "cvat" / "annotations.xml").getroot()
    assert root.find("image/box").get("label") == "bell\ufffd"


def disk(height, width, cx, cy, radius) -> np.ndarray:
    rows, columns = np.mgrid[:height, :width]
    return (columns - cx) ** 2 + (rows - cy) ** 2 <= radius ** 2


def iou(first, second) -> float:
    return float((first & second).sum() / (first | second).sum())


def rle(mask) -> dict:
    from pycocotools import mask as coco_mask

    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode()}


def mask_line(number, category, mask, score) -> dict:
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    x, y = (int(columns[0]), int(rows[0])) if len(rows) else (10, 10)
    w, h = (int(columns[-1]) + 1 - x, int(rows[-1]) + 1 - y) if len(rows) else (20, 15)
    return {"image_id": 1, "filename": "", "category_id": category, "bbox": [x, y, w, h],
            "score": score, "segmentation": rle(mask), "mask_mean_score": 0.8,
            "mask_area_fraction": 0.5, "id": number}


@pytest.mark.parametrize("format", FORMATS)
def test_masks_become_polygons_that_read_back_as_the_masks(tmp_path, format):
    """A mask model's run, its files written here as predict writes them: a disk, a mask of
    two parts (a rectangle and a small square apart) and an empty mask. Each part's outline
    must draw back to it (IoU 0.9; the outline runs through the border pixels' centres); a
    format of one polygon per object keeps the largest part, COCO every part; an empty mask is
    its box."""
    from odwrap.deploy import labelling

    height, width = 60, 80
    data = tmp_path / "data"
    (data / "photos").mkdir(parents=True)
    image = data / "photos" / "shapes.png"
    Image.new("RGB", (width, height), (90, 90, 90)).save(image)
    round_mask = disk(height, width, 24, 28, 15)
    big, small = np.zeros((height, width), bool), np.zeros((height, width), bool)
    big[5:45, 50:75], small[52:57, 10:15] = True, True
    empty = np.zeros((height, width), bool)
    lines = [mask_line(1, 1, round_mask, 0.9), mask_line(2, 2, big | small, 0.8),
             mask_line(3, 2, empty, 0.7)]
    for line in lines:
        line["filename"] = str(image)
    out = data / "out"
    out.mkdir()
    (out / "images.jsonl.part").write_text(json.dumps(
        {"image_id": 1, "filename": str(image), "width": width, "height": height,
         "detections": 3, "milliseconds": 1.0}) + "\n")
    (out / "detections.jsonl.part").write_text("".join(json.dumps(line) + "\n"
                                                       for line in lines))
    written = labelling.write(format, out, out / "images.jsonl.part",
                              out / "detections.jsonl.part", {1: "disk", 2: "blocks"},
                              [data / "photos"])
    assert written.folder == out / format and not list(out.glob(f".{format}.*"))
    source, options = tool_source(format, data, out)
    found, problems = read_back(format, source, tmp_path / "records", masks=True, **options)
    assert problems == {}
    objects = found["shapes"]["objects"]
    assert sorted(row[0] for row in objects) == ["blocks", "blocks", "disk"]
    (round_found,) = [row for row in objects if row[0] == "disk"]
    parts, blank = sorted((row for row in objects if row[0] == "blocks"),
                          key=lambda row: -(row[5] & big).sum())
    assert iou(round_found[5], round_mask) > 0.9
    assert iou(parts[5], big | small if format == "coco" else big) > 0.9
    box = np.zeros((height, width), bool)
    box[10:25, 10:30] = True  # the empty mask's box: x 10..30, y 10..25
    assert iou(blank[5], box) > 0.9
    # The box: COCO's is the detection's own; the others' is the box around the polygon.
    xmin, ymin, xmax, ymax = (10, 5, 75, 57) if format == "coco" else (50, 5, 75, 45)
    assert parts[1:5] == pytest.approx((xmin / width, ymin / height, xmax / width,
                                        ymax / height), abs=1 / width)


def test_labelme_image_paths_lead_to_the_images_from_an_output_reached_through_a_link(
        tmp_path, stand_in):
    """The JSON files are in out/labelme, reached through a link to a folder three levels
    deeper elsewhere; the images in photos/ and photos/sub/. LabelMe opens
    dirname(json) + imagePath, which the system resolves through the link's target."""
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    sources = [tmp_path / "photos" / "a.jpg", tmp_path / "photos" / "sub" / "b.jpg"]
    for source in sources:
        source.write_bytes(photos.photo(1))
    (tmp_path / "deep" / "er" / "still").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "deep" / "er" / "still")
    assert predict(tmp_path, tmp_path / "photos", "-o", tmp_path / "link" / "out",
                   "--threshold", 0.5, "--format", "labelme") == 0
    folder = tmp_path / "link" / "out" / "labelme"
    for source in sources:
        document = json.loads((folder / f"{source.stem}.json").read_text(encoding="utf-8"))
        assert not os.path.isabs(document["imagePath"])
        opened = os.path.join(folder, document["imagePath"])
        assert os.path.samefile(opened, source), document["imagePath"]
        assert (document["imageWidth"], document["imageHeight"]) == (photos.WIDTH,
                                                                     photos.HEIGHT)


def test_tfrecords_are_refused_before_the_model_loads(tmp_path, capsys, monkeypatch):
    from odwrap.odapi.tfexample import encode_example, frame_record

    def no_model(*args, **kwargs):
        raise AssertionError("the model loaded")

    monkeypatch.setattr("odwrap.deploy.runtime.load_detector", no_model)
    records = tmp_path / "a.tfrecord"
    records.write_bytes(frame_record(encode_example({"image/encoded": ("bytes", [b"x"])})))
    assert predict(tmp_path, records, "-o", tmp_path / "out", "--format", "yolo") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"--format yolo: {records} is a TFRecord" in error
    with pytest.raises(InputError, match="--format voc: not a labelling tool's format"):
        odwrap.predict(tmp_path / "model.tflite", [records], tmp_path / "out", format="voc")


@pytest.mark.parametrize("restart", [False, True])
def test_a_fresh_run_keeps_a_tool_folder_it_finds_the_user_may_have_corrected(
        tmp_path, stand_in, capsys, restart):
    (tmp_path / "a.jpg").write_bytes(photos.photo(1))
    corrected = tmp_path / "out" / "labelme" / "a.json"
    corrected.parent.mkdir(parents=True)
    corrected.write_text('{"corrected": "by hand"}')
    assert predict(tmp_path, tmp_path / "a.jpg", "-o", tmp_path / "out", "--format", "labelme",
                   *(["--restart"] if restart else [])) == 2
    assert f"{corrected.parent}: already there" in capsys.readouterr().err
    assert corrected.read_text() == '{"corrected": "by hand"}'
    assert not (tmp_path / "out" / "images.jsonl").exists()  # refused before predicting


def tree(folder: Path) -> dict:
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("left", ["folder", "link"])
def test_a_resumed_run_writes_the_tool_files_an_uninterrupted_one_does(tmp_path, stand_in,
                                                                      capsys, left):
    """The state a run killed after its first image leaves (the part files, its run record),
    and what a killed finish leaves: the tool folder it had already put in place (or a link
    there to a decoy folder, which must stay as it is) and a temporary folder of a process
    that is gone. Resumed, the folder is the whole run's."""
    (tmp_path / "photos").mkdir()
    for tag in (1, 6, 3):
        (tmp_path / "photos" / f"tag{tag}.jpg").write_bytes(photos.photo(tag))
    whole = tmp_path / "whole"
    assert predict(tmp_path, tmp_path / "photos", "-o", whole, "--threshold", 0.5,
                   "--format", "yolo") == 0
    out = tmp_path / "out"
    out.mkdir()
    first = (whole / "images.jsonl").read_text().splitlines()[0]
    (out / "images.jsonl.part").write_text(first + "\n")
    lines = (whole / "detections.jsonl").read_text().splitlines()
    (out / "detections.jsonl.part").write_text(lines[0] + "\n")
    run = {"model": str((tmp_path / "model.tflite").resolve()), "threshold": 0.5,
           "runtime": "stand-in", "format": "yolo"}
    (out / "predict.run.json").write_text(json.dumps(run))
    stale = out / "yolo" if left == "folder" else tmp_path / "decoy"
    (stale / "labels").mkdir(parents=True)
    (stale / "labels" / "stale.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    if left == "link":
        (out / "yolo").symlink_to(stale)
    dead = out / ".yolo.999999999.x.tmp"
    dead.mkdir()
    capsys.readouterr()
    assert predict(tmp_path, tmp_path / "photos", "-o", out, "--threshold", 0.5,
                   "--format", "yolo") == 0
    assert "predicted 2 image(s) after the 1 of the interrupted run" in capsys.readouterr().out
    assert tree(out / "yolo") == tree(whole / "yolo") and len(tree(out / "yolo")) == 8
    assert not dead.exists() and not list(out.glob(".yolo.*"))
    assert not (out / "yolo").is_symlink()
    if left == "link":
        assert tree(stale) == {"labels/stale.txt": b"0 0.5 0.5 0.1 0.1\n"}
    # Resuming with another format is another run.
    (out / "images.jsonl.part").write_text(first + "\n")
    (out / "detections.jsonl.part").write_text(lines[0] + "\n")
    (out / "predict.run.json").write_text(json.dumps(run))
    assert predict(tmp_path, tmp_path / "photos", "-o", out, "--threshold", 0.5,
                   "--format", "coco") == 2
    assert "holds an interrupted run with another format" in capsys.readouterr().err


def test_yolo_images_are_hard_links_or_copies_and_the_inputs_stay_as_they_were(
        tmp_path, stand_in, monkeypatch):
    (tmp_path / "photos").mkdir()
    plain, target = tmp_path / "photos" / "a.jpg", tmp_path / "elsewhere.jpg"
    plain.write_bytes(photos.photo(1))
    target.write_bytes(photos.photo(6))
    (tmp_path / "photos" / "linked.jpg").symlink_to(target)
    Image.fromarray(photos.upright()).save(tmp_path / "photos" / "moving.gif")
    before = {path: path.read_bytes() for path in (plain, target)}
    assert predict(tmp_path, tmp_path / "photos", "-o", tmp_path / "out", "--threshold", 0.5,
                   "--format", "yolo") == 0
    images = tmp_path / "out" / "yolo" / "images"
    assert sorted(path.name for path in images.iterdir()) == ["a.jpg", "linked.jpg",
                                                              "moving.png"]
    assert os.path.samefile(images / "a.jpg", plain)
    assert os.path.samefile(images / "linked.jpg", target)  # the file, not the link
    assert not (images / "linked.jpg").is_symlink()
    with Image.open(images / "moving.png") as png, Image.open(
            tmp_path / "photos" / "moving.gif") as gif:  # what predict saw: the first frame
        assert np.array_equal(np.asarray(png), np.asarray(gif.convert("RGB")))
    assert {path: path.read_bytes() for path in before} == before
    found, problems = read_back("yolo", tmp_path / "out" / "yolo", tmp_path / "records")
    assert set(found) == {"a", "linked", "moving"}
    assert all(len(image["objects"]) == 1 for image in found.values())

    def no_links(source, target, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    assert predict(tmp_path, plain, "-o", tmp_path / "copied", "--threshold", 0.5,
                   "--format", "yolo") == 0
    copy = tmp_path / "copied" / "yolo" / "images" / "a.jpg"
    assert not os.path.samefile(copy, plain) and copy.read_bytes() == before[plain]


def test_images_of_one_name_get_a_file_each(tmp_path, stand_in):
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    sources = [folders[0] / "x.jpg", folders[1] / "X.jpg", folders[0] / "x.png"]
    for source, tag in zip(sources, (1, 6, 3)):
        if source.suffix == ".png":
            Image.fromarray(photos.upright()).save(source)
        else:
            source.write_bytes(photos.photo(tag))
    for format in ("yolo", "labelme"):
        assert predict(tmp_path, *sources, "-o", tmp_path / format, "--threshold", 0.5,
                       "--format", format) == 0
    labels = tmp_path / "yolo" / "yolo" / "labels"
    assert sorted(path.name for path in labels.iterdir()) == ["X.2.txt", "x.3.txt", "x.txt"]
    labelme = tmp_path / "labelme" / "labelme"
    paths = {path.name: json.loads(path.read_text())["imagePath"]
             for path in labelme.iterdir()}
    assert {name: os.path.realpath(labelme / path) for name, path in paths.items()} == {
        "x.json": str(sources[0]), "X.2.json": str(sources[1]), "x.3.json": str(sources[2])}


def test_predicted_points_past_an_edge_reach_the_tool_on_the_image(tmp_path):
    """A keypoint model may place a point a little past an edge (CI's run: y -0.13). The COCO
    file must hold it on the image, where a tool can show it and `convert coco --keypoints`
    keeps it (it counted it outside and dropped it); a point under the score threshold stays
    unlabeled."""
    from odwrap.deploy import labelling
    from odwrap.deploy.keypoint_layout import ClassPoints
    from tests.recordcheck import records_by_filename

    width, height = 80, 60
    data = tmp_path / "data"
    (data / "photos").mkdir(parents=True)
    image = data / "photos" / "square.png"
    Image.new("RGB", (width, height), (90, 90, 90)).save(image)
    predicted = [3.82, -0.13, 0.9, 80.4, 10.0, 0.8, 40.0, 61.5, 0.7, 20.0, 20.0, 0.05]
    line = {"image_id": 1, "filename": str(image), "category_id": 1, "bbox": [0, 0, 80, 60],
            "score": 0.9, "keypoints": predicted, "id": 1}
    out = data / "out"
    out.mkdir()
    (out / "images.jsonl.part").write_text(json.dumps(
        {"image_id": 1, "filename": str(image), "width": width, "height": height,
         "detections": 1, "milliseconds": 1.0}) + "\n")
    (out / "detections.jsonl.part").write_text(json.dumps(line) + "\n")
    layout = {1: ClassPoints(1, "square", ("a", "b", "c", "d"), (0, 1, 2, 3),
                             ((0, 1), (1, 2), (2, 3), (3, 0)))}
    labelling.write("coco", out, out / "images.jsonl.part", out / "detections.jsonl.part",
                    {1: "square"}, [data / "photos"], layout)
    (annotation,) = json.loads((out / "coco" / "annotations.json").read_text())["annotations"]
    assert annotation["keypoints"] == [3.82, 0.0, 2, 80.0, 10.0, 2, 40.0, 60.0, 2, 0, 0, 0]
    report = odwrap.convert("coco", out / "coco" / "annotations.json", tmp_path / "records",
                            images=data / "photos", keypoints=True, workers=1)
    assert report.problems == {}
    features = records_by_filename(tmp_path / "records")["square.png"]
    kept = np.stack([np.array(features["image/object/keypoint/x"]) * width,
                     np.array(features["image/object/keypoint/y"]) * height,
                     features["image/object/keypoint/visibility"]], -1)
    np.testing.assert_allclose(kept, [(3.82, 0, 2), (80, 10, 2), (40, 60, 2), (0, 0, 0)],
                               atol=1e-3)
