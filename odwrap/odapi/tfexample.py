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
_TAGS = {1: b"\x0a", 2: b"\x12", 3: b"\x1a"}  # fields 1-3 of wire type 2 (length-delimited)
# A bytes value at least this long (an image) is a part of its own in example_parts: it is
# never copied into a larger buffer before it is written.
_OWN_PART = 4096


def _varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _SMALL[value]
    if 0 < value < 16384:  # two bytes: an image side, a list's length
        return bytes((value & 0x7F | 0x80, value >> 7))
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
    size = len(payload)
    return _TAGS[number] + (_SMALL[size] if size < 128 else _varint(size)) + payload


def _key(key: str, cache={}) -> bytes:  # noqa: B006 (a cache of the few feature names)
    encoded = cache.get(key)
    if encoded is None:
        encoded = cache[key] = _field(1, key.encode("utf-8"))
    return encoded


def _entry_head(key: str, tag: bytes, payload_size: int, cache={}) -> bytes:  # noqa: B006
    """A map entry of Features up to its Feature's list payload of PAYLOAD_SIZE bytes: the
    entry's field, its key, its value (Feature) and the Feature's list field (TAG). Cached for
    the small sizes that repeat (a few keys, three tags, sizes under 128)."""
    head = cache.get((key, tag, payload_size))
    if head is not None:
        return head
    feature = 1 + len(_varint(payload_size)) + payload_size
    key_field = _key(key)
    entry = len(key_field) + 1 + len(_varint(feature)) + feature
    head = b"".join((b"\x0a", _varint(entry), key_field, b"\x12", _varint(feature), tag,
                     _varint(payload_size)))
    if payload_size < 128 and len(cache) < 65536:
        cache[(key, tag, payload_size)] = head
    return head


def example_parts(features: dict) -> list[bytes]:
    """encode_example(FEATURES) as a list of parts (their concatenation is the record): each
    bytes value of _OWN_PART bytes or more a part of its own, the rest joined between them, so
    that an image's bytes are not copied before they are written (frame_parts)."""
    parts, run = [], []
    for key, (kind, values) in sorted(features.items()):
        if kind == "bytes":
            if max(map(len, values), default=0) >= _OWN_PART:
                run.append(_entry_head(key, b"\x0a", sum(
                    1 + len(_varint(len(value))) + len(value) for value in values)))
                for value in values:
                    if len(value) >= _OWN_PART:
                        run.append(b"\x0a" + _varint(len(value)))
                        parts += (b"".join(run), value)
                        run = []
                    else:
                        run.append(_field(1, value))
                continue
            tag, payload = b"\x0a", b"".join([_field(1, value) for value in values])
        elif kind == "float":
            packed = struct.pack(f"<{len(values)}f", *values)
            tag, payload = b"\x12", _field(1, packed) if values else b""
        elif kind == "int":
            packed = b"".join([_varint(int(value)) for value in values])
            tag, payload = b"\x1a", _field(1, packed) if values else b""
        else:
            raise ValueError(f"unknown feature kind {kind!r}")
        run += (_entry_head(key, tag, len(payload)), payload)
    parts.append(b"".join(run))
    head = b"\x0a" + _varint(sum(map(len, parts)))
    parts[0] = head + parts[0]  # the first part is never a large value: an entry starts it
    return parts


def encode_example(features: dict) -> bytes:
    """{key: (kind, [values])} with kind bytes|float|int -> serialized tf.train.Example."""
    return b"".join(example_parts(features))


def _masked(crc: int) -> bytes:
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF)


def _masked_crc(data: bytes) -> bytes:
    return _masked(crc32c.crc32c(data))


def frame_parts(parts: list[bytes]) -> list[bytes]:
    """The TFRecord of the data whose PARTS example_parts gives, as parts: its length and the
    length's masked CRC32C, the data, the data's masked CRC32C (never copied into one buffer)."""
    length = struct.pack("<Q", sum(map(len, parts)))
    crc = 0
    for part in parts:
        crc = crc32c.crc32c(part, crc)
    return [length + _masked_crc(length), *parts, _masked(crc)]


def frame_record(data: bytes) -> bytes:
    """One TFRecord: length, its masked CRC32C, the data, its masked CRC32C."""
    return b"".join(frame_parts([data]))


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
