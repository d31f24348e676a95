"""Flatten a proto message into {dotted.path: value}, for field-by-field comparisons (a map
field into one {key: value} dict)."""

from google.protobuf.descriptor import FieldDescriptor

from odwrap.odapi.protos import is_repeated


def _scalar(fd, value):
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return fd.enum_type.values_by_number[value].name
    return value


def flatten(message, prefix: str = "") -> dict:
    out = {}
    for fd, value in message.ListFields():
        path = f"{prefix}{fd.name}"
        if fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry:
            scalar = fd.message_type.fields_by_name["value"].type != FieldDescriptor.TYPE_MESSAGE
            out[path] = {key: item if scalar else flatten(item) for key, item in value.items()}
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            items = list(value) if is_repeated(fd) else [value]
            for index, item in enumerate(items):
                sub = f"{path}[{index}]" if is_repeated(fd) else path
                nested = flatten(item, sub + ".")
                out.update(nested if nested else {sub: {}})
        elif is_repeated(fd):
            out[path] = [_scalar(fd, item) for item in value]
        else:
            out[path] = _scalar(fd, value)
    return out
