"""convert yolo --keypoints (Ultralytics pose: data.yaml's kpt_shape and kpt_names) and convert
labelme --keypoints (point shapes grouped with a box by group_id): datasets written here in the
tools' own formats, records read back through the OD API's TfExampleDecoder, the label map's
keypoints, the problems counted, hostile input. Expected values are worked out here by hand."""

import json

import pytest

from odwrap import cli
from tests.data.test_keypoints import counts, decode_with_odapi, one_line
from tests.data.test_tools_formats import labelme_file, picture, shape
from tests.datasets import yolo_images
from tests.recordcheck import records_by_filename


def convert(*argv):
    return cli.main(["convert", *map(str, argv), "--workers", "1"])


def pixels(values, size) -> list:
    """A record's keypoints as [[(x, y) in pixels, or None where unlabeled] per object]."""
    width, height = size
    xs, ys = values["image/object/keypoint/x"], values["image/object/keypoint/y"]
    seen = values["image/object/keypoint/visibility"]
    per = len(xs) // max(1, len(values["image/object/bbox/xmin"]))
    points = [None if not v else (round(x * width, 3), round(y * height, 3))
              for x, y, v in zip(xs, ys, seen)]
    return [points[start:start + per] for start in range(0, len(points), per)]


# --- YOLO pose -------------------------------------------------------------------------------

# Two classes of 4 points (kpt_shape [4, 3]); kpt_names names plate's, tool's are kp0..kp3. The
# label map numbers classes by name (plate 1, tool 2): plate's points are ids 0-3, tool's 4-7.
POSE_YAML = """\
path: .
train: images/train
val: images/val
kpt_shape: [4, 3]
flip_idx: [1, 0, 3, 2]
names:
  0: plate
  1: tool
kpt_names:
  0:
    - tl
    - tr
    - br
    - bl
"""
# a.png 40x30: a plate, box (4, 3)-(24, 18), tl and tr visible, br hidden (v 1), bl unlabeled
# (0 0 0); a tool, box (10, 6)-(30, 24), kp0 at (20, 15) v 2, kp1 unlabeled, kp2 v 2.0 (as some
# tools write it) at (8, 27), kp3 at the right edge (40, 0). b.png 64x48: a tool whose kp0 and
# kp1 are at (16, 12) and (48, 36). c.png: a background image.
POSE_IMAGES = {
    "train/a.png": (40, 30, "0 0.35 0.35 0.5 0.5 0.1 0.1 2 0.6 0.1 2 0.6 0.6 1 0 0 0\n"
                            "1 0.5 0.5 0.5 0.6 0.5 0.5 2 0 0 0 0.2 0.9 2.0 1.0 0.0 1\n"),
    "val/b.png": (64, 48, "1 0.5 0.5 0.5 0.5 0.25 0.25 2 0.75 0.75 2 0 0 0 0 0 0\n"),
    "val/c.png": (32, 32, None),
}
_ = None
POSE_EXPECTED = {  # pixels of the 8 keypoints of each object
    "images/train/a.png": ((40, 30), [[(4, 3), (24, 3), (24, 18), _, _, _, _, _],
                                      [_, _, _, _, (20, 15), _, (8, 27), (40, 0)]]),
    "images/val/b.png": ((64, 48), [[_, _, _, _, (16, 12), (48, 36), _, _]]),
    "images/val/c.png": ((32, 32), []),
}
POSE_NAMES = ["tl", "tr", "br", "bl", "kp0", "kp1", "kp2", "kp3"]

# kpt_shape [3, 2]: x y only; a point at 0 0 is unlabeled, any other visible. No kpt_names.
XY_YAML = "train: images\nnames: [mark]\nkpt_shape: [3, 2]\n"
XY_IMAGES = {"m.png": (50, 20, "0 0.5 0.5 0.8 0.5 0.2 0.25 0 0 0.9 0.75\n")}
XY_EXPECTED = {"images/m.png": ((50, 20), [[(10, 5), _, (45, 15)]])}


def pose_dataset(root, yaml_text=POSE_YAML, images=POSE_IMAGES):
    yolo_images(root, images)
    (root / "data.yaml").write_text(yaml_text)
    return root / "data.yaml"


def decoded_pixels(entry, size) -> list:
    """The decoder's [y, x] normalized points of one image as [[(x, y) pixels or None]]."""
    width, height = size
    return [[None if p is None else (round(p[1] * width, 3), round(p[0] * height, 3))
             for p in row] for row in entry["points"]]


@pytest.mark.tf
def test_yolo_and_labelme_keypoints_through_the_odapi_decoder(tmp_path):
    pose_out, xy_out = tmp_path / "pose_out", tmp_path / "xy_out"
    assert convert("yolo", pose_dataset(tmp_path / "pose"), "-o", pose_out, "--keypoints") == 0
    assert counts(pose_out) == {}
    assert convert("yolo", pose_dataset(tmp_path / "xy", XY_YAML, XY_IMAGES), "-o", xy_out,
                   "--keypoints") == 0
    lm_out = tmp_path / "lm_out"
    assert convert("labelme", labelme_dataset(tmp_path / "lm"), "-o", lm_out,
                   "--keypoints") == 0
    decoded = decode_with_odapi((pose_out, 8), (xy_out, 3), (lm_out, 6))

    pose = decoded[str(pose_out)]
    assert pose["label_map"] == {name: index for index, name in enumerate(POSE_NAMES)}
    assert pose["categories"] == {"plate": {"tl": 0, "tr": 1, "br": 2, "bl": 3},
                                  "tool": {"kp0": 4, "kp1": 5, "kp2": 6, "kp3": 7}}
    for folder, expected, size in ((pose_out, POSE_EXPECTED, 8), (xy_out, XY_EXPECTED, 3),
                                   (lm_out, LABELME_EXPECTED, 6)):
        for kind in ("by_count", "by_name"):
            found = decoded[str(folder)][kind]
            assert set(found) == set(expected), (folder, kind)
            for image, (image_size, rows) in expected.items():
                assert found[image]["shape"] == [len(rows), size, 2], (image, kind)
                assert decoded_pixels(found[image], image_size) == rows, (image, kind)
                assert found[image]["visible"] == [[p is not None for p in row]
                                                   for row in rows], (image, kind)
    assert decoded[str(xy_out)]["categories"] == {"mark": {"kp0": 0, "kp1": 1, "kp2": 2}}
    assert decoded[str(lm_out)]["categories"] == LABELME_LABEL_MAP


def test_yolo_pose_visibility_label_map_and_report(tmp_path):
    out = tmp_path / "out"
    assert convert("yolo", pose_dataset(tmp_path / "pose"), "-o", out, "--keypoints") == 0
    records = records_by_filename(out)
    a = records["images/train/a.png"]
    assert a["image/object/keypoint/visibility"] == [2, 2, 1, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 2, 0, 2, 1]
    assert a["image/object/keypoint/num"] == [3, 3]
    assert a["image/object/keypoint/text"] == [name.encode() for name in POSE_NAMES] * 2
    assert pixels(a, (40, 30)) == POSE_EXPECTED["images/train/a.png"][1]
    report = json.loads((out / "report.json").read_text())
    assert report["keypoints"] == {
        "plate": {"names": ["tl", "tr", "br", "bl"], "ids": [0, 1, 2, 3], "skeleton": []},
        "tool": {"names": ["kp0", "kp1", "kp2", "kp3"], "ids": [4, 5, 6, 7], "skeleton": []}}
    text = (out / "label_map.pbtxt").read_text()
    assert 'keypoints {\n    id: 3\n    label: "bl"\n  }' in text
    assert 'keypoints {\n    id: 7\n    label: "kp3"\n  }' in text


def test_a_pose_dataset_without_keypoints_converts_as_boxes(tmp_path):
    """A pose line is a box and points, never a polygon: c.txt's points lie far outside its box,
    so the box read as a polygon would be (2, 3)-(38, 27); it is (16, 12)-(24, 18). With --masks
    each box gets its box as its mask (counted), as a plain YOLO box does."""
    images = {"c.png": (40, 30, "0 0.5 0.5 0.2 0.2 0.05 0.1 2 0.95 0.9 2 0.5 0.5 2 0.5 0.5 2\n"
                                "1 0.5 0.5 0.2 0.2 0 0 0 0 0 0 0 0 0 0 0 0\n")}
    source = pose_dataset(tmp_path / "pose", POSE_YAML.replace("images/train", "images").
                          replace("val: images/val\n", ""), images)
    for options in ((), ("--masks",)):
        out = tmp_path / f"out{len(options)}"
        assert convert("yolo", source, "-o", out, *options) == 0
        values = records_by_filename(out)["images/c.png"]
        assert [values[f"image/object/bbox/{key}"] for key in ("xmin", "ymin", "xmax", "ymax")] \
            == [[pytest.approx(0.4)] * 2, [pytest.approx(0.4)] * 2, [pytest.approx(0.6)] * 2,
                [pytest.approx(0.6)] * 2]
        assert not any(key.startswith("image/object/keypoint") for key in values)
        assert counts(out) == ({"box_mask": 2} if options else {})


def test_a_label_map_with_keypoints_is_followed(tmp_path):
    """--label-map lists tool's points first (ids 0-3) and plate's in another order (4-7)."""
    label_map = tmp_path / "given.pbtxt"
    label_map.write_text(
        'item { name: "plate" id: 1 keypoints { id: 4 label: "bl" } keypoints { id: 5 '
        'label: "br" } keypoints { id: 6 label: "tr" } keypoints { id: 7 label: "tl" } }\n'
        'item { name: "tool" id: 2 keypoints { id: 0 label: "kp0" } keypoints { id: 1 '
        'label: "kp1" } keypoints { id: 2 label: "kp2" } keypoints { id: 3 label: "kp3" } }\n')
    out = tmp_path / "out"
    assert convert("yolo", pose_dataset(tmp_path / "pose"), "-o", out, "--keypoints",
                   "--label-map", label_map) == 0
    a = records_by_filename(out)["images/train/a.png"]
    assert pixels(a, (40, 30)) == [[_, _, _, _, _, (24, 18), (24, 3), (4, 3)],
                                   [(20, 15), _, (8, 27), (40, 0), _, _, _, _]]


# One line of a pose dataset of kpt_shape [2, 3] (image 40x30, box (4, 3)-(24, 18)), the
# reasons counted, the points' visibilities written (None: the line is left out).
BOX = "0 0.35 0.35 0.5 0.5"
BAD_LINES = [
    pytest.param(f"{BOX} 0.1 0.1 2 0.5 0.5", {"bad_annotation": 1}, None, id="a-field-short"),
    pytest.param(f"{BOX} 0.1 0.1 2 0.5 0.5 2 0.1", {"bad_annotation": 1}, None,
                 id="a-field-over"),
    pytest.param(f"{BOX} " + " ".join(["0.5"] * 200_000), {"bad_annotation": 1}, None,
                 id="200000-fields"),
    pytest.param("0 0.35 nan 0.5 0.5 0.1 0.1 2 0.5 0.5 2", {"bad_coordinate": 1}, None,
                 id="box-nan"),
    pytest.param("7 0.35 0.35 0.5 0.5 0.1 0.1 2 0.5 0.5 2", {"unknown_class": 1}, None,
                 id="unknown-class"),
    pytest.param(BOX, {"bad_keypoints": 1}, [0, 0], id="box-without-points"),
    pytest.param(f"{BOX} nan 0.1 2 0.5 0.5 2", {"bad_keypoint": 1}, [0, 2], id="x-nan"),
    pytest.param(f"{BOX} 0.1 1e400 2 0.5 0.5 2", {"bad_keypoint": 1}, [0, 2], id="y-inf"),
    pytest.param(f"{BOX} 0.1 0.1 2 0.5 abc 2", {"bad_keypoint": 1}, [2, 0], id="y-text"),
    pytest.param(f"{BOX} 0.1 0.1 3 0.5 0.5 2", {"bad_keypoint": 1}, [0, 2], id="visibility-3"),
    pytest.param(f"{BOX} 0.1 0.1 0.87 0.5 0.5 2", {"bad_keypoint": 1}, [0, 2],
                 id="visibility-a-confidence"),
    pytest.param(f"{BOX} 0.1 0.1 -1 0.5 0.5 2", {"bad_keypoint": 1}, [0, 2],
                 id="visibility-negative"),
    pytest.param(f"{BOX} 0.1 0.1 2 1.5 0.5 2", {"keypoint_outside": 1}, [2, 0],
                 id="point-right-of-the-image"),
    pytest.param(f"{BOX} 0.1 -0.2 1 0.5 0.5 2", {"keypoint_outside": 1}, [0, 2],
                 id="point-above-the-image"),
    pytest.param(f"{BOX} 0.1 0.1 0 0.5 0.5 2", {}, [0, 2], id="v0-with-coordinates"),
]


@pytest.mark.parametrize("line, reasons, visibility", BAD_LINES)
def test_bad_pose_lines_are_counted(tmp_path, line, reasons, visibility):
    source = pose_dataset(tmp_path / "pose", "train: images\nnames: [plate]\nkpt_shape: [2, 3]\n",
                          {"a.png": (40, 30, line + "\n0 0.5 0.5 0.2 0.2 0.5 0.5 2 0.5 0.5 2\n")})
    out = tmp_path / "out"
    assert convert("yolo", source, "-o", out, "--keypoints") == 0
    assert counts(out) == reasons
    values = records_by_filename(out)["images/a.png"]
    kept = [] if visibility is None else visibility
    assert values["image/object/keypoint/visibility"] == kept + [2, 2]
    if visibility is not None:
        assert values["image/object/bbox/xmin"][0] == pytest.approx(0.1)  # the box is kept
    if reasons:
        assert convert("yolo", source, "-o", tmp_path / "strict", "--keypoints",
                       "--strict") == 2


@pytest.mark.parametrize("yaml_tail, message", [
    pytest.param("kpt_shape: [0, 3]", "kpt_shape [0, 3] is not [K, D]", id="no-points"),
    pytest.param("kpt_shape: [1001, 3]", "K points (1..1000)", id="1001-points"),
    pytest.param("kpt_shape: [4, 4]", "kpt_shape [4, 4] is not [K, D]", id="4-dims"),
    pytest.param("kpt_shape: [4]", "kpt_shape [4] is not", id="one-number"),
    pytest.param("kpt_shape: 4,3", "kpt_shape '4,3' is not", id="text"),
    pytest.param("kpt_shape: [true, 3]", "kpt_shape [True, 3] is not", id="a-boolean"),
    pytest.param("kpt_shape: [2.5, 3]", "kpt_shape [2.5, 3] is not", id="a-fraction"),
    pytest.param("kpt_shape: [2, 3]\nkpt_names: {0: [a]}",
                 "kpt_names[0] is not a list of 2 names (kpt_shape's K)", id="names-short"),
    pytest.param("kpt_shape: [2, 3]\nkpt_names: {0: [a, a]}", "kpt_names[0]: point 'a' is "
                 "named twice", id="names-twice"),
    pytest.param("kpt_shape: [2, 3]\nkpt_names: {0: [a, '']}", "kpt_names[0][1] '' is not a "
                 "non-empty name", id="name-empty"),
    pytest.param("kpt_shape: [2, 3]\nkpt_names: {0: [a, [b]]}", "kpt_names[0][1] ['b'] is "
                 "not a non-empty name", id="name-a-list"),
    pytest.param("kpt_shape: [2, 3]\nkpt_names: {-1: [a, b]}", "kpt_names key -1 is not a "
                 "class id", id="key-negative"),
    pytest.param("kpt_shape: [2, 3]\nkpt_names: a b", "kpt_names is neither", id="names-text"),
    pytest.param("kpt_shape: [2, 3]\nkpt_names: &a [*a]", "kpt_names[0] is not a list of 2",
                 id="names-recursive-alias"),
    pytest.param("names: [plate]", "--keypoints reads a YOLO pose dataset, whose data.yaml "
                 "gives kpt_shape: [K, D]; this one has none", id="no-kpt_shape"),
])
def test_bad_pose_yaml_is_one_line(tmp_path, capsys, yaml_tail, message):
    yaml_text = "train: images\n" + ("" if yaml_tail.startswith("names") else
                                     "names: [plate]\n") + yaml_tail + "\n"
    source = pose_dataset(tmp_path / "pose", yaml_text, {"a.png": (40, 30, f"{BOX}\n")})
    assert convert("yolo", source, "-o", tmp_path / "out", "--keypoints") == 2
    line = one_line(capsys)
    assert "data.yaml" in line and message in line, line
    assert not (tmp_path / "out").exists()


# --- LabelMe points --------------------------------------------------------------------------

def point(name, x, y, group):
    return shape(name, "point", [[x, y]], group_id=group)


# plate's points in the order first seen: a.json's tr, tl, br, then b.json's bl; tool's tip,
# then handle. Label map by name: bolt 1 (no points), plate 2 (ids 0-3), tool 3 (ids 4-5).
LABELME_LABEL_MAP = {"bolt": {}, "plate": {"tr": 0, "tl": 1, "br": 2, "bl": 3},
                     "tool": {"tip": 4, "handle": 5}}


def labelme_dataset(root):
    """a.json: a plate (group 1) with tr, tl, br; a tool (group 2) with its tip; a bolt with
    no group; a point with no group and one whose group 9 has no box (both loose). b.json,
    annotated at 32x24 on a 64x48 image (points scale by 2): a plate with bl and tl, a tool
    with handle and tip. sub/c.json: group 3 has two plates (its point is loose); a tool whose
    tip is given twice (unlabeled, counted) and whose handle is at (5, 5)."""
    picture(root / "a.png", (40, 30))
    labelme_file(root / "a.json", [
        shape("plate", "rectangle", [[4, 3], [24, 18]], group_id=1),
        point("tr", 24, 3, 1), point("tl", 4, 3, 1), point("br", 24, 18, 1),
        shape("tool", "polygon", [[10, 6], [30, 6], [20, 24]], group_id=2),
        point("tip", 20, 24, 2),
        shape("bolt", "circle", [[35, 5], [35, 8]]),
        point("tl", 1, 1, None), point("tl", 2, 2, 9),
    ], "a.png", 40, 30)
    picture(root / "b.png", (64, 48))
    labelme_file(root / "b.json", [
        shape("plate", "rectangle", [[2, 2], [20, 12]], group_id=5),
        point("bl", 2, 12, 5), point("tl", 2, 2, 5),
        shape("tool", "polygon", [[8, 2], [14, 2], [11, 12]], group_id=6),
        point("handle", 10, 10, 6), point("tip", 12, 4, 6),
    ], "b.png", 32, 24)
    picture(root / "sub" / "c.png", (20, 10))
    labelme_file(root / "sub" / "c.json", [
        shape("plate", "rectangle", [[0, 0], [8, 8]], group_id=3),
        shape("plate", "rectangle", [[1, 1], [9, 9]], group_id=3), point("tl", 1, 1, 3),
        shape("tool", "rectangle", [[0, 0], [10, 10]], group_id=4),
        point("tip", 1, 1, 4), point("tip", 2, 2, 4), point("handle", 5, 5, 4),
    ], "c.png", 20, 10)
    return root


LABELME_EXPECTED = {
    "a.png": ((40, 30), [[(24, 3), (4, 3), (24, 18), _, _, _], [_, _, _, _, (20, 24), _],
                         [_] * 6]),
    "b.png": ((64, 48), [[_, (4, 4), _, (4, 24), _, _], [_, _, _, _, (24, 8), (20, 20)]]),
    "sub/c.png": ((20, 10), [[_] * 6, [_] * 6, [_, _, _, _, _, (5, 5)]]),
}


def test_labelme_points_grouped_counted_and_in_the_label_map(tmp_path):
    source = labelme_dataset(tmp_path / "lm")
    out = tmp_path / "out"
    assert convert("labelme", source, "-o", out, "--keypoints") == 0
    assert counts(out) == {"loose_keypoint": 3, "duplicate_keypoint": 1, "size_mismatch": 1}
    report = json.loads((out / "report.json").read_text())
    examples = {reason: entry["example"] for reason, entry in report["problems"].items()}
    assert examples["loose_keypoint"] == "a.json: shapes[7] 'tl': has no group_id"
    assert examples["duplicate_keypoint"] == \
        "sub/c.json: shapes[5] 'tip': named twice in the object of group 4"
    assert report["keypoints"] == {
        "plate": {"names": ["tr", "tl", "br", "bl"], "ids": [0, 1, 2, 3], "skeleton": []},
        "tool": {"names": ["tip", "handle"], "ids": [4, 5], "skeleton": []}}
    records = records_by_filename(out)
    assert {image: pixels(values, LABELME_EXPECTED[image][0])
            for image, values in records.items()} == \
        {image: rows for image, (_, rows) in LABELME_EXPECTED.items()}
    assert records["a.png"]["image/object/keypoint/visibility"] == \
        [2, 2, 2, 0, 0, 0] + [0, 0, 0, 0, 2, 0] + [0] * 6
    assert records["a.png"]["image/object/class/text"] == [b"plate", b"tool", b"bolt"]
    # Without --keypoints the points are shapes without a box, as before: counted, left out.
    assert convert("labelme", source, "-o", tmp_path / "boxes") == 0
    assert counts(tmp_path / "boxes") == {"unsupported_shape": 14, "size_mismatch": 1}
    assert convert("labelme", source, "-o", tmp_path / "strict", "--keypoints",
                   "--strict") == 2


BAD_POINT_SHAPES = [
    pytest.param(shape("tl", "point", [[4, 3], [5, 5]], group_id=1), "bad_keypoint",
                 id="two-pairs"),
    pytest.param(shape("tl", "point", [], group_id=1), "bad_keypoint", id="no-pair"),
    pytest.param(shape("tl", "point", [[4, "nan"]], group_id=1), "bad_keypoint", id="y-nan"),
    pytest.param(shape("tl", "point", [[1e400, 3]], group_id=1), "bad_keypoint", id="x-inf"),
    pytest.param(shape("tl", "point", "4 3", group_id=1), "bad_keypoint", id="points-text"),
    pytest.param(shape("", "point", [[4, 3]], group_id=1), "bad_keypoint", id="no-name"),
    pytest.param(shape(["tl"], "point", [[4, 3]], group_id=1), "bad_keypoint",
                 id="name-a-list"),
    pytest.param(point("tl", 4, 3, "1"), "loose_keypoint", id="group-text"),
    pytest.param(point("tl", 4, 3, 1.5), "loose_keypoint", id="group-fraction"),
    pytest.param(point("tl", 4, 3, True), "loose_keypoint", id="group-true"),
    pytest.param(point("tl", 41, 3, 1), "keypoint_outside", id="right-of-the-image"),
    pytest.param(point("tl", 4, -1, 1), "keypoint_outside", id="above-the-image"),
]


@pytest.mark.parametrize("bad, reason", BAD_POINT_SHAPES)
def test_bad_point_shapes_are_counted(tmp_path, bad, reason):
    """A plate (group 1) with tr at (24, 3) and one bad point: the plate and tr kept."""
    root = tmp_path / "lm"
    picture(root / "a.png", (40, 30))
    labelme_file(root / "a.json", [shape("plate", "rectangle", [[4, 3], [24, 18]], group_id=1),
                                   point("tr", 24, 3, 1), bad], "a.png", 40, 30)
    out = tmp_path / "out"
    assert convert("labelme", root, "-o", out, "--keypoints") == 0
    assert counts(out) == {reason: 1}
    values = records_by_filename(out)["a.png"]
    assert values["image/object/bbox/xmin"] == [pytest.approx(0.1)]
    names = json.loads((out / "report.json").read_text())["keypoints"]["plate"]["names"]
    assert names[0] == "tr" and pixels(values, (40, 30))[0][0] == (24, 3)
    assert pixels(values, (40, 30))[0][1:] == [_] * (len(names) - 1)


def test_labelme_point_names_are_bounded_and_need_a_group(tmp_path, capsys):
    root = tmp_path / "lm"
    picture(root / "a.png", (40, 30))
    labelme_file(root / "a.json", [shape("plate", "rectangle", [[4, 3], [24, 18]], group_id=1)]
                 + [point(f"p{index}", 4, 3, 1) for index in range(1001)], "a.png", 40, 30)
    assert convert("labelme", root, "-o", tmp_path / "out", "--keypoints") == 2
    assert "a.json: class 'plate' has over 1000 point names" in one_line(capsys)
    labelme_file(root / "a.json", [shape("plate", "rectangle", [[4, 3], [24, 18]]),
                                   point("tl", 4, 3, None)], "a.png", 40, 30)
    assert convert("labelme", root, "-o", tmp_path / "out", "--keypoints") == 2
    assert "--keypoints: no class of" in one_line(capsys)
