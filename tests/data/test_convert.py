"""odwrap convert: each format read back through the OD API's own decoder; splits; bad data;
determinism across workers; resuming after a kill."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from odwrap import cli
from odwrap.data.splits import assign_splits, parse_split
from odwrap.odapi.tfexample import decode_example, read_records
from tests import datasets
from tests.conftest import ROOT, run_python


def convert(*argv):
    return cli.main(["convert", *map(str, argv)])


def records(out: Path, pattern="*.tfrecord"):
    return [decode_example(record) for shard in sorted(out.glob(pattern))
            for record in read_records(shard)]


def shard_bytes(out: Path) -> dict:
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.tfrecord"))}


DECODE_ALL = """
import json, sys
import numpy as np
from odwrap.odapi import compat
compat.apply()
import tensorflow as tf
decoder_module = compat.load("object_detection.data_decoders.tf_example_decoder")
from object_detection.protos import input_reader_pb2
masks = sys.argv[2] == "masks"
decoder = decoder_module.TfExampleDecoder(
    load_instance_masks=masks, instance_mask_type=input_reader_pb2.PNG_MASKS)
out = {}
for serialized in tf.data.TFRecordDataset(tf.io.gfile.glob(sys.argv[1])):
    d = decoder.decode(serialized)
    key = d["source_id"].numpy().decode()
    entry = {"shape": list(d["image"].shape),
             "boxes": d["groundtruth_boxes"].numpy().round(5).tolist(),
             "classes": d["groundtruth_classes"].numpy().tolist(),
             "crowd": d["groundtruth_is_crowd"].numpy().astype(int).tolist(),
             "group_of": d["groundtruth_group_of"].numpy().astype(int).tolist()}
    if masks:
        entry["mask_sums"] = d["groundtruth_instance_masks"].numpy().sum(axis=(1, 2)).tolist()
        entry["mask_weights"] = d["groundtruth_instance_mask_weights"].numpy().tolist()
    out[key] = entry
print(json.dumps(out))
"""


def decode_with_odapi(out: Path, masks=False) -> dict:
    result = run_python(["-c", textwrap.dedent(DECODE_ALL), str(out / "*.tfrecord"),
                         "masks" if masks else "-"])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def expected_from_voc(voc_root: Path, prefix=""):
    """source id -> (normalized boxes, class ids) from the VOC XML, ids by class name."""
    ids = {"circle": 1, "square": 2}
    return {prefix + name: ([[round(v, 5) for v in (ymin / 64, xmin / 64, ymax / 64, xmax / 64)]
                             for _, xmin, ymin, xmax, ymax in boxes],
                            [ids[cls] for cls, *_ in boxes])
            for name, boxes in datasets.voc_boxes(voc_root).items()}


def assert_boxes(decoded, expected):
    assert set(decoded) == set(expected)
    for key, (boxes, classes) in expected.items():
        assert decoded[key]["shape"] == [64, 64, 3]
        got = decoded[key]["boxes"][:len(boxes)]
        assert len(got) == len(boxes)
        for box_got, box_expected in zip(got, boxes):
            assert box_got == pytest.approx(box_expected, abs=1e-5)
        assert decoded[key]["classes"][:len(classes)] == classes


@pytest.mark.tf
def test_voc_records_decode_through_the_odapi(tmp_path):
    root = datasets.voc(tmp_path / "voc")
    assert convert("voc", root, "-o", tmp_path / "out", "--workers", 1) == 0
    assert_boxes(decode_with_odapi(tmp_path / "out"),
                 expected_from_voc(root, prefix="JPEGImages/"))


@pytest.mark.tf
def test_coco_records_with_masks_and_crowd_decode_through_the_odapi(tmp_path):
    path = datasets.coco(tmp_path)
    assert convert("coco", path, "-o", tmp_path / "out", "--masks") == 0
    decoded = decode_with_odapi(tmp_path / "out", masks=True)
    expected = expected_from_voc(tmp_path / "voc")
    first = sorted(expected)[0]
    # The crowd box comes last on the first image, flagged; the others are plain boxes.
    assert decoded[first]["crowd"][-1] == 1 and decoded[first]["boxes"][-1] == [0, 0, 10 / 64, 1]
    decoded[first] = {key: value[:-1] if isinstance(value, list) and key != "shape" else value
                      for key, value in decoded[first].items()}
    assert_boxes(decoded, expected)
    for key, (boxes, _) in expected.items():
        areas = [round((b[2] - b[0]) * 64) * round((b[3] - b[1]) * 64) for b in boxes]
        # Each polygon is its box: the rasterized mask covers the box, give or take its edges.
        for mask_sum, area in zip(decoded[key]["mask_sums"], areas):
            assert abs(mask_sum - area) <= 0.15 * area + 20


@pytest.mark.tf
def test_csv_records_decode_through_the_odapi(tmp_path):
    path = datasets.csv_boxes(tmp_path)
    assert convert("csv", path, "-o", tmp_path / "out") == 0
    assert_boxes(decode_with_odapi(tmp_path / "out"), expected_from_voc(tmp_path / "voc"))


@pytest.mark.tf
def test_open_images_records_decode_through_the_odapi(tmp_path, capsys):
    path, images = datasets.oid(tmp_path)
    names = tmp_path / "class-descriptions.csv"
    assert convert("oid", path, "-o", tmp_path / "out", "--images", images,
                   "--class-names", names) == 0
    decoded = decode_with_odapi(tmp_path / "out")
    expected = {Path(key).stem + ".jpg": value
                for key, value in expected_from_voc(tmp_path / "voc").items()}
    first = sorted(expected)[0]
    assert decoded[first]["group_of"][-1] == 1
    decoded[first] = {key: value[:-1] if isinstance(value, list) and key != "shape" else value
                      for key, value in decoded[first].items()}
    assert_boxes(decoded, expected)
    capsys.readouterr()
    assert convert("oid", path, "-o", tmp_path / "out2", "--images", images,
                   "--class-names", names, "--no-group-of") == 0
    assert "1 group-of box left out" in capsys.readouterr().out


@pytest.mark.tf
def test_yolo_records_with_polygon_masks_decode_through_the_odapi(tmp_path):
    root = datasets.yolo(tmp_path / "yolo")
    # A 20x24 px rectangle as a polygon on the 40x100 image: (10, 20)-(30, 44).
    (root / "labels" / "b.txt").write_text("1 0.25 0.2 0.75 0.2 0.75 0.44 0.25 0.44\n")
    assert convert("yolo", root, "-o", tmp_path / "out", "--masks") == 0
    decoded = decode_with_odapi(tmp_path / "out", masks=True)
    assert decoded["images/b.png"]["shape"] == [100, 40, 3]
    assert decoded["images/b.png"]["boxes"][0] == pytest.approx([0.2, 0.25, 0.44, 0.75],
                                                                abs=1e-5)
    assert abs(decoded["images/b.png"]["mask_sums"][0] - 20 * 24) <= 0.15 * 20 * 24
    for got, box in zip(decoded["images/a.jpg"]["boxes"], [[0.1, 0.1, 0.5, 0.5],
                                                           [0.5, 0.5, 1.0, 1.0]]):
        assert got == pytest.approx(box, abs=1e-5)
    # Box lines: their boxes, (8, 6)-(40, 30) and (40, 30)-(80, 60) of 80x60, filled, weight 0.
    assert decoded["images/a.jpg"]["mask_sums"] == [32 * 24, 40 * 30]
    assert decoded["images/a.jpg"]["mask_weights"] == [0, 0]
    assert decoded["images/b.png"]["mask_weights"] == [1]
    assert decoded["images/c.jpg"]["boxes"] == []


@pytest.mark.tf
def test_coco_masks_one_per_box_and_scaled_through_the_odapi(tmp_path):
    """--masks through the OD API's TfExampleDecoder (PNG masks): an image none of whose
    annotations has a segmentation, one with a polygon and a box without, and one annotated
    at half its size. As many masks as boxes in each; a box without a mask is its filled box
    (weight 0); the half-size polygon is scaled with its box."""
    from PIL import Image

    root = tmp_path / "coco"
    root.mkdir()
    for name, size in (("none.png", (40, 30)), ("mixed.png", (40, 30)), ("half.png", (64, 48))):
        Image.new("RGB", size, (90, 90, 90)).save(root / name)
    data = {"images": [{"id": 1, "file_name": "none.png", "width": 40, "height": 30},
                       {"id": 2, "file_name": "mixed.png", "width": 40, "height": 30},
                       {"id": 3, "file_name": "half.png", "width": 32, "height": 24}],
            "categories": [{"id": 1, "name": "shape"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 8]},
                {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 10, 15, 12]},
                {"id": 3, "image_id": 2, "category_id": 1, "bbox": [4, 4, 16, 16],
                 "segmentation": [[4, 4, 20, 4, 20, 20, 4, 20]]},
                {"id": 4, "image_id": 2, "category_id": 1, "bbox": [24, 2, 10, 20]},
                # The rectangle (4, 2)-(20, 14) on a 32x24 copy: (8, 4)-(40, 28) on the image.
                {"id": 5, "image_id": 3, "category_id": 1, "bbox": [4, 2, 16, 12],
                 "segmentation": [[4, 2, 20, 2, 20, 14, 4, 14]]}]}
    (root / "instances.json").write_text(json.dumps(data))
    assert convert("coco", root / "instances.json", "-o", tmp_path / "out", "--masks") == 0
    decoded = decode_with_odapi(tmp_path / "out", masks=True)
    expected = {"none.png": ([10 * 8, 15 * 12], [0, 0]), "mixed.png": ([16 * 16, 10 * 20], [1, 0]),
                "half.png": ([32 * 24], [1])}
    for name, (sums, weights) in expected.items():
        assert len(decoded[name]["mask_sums"]) == len(decoded[name]["boxes"]) == len(sums)
        assert decoded[name]["mask_sums"] == sums
        assert decoded[name]["mask_weights"] == weights
    assert decoded["half.png"]["shape"] == [48, 64, 3]
    assert decoded["half.png"]["boxes"][0] == pytest.approx([4 / 48, 8 / 64, 28 / 48, 40 / 64],
                                                            abs=1e-5)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {reason: entry["count"] for reason, entry in report["problems"].items()} == {
        "box_mask": 3, "size_mismatch": 1}


def test_output_is_the_same_bytes_whatever_the_workers(tmp_path):
    root = datasets.voc(tmp_path / "voc", images=40)
    for workers in (1, 2):
        assert convert("voc", root, "-o", tmp_path / f"w{workers}", "--workers", workers,
                       "--shards", 3, "--split", "train=0.75,val=0.25") == 0
    one, two = shard_bytes(tmp_path / "w1"), shard_bytes(tmp_path / "w2")
    assert len(one) == 6 and one == two
    assert (tmp_path / "w1" / "label_map.pbtxt").read_text() == \
        (tmp_path / "w2" / "label_map.pbtxt").read_text()


def test_jpeg_bytes_pass_through_and_png_is_kept(tmp_path):
    from PIL import Image

    root = datasets.voc(tmp_path / "voc", images=3)
    jpegs = {p.name: p.read_bytes() for p in (root / "JPEGImages").glob("*.jpg")}
    first = sorted(jpegs)[0]
    Image.open(root / "JPEGImages" / first).save(root / "JPEGImages" / "p.png")
    xml = root / "Annotations" / (Path(first).stem + ".xml")
    xml.write_text(xml.read_text().replace(first, "p.png"))
    assert convert("voc", root, "-o", tmp_path / "out") == 0
    stored = {r["image/filename"][0].decode(): (r["image/format"][0], r["image/encoded"][0])
              for r in records(tmp_path / "out")}
    assert stored["JPEGImages/p.png"][0] == b"png"
    for name, data in jpegs.items():
        if name != first:
            assert stored[f"JPEGImages/{name}"] == (b"jpeg", data)


def test_split_is_seeded_stratified_and_disjoint(tmp_path):
    root = datasets.voc(tmp_path / "voc", images=60)
    assert convert("voc", root, "-o", tmp_path / "a", "--split", "train=0.8,val=0.1,test=0.1",
                   "--seed", 7) == 0
    assert convert("voc", root, "-o", tmp_path / "b", "--split", "train=0.8,val=0.1,test=0.1",
                   "--seed", 7, "--workers", 1) == 0
    assert convert("voc", root, "-o", tmp_path / "c", "--split", "train=0.8,val=0.1,test=0.1",
                   "--seed", 8) == 0
    assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")

    def members(out, split):
        return {r["image/filename"][0] for r in records(out, f"{split}-*.tfrecord")}

    splits = {name: members(tmp_path / "a", name) for name in ("train", "val", "test")}
    assert [len(s) for s in splits.values()] == [48, 6, 6]
    assert not (splits["train"] & splits["val"] or splits["train"] & splits["test"]
                or splits["val"] & splits["test"])
    for name in splits:
        classes = {c for r in records(tmp_path / "a", f"{name}-*.tfrecord")
                   for c in r["image/object/class/text"]}
        assert classes == {b"square", b"circle"}
    assert members(tmp_path / "c", "val") != splits["val"]


def test_rare_class_reaches_every_split():
    from odwrap.data.dataset import Obj, Sample

    samples = [Sample(f"{i}.jpg", 10, 10, [Obj("common", 0, 0, 5, 5)]) for i in range(97)]
    samples += [Sample(f"r{i}.jpg", 10, 10, [Obj("rare", 0, 0, 5, 5)]) for i in range(3)]
    splits = assign_splits(samples, parse_split("train=0.8,val=0.1,test=0.1"), seed=0)
    for members in splits.values():
        assert any(obj.name == "rare" for s in members for obj in s.objects)
    assert sorted(len(m) for m in splits.values()) == [10, 10, 80]


@pytest.mark.parametrize("text, message", [
    ("train=0.8,val=0.3", "add up to 1.1"), ("train=0.8,train=0.2", "given twice"),
    ("Train=1", "lower-case"), ("train=x", "not a number"), ("train=1.5", "must be in"),
])
def test_bad_split_option(text, message):
    with pytest.raises(Exception, match=message):
        parse_split(text)


XXE = """<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>
"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<annotation><filename>&lol3;</filename></annotation>
"""


def bad_dataset(tmp_path):
    """A VOC dataset with one instance of every kind of bad data."""
    root = datasets.voc(tmp_path / "voc", images=10)
    jpeg_dir, ann = root / "JPEGImages", root / "Annotations"
    xmls = sorted(ann.glob("*.xml"))
    (tmp_path / "outside.jpg").write_bytes((jpeg_dir / "shapes_00000.jpg").read_bytes())

    def edit(index, old, new):
        xmls[index].write_text(xmls[index].read_text().replace(old, new, 1))

    edit(0, "shapes_00000.jpg", "missing.jpg")
    edit(1, "shapes_00001.jpg", "../../outside.jpg")
    (jpeg_dir / "shapes_00002.jpg").write_bytes(b"not an image at all")
    data = (jpeg_dir / "shapes_00003.jpg").read_bytes()
    (jpeg_dir / "shapes_00003.jpg").write_bytes(data[: len(data) // 2])
    box = "<bndbox><xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox>"
    extra = "".join(f"<object><name>{name}</name>{box.format(*coords)}</object>" for name, coords in (
        ("square", (50, 50, 80, 70)),      # clipped to 64x64
        ("square", (70, 70, 90, 90)),      # outside: degenerate after clipping
        ("circle", (10, 10, 10, 30)),      # zero width
        ("triangle", (5, 5, 20, 20)),      # not in the label map
    ))
    edit(4, "</annotation>", extra + "</annotation>")
    edit(5, "<width>64</width><height>64</height>", "<width>128</width><height>128</height>")
    (ann / "xxe.xml").write_text(XXE)
    (ann / "laughs.xml").write_text(LAUGHS)
    label_map = tmp_path / "map.pbtxt"
    label_map.write_text('item { id: 1 name: "circle" } item { id: 2 name: "square" }')
    return root, label_map


def test_bad_data_is_counted_per_reason(tmp_path, capsys):
    root, label_map = bad_dataset(tmp_path)
    assert convert("voc", root, "-o", tmp_path / "out", "--label-map", label_map) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    counts = {reason: entry["count"] for reason, entry in report["problems"].items()}
    assert counts == {"bad_annotation": 2, "missing_image": 1, "path_escape": 1,
                      "corrupt_image": 2, "box_clipped": 1, "box_degenerate": 1,
                      "box_zero_area": 1, "unknown_class": 1, "size_mismatch": 1}
    assert report["splits"]["data"]["images"] == 10 - 4
    assert "DTDForbidden" in report["problems"]["bad_annotation"]["example"]
    written = records(tmp_path / "out")
    assert all(b"outside" not in r["image/filename"][0] for r in written)
    clipped = next(r for r in written if r["image/filename"][0].endswith(b"shapes_00004.jpg"))
    assert max(clipped["image/object/bbox/xmax"]) <= 1.0
    out = capsys.readouterr().out
    assert "image corrupt, truncated or not an image" in out


def test_strict_fails_on_the_first_problem(tmp_path, capsys):
    root, label_map = bad_dataset(tmp_path)
    assert convert("voc", root, "-o", tmp_path / "out", "--strict", "--workers", 1) == 2
    err = capsys.readouterr().err
    assert "laughs.xml: refused (DTDForbidden)" in err and "(--strict)" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_strict_fails_on_a_corrupt_image_in_a_worker(tmp_path, capsys, workers):
    root = datasets.voc(tmp_path / "voc", images=6)
    (root / "JPEGImages" / "shapes_00004.jpg").write_bytes(b"GIF89a broken")
    assert convert("voc", root, "-o", tmp_path / "out", "--strict", "--workers", workers,
                   "--shards", 2) == 2
    err = capsys.readouterr().err
    assert "shapes_00004.jpg: image corrupt, truncated or not an image (image dropped) " \
           "(--strict)" in err
    assert not list((tmp_path / "out").glob(".*.tmp"))


@pytest.mark.slow
def test_kill_then_rerun_gives_identical_output(tmp_path):
    root = datasets.voc(tmp_path / "voc", images=240)
    argv = ["-m", "odwrap", "convert", "voc", str(root), "--shards", "24", "--workers", "1",
            "--split", "train=0.5,val=0.5"]
    assert convert("voc", root, "-o", tmp_path / "clean", "--shards", 24, "--workers", 2,
                   "--split", "train=0.5,val=0.5") == 0
    out = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, *argv, "-o", str(out)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("*.tfrecord"))) < 3:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = len(list(out.glob("*.tfrecord")))
    assert 3 <= partial < 48, "the kill did not land mid-run"
    result = run_python([*argv, "-o", str(out)])
    assert result.returncode == 0, result.stderr
    assert "kept from an earlier run" in result.stdout
    assert shard_bytes(out) == shard_bytes(tmp_path / "clean")
    assert not list(out.glob(".*.tmp"))
    clean_report = json.loads((tmp_path / "clean" / "report.json").read_text())
    assert json.loads((out / "report.json").read_text()) == clean_report


def test_a_rerun_removes_what_a_kill_left_half_written(tmp_path):
    """A kill can land inside the shard's write or inside its sidecar's atomic write."""
    root = datasets.voc(tmp_path / "voc", images=12)
    out = tmp_path / "out"
    out.mkdir()
    stale = [out / ".data-00000-of-00001.tfrecord.4242.tmp",
             out / "..data-00000-of-00001.tfrecord.json.k3x9q_.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    assert convert("voc", root, "-o", out, "--shards", 1) == 0
    assert not [path for path in stale if path.exists()]


def test_labelmap_from_dataset_by_frequency_and_from_classes(tmp_path, capsys):
    from odwrap.odapi import labelmap

    root = datasets.voc(tmp_path / "voc", images=30)
    boxes = [cls for entries in datasets.voc_boxes(root).values() for cls, *_ in entries]
    assert cli.main(["labelmap", "voc", str(root), "--order", "frequency",
                     "-o", str(tmp_path / "m.pbtxt")]) == 0
    names = [item.name for item in labelmap.read(tmp_path / "m.pbtxt").item]
    assert names == sorted({"square", "circle"}, key=lambda c: (-boxes.count(c), c))
    assert cli.main(["labelmap", "--classes", "b,a", "-o", str(tmp_path / "c.pbtxt")]) == 0
    assert [(i.id, i.name) for i in labelmap.read(tmp_path / "c.pbtxt").item] == [(1, "b"),
                                                                                  (2, "a")]
    assert cli.main(["labelmap", "--classes", "a,a", "-o", str(tmp_path / "d.pbtxt")]) == 2


def test_keep_drop_rename(tmp_path):
    root = datasets.voc(tmp_path / "voc", images=20)
    assert convert("voc", root, "-o", tmp_path / "out", "--rename", "circle=disc",
                   "--drop", "square") == 0
    classes = {c for r in records(tmp_path / "out") for c in r["image/object/class/text"]}
    assert classes == {b"disc"}


def test_stats_counts_match_the_annotations(tmp_path, capsys):
    root = datasets.voc(tmp_path / "voc", images=20)
    assert convert("voc", root, "-o", tmp_path / "out") == 0
    boxes = datasets.voc_boxes(root)
    capsys.readouterr()
    assert cli.main(["stats", str(tmp_path / "out" / "*.tfrecord"), "--input-size", "64",
                     "--histogram", str(tmp_path / "h.png")]) == 0
    out = capsys.readouterr().out
    assert f"images       {len(boxes)}" in out
    assert f"boxes        {sum(len(b) for b in boxes.values())}" in out
    assert "px at 64x64, too small to match" in out  # 12-24 px shapes at a 64 px input
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("fmt, content, message", [
    ("csv", "filename,class\na.jpg,cat\n", "missing column(s) width, height"),
    ("coco", '{"images": [', "not valid JSON"),
    ("coco", '{"images": []}', "'images', 'annotations' and 'categories'"),
    ("oid", "ImageID,LabelName\n", "missing column(s) XMin"),
])
def test_bad_annotation_files_exit_2(tmp_path, capsys, fmt, content, message):
    path = tmp_path / "ann.file"
    path.write_text(content)
    assert convert(fmt, path, "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_labelmap_groups_by_frequency_feed_convert_per_group(tmp_path, capsys):
    """Class groups (issue 16): label maps of the classes by box count, each numbered 1..k;
    convert --label-map with one group keeps its classes and counts the others' boxes."""
    import odwrap
    from odwrap.odapi import labelmap

    root = odwrap.demo_data(tmp_path / "voc", images=40, size=64,
                            shapes=("square", "circle", "triangle"))
    boxes = [cls for entries in datasets.voc_boxes(root).values() for cls, *_ in entries]
    ranked = sorted(set(boxes), key=lambda c: (-boxes.count(c), c))
    assert cli.main(["labelmap", "voc", str(root), "--groups", "2",
                     "-o", str(tmp_path / "g.pbtxt")]) == 0
    out = capsys.readouterr().out
    first = [(i.id, i.name) for i in labelmap.read(tmp_path / "g-1-of-2.pbtxt").item]
    second = [(i.id, i.name) for i in labelmap.read(tmp_path / "g-2-of-2.pbtxt").item]
    assert first == [(1, ranked[0]), (2, ranked[1])] and second == [(1, ranked[2])]
    assert (f"g-2-of-2.pbtxt: classes 3-3 by frequency (1 classes, {boxes.count(ranked[2])} "
            "box(es))") in out
    assert cli.main(["labelmap", "voc", str(root), "--group-ranks", "1",
                     "-o", str(tmp_path / "r.pbtxt")]) == 0
    assert [i.name for i in labelmap.read(tmp_path / "r-1-of-2.pbtxt").item] == ranked[:1]
    assert cli.main(["labelmap", "voc", str(root), "--group-ranks", "3",
                     "-o", str(tmp_path / "bad.pbtxt")]) == 2
    assert "--group-ranks 3: increasing ranks between 1 and 2" in capsys.readouterr().err

    assert convert("voc", root, "-o", tmp_path / "two", "--label-map",
                   tmp_path / "g-2-of-2.pbtxt") == 0
    found = [c for r in records(tmp_path / "two") for c in r["image/object/class/text"]]
    assert set(found) == {ranked[2].encode()} and len(found) == boxes.count(ranked[2])
    report = json.loads((tmp_path / "two" / "report.json").read_text())
    assert report["problems"]["unknown_class"]["count"] == len(boxes) - len(found)


def test_labelmap_groups_and_group_ranks_together_are_refused(tmp_path, capsys):
    """Issue 30: --groups 2 --group-ranks 1 wrote two groups, --group-ranks silently ignored;
    refused by the parser, and by the API a notebook calls, before the dataset is read."""
    import odwrap
    from odwrap.errors import InputError

    root = datasets.voc(tmp_path / "voc", images=3)
    assert cli.main(["labelmap", "voc", str(root), "--groups", "2", "--group-ranks", "1",
                     "-o", str(tmp_path / "g.pbtxt")]) == 2
    err = capsys.readouterr().err
    assert err.endswith("argument --group-ranks: not allowed with argument --groups\n"), err
    with pytest.raises(InputError, match=r"^--groups 2 --group-ranks 1: give one \(N groups "):
        odwrap.write_label_map(tmp_path / "g.pbtxt", format="voc", source=root, groups=2,
                               group_ranks=[1])
    assert sorted(os.listdir(tmp_path)) == ["voc"]
