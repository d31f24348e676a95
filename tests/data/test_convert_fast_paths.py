"""convert's fast paths read what the general ones read: a plain JPEG's size from its frame
header as Pillow opens it, plain VOC XML as defusedxml parses it, a shard's images located as
realpath locates them, an Example's parts as protobuf serializes it; the progress slot names the
image a worker died on."""

import io
import os
import random
import struct

import crc32c
import defusedxml
import pytest
from defusedxml import ElementTree as DefusedTree
from PIL import Image

from odwrap.data import images, workers
from odwrap.data.dataset import Problems, RootLocator, inside_root
from odwrap.data.formats import voc
from odwrap.errors import RunError
from odwrap.odapi.tfexample import example_parts, frame_parts
from tests import exifphotos, recordcheck


def _jpeg(mode="RGB", size=(37, 21), **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "red" if mode != "L" else 128).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _pillow(data: bytes):
    """What Pillow makes of DATA: (format, mode, size, EXIF orientation), or the error."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format, image.mode, image.size, image.getexif().get(0x0112, 1)
    except Exception as exc:  # noqa: BLE001 (any refusal is an answer)
        return type(exc).__name__


@pytest.mark.parametrize("data, size", [
    (_jpeg(), (37, 21)),
    (_jpeg("L", (5, 300)), (5, 300)),
    (_jpeg(progressive=True), (37, 21)),
    (_jpeg(optimize=True, comment=b"made here"), (37, 21)),
    (_jpeg(restart_marker_blocks=1), (37, 21)),
], ids=["baseline", "grey", "progressive", "comment", "restart-interval"])
def test_a_plain_jpeg_s_size_is_its_frame_header_s(data, size):
    assert images._plain_jpeg(data) == size
    assert _pillow(data) == ("JPEG", "L" if data == _jpeg("L", (5, 300)) else "RGB", size, 1)


@pytest.mark.parametrize("data", [
    _jpeg("CMYK"), _jpeg(icc_profile=b"x" * 200), exifphotos.photo(6), exifphotos.photo(1),
    b"\xff\xd8\xff", b"", b"GIF89a"], ids=["cmyk", "icc", "exif-6", "exif-1", "soi", "empty",
                                            "gif"])
def test_anything_else_is_left_to_pillow(data):
    assert images._plain_jpeg(data) is None


def test_a_mutated_header_is_read_as_pillow_reads_it_or_left_to_it():
    rng = random.Random(0)
    original = _jpeg(size=(64, 48))
    answered = 0
    for _ in range(400):
        data = bytearray(original)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(2, 180)] = rng.randrange(256)
        size = images._plain_jpeg(bytes(data))
        if size is not None:
            answered += 1
            assert _pillow(bytes(data)) == ("JPEG", "RGB", size, 1), bytes(data[:180])
    assert answered > 100  # most flips land in table values, which change no size


PLAIN = (b'<annotation><filename>a.jpg</filename><size><width>60</width><height>40</height>'
         b'</size><object><name>cat</name><difficult>1</difficult><bndbox><xmin>1</xmin>'
         b'<ymin>2</ymin><xmax>30</xmax><ymax>20</ymax></bndbox></object></annotation>')


def _summary(tree):
    return [tree.tag, tree.findtext("filename"), tree.findtext("size/width"),
            [(obj.findtext("name"), obj.findtext("difficult"), obj.findtext("bndbox/xmax"))
             for obj in tree.iter("object")]]


def _defused(data: bytes):
    try:
        return _summary(DefusedTree.fromstring(data, forbid_dtd=True))
    except defusedxml.DefusedXmlException as exc:
        return type(exc).__name__
    except DefusedTree.ParseError as exc:
        return str(exc)


def _plain(data: bytes):
    try:
        tree = voc._plain_tree(data)
    except DefusedTree.ParseError as exc:
        return str(exc)
    return _defused(data) if tree is None else _summary(tree)


def test_plain_voc_xml_is_parsed_by_the_c_parser_as_defusedxml_parses_it():
    assert voc._plain_tree(PLAIN) is not None
    assert voc._plain_tree(b'<?xml version="1.0" encoding="UTF-8"?>' + PLAIN) is not None
    assert _plain(PLAIN) == ["annotation", "a.jpg", "60", [("cat", "1", "30")]]
    for other in (b'<!DOCTYPE a [<!ENTITY e "x">]>' + PLAIN, PLAIN.replace(b"a.jpg", b"&amp;"),
                  b'<?xml version="1.0" encoding="cp500"?>' + PLAIN,
                  PLAIN.replace(b"<annotation>", b'<annotation xmlns="u">')):
        assert voc._plain_tree(other) is None
    rng = random.Random(1)
    alphabet = b"<>/?!&;:= \"'\x00\xc3abx019\n"
    for _ in range(1500):
        data = bytearray(PLAIN)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                data[position:position + rng.randint(1, 4)] = b""
            else:
                data[position:position] = bytes([rng.choice(alphabet)])
        assert _plain(bytes(data)) == _defused(bytes(data)), bytes(data)


def test_a_shard_s_images_are_located_as_realpath_locates_them(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "JPEGImages" / "sub").mkdir(parents=True)
    outside.mkdir()
    for path in (root / "JPEGImages" / "a.jpg", outside / "b.jpg",
                 root / "JPEGImages" / "sub" / "c.jpg"):
        path.write_bytes(b"x")
    (root / "JPEGImages" / "in.jpg").symlink_to("a.jpg")
    (root / "JPEGImages" / "out.jpg").symlink_to(outside / "b.jpg")
    (root / "JPEGImages" / "dir").symlink_to(outside)
    (root / "linked").symlink_to(root / "JPEGImages")
    locate = RootLocator()
    for relative in ("JPEGImages/a.jpg", "JPEGImages/in.jpg", "JPEGImages/out.jpg",
                     "JPEGImages/dir/b.jpg", "JPEGImages/sub/c.jpg", "JPEGImages/sub/../a.jpg",
                     "JPEGImages/sub/..", "JPEGImages/.", "linked/a.jpg", "linked/out.jpg",
                     "missing/x.jpg", "../outside/b.jpg", str(outside / "b.jpg"), "a\0b",
                     "JPEGImages//a.jpg", "JPEGImages/"):
        assert locate(root, relative) == inside_root(root, relative), relative
    assert locate(root, "JPEGImages/in.jpg") == root / "JPEGImages" / "a.jpg"
    assert locate(root, "JPEGImages/out.jpg") is None


def _serialized(features: dict) -> bytes:
    """FEATURES as protobuf serializes them (deterministic: map keys sorted)."""
    example = recordcheck.Example()
    for key, (kind, values) in features.items():
        listed = getattr(example.features.feature[key],
                         {"bytes": "bytes_list", "float": "float_list", "int": "int64_list"}[kind])
        listed.SetInParent()
        listed.value.extend(values)
    return example.SerializeToString(deterministic=True)


def test_an_example_s_parts_are_protobuf_s_bytes_and_frame_as_tfrecord_does():
    image = os.urandom(30_000)
    features = {"image/encoded": ("bytes", [image]), "image/format": ("bytes", [b"jpeg"]),
                "image/object/mask": ("bytes", [os.urandom(5000), b"", os.urandom(300)]),
                "image/height": ("int", [256]), "image/object/class/label": ("int", [1, 300, -2]),
                "image/object/bbox/xmin": ("float", [0.25, 0.5]),
                "image/object/difficult": ("int", []), "image/object/area": ("float", []),
                "image/object/class/text": ("bytes", [])}
    parts = example_parts(features)
    assert b"".join(parts) == _serialized(features)
    assert any(part is image for part in parts)  # written as it is, never copied
    data = b"".join(parts)
    length = struct.pack("<Q", len(data))

    def masked(chunk):
        crc = crc32c.crc32c(chunk)
        return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)

    assert b"".join(frame_parts(parts)) == length + masked(length) + data + masked(data)


def test_a_dead_worker_is_named_with_the_image_it_was_on_not_a_longer_one_before_it():
    from tests.data.test_workers import Task

    def write(task, on_sample):
        on_sample("a-much-longer-image-name-written-first.jpg")
        on_sample("short.jpg")
        os._exit(3)

    with pytest.raises(RunError, match=r"on image short\.jpg;"):
        workers.run_in_workers([Task(path="/out/data-00000-of-00001.tfrecord", images=[])],
                               write, 2, lambda _: None)


def test_each_result_is_heard_of_as_it_comes():
    from tests.data.test_workers import tasks

    heard = []
    for run in (lambda: workers.run_in_process(tasks(), lambda task, _: task.path, lambda _: 0,
                                               heard.append),
                lambda: workers.run_in_workers(tasks(), lambda task, _: task.path, 2,
                                               lambda _: 0, heard.append)):
        heard.clear()
        results = run()
        assert sorted(heard) == sorted(results) == [task.path for task in tasks()]


def test_annotations_parsed_in_workers_are_what_one_process_reads(tmp_path, monkeypatch):
    from odwrap.data.formats import ReadOptions
    from odwrap.errors import InputError
    from tests.data.test_convert import bad_dataset

    root, _ = bad_dataset(tmp_path)
    (root / "Annotations" / "broken.xml").write_text("<annotation><filename>")
    (root / "Annotations" / "nan.xml").write_text(
        "<annotation><filename>shapes_00006.jpg</filename><object><name>square</name><bndbox>"
        "<xmin>nan</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>"
        "</annotation>")
    one, many = Problems(), Problems()
    alone = voc.read(root, ReadOptions(), one)
    monkeypatch.setattr(voc, "PARALLEL_FILES", 2)  # these few files in workers, in 8 chunks
    assert voc.read(root, ReadOptions(), many, workers=2) == alone
    assert len(alone[0]) == 11  # 14 files: 2 refused (DTDs), 1 broken
    assert (many.counts, list(many.examples.items())) == (one.counts, list(one.examples.items()))
    assert set(one.counts) == {"bad_annotation", "bad_coordinate"}
    with pytest.raises(InputError, match="^Annotations/broken.xml: "):  # the first, in order
        voc.read(root, ReadOptions(), Problems(strict=True), workers=2)
