"""TFRecords read back by code that shares nothing with odwrap's writer: the framing checked here
with struct and crc32c, each record parsed by protobuf against tensorflow/core/example's
example.proto rebuilt as a descriptor (no TensorFlow import, which costs seconds)."""

import math
import struct
from pathlib import Path

import crc32c
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FIELD = descriptor_pb2.FieldDescriptorProto


def _message(file, name, fields):
    message = file.message_type.add(name=name)
    for number, (field_name, kind, label, type_name) in enumerate(fields, start=1):
        field = message.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            field.type_name = type_name
    return message


def _example_class():
    file = descriptor_pb2.FileDescriptorProto(name="odwrap_test_example.proto",
                                              package="odwrap_test", syntax="proto3")
    optional, repeated = _FIELD.LABEL_OPTIONAL, _FIELD.LABEL_REPEATED
    _message(file, "BytesList", [("value", _FIELD.TYPE_BYTES, repeated, None)])
    floats = _message(file, "FloatList", [("value", _FIELD.TYPE_FLOAT, repeated, None)])
    ints = _message(file, "Int64List", [("value", _FIELD.TYPE_INT64, repeated, None)])
    floats.field[0].options.packed = ints.field[0].options.packed = True
    feature = _message(file, "Feature", [
        ("bytes_list", _FIELD.TYPE_MESSAGE, optional, ".odwrap_test.BytesList"),
        ("float_list", _FIELD.TYPE_MESSAGE, optional, ".odwrap_test.FloatList"),
        ("int64_list", _FIELD.TYPE_MESSAGE, optional, ".odwrap_test.Int64List")])
    feature.oneof_decl.add(name="kind")
    for field in feature.field:
        field.oneof_index = 0
    features = _message(file, "Features", [
        ("feature", _FIELD.TYPE_MESSAGE, repeated, ".odwrap_test.Features.FeatureEntry")])
    entry = features.nested_type.add(name="FeatureEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=_FIELD.TYPE_STRING, label=optional)
    entry.field.add(name="value", number=2, type=_FIELD.TYPE_MESSAGE, label=optional,
                    type_name=".odwrap_test.Feature")
    _message(file, "Example", [("features", _FIELD.TYPE_MESSAGE, optional,
                                ".odwrap_test.Features")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("odwrap_test.Example")
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.21
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)  # protobuf 3.20 (tf215)


Example = _example_class()


def _masked(data: bytes) -> int:
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_examples(path: Path) -> list:
    """Every record of a TFRecord file as a parsed Example; AssertionError on bad framing."""
    data, pos, out = Path(path).read_bytes(), 0, []
    while pos < len(data):
        assert pos + 12 <= len(data), f"{path}: truncated header at {pos}"
        length, length_crc = struct.unpack_from("<QI", data, pos)
        assert _masked(data[pos:pos + 8]) == length_crc, f"{path}: bad length CRC at {pos}"
        body = data[pos + 12:pos + 12 + length]
        (body_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        assert len(body) == length and _masked(body) == body_crc, f"{path}: bad record at {pos}"
        out.append(Example.FromString(body))
        pos += 16 + length
    return out


def features(example) -> dict:
    """{key: list of values} of a parsed Example."""
    out = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        out[key] = list(getattr(feature, kind).value) if kind else []
    return out


def records_by_filename(out: Path) -> dict:
    """{image/filename: features} of every record in the shards of folder OUT, each checked
    with assert_valid."""
    found = {}
    for shard in sorted(Path(out).glob("*.tfrecord")):
        for example in read_examples(shard):
            assert_valid(example)
            values = features(example)
            found[values["image/filename"][0].decode()] = values
    return found


def assert_valid(example) -> None:
    """What the OD API needs of a record: finite boxes inside [0, 1] with xmin < xmax and
    ymin < ymax, 0/1 flags, one value per box in every per-box list, a positive size."""
    values = features(example)
    assert values["image/height"][0] > 0 and values["image/width"][0] > 0
    boxes = [values[f"image/object/bbox/{key}"] for key in ("xmin", "ymin", "xmax", "ymax")]
    count = len(boxes[0])
    for key in ("class/text", "class/label", "area", "difficult", "is_crowd", "group_of"):
        assert len(values[f"image/object/{key}"]) == count, key
    for xmin, ymin, xmax, ymax in zip(*boxes):
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in (xmin, ymin, xmax, ymax))
        assert xmin < xmax and ymin < ymax
    assert all(math.isfinite(v) and v > 0 for v in values["image/object/area"])
    for key in ("difficult", "is_crowd", "group_of"):
        assert set(values[f"image/object/{key}"]) <= {0, 1}, key
    assert all(label >= 1 for label in values["image/object/class/label"])
    for key in ("mask", "mask/weight"):  # with --masks: one a box, or none at all
        if f"image/object/{key}" in values:
            assert len(values[f"image/object/{key}"]) == count, key
    visibility = values.get("image/object/keypoint/visibility")
    if visibility is not None:  # with --keypoints: the same number of points on every box
        points = len(visibility) // count if count else 0
        assert len(visibility) == points * count
        assert len(values["image/object/keypoint/num"]) == count
        for key in ("x", "y", "text"):
            assert len(values[f"image/object/keypoint/{key}"]) == points * count, key
        assert set(visibility) <= {0, 1, 2}
        for key in ("x", "y"):
            assert all(math.isfinite(v) and 0.0 <= v <= 1.0
                       for v in values[f"image/object/keypoint/{key}"]), key
