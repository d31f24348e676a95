"""Issue 12, the data side: every hostile annotation value is counted (never written), every bad
file is one line and exit 2, and what was on disk before is still there."""

import base64
import json
import math
import re
import shutil
from pathlib import Path

import pytest

import odwrap
from odwrap import cli
from odwrap.errors import InputError
from tests import datasets
from tests.recordcheck import assert_valid, features, read_examples


def convert(*argv):
    return cli.main(["convert", *map(str, argv)])


def snapshot(root) -> dict:
    """{relative path: bytes, or None for a folder} of everything under ROOT."""
    return {str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
            for path in sorted(root.rglob("*"))}


def written(out) -> list[dict]:
    """The records of every shard in OUT, parsed by protobuf and checked for the OD API."""
    examples = [example for shard in sorted(out.glob("*.tfrecord"))
                for example in read_examples(shard)]
    for example in examples:
        assert_valid(example)
    return [features(example) for example in examples]


def problems(out) -> dict:
    report = json.loads((out / "report.json").read_text())
    return {reason: (entry["count"], entry["example"])
            for reason, entry in report["problems"].items()}


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("odwrap: error: "), err
    return err.strip()


def edit_xml(root, index, old, new):
    xml = sorted((root / "Annotations").glob("*.xml"))[index]
    text = xml.read_text()
    assert old in text
    xml.write_text(text.replace(old, new, 1))


# --- Pascal VOC ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_voc_non_finite_coordinate_is_counted_and_never_written(tmp_path, capsys, value):
    root = datasets.voc(tmp_path / "voc", images=3)
    edit_xml(root, 0, "<xmin>41</xmin>", f"<xmin>{value}</xmin>")
    assert convert("voc", root, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")["bad_coordinate"]
    assert count == 1
    assert example == f"Annotations/shapes_00000.xml: <object> square <xmin> '{value}' is not " \
                      "a finite number within +-1e+09"
    assert len(written(tmp_path / "out")) == 3
    capsys.readouterr()
    assert convert("voc", root, "-o", tmp_path / "strict", "--strict") == 2
    assert one_line(capsys) == f"odwrap: error: {example}: box coordinate not a finite " \
                               "number (box dropped) (--strict)"
    assert not (tmp_path / "strict").exists()


@pytest.mark.parametrize("value", ["99999999999999999999999", "2", "-1", "yes", "nan"])
def test_voc_difficult_must_be_0_or_1(tmp_path, value):
    root = datasets.voc(tmp_path / "voc", images=3)
    edit_xml(root, 0, "<difficult>0</difficult>", f"<difficult>{value}</difficult>")
    assert convert("voc", root, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")["bad_flag"]
    assert count == 1 and example.endswith(f"<difficult> '{value}' is not 0 or 1")
    assert all(set(r["image/object/difficult"]) <= {0} for r in written(tmp_path / "out"))


@pytest.mark.parametrize("value", ["inf", "1e400", "0", "-64", "nan", "64.5"])
def test_voc_width_out_of_range_is_counted(tmp_path, value):
    root = datasets.voc(tmp_path / "voc", images=3)
    edit_xml(root, 1, "<width>64</width>", f"<width>{value}</width>")
    assert convert("voc", root, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")["bad_size"]
    assert (count, example) == (1, f"Annotations/shapes_00001.xml: <width> '{value}' is not a "
                                   "whole number in 1..1000000")
    assert len(written(tmp_path / "out")) == 2


def test_voc_file_over_the_size_limit_is_counted(tmp_path):
    from odwrap.data.formats.voc import MAX_XML_BYTES

    root = datasets.voc(tmp_path / "voc", images=2)
    edit_xml(root, 0, "</annotation>", " " * MAX_XML_BYTES + "</annotation>")
    assert convert("voc", root, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")["bad_annotation"]
    assert count == 1 and example.endswith(f"bytes, over the limit of {MAX_XML_BYTES} bytes "
                                           "for one annotation file")


# --- COCO ------------------------------------------------------------------------------------

def coco_file(tmp_path, change):
    path = datasets.coco(tmp_path, images=3)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def set_first_annotation(**values):
    return lambda data: data["annotations"][0].update(values)


@pytest.mark.parametrize("change, reason, message", [
    (set_first_annotation(bbox="1234"), "bad_annotation",
     "annotations[0]: bbox '1234' is not a list [x, y, width, height]"),
    (set_first_annotation(bbox=[1, 2, 3]), "bad_annotation",
     "annotations[0]: bbox [1, 2, 3] is not a list [x, y, width, height]"),
    (set_first_annotation(bbox=[float("nan"), 2, 3, 4]), "bad_coordinate",
     "annotations[0]: bbox x nan is not a finite number within +-1e+09"),
    (set_first_annotation(bbox=[1, 2, float("inf"), 4]), "bad_coordinate",
     "annotations[0]: bbox w inf is not a finite number within +-1e+09"),
    (set_first_annotation(bbox=[1, 2, True, 4]), "bad_coordinate",
     "annotations[0]: bbox w True is not a number"),
    (set_first_annotation(iscrowd="yes"), "bad_flag",
     "annotations[0]: iscrowd 'yes' is not 0 or 1"),
    (set_first_annotation(iscrowd=[1]), "bad_flag", "annotations[0]: iscrowd [1] is not 0 or 1"),
    (set_first_annotation(image_id=999), "unknown_image", "annotations[0]: image_id 999"),
    (lambda data: data["images"][0].update(width=float("inf")), "bad_size",
     "images[0]: width inf is not a whole number in 1..1000000"),
    (lambda data: data["images"][0].update(height=0), "bad_size",
     "images[0]: height 0 is not a whole number in 1..1000000"),
    (lambda data: data["images"][0].update(file_name="a\0b.jpg"), "bad_annotation",
     "images[0]: file_name 'a\\x00b.jpg' is not a non-empty name without NUL or line breaks"),
], ids=["bbox-string", "bbox-3", "bbox-nan", "bbox-inf", "bbox-bool", "crowd-yes",
        "crowd-list", "unknown-image", "width-inf", "height-0", "nul-file-name"])
def test_coco_bad_values_are_counted(tmp_path, change, reason, message):
    path = coco_file(tmp_path, change)
    assert convert("coco", path, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")[reason]
    assert (count, example) == (1, f"instances.json: {message}")
    written(tmp_path / "out")


def test_coco_width_1e400_is_counted(tmp_path):
    path = coco_file(tmp_path, lambda data: None)
    path.write_text(path.read_text().replace('"width": 64', '"width": 1e400', 1))
    assert convert("coco", path, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")["bad_size"][0] == 1
    assert len(written(tmp_path / "out")) == 2


@pytest.mark.parametrize("categories, message", [
    ([{"id": 1, "name": "square"}, {"id": 1, "name": "circle"}],
     "categories[1]: category id 1 is given twice ('square' and 'circle')"),
    ([{"id": 1, "name": None}, {"id": 2, "name": "circle"}],
     "categories[0] (id 1): name None is not a non-empty name without NUL or line breaks"),
    ([{"id": 1, "name": ""}, {"id": 2, "name": "circle"}],
     "categories[0] (id 1): name '' is not a non-empty name without NUL or line breaks"),
    ([{"id": 1, "name": 5}, {"id": 2, "name": "circle"}],
     "categories[0] (id 1): name 5 is not a non-empty name without NUL or line breaks"),
    ([{"id": "x", "name": "square"}], "categories[0]: needs a whole-number id"),
], ids=["duplicate-id", "null-name", "empty-name", "number-name", "bad-id"])
def test_coco_bad_categories_are_one_line(tmp_path, capsys, categories, message):
    path = coco_file(tmp_path, lambda data: data.update(categories=categories))
    before = snapshot(tmp_path)
    assert convert("coco", path, "-o", tmp_path / "out") == 2
    assert one_line(capsys) == f"odwrap: error: {path}: {message}"
    assert snapshot(tmp_path) == before


def test_coco_json_that_is_not_a_regular_file_is_refused(tmp_path, capsys):
    assert convert("coco", "/dev/zero", "-o", tmp_path / "out") == 2
    assert one_line(capsys) == "odwrap: error: /dev/zero: not a regular file"
    assert not (tmp_path / "out").exists()


NAN = float("nan")
MASKS = {
    "polygon-nan": ([[1, 1, NAN, 1, 5, 5]], "a polygon coordinate is not finite or far outside "
                                            "the 64x64 image"),
    "polygon-huge": ([[1, 1, 1e9, 1, 5, 5]], "a polygon coordinate is not finite or far outside "
                                             "the 64x64 image"),
    "polygon-odd": ([[1, 1, 10, 1, 5]], "a polygon has 5 coordinates, not an even number of at "
                                        "least 6"),
    "polygon-two-points": ([[1, 1, 10, 1]], "a polygon has 4 coordinates, not an even number of "
                                            "at least 6"),
    "polygon-strings": ([["1", "1", "10", "1", "5", "5"]], "a polygon is not a list of numbers"),
    "polygon-flat": ([1, 1, 10, 1, 5, 5], "a polygon is not a list of numbers"),
    "polygon-outline": ([[0, 0, 64, 64] * 5000], "the polygons' outline is over 100 times the "
                                                 "image's width + height"),
    "rle-sum": ({"size": [64, 64], "counts": [0, 10, 54]}, "RLE counts do not add up to 64x64 "
                                                           "pixels"),
    "rle-negative": ({"size": [64, 64], "counts": [-10, 4106]}, "RLE counts do not add up to "
                                                                "64x64 pixels"),
    "rle-size": ({"size": [32, 128], "counts": [4096]}, "RLE size [32, 128] is not the image's "
                                                        "[64, 64]"),
    "rle-string": ({"size": [64, 64], "counts": "\x7f\x7f"}, "RLE counts string is malformed"),
    "rle-string-sum": ({"size": [64, 64], "counts": "0"}, "RLE counts do not add up to 64x64 "
                                                          "pixels"),
    "rle-no-size": ({"counts": [4096]}, "RLE size is not [height, width]"),
    "string": ("polygon", "segmentation is neither polygons nor RLE"),
}


@pytest.mark.parametrize("name", sorted(MASKS))
def test_coco_malformed_segmentation_is_a_counted_bad_mask(tmp_path, name):
    segmentation, message = MASKS[name]
    path = coco_file(tmp_path, set_first_annotation(segmentation=segmentation))
    assert convert("coco", path, "-o", tmp_path / "out", "--masks", "--workers", 1) == 0
    count, example = problems(tmp_path / "out")["bad_mask"]
    assert (count, example) == (1, f"instances.json: annotations[0]: {message}")
    assert all("image/object/mask" in record for record in written(tmp_path / "out"))


def test_coco_nan_polygon_with_two_workers_neither_crashes_nor_hangs(tmp_path):
    path = coco_file(tmp_path, set_first_annotation(segmentation=[[1, 1, NAN, 1, 5, 5]]))
    assert convert("coco", path, "-o", tmp_path / "out", "--masks", "--workers", 2,
                   "--shards", 2) == 0
    assert problems(tmp_path / "out")["bad_mask"][0] == 1


def test_coco_compressed_rle_is_checked_and_drawn(tmp_path):
    import numpy as np
    from pycocotools import mask as mask_utils

    from odwrap.data.segmentations import decode_counts

    pixels = np.zeros((64, 64), np.uint8, order="F")
    pixels[5:20, 7:30] = 1
    counts = mask_utils.encode(pixels)["counts"].decode()
    assert decode_counts(counts) == _runs(pixels)
    path = coco_file(tmp_path, set_first_annotation(
        segmentation={"size": [64, 64], "counts": counts}))
    assert convert("coco", path, "-o", tmp_path / "out", "--masks", "--workers", 1) == 0
    assert "bad_mask" not in problems(tmp_path / "out")
    assert len(written(tmp_path / "out")) == 3


def test_coco_rle_of_a_huge_annotated_size_is_resampled_in_the_image_s_memory(tmp_path):
    """An image annotated 1000000x1000000 (the largest side allowed), its RLE of 10^12 pixels in
    two runs: the mask is resampled to the real 64x64 image by looking the runs up, never
    decoded at the annotated size (a terabyte)."""
    import io

    import numpy as np
    from PIL import Image

    def huge(data):
        data["images"][0].update(width=1_000_000, height=1_000_000)
        data["annotations"][0].update(bbox=[0, 0, 500_000, 1_000_000], segmentation={
            "size": [1_000_000, 1_000_000], "counts": [0, 500_000 * 1_000_000,
                                                       500_000 * 1_000_000]})

    path = coco_file(tmp_path, huge)
    assert convert("coco", path, "-o", tmp_path / "out", "--masks", "--workers", 1) == 0
    assert problems(tmp_path / "out")["size_mismatch"][0] == 1
    first = [record for record in written(tmp_path / "out")
             if record["image/filename"][0] == data_name(path, 0)][0]
    mask = np.asarray(Image.open(io.BytesIO(first["image/object/mask"][0])))
    assert mask.shape == (64, 64) and mask[:, :32].all() and not mask[:, 32:].any()
    assert first["image/object/bbox/xmax"][0] == pytest.approx(0.5)


def data_name(path, index: int) -> bytes:
    return json.loads(path.read_text())["images"][index]["file_name"].encode()


def _runs(pixels) -> list[int]:
    """Column-major run lengths starting with zeros, as COCO's uncompressed RLE has them."""
    flat, runs, current, length = pixels.flatten(order="F"), [], 0, 0
    for value in flat:
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = value, 1
    runs.append(length)
    return runs


# --- CSV and Open Images ---------------------------------------------------------------------

def rewrite(path, encoding, bom=b""):
    path.write_bytes(bom + path.read_text().encode(encoding))


def test_csv_with_a_utf8_bom_is_read(tmp_path):
    path = datasets.csv_boxes(tmp_path, images=3)
    rewrite(path, "utf-8", b"\xef\xbb\xbf")
    assert convert("csv", path, "-o", tmp_path / "out") == 0
    assert len(written(tmp_path / "out")) == 3


def test_csv_in_utf16_with_a_bom_is_read(tmp_path):
    path = datasets.csv_boxes(tmp_path, images=3)
    rewrite(path, "utf-16")  # Python's utf-16 codec writes the BOM
    assert convert("csv", path, "-o", tmp_path / "out") == 0
    assert len(written(tmp_path / "out")) == 3


def test_csv_in_latin1_is_one_line(tmp_path, capsys):
    path = datasets.csv_boxes(tmp_path, images=3)
    path.write_text(path.read_text().replace("square", "carr\u00e9"), encoding="latin-1")
    before = snapshot(tmp_path)
    assert convert("csv", path, "-o", tmp_path / "out") == 2
    assert one_line(capsys) == f"odwrap: error: {path}: the CSV file is not UTF-8 text (nor " \
                               "UTF-16 with a byte-order mark); save it as UTF-8"
    assert snapshot(tmp_path) == before


def test_csv_field_over_the_limit_names_the_line(tmp_path, capsys):
    path = datasets.csv_boxes(tmp_path, images=3)
    with open(path, "a") as handle:
        handle.write("x" * 200_000 + ".jpg,64,64,square,1,1,5,5\n")
    lines = path.read_text().count("\n")
    assert convert("csv", path, "-o", tmp_path / "out") == 2
    assert one_line(capsys) == f"odwrap: error: {path}:{lines}: a field is longer than 131072 " \
                               "characters (the limit)"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("row, reason, message", [
    ("a.jpg,64,64,square,nan,1,5,5", "bad_coordinate", "xmin 'nan' is not a finite number"),
    ("a.jpg,64,64,square,1,inf,5,5", "bad_coordinate", "ymin 'inf' is not a finite number"),
    ("a.jpg,0,64,square,1,1,5,5", "bad_size", "width '0' is not a whole number in 1..1000000"),
    ("a.jpg,1e400,64,square,1,1,5,5", "bad_size", "width '1e400' is not a whole number"),
    ("a.jpg,64,64,,1,1,5,5", "bad_annotation", "class '' is not a non-empty name"),
    ("a.jpg,64,64", "bad_annotation", "fewer than 8 columns"),
])
def test_csv_bad_values_are_counted(tmp_path, row, reason, message):
    path = datasets.csv_boxes(tmp_path, images=3)
    with open(path, "a") as handle:
        handle.write(row + "\n")
    lines = path.read_text().count("\n")
    assert convert("csv", path, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")[reason]
    assert count == 1 and example.startswith(f"boxes.csv:{lines}: {message}")
    assert len(written(tmp_path / "out")) == 3


@pytest.mark.parametrize("values, reason, message", [
    ({"XMin": "nan"}, "bad_coordinate", "XMin 'nan' is not a finite number"),
    ({"YMax": "-inf"}, "bad_coordinate", "YMax '-inf' is not a finite number"),
    ({"IsGroupOf": "5"}, "bad_flag", "IsGroupOf '5' is not 0 or 1"),
])
def test_open_images_bad_values_are_counted(tmp_path, values, reason, message):
    import csv

    path, images = datasets.oid(tmp_path, images=3)
    rows = list(csv.DictReader(path.open()))
    rows[0].update(values)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert convert("oid", path, "-o", tmp_path / "out", "--images", images) == 0
    count, example = problems(tmp_path / "out")[reason]
    assert count == 1 and example.startswith(f"oid-boxes.csv:2: {message}")
    written(tmp_path / "out")


def test_binary_class_names_file_is_one_line(tmp_path, capsys):
    path, images = datasets.oid(tmp_path, images=2)
    names = tmp_path / "names.bin"
    names.write_bytes(bytes(range(256)) * 4)
    assert convert("oid", path, "-o", tmp_path / "out", "--images", images,
                   "--class-names", names) == 2
    assert one_line(capsys) == f"odwrap: error: {names}: the class descriptions file is not " \
                               "UTF-8 text (nor UTF-16 with a byte-order mark); save it as UTF-8"
    assert not (tmp_path / "out").exists()


# --- YOLO and pre-split COCO -----------------------------------------------------------------

def yolo_line(tmp_path, line):
    """The YOLO dataset of tests/datasets.py with LINE as line 3 of labels/a.txt."""
    root = datasets.yolo(tmp_path / "yolo")
    with open(root / "labels" / "a.txt", "a") as handle:
        handle.write(line + "\n")
    return root


@pytest.mark.parametrize("line, reason, message", [
    ("0 nan 0.5 0.1 0.1", "bad_coordinate", "cx 'nan' is not a finite number within +-1e+09"),
    ("0 0.5 -inf 0.1 0.1", "bad_coordinate", "cy '-inf' is not a finite number"),
    ("0 0.5 0.5 1e400 0.1", "bad_coordinate", "w '1e400' is not a finite number"),
    ("0 0.5 0.5 0.1 0x10", "bad_coordinate", "h '0x10' is not a number"),
    ("0 0.1 0.1 0.2 0.2 0.3 NaN", "bad_coordinate", "y3 'NaN' is not a finite number"),
    ("cat 0.5 0.5 0.1 0.1", "bad_annotation", "class 'cat' is not a class id (a whole number "
                                              "0..999999)"),
    ("-1 0.5 0.5 0.1 0.1", "bad_annotation", "class '-1' is not a class id"),
    ("1.5 0.5 0.5 0.1 0.1", "bad_annotation", "class '1.5' is not a class id"),
    ("9999999 0.5 0.5 0.1 0.1", "bad_annotation", "class '9999999' is not a class id"),
    ("2 0.5 0.5 0.1 0.1", "unknown_class", "class id 2 is not one of the 2 classes of "
                                           "data.yaml"),
    ("0 0.5 0.5 0.1", "bad_annotation", "4 fields; a box has 5 (class cx cy w h), a polygon "
                                        "the class and 3 or more points (x y)"),
    ("0 0.1 0.1 0.2 0.2 0.3", "bad_annotation", "6 fields"),
    ("0", "bad_annotation", "1 fields"),
    ("0 0.5 0.5", "bad_mask", "a polygon of 1 point (3 at least)"),
], ids=["nan", "inf", "1e400", "hex", "polygon-nan", "class-name", "class-negative",
        "class-fraction", "class-huge", "class-out-of-range", "4-fields", "6-fields",
        "1-field", "1-point"])
def test_yolo_bad_line_is_counted_with_file_and_line(tmp_path, capsys, line, reason, message):
    root = yolo_line(tmp_path, line)
    assert convert("yolo", root, "-o", tmp_path / "out", "--masks") == 0
    found = problems(tmp_path / "out")
    # The fixture's 3 box lines have no outline: their boxes are their masks (box_mask).
    assert set(found) == {reason, "box_mask"} and found["box_mask"][0] == 3
    assert found[reason][0] == 1
    assert found[reason][1].startswith(f"labels/a.txt:3: {message}")
    records = written(tmp_path / "out")
    assert len(records) == 3 and sum(len(r["image/object/bbox/xmin"]) for r in records) == 3
    capsys.readouterr()
    assert convert("yolo", root, "-o", tmp_path / "strict", "--strict") == 2
    assert one_line(capsys).startswith(f"odwrap: error: labels/a.txt:3: {message}")
    assert not (tmp_path / "strict").exists()


@pytest.mark.parametrize("line, reason", [
    ("0 1.2 0.5 0.5 0.5", "box_clipped"),  # x from 0.95 to 1.45
    ("0 -0.1 -0.1 0.4 0.4", "box_clipped"),
    ("0 2 2 0.1 0.1", "box_degenerate"),  # wholly outside
    ("0 -1e9 0.5 0.1 0.1", "box_degenerate"),
    ("0 0.5 0.5 -0.1 0.1", "box_zero_area"),  # a negative width
    ("0 0.5 0.5 0 0.1", "box_zero_area"),
    ("0 0.1 0.1 0.5 0.1 0.9 0.1", "box_zero_area"),  # a polygon on one line
], ids=["right", "top-left", "outside", "far-outside", "negative-width", "zero-width",
        "flat-polygon"])
def test_yolo_coordinates_outside_0_1_are_clipped_or_dropped_and_counted(tmp_path, line,
                                                                         reason):
    root = yolo_line(tmp_path, line)
    assert convert("yolo", root, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")[reason]
    assert (count, example) == (1, "labels/a.txt: cat")
    boxes = sum(len(r["image/object/bbox/xmin"]) for r in written(tmp_path / "out"))
    assert boxes == (4 if reason == "box_clipped" else 3)


def test_a_box_past_the_edge_by_rounding_alone_is_clamped_without_a_count(tmp_path):
    """A normalized edge box, rounded: x from -5e-7 to 1 + 5e-7 of the width (a ten-thousandth
    of a pixel), is clamped to the image and not counted as clipped."""
    root = yolo_line(tmp_path, "0 0.5 0.5 1.000001 0.5")
    assert convert("yolo", root, "-o", tmp_path / "out") == 0
    assert "box_clipped" not in problems(tmp_path / "out")
    boxes = [(xmin, xmax) for r in written(tmp_path / "out")
             for xmin, xmax in zip(r["image/object/bbox/xmin"], r["image/object/bbox/xmax"])]
    assert (0.0, 1.0) in boxes and all(0.0 <= a < b <= 1.0 for a, b in boxes)


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 3 0.5 0.5 0.9", "a polygon coordinate is not finite or far outside the 80x60 "
                                "image"),
    ("0 " + "0 0 1 1 " * 20_000, "the polygons' outline is over 100 times the image's width + "
                                 "height"),
], ids=["far-outside", "outline"])
def test_yolo_polygon_pycocotools_must_not_see_is_a_bad_mask(tmp_path, line, message):
    root = yolo_line(tmp_path, line)
    assert convert("yolo", root, "-o", tmp_path / "out", "--masks", "--workers", 1) == 0
    assert problems(tmp_path / "out")["bad_mask"] == (1, f"labels/a.txt: cat: {message}")
    records = written(tmp_path / "out")  # a mask per box (assert_valid), the polygon's gone
    assert sum(len(r.get("image/object/mask", [])) for r in records) == 3


def test_yolo_label_files_that_cannot_be_read_are_counted(tmp_path):
    from odwrap.data.formats.yolo import MAX_LABEL_BYTES

    root = datasets.yolo(tmp_path / "yolo")
    (root / "labels" / "a.txt").write_bytes(b"0 0.5 0.5 0.1 0.1\n\xff\xfe\n")
    (root / "labels" / "b.txt").write_text("1 0.5 0.5 0.1 0.1\n" + " " * MAX_LABEL_BYTES)
    (root / "labels" / "c.txt").write_text("1 0.5 0.5 0.1 0.1\n")
    assert convert("yolo", root, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out") == {"bad_annotation": (2, "labels/a.txt: not UTF-8 text")}
    assert [r["image/filename"][0] for r in written(tmp_path / "out")] == [b"images/c.jpg"]


def test_yolo_links_and_list_entries_out_of_the_root_read_nothing(tmp_path):
    root = datasets.yolo(tmp_path / "yolo")
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    shutil.copy(root / "images" / "c.jpg", decoy / "secret.jpg")
    (decoy / "secret.txt").write_text("0 0.5 0.5 1 1\n")
    (root / "labels" / "a.txt").unlink()
    (root / "labels" / "a.txt").symlink_to(decoy / "secret.txt")
    (root / "images" / "d.jpg").symlink_to(decoy / "secret.jpg")
    shutil.copy(decoy / "secret.jpg", decoy / "other.jpg")
    (root / "list.txt").write_text(f"../decoy/secret.jpg\n{decoy / 'other.jpg'}\n"
                                   "images/b.png\n/nonexistent/../../decoy/x.jpg\n")
    (root / "data.yaml").write_text("train: images\nval: list.txt\nnames: [cat, dog]\n")
    before = snapshot(tmp_path)
    assert convert("yolo", root, "-o", tmp_path / "out") == 0
    found = problems(tmp_path / "out")
    assert found["bad_annotation"] == (1, "labels/a.txt: a link that leads outside the dataset "
                                          "root")
    assert found["path_escape"][0] == 4  # d.jpg, and three entries of list.txt
    assert sorted(r["image/filename"][0] for r in written(tmp_path / "out")) == [
        b"images/b.png", b"images/c.jpg"]  # b.png once: the second is a duplicate
    after = snapshot(tmp_path)
    assert {name: data for name, data in after.items() if not name.startswith("out")} == before


@pytest.mark.parametrize("content, message", [
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, "
     "*c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nnames: *e\ntrain: images\n",
     "names[0]: a list is not a class name"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, "
     "*c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, "
     "*e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nnc: *g\ntrain: *g\n"
     "path: *g\nnames: {0: *g}\n", "path a list is not a folder's path"),
    ("names: &n [cat, *n]\ntrain: images\n", "names[1]: a list is not a class name"),
    ("train: images\nnames: " + "[" * 100_000, "YAML nested too deeply"),
    (b"\xff\xfe\x00\x01", "a data.yaml is not UTF-8 text"),
    ("train: images\nnames: [cat, dog]\n" + "#" * (1024 ** 2), "bytes, over the limit of "
                                                                "1048576 bytes for a data.yaml"),
    ('train: images\nnames: [cat, "a\\nb"]\n', "names[1]: class name 'a\\nb' is not a "
                                                "non-empty name"),
    ('train: images\npath: "/x\\0y"\n', "path /x\\x00y is not a folder's path"),
], ids=["alias-bomb", "alias-bomb-everywhere", "recursive", "deep", "binary", "huge", "newline-name", "nul-path"])
def test_yolo_hostile_data_yaml_is_one_line(tmp_path, capsys, content, message):
    root = datasets.yolo(tmp_path / "yolo")
    path = root / "data.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(tmp_path)
    assert convert("yolo", path, "-o", tmp_path / "out") == 2
    line = one_line(capsys)
    assert line.startswith(f"odwrap: error: {path}") and message in line, line
    assert snapshot(tmp_path) == before


def test_yolo_data_yaml_splits_out_of_the_root_are_one_line(tmp_path, capsys):
    root = datasets.yolo(tmp_path / "yolo")
    (tmp_path / "decoy").mkdir()
    for value in (str(tmp_path / "decoy"), "../decoy", "images/../../decoy"):
        (root / "data.yaml").write_text(f"train: images\nval: {value}\nnames: [cat, dog]\n")
        assert convert("yolo", root, "-o", tmp_path / "out") == 2
        assert one_line(capsys) == f"odwrap: error: {root / 'data.yaml'}: val: '{value}' leads " \
                                   f"outside the dataset root {root} (set path: to a folder " \
                                   "that holds it)"
    (root / "images" / "link").symlink_to(tmp_path / "decoy")
    (root / "data.yaml").write_text("train: images\nval: images/link\nnames: [cat, dog]\n")
    assert convert("yolo", root, "-o", tmp_path / "out") == 2
    assert "val: 'images/link' leads outside the dataset root" in one_line(capsys)
    assert not (tmp_path / "out").exists()


def test_yolo_split_folder_linked_out_of_the_root_is_one_line(tmp_path, capsys):
    root = tmp_path / "yolo"
    datasets.yolo_images(root / "train", {"a.jpg": (8, 8, "0 0.5 0.5 0.5 0.5\n")})
    datasets.yolo_images(tmp_path / "decoy", {"secret.jpg": (8, 8, "0 0.5 0.5 1 1\n")})
    (root / "valid").mkdir()
    (root / "valid" / "images").symlink_to(tmp_path / "decoy" / "images")
    assert convert("yolo", root, "-o", tmp_path / "out") == 2
    assert one_line(capsys) == f"odwrap: error: {root / 'valid' / 'images'}: a link that " \
                               f"leads outside {root}"
    (root / "valid" / "images").unlink()
    (root / "classes.txt").symlink_to(tmp_path / "decoy" / "labels" / "secret.txt")
    assert convert("yolo", root, "-o", tmp_path / "out") == 0  # the link's names are not read
    assert label_names(tmp_path / "out") == ["0"]


def label_names(out) -> list[str]:
    return [name.decode() for example in written(out)
            for name in example["image/object/class/text"]]


def test_presplit_coco_paths_out_of_the_root(tmp_path, capsys):
    path = datasets.coco(tmp_path / "src", images=2)
    root = tmp_path / "roboflow"
    shutil.copytree(path.parent, root / "train")
    (root / "train" / "instances.json").rename(root / "train" / "_annotations.coco.json")
    data = json.loads((root / "train" / "_annotations.coco.json").read_text())
    data["images"][0]["file_name"] = "../../src/images/" + data["images"][0]["file_name"]
    (root / "train" / "_annotations.coco.json").write_text(json.dumps(data))
    assert convert("coco", root, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")["path_escape"] == (
        1, f"train/_annotations.coco.json: images[0]: train/{data['images'][0]['file_name']}")
    assert len(written(tmp_path / "out")) == 1
    (root / "valid").symlink_to(tmp_path / "src" / "images", target_is_directory=True)
    (tmp_path / "src" / "images" / "instances.json").rename(
        tmp_path / "src" / "images" / "_annotations.coco.json")
    assert convert("coco", root, "-o", tmp_path / "out2") == 2
    assert one_line(capsys) == f"odwrap: error: {root / 'valid'}: a link that leads outside " \
                               f"{root}"


# --- the manifest and resuming ---------------------------------------------------------------

def test_a_crafted_manifest_deletes_nothing(tmp_path, capsys):
    root = datasets.voc(tmp_path / "voc", images=4)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    image = root / "JPEGImages" / "shapes_00000.jpg"
    out = root  # `convert voc DIR -o DIR`, as in the issue
    (out / "folder-00000-of-00001.tfrecord").mkdir()
    for entry in (str(victim), "../victim.txt", "JPEGImages/shapes_00000.jpg",
                  "folder-00000-of-00001.tfrecord", "report.json", "data-1-of-1.tfrecord"):
        (out / ".odwrap-convert.json").write_text(json.dumps(
            {"plan": "another", "shards": ["data-00000-of-00001.tfrecord", entry]}))
        before = snapshot(tmp_path)
        assert convert("voc", root, "-o", out) == 2
        problem = "not a file" if entry.startswith("folder") else \
            "not the name of a shard odwrap writes"
        assert one_line(capsys) == f"odwrap: error: {out / '.odwrap-convert.json'}: entry " \
                                   f"{entry!r} is {problem}; refusing to resume (nothing " \
                                   "removed): remove the manifest, or convert into another folder"
        assert snapshot(tmp_path) == before
    assert victim.read_text() == "keep me" and image.exists()


@pytest.mark.parametrize("content, detail", [
    ("not json", "not a manifest odwrap wrote (unreadable JSON)"),
    ('{"plan": 1, "shards": []}', "not a manifest odwrap wrote (needs 'plan' and 'shards')"),
    ('{"plan": "p", "shards": [7]}', "entry 7 is not the name of a shard odwrap writes"),
])
def test_a_malformed_manifest_is_one_line(tmp_path, capsys, content, detail):
    root = datasets.voc(tmp_path / "voc", images=2)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".odwrap-convert.json").write_text(content)
    assert convert("voc", root, "-o", out) == 2
    assert one_line(capsys) == f"odwrap: error: {out / '.odwrap-convert.json'}: {detail}; " \
                               "refusing to resume (nothing removed): remove the manifest, or " \
                               "convert into another folder"
    assert sorted(path.name for path in out.iterdir()) == [".odwrap-convert.json"]


def test_a_stale_plan_removes_only_its_own_shards(tmp_path):
    root = datasets.voc(tmp_path / "voc", images=4)
    out = tmp_path / "out"
    assert convert("voc", root, "-o", out, "--shards", 2) == 0
    (out / "mine.tfrecord").write_text("not odwrap's")
    assert convert("voc", root, "-o", out, "--shards", 1) == 0
    assert sorted(path.name for path in out.glob("*.tfrecord")) == [
        "data-00000-of-00001.tfrecord", "mine.tfrecord"]
    assert not list(out.glob(".data-*-of-00002.tfrecord.json"))


@pytest.mark.parametrize("damage", ["truncate", "cut-a-record", "flip-a-byte", "empty",
                                    "sidecar"])
def test_a_damaged_shard_is_rewritten_on_resume(tmp_path, capsys, damage):
    root = datasets.voc(tmp_path / "voc", images=12)
    clean, out = tmp_path / "clean", tmp_path / "out"
    assert convert("voc", root, "-o", clean, "--shards", 3, "--workers", 1) == 0
    assert convert("voc", root, "-o", out, "--shards", 3, "--workers", 1) == 0
    shard = out / "data-00001-of-00003.tfrecord"
    data = shard.read_bytes()
    first = 16 + int.from_bytes(data[:8], "little")
    damaged = {"truncate": data[:len(data) // 2], "cut-a-record": data[:first],
               "flip-a-byte": data[:40] + bytes([data[40] ^ 1]) + data[41:], "empty": b"",
               "sidecar": data}[damage]
    shard.write_bytes(damaged)
    if damage == "sidecar":
        (out / ".data-00001-of-00003.tfrecord.json").write_text('{"images": "x"}')
    capsys.readouterr()
    assert convert("voc", root, "-o", out, "--shards", 3, "--workers", 1) == 0
    stdout = capsys.readouterr().out
    assert "rewrote 1 damaged shard(s) of an earlier run: data-00001-of-00003.tfrecord" in stdout
    assert "2 shard(s) kept from an earlier run" in stdout
    assert shard.read_bytes() == (clean / shard.name).read_bytes()
    assert json.loads((out / "report.json").read_text()) == \
        json.loads((clean / "report.json").read_text())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failure_that_wrote_no_shard_leaves_nothing(tmp_path, capsys, workers):
    root = datasets.voc(tmp_path / "voc", images=4)
    (root / "JPEGImages" / "shapes_00002.jpg").write_bytes(b"broken")
    out = tmp_path / "out"
    assert convert("voc", root, "-o", out, "--strict", "--workers", workers) == 2
    assert "(--strict)" in one_line(capsys)
    assert not out.exists()


# --- stats and demo-data ---------------------------------------------------------------------

def test_stats_of_a_folder_is_one_line(tmp_path, capsys):
    assert cli.main(["stats", str(tmp_path)]) == 2
    assert one_line(capsys) == f"odwrap: error: {tmp_path}: a folder, not a TFRecord file; " \
                               f"give files or a pattern such as '{tmp_path / '*.tfrecord'}'"


def test_stats_of_records_that_are_no_examples_is_one_line(tmp_path, capsys):
    from odwrap.odapi.tfexample import frame_record

    path = tmp_path / "junk.tfrecord"
    path.write_bytes(frame_record(b"\xff\xff\xff"))
    assert cli.main(["stats", str(path)]) == 2
    assert re.fullmatch(rf"odwrap: error: {re.escape(str(path))}: a record is not a "
                        r"tf\.train\.Example \(.*\)", one_line(capsys))


@pytest.mark.parametrize("size", [0, 8, 56, 2049, 100000])
def test_demo_data_size_out_of_range_is_refused_by_the_library(tmp_path, size):
    # The command line refuses these in its parser (tests/test_cli.py); the API here.
    with pytest.raises(InputError) as refused:
        odwrap.demo_data(tmp_path / "demo", size=size)
    assert str(refused.value) == (f"size {size}: the demo images' side must be in 57..2048 "
                                  "pixels (shapes are 24-56 px)")
    assert list(tmp_path.iterdir()) == []


def test_demo_data_into_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("mine")
    assert cli.main(["demo-data", str(target), "--images", "2"]) == 2
    assert one_line(capsys) == f"odwrap: error: {target}: exists and is not a folder"
    assert snapshot(tmp_path) == {"file": b"mine"}


def test_a_box_too_thin_for_float32_is_zero_area(tmp_path):
    """Found by the fuzz suite: YMax 1e-115 is above YMin 0 as a double, equal as the float32
    a record holds."""
    path, images = datasets.oid(tmp_path, images=2)
    with open(path, "a") as handle:
        handle.write("shapes_00000,xclick,/m/0sq,1,0.0,1.0,0.0,1e-115,0,0,0,0,0\n")
    assert convert("oid", path, "-o", tmp_path / "out", "--images", images) == 0
    count, example = problems(tmp_path / "out")["box_zero_area"]
    assert count == 1 and example.startswith("oid-boxes.csv:")
    written(tmp_path / "out")


@pytest.mark.parametrize("items, message", [
    ("item { id: 0 name: 'square' }\nitem { id: 1 name: 'circle' }",
     "item 'square' has id 0; ids start at 1"),
    ("item { id: -5 name: 'square' }\nitem { id: 1 name: 'circle' }",
     "item 'square' has id -5"),
    ("item { name: 'square' }\nitem { id: 1 name: 'circle' }", "item 'square' has id 0"),
    ("item { id: 1 name: 'square' }\nitem { id: 1 name: 'circle' }",
     "id 1 is used by 'square' and 'circle'"),
    ("item { id: 1 name: 'square' }\nitem { id: 2 name: 'square' }\n"
     "item { id: 3 name: 'circle' }", "name 'square' has ids 1 and 2"),
    ("item { id: 1 name: '' }\nitem { id: 2 name: 'circle' }", "item with id 1 has no name"),
])
def test_convert_refuses_a_label_map_with_errors(tmp_path, capsys, items, message):
    """Issue 30, case 7: records would carry label 0 or -5, or two classes on one id."""
    source = datasets.voc(tmp_path / "voc", images=4)
    given = tmp_path / "given.pbtxt"
    given.write_text(items)
    out = tmp_path / "out"
    assert convert("voc", source, "-o", out, "--label-map", given) == 2
    err = capsys.readouterr().err
    assert f"{given}: {message}" in err and err.count("\n") == 1, err
    assert not out.exists()


def test_convert_takes_a_label_map_with_gaps_in_its_ids(tmp_path, capsys):
    source = datasets.voc(tmp_path / "voc", images=4)
    given = tmp_path / "given.pbtxt"
    given.write_text("item { id: 2 name: 'square' }\nitem { id: 5 name: 'circle' }")
    assert convert("voc", source, "-o", tmp_path / "out", "--label-map", given) == 0
    labels = {label for example in written(tmp_path / "out")
              for label in example["image/object/class/label"]}
    assert labels <= {2, 5} and labels


# --- LabelMe, CVAT and Create ML (issue 27) --------------------------------------------------

def decoy(tmp_path) -> bytes:
    """An image beside the dataset folder that no record may hold."""
    from tests.data.test_tools_formats import picture

    return picture(tmp_path / "decoy.jpg", (16, 16), (1, 2, 3))


def holds(out, data: bytes) -> bool:
    return any(data in record["image/encoded"] for record in written(out))


def labelme_root(tmp_path, *files):
    """A LabelMe folder with a.json (a sound file) and FILES, (name, JSON text) pairs."""
    from tests.data.test_tools_formats import labelme_file, picture, shape

    root = tmp_path / "lm"
    picture(root / "a.jpg", (64, 48))
    labelme_file(root / "a.json", [shape("cat", "rectangle", [[1, 1], [9, 9]])], "a.jpg", 64, 48)
    for name, text in files:
        (root / name).write_text(text)
    return root


def labelme_text(image_path="a.jpg", points=((1, 1), (9, 9)), kind="rectangle", **more):
    return json.dumps({"shapes": [{"label": "dog", "shape_type": kind,
                                   "points": [list(p) for p in points]}],
                       "imagePath": image_path, "imageData": None, "imageWidth": 64,
                       "imageHeight": 48, **more})


@pytest.mark.parametrize("image_path", ["../decoy.jpg", "sub/../../decoy.jpg", "..\\decoy.jpg",
                                        "ABSOLUTE"])
@pytest.mark.parametrize("embedded", [False, True])
def test_labelme_image_path_out_of_the_folder_is_not_read(tmp_path, image_path, embedded):
    data = decoy(tmp_path)
    image_path = str(tmp_path / "decoy.jpg") if image_path == "ABSOLUTE" else image_path
    more = {"imageData": base64.b64encode(data).decode()} if embedded else {}
    root = labelme_root(tmp_path, ("b.json", labelme_text(image_path, **more)))
    assert convert("labelme", root, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")["path_escape"][0] == 1
    assert len(written(tmp_path / "out")) == 1 and not holds(tmp_path / "out", data)


def test_labelme_link_to_a_json_file_outside_is_not_read(tmp_path):
    data = decoy(tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text(labelme_text("", imageData=base64.b64encode(data).decode()))
    root = labelme_root(tmp_path)
    (root / "link.json").symlink_to(outside)
    assert convert("labelme", root, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")["path_escape"] == (
        1, "link.json: a link out of the dataset folder")
    assert not holds(tmp_path / "out", data)


@pytest.mark.parametrize("text, reason, message", [
    (labelme_text(points=((1, 1), (math.nan, 9))), "bad_coordinate",
     "b.json: shapes[0] dog points[1] x nan is not a finite number within +-1e+09"),
    (labelme_text(points=((1, math.inf), (5, 9))), "bad_coordinate",
     "b.json: shapes[0] dog points[0] y inf is not a finite number within +-1e+09"),
    (labelme_text(points=((1, 1), (9, 9)), kind="polygon"), "bad_mask",
     "b.json: shapes[0] dog: a polygon of 2 point(s); it needs 3 to 100000"),
    (labelme_text(points=((1, 1),)), "bad_annotation", "b.json: shapes[0] dog: 1 point(s), not 2"),
    (labelme_text(kind="cuboid"), "unsupported_shape",
     "b.json: shapes[0]: shape_type 'cuboid' is not one odwrap reads"),
    (labelme_text().replace('"label": "dog"', '"label": null'), "bad_annotation",
     "b.json: shapes[0]: label None is not a non-empty name without NUL or line breaks"),
    (labelme_text().replace('[[1, 1], [9, 9]]', '"1,1"'), "bad_annotation",
     "b.json: shapes[0] dog: points '1,1' is not a list of [x, y]"),
    (labelme_text(imageWidth=0), "bad_size",
     "b.json: imageWidth 0 is not a whole number in 1..1000000"),
    (labelme_text(None), "bad_annotation", "b.json: neither imagePath nor imageData"),
    ('{"shapes": [', "bad_annotation", "b.json:1: not valid JSON (Expecting value)"),
    ('{"imagePath": "a.jpg"}', "bad_annotation", "b.json: not a LabelMe file (no 'shapes' list)"),
    ("[" * 100_000, "bad_annotation", "b.json: JSON nested too deeply"),
], ids=["nan", "inf", "polygon-2-points", "rectangle-1-point", "cuboid", "null-label",
        "points-string", "width-0", "no-image", "malformed", "no-shapes", "deep"])
def test_labelme_bad_values_are_counted(tmp_path, text, reason, message):
    root = labelme_root(tmp_path, ("b.json", text))
    assert convert("labelme", root, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")[reason] == (1, message)
    assert len(written(tmp_path / "out")) >= 1


def test_labelme_malformed_json_is_one_line_with_strict(tmp_path, capsys):
    root = labelme_root(tmp_path, ("b.json", '{\n"shapes": [,]}'))
    assert convert("labelme", root, "-o", tmp_path / "out", "--strict") == 2
    assert one_line(capsys) == "odwrap: error: b.json:2: not valid JSON (Expecting value): " \
                               "annotation unreadable or malformed (its image dropped) (--strict)"
    assert not (tmp_path / "out").exists()


def test_labelme_file_over_the_size_limit_is_counted(tmp_path, monkeypatch):
    from odwrap.data.formats import labelme

    monkeypatch.setattr(labelme, "MAX_JSON_BYTES", 4096)
    root = labelme_root(tmp_path, ("b.json", labelme_text(imageData="A" * 8192)))
    assert convert("labelme", root, "-o", tmp_path / "out") == 0
    count, example = problems(tmp_path / "out")["bad_annotation"]
    assert count == 1 and example.startswith("b.json: ") and \
        example.endswith("bytes, over the limit of 4096 bytes for a LabelMe file")


def test_labelme_embedded_image_that_is_no_image_is_counted(tmp_path):
    root = labelme_root(tmp_path, ("b.json", labelme_text("gone.jpg", imageData="not base64!")),
                        ("c.json", labelme_text("", imageData=base64.b64encode(b"GIF8").decode())))
    assert convert("labelme", root, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")["corrupt_image"][0] == 2
    assert len(written(tmp_path / "out")) == 1


CVAT_GOOD = '<image id="0" name="a.jpg" width="64" height="48"><box label="cat" xtl="1" ' \
            'ytl="1" xbr="9" ybr="9"/></image>'


def cvat_file(tmp_path, body: str, head: str = "") -> Path:
    from tests.data.test_tools_formats import picture

    picture(tmp_path / "cvat" / "a.jpg", (64, 48))
    path = tmp_path / "cvat" / "annotations.xml"
    path.write_text(f"{head}<annotations><version>1.1</version>{CVAT_GOOD}{body}</annotations>")
    return path


@pytest.mark.parametrize("head, name", [
    ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
     "DTDForbidden"),
    ('<!DOCTYPE a [<!ENTITY decoy SYSTEM "file://DECOY">]>', "DTDForbidden"),
])
def test_cvat_dtd_and_entities_are_refused(tmp_path, capsys, head, name):
    decoy(tmp_path)
    path = cvat_file(tmp_path, '<image id="1" name="&lol2;&decoy;" width="4" height="4"/>',
                     head.replace("DECOY", str(tmp_path / "decoy.jpg")))
    before = snapshot(tmp_path)
    assert convert("cvat", path, "-o", tmp_path / "out") == 2
    assert one_line(capsys).startswith(f"odwrap: error: {path}: refused ({name}")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("body, reason, message", [
    ('<image id="1" name="b.jpg" width="4" height="4"><box label="cat" xtl="nan" ytl="1" '
     'xbr="2" ybr="2"/></image>', "bad_coordinate",
     "<image> 1: b.jpg: <box> cat xtl 'nan' is not a finite number within +-1e+09"),
    ('<image id="1" name="b.jpg" width="4" height="4"><box label="cat" xtl="1" ytl="1" '
     'xbr="2" ybr="2" rotation="inf"/></image>', "bad_coordinate",
     "<image> 1: b.jpg: <box> cat rotation 'inf' is not a finite number within +-1e+09"),
    ('<image id="1" name="b.jpg" width="4" height="4"><polygon label="cat" '
     'points="1,1;2,-Infinity;3,3"/></image>', "bad_coordinate",
     "<image> 1: b.jpg: <polygon> cat points[1] y '-Infinity' is not a finite number within "
     "+-1e+09"),
    ('<image id="1" name="b.jpg" width="4" height="4"><polygon label="cat" points="1,1;2,2"/>'
     '</image>', "bad_mask",
     "<image> 1: b.jpg: <polygon> cat: a polygon of 2 point(s); it needs 3 to 100000"),
    ('<image id="1" name="b.jpg" width="4" height="4"><polygon label="cat" points="1;2,2"/>'
     '</image>', "bad_annotation",
     "<image> 1: b.jpg: <polygon> cat: points '1;2,2' are not x,y;x,y;..."),
    ('<image id="1" name="b.jpg" width="4" height="4"><box label="cat" xtl="1" ytl="1" '
     'xbr="2"/></image>', "bad_annotation", "<image> 1: b.jpg: <box> cat: no ybr"),
    ('<image id="1" name="b.jpg" width="1e400" height="4"/>', "bad_size",
     "<image> 1: width '1e400' is not a whole number in 1..1000000"),
    ('<image id="1" width="4" height="4"/>', "bad_annotation",
     "<image> 1: needs name, width and height"),
], ids=["nan", "rotation-inf", "polygon-inf", "polygon-2-points", "polygon-odd",
        "box-no-ybr", "width-1e400", "no-name"])
def test_cvat_bad_values_are_counted(tmp_path, body, reason, message):
    path = cvat_file(tmp_path, body)
    assert convert("cvat", path, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")[reason] == (1, f"annotations.xml: {message}")
    assert len(written(tmp_path / "out")) >= 1


def test_cvat_image_name_out_of_the_folder_is_not_read(tmp_path):
    data = decoy(tmp_path)
    path = cvat_file(tmp_path, '<image id="1" name="../../decoy.jpg" width="16" height="16"/>')
    assert convert("cvat", path, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")["path_escape"][0] == 1
    assert not holds(tmp_path / "out", data)


@pytest.mark.parametrize("text, message", [
    ("<annotations><image", ":1: not well-formed XML (unclosed token: line 1, column 13)"),
    ("<annotations><track id='0' label='cat'/></annotations>",
     ": no <image>; a CVAT for video export (<track>) is not read: export as CVAT for images "
     "1.1"),
    ("<annotation><filename>a.jpg</filename></annotation>",
     ": <annotation> is not CVAT for images 1.1 (<annotations>)"),
], ids=["malformed", "video", "voc"])
def test_cvat_bad_file_is_one_line(tmp_path, capsys, text, message):
    path = tmp_path / "annotations.xml"
    path.write_text(text)
    assert convert("cvat", path, "-o", tmp_path / "out") == 2
    assert one_line(capsys) == f"odwrap: error: {path}{message}"
    assert not (tmp_path / "out").exists()


def test_cvat_file_over_the_size_limit_is_one_line(tmp_path, capsys, monkeypatch):
    from odwrap.data.formats import cvat

    monkeypatch.setattr(cvat, "MAX_XML_BYTES", 100)
    path = cvat_file(tmp_path, " " * 100)
    assert convert("cvat", path, "-o", tmp_path / "out") == 2
    size = path.stat().st_size
    assert one_line(capsys) == f"odwrap: error: {path}: {size} bytes, over the limit of 100 " \
                               "bytes for a CVAT XML file"


def createml_file(tmp_path, entries) -> Path:
    from tests.data.test_tools_formats import picture

    picture(tmp_path / "cml" / "a.jpg", (64, 48))
    path = tmp_path / "cml" / "annotations.json"
    good = {"image": "a.jpg", "annotations": [
        {"label": "cat", "coordinates": {"x": 5, "y": 5, "width": 4, "height": 4}}]}
    path.write_text(json.dumps([good, *entries]) if isinstance(entries, list) else entries)
    return path


def box_at(**coordinates):
    return {"image": "b.jpg", "annotations": [
        {"label": "cat", "coordinates": {"x": 5, "y": 5, "width": 4, "height": 4, **coordinates}}]}


@pytest.mark.parametrize("entry, reason, message", [
    (box_at(x=math.nan), "bad_coordinate",
     "[1]: annotations[0]: x nan is not a finite number within +-1e+09"),
    (box_at(width=-math.inf), "bad_coordinate",
     "[1]: annotations[0]: width -inf is not a finite number within +-1e+09"),
    (box_at(height="4"), None, None),  # a number as text is a number
    (box_at(height=[4]), "bad_coordinate", "[1]: annotations[0]: height [4] is not a number"),
    ({"image": "b.jpg", "annotations": [{"label": "cat", "coordinates": {"x": 1}}]},
     "bad_annotation", "[1]: annotations[0]: coordinates {'x': 1} lack x, y, width or height"),
    ({"image": "b.jpg", "annotations": [{"label": "cat"}]}, "bad_annotation",
     "[1]: annotations[0]: needs a label and coordinates {x, y, width, height}"),
    ({"image": None, "annotations": []}, "bad_annotation",
     "[1]: image None is not a non-empty name without NUL or line breaks"),
    ({"image": "b.jpg"}, "bad_annotation", "[1]: needs an image and an annotations list"),
], ids=["nan", "inf", "text", "list", "no-y", "no-coordinates", "no-image", "no-annotations"])
def test_createml_bad_values_are_counted(tmp_path, entry, reason, message):
    path = createml_file(tmp_path, [entry])
    assert convert("createml", path, "-o", tmp_path / "out") == 0
    found = problems(tmp_path / "out")
    if reason is None:
        assert "bad_coordinate" not in found
    else:
        assert found[reason] == (1, f"annotations.json: {message}")
    assert len(written(tmp_path / "out")) == 1


def test_createml_image_out_of_the_folder_is_not_read(tmp_path):
    data = decoy(tmp_path)
    path = createml_file(tmp_path, [{"image": "../decoy.jpg", "annotations": []}])
    assert convert("createml", path, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out")["path_escape"][0] == 1
    assert not holds(tmp_path / "out", data)


@pytest.mark.parametrize("text, message", [
    ('[{"image": "a.jpg",\n "annotations": [}]', ":2: not valid JSON (Expecting value)"),
    ('{"images": []}', ': a Create ML file is a list of {"image", "annotations"} entries'),
    ("\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
     ": not UTF-8 text; a Create ML JSON file is UTF-8"),
], ids=["malformed", "not-a-list", "latin-1"])
def test_createml_bad_file_is_one_line(tmp_path, capsys, text, message):
    path = createml_file(tmp_path, "")
    path.write_text(text, encoding="latin-1")
    assert convert("createml", path, "-o", tmp_path / "out") == 2
    assert one_line(capsys) == f"odwrap: error: {path}{message}"
    assert not (tmp_path / "out").exists()


def test_createml_file_over_the_size_limit_is_one_line(tmp_path, capsys, monkeypatch):
    from odwrap.data.formats import createml

    monkeypatch.setattr(createml, "MAX_JSON_BYTES", 100)
    path = createml_file(tmp_path, [box_at()] * 5)
    assert convert("createml", path, "-o", tmp_path / "out") == 2
    assert one_line(capsys) == f"odwrap: error: {path}: {path.stat().st_size} bytes, over " \
                               "the limit of 100 bytes for a Create ML JSON file"
