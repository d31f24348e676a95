"""Issue 27, datasets as users hold them: YOLO (data.yaml, images/ + labels/, Roboflow's split
folders), Roboflow's pre-split COCO and Model Maker's COCO and VOC layouts. Every expected box
is worked out by hand here; the records are read back with tests/recordcheck.py."""

import io
import json
import re
import shutil
from pathlib import Path

import pytest

from odwrap import cli
from tests import datasets
from tests.recordcheck import assert_valid, features, read_examples


def convert(*argv):
    return cli.main(["convert", *map(str, argv)])


def records(out: Path) -> dict:
    """{split: {image file name: features}} of every shard in OUT, each checked valid."""
    found = {}
    for shard in sorted(out.glob("*.tfrecord")):
        for example in read_examples(shard):
            assert_valid(example)
            values = features(example)
            name = values["image/filename"][0].decode()
            found.setdefault(shard.name.split("-")[0], {})[name] = values
    return found


def boxes_in_pixels(values) -> list[tuple]:
    """(class, xmin, ymin, xmax, ymax in pixels) of a record's boxes."""
    width, height = values["image/width"][0], values["image/height"][0]
    return [(name.decode(), xmin * width, ymin * height, xmax * width, ymax * height)
            for name, xmin, ymin, xmax, ymax in zip(
                values["image/object/class/text"], values["image/object/bbox/xmin"],
                values["image/object/bbox/ymin"], values["image/object/bbox/xmax"],
                values["image/object/bbox/ymax"])]


def assert_pixels(got, expected):
    assert len(got) == len(expected)
    for (name, *box), (want_name, *want) in zip(got, expected):
        assert name == want_name and box == pytest.approx(want, abs=1e-4)


def pbtxt_names(path: Path) -> dict:
    """{name: id} of a label map, read with regular expressions, in the file's order."""
    items = re.findall(r"item\s*{([^}]*)}", path.read_text())
    return {re.search(r"(?m)^\s*name:\s*[\"']([^\"']*)", item).group(1):
            int(re.search(r"(?m)^\s*id:\s*(\d+)", item).group(1)) for item in items}


def label_map(out: Path) -> dict:
    return pbtxt_names(out / "label_map.pbtxt")


def problems(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    return {reason: (entry["count"], entry["example"])
            for reason, entry in report["problems"].items()}


def assert_ids_match_the_label_map(out: Path, expected: dict):
    """OUT's label_map.pbtxt and report.json are EXPECTED, and every record's class ids are
    its names' ids there."""
    assert label_map(out) == expected
    assert json.loads((out / "report.json").read_text())["label_map"] == expected
    for split in records(out).values():
        for values in split.values():
            assert values["image/object/class/label"] == [
                expected[name.decode()] for name in values["image/object/class/text"]]


# --- YOLO ------------------------------------------------------------------------------------

def test_boxes_are_the_hand_computed_pixels(tmp_path):
    root = datasets.yolo(tmp_path / "yolo")
    assert convert("yolo", root, "-o", tmp_path / "out", "--workers", 1) == 0
    found = records(tmp_path / "out")["data"]
    assert sorted(found) == ["images/a.jpg", "images/b.png", "images/c.jpg"]
    assert (found["images/a.jpg"]["image/width"], found["images/a.jpg"]["image/height"]) == \
        ([80], [60])
    assert_pixels(boxes_in_pixels(found["images/a.jpg"]),
                  [("cat", 8, 6, 40, 30), ("dog", 40, 30, 80, 60)])
    assert_pixels(boxes_in_pixels(found["images/b.png"]), [("dog", 10, 20, 30, 70)])
    assert boxes_in_pixels(found["images/c.jpg"]) == []  # a background image is kept
    assert found["images/a.jpg"]["image/object/bbox/xmin"] == pytest.approx([0.1, 0.5])
    assert_ids_match_the_label_map(tmp_path / "out", {"cat": 1, "dog": 2})
    assert problems(tmp_path / "out") == {}


def test_polygons_are_boxes_and_with_masks_masks(tmp_path):
    import numpy as np
    from PIL import Image

    root = tmp_path / "yolo"
    # A triangle (10, 10), (70, 10), (10, 50) on 80x60, and a plain box on the same image.
    datasets.yolo_images(root, {"a.jpg": (80, 60, "0 0.125 0.1666667 0.875 0.1666667 0.125 "
                                                  "0.8333333\n1 0.5 0.5 0.25 0.25\n")})
    (root / "classes.txt").write_text("triangle\nsquare\n")
    assert convert("yolo", root, "-o", tmp_path / "plain") == 0
    values = records(tmp_path / "plain")["data"]["images/a.jpg"]
    assert_pixels(boxes_in_pixels(values), [("triangle", 10, 10, 70, 50),
                                            ("square", 30, 22.5, 50, 37.5)])
    assert "image/object/mask" not in values
    assert convert("yolo", root, "-o", tmp_path / "masks", "--masks") == 0
    values = records(tmp_path / "masks")["data"]["images/a.jpg"]
    triangle, square = (np.array(Image.open(io.BytesIO(png)))
                        for png in values["image/object/mask"])
    assert triangle.shape == (60, 80)
    assert triangle[15, 15] == 1 and triangle[45, 12] == 1 and triangle[12, 65] == 1
    assert triangle[45, 65] == 0 and triangle[5, 40] == 0 and triangle[55, 5] == 0
    assert triangle.sum() == pytest.approx(60 * 40 / 2, rel=0.1)
    # A box line has no outline: its box is its mask, weight 0, counted.
    rows, columns = np.flatnonzero(square.any(axis=1)), np.flatnonzero(square.any(axis=0))
    assert (columns[0], rows[0], columns[-1] + 1, rows[-1] + 1) == (30, 23, 50, 38)
    assert square.sum() == 20 * 15
    assert values["image/object/mask/weight"] == [1.0, 0.0]


NAMES_VARIANTS = {
    "list": "names: [cat, dog]",
    "dict": "names:\n  0: cat\n  1: dog",
    "dict-quoted-ids-and-nc": "nc: 2\nnames: {'0': cat, '1': dog}",
}


def ultralytics_layout(root: Path) -> Path:
    """images/{train,val,test}/ and labels/ beside them: the layout of Ultralytics' coco8."""
    datasets.yolo_images(root, {
        "train/t1.jpg": (40, 40, "0 0.5 0.5 0.5 0.5\n"),
        "train/t2.jpg": (40, 40, "1 0.25 0.25 0.5 0.5\n"),
        "val/v1.jpg": (40, 40, "1 0.5 0.5 0.5 0.5\n"),
        "test/s1.jpg": (40, 40, "0 0.5 0.5 0.5 0.5\n")})
    return root


@pytest.mark.parametrize("names", sorted(NAMES_VARIANTS))
@pytest.mark.parametrize("splits, expected", [
    ("train: images/train\nval: images/val\ntest: images/test",
     {"train": ["images/train/t1.jpg", "images/train/t2.jpg"], "val": ["images/val/v1.jpg"],
      "test": ["images/test/s1.jpg"]}),
    ("train: [images/train, images/test]\nval: images/val",
     {"train": ["images/test/s1.jpg", "images/train/t1.jpg", "images/train/t2.jpg"],
      "val": ["images/val/v1.jpg"]}),
    ("train: train.txt\nval: lists/val.txt",
     {"train": ["images/train/t1.jpg", "images/train/t2.jpg"], "val": ["images/val/v1.jpg"]}),
], ids=["folders", "yaml-list", "list-files"])
def test_data_yaml_variants(tmp_path, names, splits, expected):
    root = ultralytics_layout(tmp_path / "yolo")
    (root / "train.txt").write_text("./images/train/t1.jpg\nimages/train/t2.jpg\n\n")
    (root / "lists").mkdir()
    (root / "lists" / "val.txt").write_text(f"{root}/images/val/v1.jpg\n")
    (root / "data.yaml").write_text(f"{splits}\n{NAMES_VARIANTS[names]}\n")
    assert convert("yolo", root / "data.yaml", "-o", tmp_path / "out") == 0
    found = records(tmp_path / "out")
    assert {split: sorted(images) for split, images in found.items()} == expected
    t1 = found["train"]["images/train/t1.jpg"]
    assert_pixels(boxes_in_pixels(t1), [("cat", 10, 10, 30, 30)])
    assert_ids_match_the_label_map(tmp_path / "out", {"cat": 1, "dog": 2})


def test_data_yaml_path_elsewhere_and_a_folder_with_split_folders(tmp_path):
    root = ultralytics_layout(tmp_path / "data" / "coco8")
    config = tmp_path / "configs" / "coco8.yaml"
    config.parent.mkdir()
    config.write_text("path: ../data/coco8\ntrain: images/train\nval: images/val\n"
                      "names: {0: cat, 1: dog}\n")
    assert convert("yolo", config, "-o", tmp_path / "out") == 0
    assert {split: len(images) for split, images in records(tmp_path / "out").items()} == \
        {"train": 2, "val": 1}
    # The folder alone, no data.yaml: images/'s split folders are the splits, ids the names.
    assert convert("yolo", root, "-o", tmp_path / "bare") == 0
    assert {split: len(images) for split, images in records(tmp_path / "bare").items()} == \
        {"train": 2, "val": 1, "test": 1}
    assert label_map(tmp_path / "bare") == {"0": 1, "1": 2}


def roboflow_yolo(root: Path) -> Path:
    """Roboflow's YOLO export: train/, valid/, test/ with images/ and labels/, a data.yaml
    whose paths start with ../. 'ant' (id 2) is only in the test split."""
    datasets.yolo_images(root / "train", {"t1.jpg": (40, 20, "0 0.5 0.5 0.5 0.5\n"),
                                          "t2.jpg": (40, 20, "1 0.25 0.5 0.5 1\n")})
    datasets.yolo_images(root / "valid", {"v1.jpg": (40, 20, "1 0.5 0.5 0.5 0.5\n")})
    datasets.yolo_images(root / "test", {"s1.jpg": (40, 20, "2 0.75 0.5 0.5 1\n0 0.5 0.5 1 1\n")})
    (root / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 3\n"
        "names: ['cat', 'dog', 'ant']\n\nroboflow:\n  workspace: w\n  version: 1\n")
    return root


def test_roboflow_yolo_keeps_three_splits_with_one_label_map(tmp_path):
    root = roboflow_yolo(tmp_path / "yolo")
    assert convert("yolo", root, "-o", tmp_path / "out") == 0
    found = records(tmp_path / "out")
    assert {split: sorted(images) for split, images in found.items()} == {
        "train": ["train/images/t1.jpg", "train/images/t2.jpg"],
        "val": ["valid/images/v1.jpg"], "test": ["test/images/s1.jpg"]}
    # By name over the whole dataset: ant, only in test, is 1; train's cat is 2, not 1.
    assert_ids_match_the_label_map(tmp_path / "out", {"ant": 1, "cat": 2, "dog": 3})
    assert found["train"]["train/images/t1.jpg"]["image/object/class/label"] == [2]
    assert_pixels(boxes_in_pixels(found["test"]["test/images/s1.jpg"]),
                  [("ant", 20, 0, 40, 20), ("cat", 0, 0, 40, 20)])
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {split: entry["images"] for split, entry in report["splits"].items()} == \
        {"train": 2, "val": 1, "test": 1}
    # The same folders without the data.yaml: the folders are the splits, the ids the names.
    (root / "data.yaml").unlink()
    assert convert("yolo", root, "-o", tmp_path / "bare") == 0
    assert sorted(records(tmp_path / "bare")) == ["test", "train", "val"]
    assert_ids_match_the_label_map(tmp_path / "bare", {"0": 1, "1": 2, "2": 3})


def test_split_option_splits_anew(tmp_path):
    root = roboflow_yolo(tmp_path / "yolo")
    assert convert("yolo", root, "-o", tmp_path / "out", "--split", "train=0.5,val=0.5") == 0
    found = records(tmp_path / "out")
    assert sorted(found) == ["train", "val"]
    assert sorted(name for split in found.values() for name in split) == [
        "test/images/s1.jpg", "train/images/t1.jpg", "train/images/t2.jpg",
        "valid/images/v1.jpg"]
    assert {split: len(images) for split, images in found.items()} == {"train": 2, "val": 2}


def test_labelmap_and_stats_of_a_yolo_dataset(tmp_path, capsys):
    root = roboflow_yolo(tmp_path / "yolo")
    assert cli.main(["labelmap", "yolo", str(root), "--order", "frequency",
                     "-o", str(tmp_path / "m.pbtxt")]) == 0
    # 2 cats, 2 dogs, 1 ant: by count, then by name.
    assert pbtxt_names(tmp_path / "m.pbtxt") == {"cat": 1, "dog": 2, "ant": 3}
    assert convert("yolo", root, "-o", tmp_path / "out") == 0
    capsys.readouterr()
    assert cli.main(["stats", str(tmp_path / "out" / "*.tfrecord"), "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "images       4" in out and "boxes        5" in out


@pytest.mark.parametrize("yaml_text, message", [
    ("train: images\nnames: [cat, dog]\nnc: 3", "nc is 3 but names has 2 classes"),
    ("train: images\nnames: [cat, yes]", "names[1]: True is not a class name (YAML reads yes"),
    ("train: images\nnames: {a: cat}", "names: key a is not a class id"),
    ("train: images\nnames: 5", "names is neither a list nor an {id: name} mapping"),
    ("train: ../../elsewhere\nnames: [cat]", "train: '../../elsewhere' leads outside the "
                                             "dataset root"),
    ("train: nowhere\nnames: [cat]", "train: 'nowhere': no such folder or list file in"),
    ("train: data.yaml\nnames: [cat]", "train: 'data.yaml' is neither a folder of images nor"),
    ("path: missing\ntrain: images\n", "path 'missing' is not a folder"),
    ("names: [cat]", "gives none of train, val and test"),
    ("train: [images, 7]", "train: 7 is not the path of a folder"),
    ("- a\n- b", "a data.yaml is a mapping"),
    ("train: [images\nnames: [cat]", "data.yaml:2: YAML syntax error: expected ',' or ']'"),
], ids=["nc", "yes", "bad-key", "names-number", "escape", "missing", "yaml-as-split",
        "path", "no-splits", "list-number", "not-mapping", "syntax"])
def test_bad_data_yaml_is_one_line(tmp_path, capsys, yaml_text, message):
    root = datasets.yolo(tmp_path / "yolo")
    (tmp_path / "elsewhere").mkdir()
    (root / "data.yaml").write_text(yaml_text)
    assert convert("yolo", root / "data.yaml", "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and str(root / "data.yaml") in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make, message", [
    (lambda root: None, "not a YOLO dataset: give its data.yaml"),
    (lambda root: (root / "images").mkdir(), "no image found"),
    (lambda root: datasets.yolo_images(root, {"a.jpg": (8, 8, None)}),
     "no image has a label file (the label of images/a.jpg would be labels/a.txt)"),
], ids=["empty", "no-images", "no-labels"])
def test_folder_that_is_no_yolo_dataset_is_one_line(tmp_path, capsys, make, message):
    root = tmp_path / "yolo"
    root.mkdir()
    make(root)
    assert convert("yolo", root, "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


# --- pre-split COCO and the Model Maker layouts ----------------------------------------------

def coco_split(folder: Path, categories: list, images: list) -> None:
    """FOLDER/_annotations.coco.json and its images beside it; IMAGES: (file name, width,
    height, [(category id, x, y, w, h)])."""
    from PIL import Image

    folder.mkdir(parents=True)
    data = {"images": [], "annotations": [], "categories": [
        {"id": cat_id, "name": name, "supercategory": "shapes"} for cat_id, name in categories]}
    for index, (name, width, height, boxes) in enumerate(images):
        Image.new("RGB", (width, height), (70, 70, 70)).save(folder / name)
        data["images"].append({"id": index, "file_name": name, "width": width,
                               "height": height})
        for cat_id, *bbox in boxes:
            data["annotations"].append({"id": len(data["annotations"]), "image_id": index,
                                        "category_id": cat_id, "bbox": bbox, "area": 1,
                                        "iscrowd": 0, "segmentation": []})
    (folder / "_annotations.coco.json").write_text(json.dumps(data))


def roboflow_coco(root: Path) -> Path:
    """Roboflow's COCO export: category 0 is the project (no annotation uses it), and test's
    file numbers the same names otherwise and adds 'ant'."""
    coco_split(root / "train", [(0, "shapes"), (1, "cat"), (2, "dog")],
               [("t1.jpg", 40, 20, [(1, 10, 5, 20, 10)]), ("t2.jpg", 40, 20, [(2, 0, 0, 8, 8)])])
    coco_split(root / "valid", [(0, "shapes"), (1, "cat"), (2, "dog")],
               [("v1.jpg", 40, 20, [(2, 4, 4, 10, 10)])])
    coco_split(root / "test", [(7, "ant"), (8, "cat"), (9, "dog")],
               [("s1.jpg", 40, 20, [(7, 1, 2, 3, 4), (8, 20, 10, 20, 10)])])
    (root / "README.roboflow.txt").write_text("exported\n")
    return root


def test_roboflow_coco_keeps_three_splits_with_one_label_map(tmp_path):
    root = roboflow_coco(tmp_path / "coco")
    assert convert("coco", root, "-o", tmp_path / "out") == 0
    found = records(tmp_path / "out")
    assert {split: sorted(images) for split, images in found.items()} == {
        "train": ["train/t1.jpg", "train/t2.jpg"], "val": ["valid/v1.jpg"],
        "test": ["test/s1.jpg"]}
    assert_ids_match_the_label_map(tmp_path / "out", {"ant": 1, "cat": 2, "dog": 3})
    assert_pixels(boxes_in_pixels(found["test"]["test/s1.jpg"]),
                  [("ant", 1, 2, 4, 6), ("cat", 20, 10, 40, 20)])
    assert_pixels(boxes_in_pixels(found["train"]["train/t1.jpg"]), [("cat", 10, 5, 30, 15)])
    assert convert("coco", root, "-o", tmp_path / "resplit", "--split", "all=1") == 0
    assert {split: len(images) for split, images in records(tmp_path / "resplit").items()} == \
        {"all": 4}


def test_roboflow_coco_problems_name_the_split_file(tmp_path):
    root = roboflow_coco(tmp_path / "coco")
    path = root / "valid" / "_annotations.coco.json"
    data = json.loads(path.read_text())
    data["annotations"][0]["bbox"] = [1, 2, 3]
    path.write_text(json.dumps(data))
    assert convert("coco", root, "-o", tmp_path / "out") == 0
    assert problems(tmp_path / "out") == {"bad_annotation": (
        1, "valid/_annotations.coco.json: annotations[0]: bbox [1, 2, 3] is not a list "
           "[x, y, width, height]")}


def test_model_maker_coco_and_voc_layouts(tmp_path):
    root = tmp_path / "coco"
    coco_split(root / "images", [(1, "cat")], [("a.jpg", 40, 20, [(1, 10, 5, 20, 10)])])
    (root / "images" / "_annotations.coco.json").rename(root / "labels.json")
    assert convert("coco", root, "-o", tmp_path / "out") == 0
    found = records(tmp_path / "out")
    assert list(found) == ["data"] and list(found["data"]) == ["a.jpg"]
    assert_pixels(boxes_in_pixels(found["data"]["a.jpg"]), [("cat", 10, 5, 30, 15)])

    voc = datasets.voc(tmp_path / "voc", images=3)
    (voc / "JPEGImages").rename(voc / "images")
    assert convert("voc", voc, "-o", tmp_path / "voc-out") == 0
    found = records(tmp_path / "voc-out")["data"]
    assert sorted(found) == [f"images/shapes_0000{index}.jpg" for index in range(3)]
    for name, boxes in datasets.voc_boxes(voc).items():
        assert_pixels(boxes_in_pixels(found[f"images/{name}"]), boxes)
    (voc / "images" / "shapes_00001.jpg").unlink()
    assert convert("voc", voc, "-o", tmp_path / "voc-missing") == 0
    assert problems(tmp_path / "voc-missing")["missing_image"] == (
        1, "Annotations/shapes_00001.xml: images/shapes_00001.jpg")


def test_coco_folder_without_a_coco_dataset_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert convert("coco", tmp_path / "empty", "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "no COCO dataset: a folder of split folders" in err and err.count("\n") == 1
    root = roboflow_coco(tmp_path / "coco")
    assert convert("coco", root, "-o", tmp_path / "out", "--images", root) == 2
    assert "--images: the images of" in capsys.readouterr().err
    shutil.rmtree(root / "valid")
    (root / "my valid").mkdir()
    shutil.copy(root / "test" / "_annotations.coco.json", root / "my valid")
    assert convert("coco", root, "-o", tmp_path / "out") == 2
    assert "split 'my valid' is not a name" in capsys.readouterr().err
