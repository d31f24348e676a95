"""convert coco --keypoints: hand-built COCO keypoint files read back through the OD API's own
TfExampleDecoder (by num_keypoints and by the keypoint label map), the label map's keypoint
entries, hostile keypoints and categories, and demo-data --keypoints. Expected values are worked
out here from the annotations, never taken from odwrap."""

import json
import textwrap

import numpy as np
import pytest
from PIL import Image

from odwrap import cli
from odwrap.data.demo import COLOURS
from tests.conftest import run_python
from tests.recordcheck import records_by_filename

PLATE = {"id": 1, "name": "plate", "keypoints": ["tl", "tr", "br", "bl"],
         "skeleton": [[1, 2], [2, 3], [3, 4], [4, 1]]}
TOOL = {"id": 2, "name": "tool", "keypoints": ["tip", "handle"], "skeleton": [[1, 2]]}
BOLT = {"id": 3, "name": "bolt"}  # a class without keypoints
# The label map numbers classes by name: bolt 1, plate 2, tool 3; keypoints follow the classes
# in that order: plate's tl, tr, br, bl are 0-3, tool's tip and handle 4-5; six in all.
K = 6
NAN = float("nan")


def convert(*argv):
    return cli.main(["convert", *map(str, argv)])


def grey_png(path, size) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 90, 90)).save(path)


def coco(root, images, annotations, categories=(PLATE, TOOL, BOLT), images_dir=None):
    """ROOT/instances.json; IMAGES [(file name, annotated (w, h), real (w, h))] written as PNGs
    under IMAGES_DIR (default ROOT); ANNOTATIONS with image_id the image's position from 1."""
    root.mkdir(parents=True, exist_ok=True)
    folder = images_dir or root
    for name, _, real in images:
        grey_png(folder / name, real)
    data = {"images": [{"id": index, "file_name": name, "width": size[0], "height": size[1]}
                       for index, (name, size, _) in enumerate(images, start=1)],
            "annotations": [{"id": index, "iscrowd": 0, **annotation}
                            for index, annotation in enumerate(annotations, start=1)],
            "categories": list(categories)}
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return path


def counts(out) -> dict:
    report = json.loads((out / "report.json").read_text())
    return {reason: entry["count"] for reason, entry in report["problems"].items()}


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# a.png: a plate with tl, tr visible, br labeled but hidden (v 1), bl unlabeled (v 0 with
# coordinates, which must not be kept), and a bolt. b.png annotated at half its size: the
# tool's points scale by 2. c.png: a plate whose tr is past the edge by 0.005 px (clamped)
# and whose br is outside (unlabeled, counted). d.png: no object.
IMAGES = [("a.png", (40, 30), (40, 30)), ("b.png", (32, 24), (64, 48)),
          ("c.png", (40, 30), (40, 30)), ("d.png", (40, 30), (40, 30))]
ANNOTATIONS = [
    {"image_id": 1, "category_id": 1, "bbox": [4, 3, 20, 15],
     "keypoints": [4, 3, 2, 24, 3, 2, 24, 18, 1, 4, 18, 0], "num_keypoints": 3},
    {"image_id": 1, "category_id": 3, "bbox": [30, 5, 6, 6]},
    {"image_id": 2, "category_id": 2, "bbox": [2, 2, 20, 10], "keypoints": [4, 6, 2, 20, 10, 2]},
    {"image_id": 3, "category_id": 1, "bbox": [0, 0, 40, 30],
     "keypoints": [0, 0, 2, 40.005, 0, 2, 45, 30, 2, 0, 30, 2]},
]
# (y, x) normalized of each of the K points, None where unlabeled (the decoder's NaN).
_ = None
EXPECTED = {
    "a.png": [[(3 / 30, 4 / 40), (3 / 30, 24 / 40), (18 / 30, 24 / 40), _, _, _],
              [_, _, _, _, _, _]],
    "b.png": [[_, _, _, _, (12 / 48, 8 / 64), (20 / 48, 40 / 64)]],
    "c.png": [[(0.0, 0.0), (0.0, 1.0), _, (1.0, 0.0), _, _]],
    "d.png": [],
}

DECODE = """
import json, sys
import numpy as np
from odwrap.odapi import compat
compat.apply()
import tensorflow as tf
decoder_module = compat.load("object_detection.data_decoders.tf_example_decoder")
label_map_util = compat.load("object_detection.utils.label_map_util")
out = {}
for folder, num in zip(sys.argv[1::2], sys.argv[2::2]):
    label_map = folder + "/label_map.pbtxt"
    found = {"label_map": label_map_util.get_keypoint_label_map_dict(label_map),
             "categories": {c["name"]: c.get("keypoints", {}) for c in
                            label_map_util.create_category_index_from_labelmap(
                                label_map).values()}}
    decoders = {"by_count": decoder_module.TfExampleDecoder(num_keypoints=int(num)),
                "by_name": decoder_module.TfExampleDecoder(
                    num_keypoints=int(num), label_map_proto_file=label_map,
                    use_keypoint_label_map=True)}
    for kind, decoder in decoders.items():
        for serialized in tf.data.TFRecordDataset(tf.io.gfile.glob(folder + "/*.tfrecord")):
            d = decoder.decode(serialized)
            points = d["groundtruth_keypoints"].numpy()
            found.setdefault(kind, {})[d["source_id"].numpy().decode()] = {
                "shape": list(points.shape),
                "points": [[None if np.isnan(p).any() else [round(float(v), 5) for v in p]
                            for p in row] for row in points],
                "visible": d["groundtruth_keypoint_visibilities"].numpy().astype(int).tolist(),
                "classes": d["groundtruth_classes"].numpy().tolist()}
    out[folder] = found
print(json.dumps(out))
"""


def decode_with_odapi(*folders_and_counts) -> dict:
    args = [str(value) for pair in folders_and_counts for value in pair]
    result = run_python(["-c", textwrap.dedent(DECODE), *args])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def rounded(rows):
    return [[None if point is None else [round(v, 5) for v in point] for point in row]
            for row in rows]


def demo_expected(annotations: dict) -> dict:
    """{file name: [[(y, x) or None] * 7 per object]} of a 128-px demo COCO file: square corners
    at ids 0-3, triangle corners at 4-6 (classes circle, square, triangle by name)."""
    offset = {"square": 0, "triangle": 4}
    names = {c["id"]: c["name"] for c in annotations["categories"]}
    files = {image["id"]: image["file_name"] for image in annotations["images"]}
    out = {name: [] for name in files.values()}
    for ann in annotations["annotations"]:
        row = [None] * 7
        name = names[ann["category_id"]]
        x, y, w, h = ann["bbox"]
        corners = {"square": [(x, y), (x + w, y), (x + w, y + h), (x, y + h)],
                   "triangle": [(x + w / 2, y), (x + w, y + h), (x, y + h)]}.get(name, [])
        for index, (px, py) in enumerate(corners):
            row[offset[name] + index] = (py / 128, px / 128)
        out[files[ann["image_id"]]].append(row)
    return {name: rounded(rows) for name, rows in out.items()}


@pytest.mark.tf
def test_keypoints_through_the_odapi_decoder_and_label_map(tmp_path):
    source = coco(tmp_path / "coco", IMAGES, ANNOTATIONS)
    out = tmp_path / "out"
    assert convert("coco", source, "-o", out, "--keypoints") == 0
    assert counts(out) == {"size_mismatch": 1, "keypoint_outside": 1}
    demo = tmp_path / "demo"
    assert cli.main(["demo-data", str(demo), "--images", "8", "--keypoints",
                     "--shapes", "square,triangle,circle"]) == 0
    assert convert("coco", demo / "annotations.json", "-o", tmp_path / "demo_out",
                   "--keypoints") == 0
    assert counts(tmp_path / "demo_out") == {}

    decoded = decode_with_odapi((out, K), (tmp_path / "demo_out", 7))
    found = decoded[str(out)]
    assert found["label_map"] == {"tl": 0, "tr": 1, "br": 2, "bl": 3, "tip": 4, "handle": 5}
    assert found["categories"] == {"bolt": {}, "plate": {"tl": 0, "tr": 1, "br": 2, "bl": 3},
                                   "tool": {"tip": 4, "handle": 5}}
    for kind in ("by_count", "by_name"):
        for name, rows in EXPECTED.items():
            entry = found[kind][name]
            assert entry["shape"] == [len(rows), K, 2], (kind, name)
            assert entry["points"] == rounded(rows), (kind, name)
            assert entry["visible"] == [[point is not None for point in row] for row in rows]
    assert found["by_count"]["a.png"]["classes"] == [2, 1]

    demo_found = decoded[str(tmp_path / "demo_out")]
    expected = demo_expected(json.loads((demo / "annotations.json").read_text()))
    for kind in ("by_count", "by_name"):
        assert {name: entry["points"] for name, entry in demo_found[kind].items()} == \
            {f"JPEGImages/{name.split('/')[-1]}": rows for name, rows in expected.items()}


def test_record_features_label_map_and_report(tmp_path):
    source = coco(tmp_path / "coco", IMAGES, ANNOTATIONS)
    out = tmp_path / "out"
    assert convert("coco", source, "-o", out, "--keypoints", "--workers", "1") == 0
    records = records_by_filename(out)  # every record checked by recordcheck.assert_valid
    a = records["a.png"]
    assert a["image/object/keypoint/visibility"] == [2, 2, 1, 0, 0, 0] + [0] * K
    assert a["image/object/keypoint/num"] == [3, 0]
    assert a["image/object/keypoint/x"][:4] == pytest.approx([4 / 40, 24 / 40, 24 / 40, 0.0])
    assert a["image/object/keypoint/text"] == [n.encode() for n in
                                               ("tl", "tr", "br", "bl", "tip", "handle")] * 2
    assert records["d.png"]["image/object/keypoint/x"] == []
    report = json.loads((out / "report.json").read_text())
    assert report["keypoints"] == {
        "plate": {"names": ["tl", "tr", "br", "bl"], "ids": [0, 1, 2, 3],
                  "skeleton": [["tl", "tr"], ["tr", "br"], ["br", "bl"], ["bl", "tl"]]},
        "tool": {"names": ["tip", "handle"], "ids": [4, 5], "skeleton": [["tip", "handle"]]}}
    text = (out / "label_map.pbtxt").read_text()
    assert 'name: "bolt"\n  id: 1\n  display_name: "bolt"\n}' in text
    assert 'keypoints {\n    id: 5\n    label: "handle"\n  }' in text
    # Two workers write the same bytes, and without --keypoints no keypoint feature is written.
    assert convert("coco", source, "-o", tmp_path / "two", "--keypoints", "--workers", "2") == 0
    assert {p.name: p.read_bytes() for p in out.glob("*.tfrecord")} == \
        {p.name: p.read_bytes() for p in (tmp_path / "two").glob("*.tfrecord")}
    assert convert("coco", source, "-o", tmp_path / "boxes") == 0
    assert not any(key.startswith("image/object/keypoint")
                   for values in records_by_filename(tmp_path / "boxes").values()
                   for key in values)


def test_images_dir_and_a_label_map_with_keypoints(tmp_path, capsys):
    """--images DIR as for boxes; a --label-map that carries keypoints is followed (here tool
    first, at ids 0-1, plate at 2-5), one whose names differ is refused in one line."""
    source = coco(tmp_path / "coco", IMAGES[:1], ANNOTATIONS[:2],
                  images_dir=tmp_path / "pictures")
    label_map = tmp_path / "given.pbtxt"
    label_map.write_text(
        'item { name: "bolt" id: 1 }\n'
        'item { name: "plate" id: 2 keypoints { id: 2 label: "tl" } keypoints { id: 3 '
        'label: "tr" } keypoints { id: 4 label: "br" } keypoints { id: 5 label: "bl" } }\n'
        'item { name: "tool" id: 3 keypoints { id: 0 label: "tip" } keypoints { id: 1 '
        'label: "handle" } }\n')
    out = tmp_path / "out"
    assert convert("coco", source, "-o", out, "--keypoints", "--images", tmp_path / "pictures",
                   "--label-map", label_map) == 0
    a = records_by_filename(out)["a.png"]
    assert a["image/object/keypoint/visibility"][:K] == [0, 0, 2, 2, 1, 0]
    assert a["image/object/keypoint/x"][:K] == pytest.approx([0, 0, 0.1, 0.6, 0.6, 0])
    assert a["image/object/keypoint/text"][:K] == [n.encode() for n in
                                                   ("tip", "handle", "tl", "tr", "br", "bl")]

    label_map.write_text('item { name: "plate" id: 1 keypoints { id: 0 label: "corner" } }\n'
                         'item { name: "tool" id: 2 }\nitem { name: "bolt" id: 3 }\n')
    assert convert("coco", source, "-o", tmp_path / "refused", "--keypoints", "--images",
                   tmp_path / "pictures", "--label-map", label_map) == 2
    assert "class 'plate' lists corner; the dataset's category names tl, tr, br, bl" in \
        one_line(capsys)


# Each: one plate annotation's keypoints, the reason counted, the visibilities written.
BAD_POINTS = [
    pytest.param([4, 3, 2] * 3, "bad_keypoints", [0, 0, 0, 0], id="three-points-of-four"),
    pytest.param("4 3 2", "bad_keypoints", [0, 0, 0, 0], id="a-string"),
    pytest.param(list(range(3 * 10 ** 5)), "bad_keypoints", [0, 0, 0, 0], id="huge-list"),
    pytest.param([4, 3, 3] + [4, 3, 2] * 3, "bad_keypoint", [0, 2, 2, 2], id="visibility-3"),
    pytest.param([4, 3, "2"] + [4, 3, 2] * 3, "bad_keypoint", [0, 2, 2, 2],
                 id="visibility-a-string"),
    pytest.param([4, 3, True] + [4, 3, 2] * 3, "bad_keypoint", [0, 2, 2, 2],
                 id="visibility-true"),
    pytest.param([4, 3, 1.5] + [4, 3, 2] * 3, "bad_keypoint", [0, 2, 2, 2],
                 id="visibility-1.5"),
    pytest.param([4, 3, 2, "nan", 3, 2] + [4, 3, 2] * 2, "bad_keypoint", [2, 0, 2, 2],
                 id="x-nan"),
    pytest.param([4, 3, 2, 4, 1e400, 2] + [4, 3, 2] * 2, "bad_keypoint", [2, 0, 2, 2],
                 id="y-inf"),
    pytest.param([4, 3, 2, 4, None, 2] + [4, 3, 2] * 2, "bad_keypoint", [2, 0, 2, 2],
                 id="y-null"),
    pytest.param([4, 3, 2, -1, 3, 2] + [4, 3, 2] * 2, "keypoint_outside", [2, 0, 2, 2],
                 id="x-left-of-the-image"),
    pytest.param([4, 3, 2, 4, 31, 1] + [4, 3, 2] * 2, "keypoint_outside", [2, 0, 2, 2],
                 id="y-below-the-image"),
]


@pytest.mark.parametrize("points, reason, visibility", BAD_POINTS)
def test_bad_keypoints_are_counted_and_left_unlabeled(tmp_path, points, reason, visibility):
    source = tmp_path / "coco" / "instances.json"
    source.parent.mkdir()
    grey_png(source.parent / "a.png", (40, 30))
    source.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 3, 20, 15],
                         "keypoints": points}],
        "categories": [PLATE]}).replace("Infinity", "1e400"))
    out = tmp_path / "out"
    assert convert("coco", source, "-o", out, "--keypoints") == 0
    assert counts(out) == {reason: 1}
    values = records_by_filename(out)["a.png"]
    assert values["image/object/bbox/xmin"] == [pytest.approx(0.1)]  # the box is kept
    assert values["image/object/keypoint/visibility"] == visibility
    xs = values["image/object/keypoint/x"]
    assert [x for x, v in zip(xs, visibility) if not v] == [0.0] * visibility.count(0)
    assert convert("coco", source, "-o", tmp_path / "strict", "--keypoints", "--strict") == 2


def test_a_class_without_keypoints_given_some_is_counted(tmp_path, capsys):
    """Only bolt and plate have boxes: the label map holds them, four keypoints (plate's)."""
    source = coco(tmp_path / "coco", IMAGES[:1], [
        ANNOTATIONS[0],
        {"image_id": 1, "category_id": 3, "bbox": [4, 3, 20, 15], "keypoints": [4, 3, 2]}])
    assert convert("coco", source, "-o", tmp_path / "out", "--keypoints") == 0
    assert counts(tmp_path / "out") == {"bad_keypoints": 1}
    values = records_by_filename(tmp_path / "out")["a.png"]
    assert values["image/object/keypoint/visibility"] == [2, 2, 1, 0] + [0] * 4
    # Boxes of keypoint classes none: nothing to write keypoints of.
    source = coco(tmp_path / "bolts", IMAGES[:1], [ANNOTATIONS[1]])
    assert convert("coco", source, "-o", tmp_path / "bolts_out", "--keypoints") == 2
    assert "--keypoints: no class of the label map (bolt) has keypoints" in one_line(capsys)


@pytest.mark.parametrize("category, message", [
    pytest.param({"keypoints": "tl tr"}, "keypoints must be a list of at most 1000 names",
                 id="not-a-list"),
    pytest.param({"keypoints": [f"p{i}" for i in range(1001)]},
                 "keypoints must be a list of at most 1000 names", id="1001-keypoints"),
    pytest.param({"keypoints": ["tl", "tl"]}, "keypoint 'tl' is named twice", id="twice"),
    pytest.param({"keypoints": ["tl", ""]}, "keypoints[1] '' is not a non-empty name",
                 id="empty-name"),
    pytest.param({"keypoints": ["tl", "tr"], "skeleton": [[1, 3]]},
                 "skeleton[0] [1, 3] is not a pair of two different keypoint numbers in 1..2",
                 id="skeleton-past-the-end"),
    pytest.param({"keypoints": ["tl", "tr"], "skeleton": [[0, 1]]},
                 "skeleton[0] [0, 1] is not a pair", id="skeleton-from-0"),
    pytest.param({"keypoints": ["tl", "tr"], "skeleton": [[1, 1]]},
                 "skeleton[0] [1, 1] is not a pair", id="skeleton-loop"),
    pytest.param({"keypoints": ["tl", "tr"], "skeleton": [[1, 2]] * 5},
                 "skeleton must be a list of [a, b] keypoint numbers", id="skeleton-too-long"),
    pytest.param({"skeleton": [[1, 2]]}, "has a skeleton but no keypoints",
                 id="skeleton-without-keypoints"),
])
def test_bad_keypoint_categories_are_one_line(tmp_path, capsys, category, message):
    source = coco(tmp_path / "coco", IMAGES[:1], [], categories=[
        {"id": 1, "name": "plate", **category}])
    assert convert("coco", source, "-o", tmp_path / "out", "--keypoints") == 2
    line = one_line(capsys)
    assert "instances.json: categories[0] ('plate')" in line and message in line
    assert not (tmp_path / "out").exists()


def test_keypoints_are_refused_where_there_are_none(tmp_path, capsys):
    source = coco(tmp_path / "coco", IMAGES[:1], [], categories=[BOLT])
    assert convert("coco", source, "-o", tmp_path / "out", "--keypoints") == 2
    assert "--keypoints: no class of" in one_line(capsys)
    (tmp_path / "voc").mkdir()
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out", "--keypoints") == 2
    assert "--keypoints: voc has no keypoints odwrap reads; coco, yolo, labelme have" in \
        one_line(capsys)


def test_rename_carries_the_keypoints(tmp_path):
    source = coco(tmp_path / "coco", IMAGES[:1], ANNOTATIONS[:2])
    out = tmp_path / "out"
    assert convert("coco", source, "-o", out, "--keypoints", "--rename", "plate=sign") == 0
    assert json.loads((out / "report.json").read_text())["keypoints"]["sign"]["ids"] == \
        [0, 1, 2, 3]  # bolt, sign, tool: sign's four come first


def test_demo_data_keypoints_lie_on_the_drawn_corners(tmp_path, capsys):
    demo = tmp_path / "demo"
    assert cli.main(["demo-data", str(demo), "--images", "12", "--keypoints",
                     "--shapes", "square,triangle,circle"]) == 0
    data = json.loads((demo / "annotations.json").read_text())
    categories = {c["name"]: c for c in data["categories"]}
    assert categories["square"]["keypoints"] == ["top_left", "top_right", "bottom_right",
                                                 "bottom_left"]
    assert categories["triangle"]["skeleton"] == [[1, 2], [2, 3], [3, 1]]
    assert "keypoints" not in categories["circle"]
    files = {image["id"]: image["file_name"] for image in data["images"]}
    names = {c["id"]: c["name"] for c in data["categories"]}
    seen = set()
    for ann in data["annotations"]:
        name = names[ann["category_id"]]
        seen.add(name)
        x, y, w, h = ann["bbox"]
        if name == "circle":
            assert "keypoints" not in ann
            continue
        corners = {"square": [(x, y), (x + w, y), (x + w, y + h), (x, y + h)],
                   "triangle": [(x + w / 2, y), (x + w, y + h), (x, y + h)]}[name]
        assert ann["keypoints"] == [v for cx, cy in corners for v in (cx, cy, 2)]
        assert ann["num_keypoints"] == len(corners)
        # The pixel just inside each corner (towards the shape's centre) is the shape's colour.
        pixels = np.asarray(Image.open(demo / files[ann["image_id"]]).convert("RGB"), int)
        centre = np.mean(corners, axis=0)
        for corner in corners:
            px, py = (np.asarray(corner) + 0.3 * (centre - corner)).astype(int)
            assert np.abs(pixels[py, px] - COLOURS[name]).max() <= 60, (name, corner)
    assert seen == {"square", "triangle", "circle"}
    assert convert("coco", demo / "annotations.json", "-o", tmp_path / "out",
                   "--keypoints") == 0
    assert cli.main(["stats", str(tmp_path / "out" / "*.tfrecord")]) == 0
    squares = sum(names[a["category_id"]] == "square" for a in data["annotations"])
    triangles = sum(names[a["category_id"]] == "triangle" for a in data["annotations"])
    assert f"keypoints    7 an object; {4 * squares + 3 * triangles} labeled" in \
        capsys.readouterr().out


def test_beam_writes_the_default_converters_keypoint_records(tmp_path, beam_python):
    from tests.data.test_beam import assert_same_output

    source = coco(tmp_path / "coco", IMAGES, ANNOTATIONS)
    split = ["--split", "train=0.5,val=0.5", "--seed", "1", "--keypoints"]
    assert convert("coco", source, "-o", tmp_path / "local", *split) == 0
    assert convert("coco", source, "-o", tmp_path / "beam", *split, "--runner", "beam",
                   "--workers", 2) == 0
    assert_same_output(tmp_path / "local", tmp_path / "beam")


def test_a_label_map_whose_keypoint_ids_clash_is_refused(tmp_path, capsys):
    source = coco(tmp_path / "coco", IMAGES[:1], ANNOTATIONS[:1])
    label_map = tmp_path / "given.pbtxt"
    label_map.write_text('item { name: "plate" id: 1 keypoints { id: 0 label: "tl" } keypoints '
                         '{ id: 0 label: "tr" } }\n')
    assert convert("coco", source, "-o", tmp_path / "out", "--keypoints", "--label-map",
                   label_map) == 2
    assert "given.pbtxt: keypoint id 0 is used by 'plate' and 'plate'" in one_line(capsys)


def test_an_annotation_without_keypoints_is_unlabeled_and_not_counted(tmp_path):
    source = coco(tmp_path / "coco", IMAGES[:1], [
        {"image_id": 1, "category_id": 1, "bbox": [4, 3, 20, 15], "keypoints": []},
        {"image_id": 1, "category_id": 1, "bbox": [4, 3, 10, 10]}])
    assert convert("coco", source, "-o", tmp_path / "out", "--keypoints") == 0
    assert counts(tmp_path / "out") == {}
    values = records_by_filename(tmp_path / "out")["a.png"]
    assert values["image/object/keypoint/visibility"] == [0] * 8
    assert values["image/object/keypoint/num"] == [0, 0]


def test_a_rerun_keeps_the_keypoint_shards_and_another_plan_rewrites_them(tmp_path, capsys):
    source = coco(tmp_path / "coco", IMAGES, ANNOTATIONS)
    out = tmp_path / "out"
    assert convert("coco", source, "-o", out, "--keypoints", "--shards", "2") == 0
    first = {p.name: p.read_bytes() for p in out.glob("*.tfrecord")}
    report = (out / "report.json").read_text()
    capsys.readouterr()
    assert convert("coco", source, "-o", out, "--keypoints", "--shards", "2") == 0
    assert "2 shard(s) kept from an earlier run" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.glob("*.tfrecord")} == first
    assert (out / "report.json").read_text() == report  # the kept shards' counts included
    assert convert("coco", source, "-o", out, "--shards", "2") == 0  # no keypoints: new plan
    assert "kept from an earlier run" not in capsys.readouterr().out
    assert not any(b"image/object/keypoint" in p.read_bytes() for p in out.glob("*.tfrecord"))
