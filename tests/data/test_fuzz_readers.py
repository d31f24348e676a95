"""Fuzz the dataset readers and convert (Hypothesis): generated VOC XML, COCO JSON, CSV and
Open Images rows, YOLO label files and data.yaml files, LabelMe, CVAT and Create ML files,
segmentations and manifests. Whatever the input: no exception but odwrap's own, every record
written parses (protobuf, not odwrap's decoder) with finite boxes inside the image and 0/1
flags, and nothing outside the output folder changes."""

import base64
import csv
import io
import json
import math
import shutil
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from odwrap.data import segmentations
from odwrap.data.convert import ConvertOptions, convert
from odwrap.data.formats import ReadOptions
from odwrap.data.resume import SHARD_NAME
from odwrap.errors import OdwrapError
from tests.recordcheck import assert_valid, read_examples

pytestmark = pytest.mark.fuzz

IMAGES = ("a.jpg", "b.png")
NAMES = st.sampled_from([*IMAGES, "missing.jpg", "../outside.jpg", "/etc/hostname",
                         "a\0.jpg", "", " ", "sub/../a.jpg", "a.jpg/", ".", "..", "a.jpg\n"])
SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
# Numbers as an annotation may spell them: fine, absurd, not finite, not numbers at all.
NOT_FINITE = ["nan", "NaN", "inf", "-inf", "1e400", "-Infinity"]
NUMBER_TEXT = st.one_of(
    st.sampled_from(NOT_FINITE), st.integers(-5, 40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "99999999999999999999999", "", " 12 ",
                     "0x10", "1_0", "64.0", "-0", "1e-400", "9" * 400]), SAFE_TEXT)
JSON_ANY = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                     st.floats(allow_nan=True, allow_infinity=True), SAFE_TEXT,
                     st.lists(st.integers(-3, 70), max_size=5))
JSON_NUMBER = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 2 ** 64]),
                        st.integers(-5, 40), st.floats(-1e3, 1e3), st.floats(), JSON_ANY)
MISSING = object()  # a field left out


@st.composite
def mutated(draw, valid: dict, hostile: dict):
    """VALID's fields (strategies) drawn, then one or two of them replaced by HOSTILE's: sound
    data with a bad value in it, which is what reaches the deep code (the datasets also hold a
    sound entry of their own)."""
    values = {key: draw(strategy) for key, strategy in valid.items()}
    for key in draw(st.lists(st.sampled_from(sorted(hostile)), min_size=1, max_size=2,
                             unique=True)):
        values[key] = draw(hostile[key])
    return {key: value for key, value in values.items() if value is not MISSING}


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    Image.new("RGB", (16, 12), (200, 30, 30)).save(folder / "a.jpg")
    Image.new("RGB", (16, 12), (30, 30, 200)).save(folder / "b.png")
    return folder


def snapshot(root: Path, skip: Path | None = None) -> dict:
    return {str(path.relative_to(root)): None if path.is_dir() else path.read_bytes()
            for path in sorted(root.rglob("*"))
            if skip is None or skip not in (path, *path.parents)}


def run_convert(images: Path, write_dataset, fmt: str, read=lambda root: ReadOptions(),
                strict=False, source_name: str | None = None):
    """Write a dataset with WRITE_DATASET(root) into a fresh sandbox (beside an image outside
    it), convert it with the options READ(root), and check what convert may and may not have
    done."""
    with tempfile.TemporaryDirectory() as sandbox:
        sandbox = Path(sandbox)
        root = sandbox / "data"
        root.mkdir()
        for name in IMAGES:
            shutil.copy(images / name, root / name)
        shutil.copy(images / "a.jpg", sandbox / "outside.jpg")
        write_dataset(root)
        source = root / source_name if source_name else root
        out = sandbox / "out"
        before = snapshot(sandbox)
        try:
            convert(ConvertOptions(format=fmt, source=source, output=out, read=read(root),
                                   strict=strict))
        except OdwrapError as exc:
            event(f"refused: {type(exc).__name__}")
        assert snapshot(sandbox, skip=out) == before
        records = 0
        for shard in out.glob("*.tfrecord"):
            for example in read_examples(shard):
                assert_valid(example)
                records += 1
        event(f"records written: {min(records, 2)}{'+' if records > 2 else ''}")


def voc_xml(draw_filename, size, objects) -> str:
    parts = ["<annotation>"]
    if draw_filename is not None:
        parts.append(f"<filename>{escape(draw_filename)}</filename>")
    if size is not None:
        parts.append("<size>" + "".join(f"<{tag}>{escape(value)}</{tag}>"
                                         for tag, value in zip(("width", "height"), size)
                                         if value is not None) + "</size>")
    for name, difficult, box in objects:
        parts.append("<object>")
        if name is not None:
            parts.append(f"<name>{escape(name)}</name>")
        if difficult is not None:
            parts.append(f"<difficult>{escape(difficult)}</difficult>")
        if box is not None:
            parts.append("<bndbox>" + "".join(
                f"<{tag}>{escape(value)}</{tag}>" for tag, value in
                zip(("xmin", "ymin", "xmax", "ymax"), box) if value is not None) + "</bndbox>")
        parts.append("</object>")
    return "".join(parts) + "</annotation>"


MAYBE_NUMBER = st.one_of(st.none(), st.integers(-3, 20).map(str), NUMBER_TEXT)
COORDINATE = st.integers(0, 16).map(str)
VOC_HOSTILE = st.one_of(st.just(MISSING), NUMBER_TEXT)
VOC_OBJECT = mutated(
    {"name": st.sampled_from(["cat", "dog"]), "difficult": st.sampled_from(["0", "1"]),
     "xmin": COORDINATE, "ymin": COORDINATE, "xmax": COORDINATE, "ymax": COORDINATE},
    {"name": st.one_of(st.just(MISSING), st.sampled_from([" ", "", "a\nb"]), SAFE_TEXT),
     "difficult": VOC_HOSTILE, "xmin": VOC_HOSTILE, "ymin": VOC_HOSTILE, "xmax": VOC_HOSTILE,
     "ymax": VOC_HOSTILE}).map(lambda o: (o.get("name"), o.get("difficult"), tuple(
         o.get(key) for key in ("xmin", "ymin", "xmax", "ymax"))))
VOC_FILE = st.one_of(
    st.builds(voc_xml, st.one_of(st.sampled_from(IMAGES), NAMES, st.none()),
              st.one_of(st.just(("16", "12")), st.none(),
                        st.tuples(MAYBE_NUMBER, MAYBE_NUMBER)),
              st.lists(VOC_OBJECT, max_size=3)),
    st.binary(max_size=80).map(lambda data: data.decode("latin-1")))


VALID_VOC = voc_xml("b.png", ("16", "12"), [("cat", "0", ("1", "1", "9", "9"))])


@given(files=st.lists(VOC_FILE, max_size=3), strict=st.booleans())
def test_fuzz_voc(images, files, strict):
    def write(root):
        for index, text in enumerate([VALID_VOC, *files]):
            (root / f"{index}.xml").write_text(text, encoding="utf-8", errors="replace")

    run_convert(images, write, "voc", strict=strict)


POLYGON = st.lists(st.one_of(st.integers(-20, 40), st.floats(-20, 40),
                             st.floats(allow_nan=True, allow_infinity=True)), max_size=10)
SEGMENTATION = st.one_of(
    st.none(), st.lists(POLYGON, max_size=2), st.lists(JSON_NUMBER, max_size=6),
    st.fixed_dictionaries({"size": st.one_of(st.just([12, 16]), JSON_ANY),
                           "counts": st.one_of(st.lists(st.integers(-5, 200), max_size=6),
                                               st.just([0, 192]), SAFE_TEXT,
                                               st.text("0123456789:;<=>?@ABCPQRS`abc",
                                                       max_size=8))}),
    JSON_ANY)
COCO_IMAGE = mutated(
    {"id": st.integers(0, 3), "file_name": st.sampled_from(IMAGES),
     "width": st.just(16), "height": st.just(12)},
    {"id": st.one_of(st.just(MISSING), JSON_ANY), "file_name": st.one_of(NAMES, JSON_ANY),
     "width": st.one_of(st.just(MISSING), JSON_NUMBER),
     "height": st.one_of(st.just(MISSING), JSON_NUMBER)})
BBOX = st.tuples(st.integers(0, 8), st.integers(0, 6), st.integers(1, 8), st.integers(1, 6))
NOT_FINITE_JSON = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308])
WITH_NOT_FINITE = st.tuples(BBOX, st.integers(0, 3), NOT_FINITE_JSON).map(
    lambda t: [*t[0][:t[1]], t[2], *t[0][t[1] + 1:]])
BAD_BBOX = st.one_of(
    WITH_NOT_FINITE, WITH_NOT_FINITE,
    st.tuples(BBOX, st.integers(0, 3), JSON_NUMBER).map(
        lambda t: [*t[0][:t[1]], t[2], *t[0][t[1] + 1:]]),
    st.lists(JSON_NUMBER, max_size=5), JSON_ANY, st.just(MISSING))
COCO_ANNOTATION = mutated(
    {"image_id": st.sampled_from([100, 100, 0, 1]), "category_id": st.sampled_from([1, 2]),
     "bbox": BBOX.map(list), "iscrowd": st.sampled_from([0, 1]),
     "segmentation": st.sampled_from([[[1, 1, 9, 1, 9, 9]], [],
                                      {"size": [12, 16], "counts": [0, 192]}])},
    {"image_id": st.one_of(st.just(MISSING), st.integers(-1, 200), JSON_ANY),
     "category_id": st.one_of(st.just(MISSING), JSON_ANY), "bbox": BAD_BBOX,
     "iscrowd": st.one_of(st.just(MISSING), JSON_ANY), "segmentation": SEGMENTATION})
COCO_CATEGORY = mutated({"id": st.integers(2, 3), "name": st.sampled_from(["cat", "dog"])},
                        {"id": st.one_of(st.just(MISSING), JSON_ANY),
                         "name": st.one_of(st.just(MISSING), JSON_ANY)})
VALID_COCO = {
    "images": [{"id": 100, "file_name": "b.png", "width": 16, "height": 12}],
    "annotations": [{"image_id": 100, "category_id": 1, "bbox": [1, 1, 8, 8],
                     "segmentation": [[1, 1, 9, 1, 9, 9]]}],
    "categories": [{"id": 1, "name": "cat"}]}
COCO_PARTS = st.fixed_dictionaries({"images": st.lists(COCO_IMAGE, max_size=3),
                                    "annotations": st.lists(COCO_ANNOTATION, max_size=4),
                                    "categories": st.lists(COCO_CATEGORY, max_size=1)})
COCO_FILE = st.one_of(
    COCO_PARTS.map(lambda parts: json.dumps({key: VALID_COCO[key] + value
                                             for key, value in parts.items()})),
    COCO_PARTS.map(lambda parts: json.dumps({key: VALID_COCO[key] + value
                                             for key, value in parts.items()})),
    st.recursive(JSON_ANY, lambda inner: st.lists(inner) | st.dictionaries(SAFE_TEXT, inner),
                 max_leaves=6).map(json.dumps),
    SAFE_TEXT)


@given(text=COCO_FILE, use_masks=st.booleans(), crowd=st.sampled_from(["keep", "drop"]))
def test_fuzz_coco(images, text, use_masks, crowd):
    def write(root):
        (root / "instances.json").write_text(text, encoding="utf-8", errors="replace")

    run_convert(images, write, "coco", lambda root: ReadOptions(masks=use_masks, crowd=crowd),
                source_name="instances.json")


CELL = st.one_of(NUMBER_TEXT, NAMES, st.sampled_from(["cat", "dog"]), SAFE_TEXT)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])


def write_csv(path: Path, header, rows, encoding: str) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding, "replace"))


CSV_HEADER = st.one_of(
    st.just(["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"]),
    st.just(["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"]),
    st.permutations(["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"]),
    st.lists(SAFE_TEXT, max_size=4))
CSV_KEYS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
CSV_ROW = st.one_of(
    mutated({"filename": st.sampled_from(IMAGES), "width": st.just("16"),
             "height": st.just("12"), "class": st.sampled_from(["cat", "dog"]),
             "xmin": COORDINATE, "ymin": COORDINATE, "xmax": COORDINATE, "ymax": COORDINATE},
            {key: st.one_of(NUMBER_TEXT, st.just(MISSING)) if key not in ("filename", "class")
             else st.one_of(NAMES, SAFE_TEXT, st.just(MISSING)) for key in CSV_KEYS})
    .map(lambda row: [row[key] for key in CSV_KEYS if key in row]),
    st.lists(CELL, max_size=10))


@given(header=CSV_HEADER, rows=st.lists(CSV_ROW, max_size=5), encoding=ENCODINGS)
def test_fuzz_csv(images, header, rows, encoding):
    valid = ["b.png", "16", "12", "cat", "1", "1", "9", "9"]
    run_convert(images, lambda root: write_csv(root / "boxes.csv", header, [valid, *rows],
                                               encoding),
                "csv", source_name="boxes.csv")


OID_COLUMNS = ["ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax", "IsGroupOf"]
FRACTION = st.floats(0, 1).map(repr)
OID_ROW = st.one_of(
    mutated({"ImageID": st.sampled_from(["a", "b"]), "LabelName": st.sampled_from(["/m/cat",
                                                                                 "/m/dog"]),
             "XMin": FRACTION, "XMax": FRACTION, "YMin": FRACTION, "YMax": FRACTION,
             "IsGroupOf": st.sampled_from(["0", "1"])},
            {key: st.one_of(NUMBER_TEXT, st.sampled_from(["../outside", "missing", "a\0", ""]),
                            st.just(MISSING)) for key in OID_COLUMNS})
    .map(lambda row: [row[key] for key in OID_COLUMNS if key in row]),
    st.lists(CELL, max_size=8))
NAMES_FILE = st.one_of(st.none(), st.binary(max_size=60),
                       st.lists(st.tuples(st.sampled_from(["/m/cat", "/m/dog"]), CELL),
                                max_size=3).map(lambda rows: "".join(
                                    f"{mid},{name}\n" for mid, name in rows).encode(
                                    "utf-8", "replace")))


@given(rows=st.lists(OID_ROW, max_size=5), encoding=ENCODINGS, names=NAMES_FILE,
       group_of=st.booleans())
def test_fuzz_open_images(images, rows, encoding, names, group_of):
    def write(root):
        valid = ["a", "/m/cat", "0.1", "0.9", "0.1", "0.9", "0"]  # a.jpg
        write_csv(root / "boxes.csv", OID_COLUMNS, [valid, *rows], encoding)
        if names is not None:
            (root / "names.csv").write_bytes(names)

    def read(root):
        return ReadOptions(group_of=group_of,
                           class_names=None if names is None else root / "names.csv")

    run_convert(images, write, "oid", read, source_name="boxes.csv")


YOLO_CLASS = st.sampled_from(["0", "1"])
YOLO_HOSTILE = st.one_of(NUMBER_TEXT, st.sampled_from(["2", "-1", "1.0", "1e3", "1.5"]),
                         st.just(MISSING))
YOLO_BOX = mutated({"class": YOLO_CLASS, "cx": FRACTION, "cy": FRACTION, "w": FRACTION,
                    "h": FRACTION},
                   {key: YOLO_HOSTILE for key in ("class", "cx", "cy", "w", "h")}).map(
    lambda fields: " ".join(fields.values()))
YOLO_POLYGON = st.tuples(YOLO_CLASS, st.lists(st.one_of(FRACTION, FRACTION, NUMBER_TEXT,
                                                        st.floats(-3, 3).map(repr)),
                                              max_size=12)).map(
    lambda parts: " ".join([parts[0], *parts[1]]))
YOLO_LINE = st.one_of(YOLO_BOX, YOLO_POLYGON, st.lists(CELL, max_size=7).map(" ".join),
                      SAFE_TEXT)
YOLO_LABEL = st.one_of(st.lists(YOLO_LINE, max_size=4).map(
    lambda lines: "\n".join(lines).encode("utf-8", "replace")), st.binary(max_size=40))
YOLO_ENTRY = st.sampled_from([".", "list.txt", "..", "/", "missing", "a.jpg", "", "./.",
                              "../data"])
YOLO_SPLIT = st.one_of(YOLO_ENTRY, st.lists(YOLO_ENTRY, max_size=2), JSON_ANY)
YOLO_SOUND = {"train": st.sampled_from([".", "list.txt", [".", "list.txt"]]),
              "val": st.sampled_from([MISSING, "list.txt"]),
              "names": st.sampled_from([["cat", "dog"], {0: "cat", 1: "dog"}, MISSING]),
              "nc": st.sampled_from([MISSING, 2]), "path": st.sampled_from([MISSING, "."]),
              "kpt_shape": st.sampled_from([MISSING, [1, 3], [2, 2]]),
              "kpt_names": st.sampled_from([MISSING, {0: ["p"]}, [["p", "q"]]])}
YOLO_BAD = {"train": YOLO_SPLIT, "val": YOLO_SPLIT,
            "names": st.one_of(st.lists(st.one_of(SAFE_TEXT, JSON_ANY), max_size=3),
                               st.dictionaries(st.one_of(st.integers(-1, 3), SAFE_TEXT),
                                               SAFE_TEXT, max_size=3), JSON_ANY),
            "nc": JSON_ANY, "path": st.sampled_from(["..", "missing", "", "a.jpg", "a\0"]),
            "kpt_shape": st.one_of(st.lists(st.integers(-1, 1002), max_size=3), JSON_ANY),
            "kpt_names": st.one_of(st.dictionaries(st.one_of(st.integers(-1, 2), SAFE_TEXT),
                                                   st.lists(SAFE_TEXT, max_size=3),
                                                   max_size=2), JSON_ANY)}
# Sound, with a bad value, or not YAML; the label file reaches the reader in about half the
# cases.
YOLO_YAML_DATA = st.one_of(st.fixed_dictionaries(YOLO_SOUND), mutated(YOLO_SOUND, YOLO_BAD))
YOLO_YAML = st.one_of(YOLO_YAML_DATA.map(lambda data: yaml.safe_dump(
    {key: value for key, value in data.items() if value is not MISSING}).encode()),
    st.binary(max_size=60))


@given(data_yaml=YOLO_YAML, label=YOLO_LABEL,
       listed=st.lists(st.one_of(NAMES, SAFE_TEXT), max_size=3), masks=st.booleans(),
       as_folder=st.booleans(), strict=st.booleans(), keypoints=st.booleans())
def test_fuzz_yolo(images, data_yaml, label, listed, masks, as_folder, strict, keypoints):
    def write(root):
        (root / "data.yaml").write_bytes(data_yaml)
        (root / "a.txt").write_bytes(label)
        (root / "b.txt").write_text("0 0.5 0.5 0.5 0.5\n")
        (root / "list.txt").write_text("\n".join(["b.png", *listed]), encoding="utf-8",
                                       errors="replace")

    run_convert(images, write, "yolo",
                lambda root: ReadOptions(masks=masks, keypoints=keypoints), strict=strict,
                source_name=None if as_folder else "data.yaml")


@given(segmentation=SEGMENTATION, width=st.integers(1, 40), height=st.integers(1, 40))
def test_fuzz_segmentation_is_checked_before_pycocotools(segmentation, width, height):
    found = segmentations.problem(segmentation, width, height)
    if found is None:
        png = segmentations.png_mask(segmentations.pixels(segmentation, width, height))
        assert png.startswith(b"\x89PNG")


@given(pixels=st.lists(st.booleans(), min_size=12 * 16, max_size=12 * 16))
def test_fuzz_compressed_rle_counts_match_pycocotools(pixels):
    import numpy as np
    from pycocotools import mask as mask_utils

    array = np.asfortranarray(np.array(pixels, np.uint8).reshape(12, 16))
    rle = mask_utils.encode(array)
    counts = segmentations.decode_counts(rle["counts"].decode())
    assert counts is not None and sum(counts) == 12 * 16
    assert segmentations.problem({"size": [12, 16], "counts": rle["counts"].decode()}, 16, 12) is None
    assert (mask_utils.decode(rle) == array).all()



@given(pixels=st.lists(st.booleans(), min_size=6 * 7, max_size=6 * 7),
       width=st.integers(1, 30), height=st.integers(1, 30), compressed=st.booleans())
def test_fuzz_resampled_rle_is_the_pixel_under_each_centre(pixels, width, height, compressed):
    """A 7x6 mask resampled to WIDTHxHEIGHT: pixel (x, y) is the one under its centre,
    (floor((2x + 1) * 7 / 2w), floor((2y + 1) * 6 / 2h)), and the RLE is sound for the image."""
    import numpy as np
    from pycocotools import mask as mask_utils

    array = np.asfortranarray(np.array(pixels, np.uint8).reshape(6, 7))
    rle = mask_utils.encode(array)
    counts = rle["counts"].decode() if compressed else \
        segmentations.decode_counts(rle["counts"].decode())
    result = segmentations.resampled({"size": [6, 7], "counts": counts}, width, height)
    assert segmentations.problem(result, width, height) is None
    got = segmentations.pixels(result, width, height)
    columns = [(2 * x + 1) * 7 // (2 * width) for x in range(width)]
    rows = [(2 * y + 1) * 6 // (2 * height) for y in range(height)]
    assert (got == array[np.ix_(rows, columns)]).all()

MANIFEST_ENTRY = st.one_of(
    st.sampled_from(["data-00000-of-00001.tfrecord", "data-00000-of-00002.tfrecord",
                     "train-00003-of-00004.tfrecord", "folder-00000-of-00001.tfrecord",
                     "keep.txt", "../outside.jpg", "/etc/hostname", "sub", ".", "..",
                     "data-00000-of-00001.tfrecord/../keep.txt", "report.json",
                     ".odwrap-convert.json", "label_map.pbtxt", "data-0-of-1.tfrecord"]),
    SAFE_TEXT, JSON_ANY)
MANIFEST = st.one_of(
    st.fixed_dictionaries({"plan": st.one_of(SAFE_TEXT, JSON_ANY),
                           "shards": st.one_of(st.lists(MANIFEST_ENTRY, max_size=4), JSON_ANY)})
    .map(json.dumps),
    st.recursive(JSON_ANY, lambda inner: st.lists(inner) | st.dictionaries(SAFE_TEXT, inner),
                 max_leaves=5).map(json.dumps),
    SAFE_TEXT)
OURS = {".odwrap-convert.json", "label_map.pbtxt", "report.json"}


@given(manifest=MANIFEST, shards=st.sampled_from([1, 2]))
def test_fuzz_manifest_removes_only_odwraps_own_files(images, manifest, shards):
    with tempfile.TemporaryDirectory() as sandbox:
        sandbox = Path(sandbox)
        root = sandbox / "data"
        root.mkdir()
        shutil.copy(images / "a.jpg", root / "a.jpg")
        shutil.copy(images / "a.jpg", sandbox / "outside.jpg")
        (root / "a.xml").write_text(voc_xml("a.jpg", ("16", "12"),
                                            [("cat", "0", ("1", "1", "9", "9"))]))
        out = sandbox / "out"
        (out / "sub").mkdir(parents=True)
        (out / "folder-00000-of-00001.tfrecord").mkdir()
        (out / "keep.txt").write_text("mine")
        (out / "data-00000-of-00002.tfrecord").write_bytes(b"an old shard")
        (out / ".odwrap-convert.json").write_text(manifest)
        before, outside = snapshot(out), snapshot(sandbox, skip=out)
        try:
            convert(ConvertOptions(format="voc", source=root, output=out, shards=shards))
        except OdwrapError:
            assert snapshot(out) == before  # a refused resume changes nothing
        after = snapshot(out)
        assert snapshot(sandbox, skip=out) == outside
        for name in set(before) - set(after):  # removed: only shards and their sidecars
            assert SHARD_NAME.fullmatch(name.removeprefix(".").removesuffix(".json")), name
        for name, data in after.items():  # changed or new: only odwrap's own files
            if before.get(name, b"") != data and data is not None:
                plain = name.removeprefix(".").removesuffix(".json")
                assert name in OURS or SHARD_NAME.fullmatch(plain), name
        for shard in out.glob("*.tfrecord"):
            if shard.is_file() and shard.name != "data-00000-of-00002.tfrecord":
                for example in read_examples(shard):
                    assert_valid(example)


# --- LabelMe, CVAT and Create ML (issue 27) --------------------------------------------------

def _png_base64() -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (9, 200, 9)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


PNG_BASE64 = _png_base64()
SHAPE_KINDS = ["rectangle", "polygon", "circle", "mask", "point", "points", "line", "linestrip"]
POINT = st.tuples(st.integers(-5, 20), st.integers(-5, 16)).map(list)
ANY_POINT = st.one_of(POINT, st.lists(JSON_NUMBER, max_size=3), JSON_ANY)
LABELME_SHAPE = mutated(
    {"label": st.sampled_from(["cat", "dog"]), "shape_type": st.sampled_from(SHAPE_KINDS),
     "points": st.lists(POINT, min_size=1, max_size=5), "group_id": st.sampled_from([None, 1, 2])},
    {"label": st.one_of(st.just(MISSING), JSON_ANY), "shape_type": st.one_of(
        st.just(MISSING), st.sampled_from(SHAPE_KINDS), JSON_ANY),
     "points": st.one_of(st.just(MISSING), st.lists(ANY_POINT, max_size=4), JSON_ANY),
     "group_id": JSON_ANY})
VALID_SHAPE = {"label": "cat", "shape_type": "polygon", "points": [[1, 1], [9, 1], [9, 9]]}
LABELME_FILE = st.one_of(
    mutated({"shapes": st.lists(st.one_of(LABELME_SHAPE, st.just(VALID_SHAPE)), max_size=3),
             "imagePath": st.sampled_from(IMAGES), "imageData": st.none(),
             "imageWidth": st.just(16), "imageHeight": st.just(12)},
            {"shapes": st.one_of(st.just(MISSING), JSON_ANY),
             "imagePath": st.one_of(st.just(MISSING), st.sampled_from(["", "gone.png"]), NAMES,
                                    JSON_ANY),
             "imageData": st.one_of(st.sampled_from([PNG_BASE64, PNG_BASE64[:40], "", "!!"]),
                                    JSON_ANY),
             "imageWidth": st.one_of(st.just(MISSING), JSON_NUMBER),
             "imageHeight": st.one_of(st.just(MISSING), JSON_NUMBER)}).map(json.dumps),
    st.recursive(JSON_ANY, lambda inner: st.lists(inner) | st.dictionaries(SAFE_TEXT, inner),
                 max_leaves=6).map(json.dumps),
    st.binary(max_size=80).map(lambda data: data.decode("latin-1")))
VALID_LABELME = json.dumps({"shapes": [VALID_SHAPE], "imagePath": "b.png", "imageData": None,
                            "imageWidth": 16, "imageHeight": 12})


@given(files=st.lists(LABELME_FILE, max_size=3), use_masks=st.booleans(),
       strict=st.booleans(), keypoints=st.booleans())
def test_fuzz_labelme(images, files, use_masks, strict, keypoints):
    def write(root):
        (root / "sub").mkdir()
        for index, text in enumerate([VALID_LABELME, *files]):
            folder = root / "sub" if index % 2 else root  # imagePath from another folder too
            (folder / f"{index}.json").write_text(text, encoding="utf-8", errors="replace")

    run_convert(images, write, "labelme",
                lambda root: ReadOptions(masks=use_masks, keypoints=keypoints), strict=strict)


def cvat_xml(images) -> str:
    def attributes(values: dict) -> str:
        return "".join(f" {key}={quoteattr(value)}" for key, value in values.items())

    parts = ["<annotations><version>1.1</version>"]
    for image, shapes in images:
        parts.append(f"<image{attributes(image)}>")
        parts += [f"<{tag}{attributes(values)}/>" for tag, values in shapes]
        parts.append("</image>")
    return "".join(parts) + "</annotations>"


CVAT_TAGS = ["box", "polygon", "ellipse", "mask", "points", "polyline", "tag", "cuboid"]
POINTS_TEXT = st.lists(st.tuples(COORDINATE, COORDINATE), min_size=1, max_size=5).map(
    lambda pairs: ";".join(f"{x},{y}" for x, y in pairs))
CVAT_SHAPE = mutated(
    {"tag": st.sampled_from(CVAT_TAGS), "label": st.sampled_from(["cat", "dog"]),
     **{key: COORDINATE for key in ("xtl", "ytl", "xbr", "ybr", "cx", "cy", "rx", "ry", "left",
                                    "top", "width", "height")},
     "points": POINTS_TEXT, "rotation": st.sampled_from(["0", "30", "90.0", "-45"])},
    {"tag": st.sampled_from(CVAT_TAGS + ["skeleton", "attribute", "image"]),
     "label": st.one_of(st.just(MISSING), st.sampled_from(["", " ", "a\nb"]), SAFE_TEXT),
     **{key: VOC_HOSTILE for key in ("xtl", "ytl", "xbr", "ybr", "cx", "cy", "rx", "ry",
                                     "height", "rotation")},
     "points": st.one_of(st.just(MISSING), NUMBER_TEXT, POINTS_TEXT.map(lambda t: t + ";nan,1"),
                         st.sampled_from(["1,1;2", ";;", "1,1,1;2,2;3,3"]))}).map(
    lambda shape: (shape.pop("tag", "box"), shape))
CVAT_IMAGE = mutated(
    {"id": st.integers(0, 3).map(str), "name": st.sampled_from(IMAGES), "width": st.just("16"),
     "height": st.just("12")},
    {"name": st.one_of(st.just(MISSING), NAMES), "width": VOC_HOSTILE, "height": VOC_HOSTILE})
CVAT_FILE = st.one_of(
    st.lists(st.tuples(CVAT_IMAGE, st.lists(CVAT_SHAPE, max_size=4)), max_size=3).map(
        lambda images: cvat_xml([({"id": "9", "name": "b.png", "width": "16", "height": "12"},
                                  [("polygon", {"label": "cat", "points": "1,1;9,1;9,9"})]),
                                 *images])),
    st.binary(max_size=80).map(lambda data: data.decode("latin-1")))


@given(text=CVAT_FILE, use_masks=st.booleans(), strict=st.booleans())
def test_fuzz_cvat(images, text, use_masks, strict):
    def write(root):
        (root / "annotations.xml").write_text(text, encoding="utf-8", errors="replace")

    run_convert(images, write, "cvat", lambda root: ReadOptions(masks=use_masks),
                strict=strict, source_name="annotations.xml")


CREATEML_ANNOTATION = mutated(
    {"label": st.sampled_from(["cat", "dog"]),
     "coordinates": st.fixed_dictionaries({key: st.integers(-2, 18) for key in (
         "x", "y", "width", "height")})},
    {"label": st.one_of(st.just(MISSING), JSON_ANY),
     "coordinates": st.one_of(st.just(MISSING), JSON_ANY, st.fixed_dictionaries(
         {key: JSON_NUMBER for key in ("x", "y", "width", "height")}))})
CREATEML_ENTRY = mutated(
    {"image": st.sampled_from(IMAGES),
     "annotations": st.lists(CREATEML_ANNOTATION, max_size=3)},
    {"image": st.one_of(st.just(MISSING), NAMES, JSON_ANY),
     "annotations": st.one_of(st.just(MISSING), JSON_ANY)})
VALID_CREATEML = {"image": "b.png", "annotations": [
    {"label": "cat", "coordinates": {"x": 5, "y": 5, "width": 6, "height": 6}}]}
CREATEML_FILE = st.one_of(
    st.lists(CREATEML_ENTRY, max_size=3).map(lambda entries: json.dumps(
        [VALID_CREATEML, *entries])),
    st.recursive(JSON_ANY, lambda inner: st.lists(inner) | st.dictionaries(SAFE_TEXT, inner),
                 max_leaves=6).map(json.dumps),
    SAFE_TEXT)


@given(text=CREATEML_FILE)
def test_fuzz_createml(images, text):
    def write(root):
        (root / "annotations.json").write_text(text, encoding="utf-8", errors="replace")

    run_convert(images, write, "createml", source_name="annotations.json")
