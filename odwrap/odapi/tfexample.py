"""tf.train.Example records and the TFRecord file format, without importing TensorFlow.

Converter workers would otherwise pay a 4-second TensorFlow import each. The encoding follows
tensorflow/core/example/example.proto and writes feature keys sorted, so equal input gives equal
bytes (TensorFlow's own map serialization order is not guaranteed). Tests read the output back
with TensorFlow's TFRecordDataset and the OD API's TfExampleDecoder.
"""

import os
import struct

import crc32c

from odwrap.errors import InputError

_MASK_DELTA = 0xA282EAD8


_SMALL = [bytes((value,)) for value in range(128)]


def _varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64  # int64 values are encoded as their two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _feature(kind: str, values) -> bytes:
    if kind == "bytes":
        items = b"".join(_field(1, value) for value in values)
        return _field(1, items)
    if kind == "float":
        packed = struct.pack(f"<{len(values)}f", *values)
        return _field(2, _field(1, packed) if values else b"")
    if kind == "int":
        packed = b"".join(_varint(int(value)) for value in values)
        return _field(3, _field(1, packed) if values else b"")
    raise ValueError(f"unknown feature kind {kind!r}")


def _key(key: str, cache={}) -> bytes:  # noqa: B006 (a cache of the few feature names)
    encoded = cache.get(key)
    if encoded is None:
        encoded = cache[key] = _field(1, key.encode("utf-8"))
    return encoded


def encode_example(features: dict) -> bytes:
    """{key: (kind, [values])} with kind bytes|float|int -> serialized tf.train.Example."""
    entries = b"".join(
        _field(1, _key(key) + _field(2, _feature(kind, values)))
        for key, (kind, values) in sorted(features.items()))
    return _field(1, entries)


def _masked_crc(data: bytes) -> bytes:
    crc = crc32c.crc32c(data)
    masked = (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
    return struct.pack("<I", masked)


def frame_record(data: bytes) -> bytes:
    """One TFRecord: length, its masked CRC32C, the data, its masked CRC32C."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


def _open_binary(path):
    return open(path, "rb")


def read_records(path, *, offsets: bool = False, opener=_open_binary):
    """Yield the data of each record of a TFRecord file (with OFFSETS: (the record's offset,
    its data)), checking both CRCs; a damaged file is an InputError that names it. OPENER
    opens PATH for binary reading (Beam's FileSystems.open for a URL)."""
    handle = opener(path)
    try:
        size = handle.seek(0, os.SEEK_END)
        offset = handle.seek(0)
        while True:
            data = _read_record(handle, size, path)
            if data is None:
                return
            yield (offset, data) if offsets else data
            offset += 16 + len(data)
    finally:
        handle.close()


def read_record_at(handle, offset: int, path) -> bytes:
    """The data of the record at OFFSET of the TFRecord file open as HANDLE (read_records'
    offsets), both CRCs checked; InputError naming PATH when there is none."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(offset)
    data = _read_record(handle, size, path)
    if data is None:
        raise InputError(f"{path}: no record at offset {offset}")
    return data


def _read_record(handle, size: int, path) -> bytes | None:
    """The next record's data from HANDLE, None at the end of the file."""
    header = handle.read(12)
    if not header:
        return None
    if len(header) < 12 or _masked_crc(header[:8]) != header[8:12]:
        raise InputError(f"{path}: not a TFRecord file, or a corrupt record header")
    (length,) = struct.unpack("<Q", header[:8])
    if length > size - handle.tell():  # never allocate what the file cannot hold
        raise InputError(f"{path}: corrupt or truncated record")
    data = handle.read(length)
    footer = handle.read(4)
    if len(data) < length or _masked_crc(data) != footer:
        raise InputError(f"{path}: corrupt or truncated record")
    return data


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of each field of a serialized message."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _decode_feature(data: bytes) -> list:
    values: list = []
    for kind, _, payload in _fields(data):
        for number, wire, item in _fields(payload):
            if number != 1:
                continue
            if kind == 1:
                values.append(item)
            elif kind == 2:
                values.extend(struct.unpack(f"<{len(item) // 4}f", item))
            elif kind == 3 and wire == 0:
                values.append(_signed(item))
            elif kind == 3:
                pos = 0
                while pos < len(item):
                    value, pos = _read_varint(item, pos)
                    values.append(_signed(value))
    return values


def decode_example(data: bytes) -> dict[str, list]:
    """A serialized tf.train.Example -> {key: [values]} (bytes, floats or ints)."""
    features: dict[str, list] = {}
    for number, _, payload in _fields(data):
        if number != 1:
            continue
        for entry_number, _, entry in _fields(payload):
            if entry_number != 1:
                continue
            key, value = "", b""
            for part, _, item in _fields(entry):
                if part == 1:
                    key = item.decode("utf-8")
                elif part == 2:
                    value = item
            features[key] = _decode_feature(value)
    return features
