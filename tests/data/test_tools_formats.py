"""Issue 27: the formats of labelling tools, LabelMe, CVAT for images and Create ML. Each dataset
is written here by hand with boxes worked out by hand; the records are read back by protobuf
(tests/recordcheck.py) and compared with them, masks pixel by pixel."""

import base64
import io
import json

import pytest

from odwrap import cli
from tests.recordcheck import records_by_filename


def convert(*argv):
    return cli.main(["convert", *map(str, argv), "--workers", "1"])


def picture(path, size, color=(200, 30, 30)) -> bytes:
    """An image of SIZE (width, height) at PATH (JPEG or PNG by its suffix); its bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG" if path.suffix == ".png" else "JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def png_bytes(size, color=(0, 200, 0)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()




def boxes(values) -> list:
    """[(class, xmin, ymin, xmax, ymax) in pixels] of one record."""
    width, height = values["image/width"][0], values["image/height"][0]
    return [(name.decode(), xmin * width, ymin * height, xmax * width, ymax * height)
            for name, xmin, ymin, xmax, ymax in zip(
                values["image/object/class/text"], values["image/object/bbox/xmin"],
                values["image/object/bbox/ymin"], values["image/object/bbox/xmax"],
                values["image/object/bbox/ymax"])]


def assert_boxes(found, expected) -> None:
    assert {image: [(name, *box) for name, *box in boxes(values)]
            for image, values in found.items()} == {
        image: [(name, *(pytest.approx(v, abs=1e-4) for v in box)) for name, *box in entries]
        for image, entries in expected.items()}


def problems(out) -> dict:
    report = json.loads((out / "report.json").read_text())
    return {reason: entry["count"] for reason, entry in report["problems"].items()}


def mask(values, index):
    """The mask of object INDEX of a record, as rows of 0/1."""
    import numpy as np
    from PIL import Image

    return np.array(Image.open(io.BytesIO(values["image/object/mask"][index])))


# --- LabelMe ---------------------------------------------------------------------------------

def shape(label, kind, points, **more):
    return {"label": label, "shape_type": kind, "points": points, "group_id": None,
            "flags": {}, **more}


def labelme_file(path, shapes, image_path, width, height, image_data=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "version": "5.4.1", "flags": {"night": True}, "shapes": shapes,
        "imagePath": image_path, "imageData": image_data, "imageHeight": height,
        "imageWidth": width}))


def labelme_dataset(root) -> dict:
    """A LabelMe folder; {image: bytes} of the two embedded images."""
    picture(root / "a.jpg", (64, 48))
    picture(root / "images" / "b.png", (32, 24))
    labelme_file(root / "a.json", [
        shape("cat", "rectangle", [[40, 30], [10, 5]]),  # corners in the other order
        shape("dog", "polygon", [[5, 5], [20, 8], [12, 25]]),
        shape("dot", "point", [[5, 5]]),
        shape("edge", "line", [[1, 1], [9, 9]]),
        shape("path", "linestrip", [[1, 1], [9, 9], [20, 3]]),
        {"label": "bird", "points": [[50, 10], [60, 10], [55, 20]]},  # LabelMe 3: no type
        shape("blob", "mask", [[1, 2], [9, 12]], mask="iVBORw0KGgo="),
    ], "a.jpg", 64, 48)
    labelme_file(root / "sub" / "b.json", [shape("cat", "circle", [[16, 12], [16, 17]])],
                 "..\\images\\b.png", 32, 24)  # written on Windows
    embedded = {"sub/c.jpg": png_bytes((40, 30)), "d.json": png_bytes((20, 10), (9, 9, 9))}
    labelme_file(root / "sub" / "c.json", [shape("dog", "rectangle", [[1, 1], [11, 21]])],
                 "c.jpg", 40, 30, base64.b64encode(embedded["sub/c.jpg"]).decode())
    labelme_file(root / "d.json", [shape("cat", "rectangle", [[0, 0], [8, 8]])], "", 20, 10,
                 base64.b64encode(embedded["d.json"]).decode())
    return embedded


LABELME_BOXES = {
    "a.jpg": [("cat", 10, 5, 40, 30), ("dog", 5, 5, 20, 25), ("bird", 50, 10, 60, 20),
              ("blob", 1, 2, 9, 12)],
    "images/b.png": [("cat", 11, 7, 21, 17)],  # the circle's box: centre 16,12, radius 5
    "sub/c.jpg": [("dog", 1, 1, 11, 21)],
    "d.json": [("cat", 0, 0, 8, 8)],
}


def test_labelme_boxes_classes_and_embedded_images(tmp_path, capsys):
    embedded = labelme_dataset(tmp_path / "lm")
    assert convert("labelme", tmp_path / "lm", "-o", tmp_path / "out") == 0
    found = records_by_filename(tmp_path / "out")
    assert_boxes(found, LABELME_BOXES)
    for image, data in embedded.items():  # the embedded PNGs, byte for byte
        assert found[image]["image/encoded"] == [data]
    assert problems(tmp_path / "out") == {"unsupported_shape": 3}
    assert "a.json: shapes[2] dot: a point has no box" in capsys.readouterr().out


def test_labelme_masks_are_the_shapes(tmp_path):
    labelme_dataset(tmp_path / "lm")
    assert convert("labelme", tmp_path / "lm", "-o", tmp_path / "out", "--masks") == 0
    found = records_by_filename(tmp_path / "out")
    expected = dict(LABELME_BOXES, **{"a.jpg": LABELME_BOXES["a.jpg"][:3]})
    assert_boxes(found, expected)
    assert problems(tmp_path / "out") == {"unsupported_shape": 4}  # and the mask shape
    rectangle, polygon, legacy = (mask(found["a.jpg"], index) for index in range(3))
    assert rectangle.shape == (48, 64)
    assert rectangle[15, 20] == 1 and rectangle[35, 20] == 0 and rectangle[15, 45] == 0
    assert polygon[12, 12] == 1 and polygon[6, 18] == 0 and polygon[40, 40] == 0
    assert legacy[13, 55] == 1 and legacy[18, 51] == 0
    circle = mask(found["images/b.png"], 0)
    assert circle[12, 16] == 1 and circle[12, 22] == 0 and circle[7, 11] == 0
    assert circle.sum() == pytest.approx(3.14159 * 25, rel=0.15)


def test_labelme_labelmap_stats_and_images_refused(tmp_path, capsys):
    from odwrap.odapi import labelmap

    labelme_dataset(tmp_path / "lm")
    assert cli.main(["labelmap", "labelme", str(tmp_path / "lm"), "--order", "frequency",
                     "-o", str(tmp_path / "m.pbtxt")]) == 0
    assert [(item.id, item.name) for item in labelmap.read(tmp_path / "m.pbtxt").item] == [
        (1, "cat"), (2, "dog"), (3, "bird"), (4, "blob")]
    assert convert("labelme", tmp_path / "lm", "-o", tmp_path / "out") == 0
    capsys.readouterr()
    assert cli.main(["stats", str(tmp_path / "out" / "*.tfrecord")]) == 0
    out = capsys.readouterr().out
    assert "images       4" in out and "boxes        7" in out
    assert convert("labelme", tmp_path / "lm", "-o", tmp_path / "other", "--images",
                   tmp_path) == 2
    assert "a LabelMe imagePath is relative to its JSON file" in capsys.readouterr().err


# --- CVAT for images 1.1 ---------------------------------------------------------------------

CVAT_XML = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>t</name><labels><label><name>cat</name></label></labels></task></meta>
  <image id="0" name="a.jpg" subset="default" width="64" height="48">
    <box label="cat" source="manual" occluded="1" xtl="10" ytl="5" xbr="40" ybr="30"
         z_order="0"><attribute name="colour">black</attribute></box>
    <polygon label="dog" source="manual" occluded="0" points="5.00,5.00;20.00,8.00;12.00,25.00"
             z_order="0"/>
    <box label="car" xtl="20" ytl="10" xbr="40" ybr="20" rotation="30.0"/>
    <ellipse label="ball" cx="30" cy="30" rx="8" ry="4"/>
    <ellipse label="ball" cx="50" cy="30" rx="8" ry="4" rotation="90"/>
    <mask label="blob" rle="3, 5, 2" left="2" top="3" width="10" height="5"/>
    <points label="eye" points="1.0,1.0"/>
    <polyline label="road" points="1,1;5,5"/>
    <tag label="day" source="manual"/>
  </image>
  <image id="1" name="sub/b.png" width="32" height="24">
    <box label="cat" xtl="1.5" ytl="2.25" xbr="30" ybr="20" rotation="360"/>
  </image>
  <image id="2" name="c.jpg" width="40" height="30"></image>
</annotations>
"""
# The box turned 30 degrees about its centre (30, 15): half sides 10 and 5 become
# 10 cos 30 + 5 sin 30 across and 10 sin 30 + 5 cos 30 down.
TURNED = (10 * 3 ** 0.5 / 2 + 2.5, 5 + 5 * 3 ** 0.5 / 2)
CVAT_BOXES = {
    "a.jpg": [("cat", 10, 5, 40, 30), ("dog", 5, 5, 20, 25),
              ("car", 30 - TURNED[0], 15 - TURNED[1], 30 + TURNED[0], 15 + TURNED[1]),
              ("ball", 22, 26, 38, 34), ("ball", 46, 22, 54, 38), ("blob", 2, 3, 12, 8)],
    "sub/b.png": [("cat", 1.5, 2.25, 30, 20)],
    "c.jpg": [],
}


def cvat_dataset(root, images="images"):
    picture(root / images / "a.jpg", (64, 48))
    picture(root / images / "sub" / "b.png", (32, 24))
    picture(root / images / "c.jpg", (40, 30))
    (root / "annotations.xml").write_text(CVAT_XML)
    return root / "annotations.xml"


def test_cvat_boxes_polygons_ellipses_and_rotation(tmp_path, capsys):
    path = cvat_dataset(tmp_path / "cvat")
    assert convert("cvat", path, "-o", tmp_path / "out") == 0
    assert_boxes(records_by_filename(tmp_path / "out"), CVAT_BOXES)
    assert problems(tmp_path / "out") == {"unsupported_shape": 3, "rotated_box": 1}
    out = capsys.readouterr().out
    assert "annotations.xml: <image> 0: a.jpg: <box> car: rotation 30" in out
    assert "annotations.xml: <image> 0: a.jpg: <points> eye: not a box or a region odwrap " \
           "reads" in out


def test_cvat_masks_are_the_shapes(tmp_path):
    path = cvat_dataset(tmp_path / "cvat")
    assert convert("cvat", path, "-o", tmp_path / "out", "--masks") == 0
    found = records_by_filename(tmp_path / "out")
    assert_boxes(found, dict(CVAT_BOXES, **{"a.jpg": CVAT_BOXES["a.jpg"][:5]}))
    assert problems(tmp_path / "out") == {"unsupported_shape": 4, "rotated_box": 1}
    box, polygon, turned, ellipse, upright = (mask(found["a.jpg"], i) for i in range(5))
    assert box[15, 20] == 1 and box[35, 20] == 0
    assert polygon[12, 12] == 1 and polygon[6, 18] == 0
    # The turned box's mask is the turned rectangle: its centre in, the corners of the
    # upright box around it out.
    assert turned[15, 30] == 1 and turned[6, 19] == 0 and turned[23, 40] == 0
    assert ellipse[30, 30] == 1 and ellipse[30, 36] == 1 and ellipse[35, 30] == 0
    assert upright[30, 50] == 1 and upright[36, 50] == 1 and upright[30, 55] == 0


@pytest.mark.parametrize("layout", ["images-beside", "same-folder", "option"])
def test_cvat_images_folder(tmp_path, layout):
    root = tmp_path / "cvat"
    images = {"images-beside": "images", "same-folder": ".", "option": "../pictures"}[layout]
    path = cvat_dataset(root, images)
    extra = ["--images", tmp_path / "pictures"] if layout == "option" else []
    assert convert("cvat", path, "-o", tmp_path / "out", *extra) == 0
    assert sorted(records_by_filename(tmp_path / "out")) == ["a.jpg", "c.jpg", "sub/b.png"]


def test_cvat_labelmap(tmp_path):
    from odwrap.odapi import labelmap

    path = cvat_dataset(tmp_path / "cvat")
    assert cli.main(["labelmap", "cvat", str(path), "-o", str(tmp_path / "m.pbtxt")]) == 0
    assert [item.name for item in labelmap.read(tmp_path / "m.pbtxt").item] == [
        "ball", "blob", "car", "cat", "dog"]


# --- Create ML -------------------------------------------------------------------------------

def createml_entries():
    return [
        {"image": "a.jpg", "annotations": [
            {"label": "cat", "coordinates": {"x": 25, "y": 17.5, "width": 30, "height": 25}},
            {"label": "dog", "coordinates": {"x": 12.5, "y": 15, "width": 15, "height": 20}}]},
        {"image": "sub/b.png", "annotations": [
            {"label": "cat", "coordinates": {"x": 16, "y": 12, "width": 10, "height": 10}}]},
        {"image": "c.jpg", "annotations": []}]


CREATEML_BOXES = {"a.jpg": [("cat", 10, 5, 40, 30), ("dog", 5, 5, 20, 25)],
                  "sub/b.png": [("cat", 11, 7, 21, 17)], "c.jpg": []}


def createml_dataset(root, images=None):
    images = images or root
    picture(images / "a.jpg", (64, 48))
    picture(images / "sub" / "b.png", (32, 24))
    picture(images / "c.jpg", (40, 30))
    root.mkdir(parents=True, exist_ok=True)
    (root / "annotations.json").write_text(json.dumps(createml_entries()))
    return root / "annotations.json"


def test_createml_centre_boxes(tmp_path, capsys):
    path = createml_dataset(tmp_path / "cml")
    assert convert("createml", path, "-o", tmp_path / "out") == 0
    assert_boxes(records_by_filename(tmp_path / "out"), CREATEML_BOXES)
    assert problems(tmp_path / "out") == {}
    assert cli.main(["labelmap", "createml", str(path), "-o", str(tmp_path / "m.pbtxt")]) == 0
    capsys.readouterr()
    assert cli.main(["stats", str(tmp_path / "out" / "*.tfrecord")]) == 0
    out = capsys.readouterr().out
    assert "images       3" in out and "boxes        3" in out and "no boxes     1" in out


def test_createml_images_option(tmp_path):
    path = createml_dataset(tmp_path / "cml", images=tmp_path / "pictures")
    assert convert("createml", path, "-o", tmp_path / "out", "--images",
                   tmp_path / "pictures") == 0
    assert_boxes(records_by_filename(tmp_path / "out"), CREATEML_BOXES)
