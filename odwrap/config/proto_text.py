"""Python values as proto text, and spec values checked against a proto message's fields.

`proto_value` formats what goes into the proto text, so that a string from a spec can never
break out of its field; `message_fields` checks a mapping (an augmentation's fields) against the
message type's fields, types and ranges and returns what the templates print.
"""

import difflib
import sys

from google.protobuf import descriptor as pb_descriptor
from google.protobuf import text_encoding

from odwrap.errors import InputError, shown
from odwrap.odapi import protos

FLOAT32_MAX = 3.4028234663852886e38  # a proto float field's largest finite value
_KINDS = pb_descriptor.FieldDescriptor
INT_RANGES = {_KINDS.TYPE_INT32: (-(2**31), 2**31 - 1), _KINDS.TYPE_SINT32: (-(2**31), 2**31 - 1),
              _KINDS.TYPE_SFIXED32: (-(2**31), 2**31 - 1), _KINDS.TYPE_UINT32: (0, 2**32 - 1),
              _KINDS.TYPE_FIXED32: (0, 2**32 - 1), _KINDS.TYPE_UINT64: (0, 2**64 - 1),
              _KINDS.TYPE_FIXED64: (0, 2**64 - 1)}  # the rest are int64


def proto_value(value) -> str:
    """A Python scalar as proto text: strings quoted and escaped, bools lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + text_encoding.CEscape(value, as_utf8=True) + '"'
    raise TypeError(f"no proto text for {type(value).__name__}")


def message_fields(message_type, params: dict, where: str) -> list[dict]:
    """Validate `params` against a proto message type; return render-ready fields."""
    out = []
    for name, value in params.items():
        fd = message_type.fields_by_name.get(name)
        if fd is None:
            close = difflib.get_close_matches(name, list(message_type.fields_by_name), n=1)
            hint = f", did you mean '{close[0]}'?" if close else ""
            raise InputError(f"{where}: '{message_type.name}' has no field '{shown(name)}'{hint}")
        repeated = protos.is_repeated(fd)
        values = value if repeated and isinstance(value, list) else [value]
        if not repeated and isinstance(value, list):
            raise InputError(f"{where}.{name}: takes one value, not a list")
        for item in values:
            out.append(_field(fd, item, f"{where}.{name}"))
    return out


def _field(fd, value, where: str) -> dict:
    kinds = pb_descriptor.FieldDescriptor
    if fd.type == kinds.TYPE_MESSAGE:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping of fields")
        return {"name": fd.name, "children": message_fields(fd.message_type, value, where)}
    if fd.type == kinds.TYPE_ENUM:
        if value not in fd.enum_type.values_by_name:
            raise InputError(f"{where}: '{shown(value)}' is not one of "
                             f"{', '.join(fd.enum_type.values_by_name)}")
        return {"name": fd.name, "value": value}
    if fd.type == kinds.TYPE_BOOL:
        ok = isinstance(value, bool)
    elif fd.type in (kinds.TYPE_FLOAT, kinds.TYPE_DOUBLE):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        high = FLOAT32_MAX if fd.type == kinds.TYPE_FLOAT else sys.float_info.max
        if ok and not -high <= value <= high:  # NaN fails both
            raise InputError(f"{where}: expected a finite number in [{-high:g}, {high:g}] "
                             f"(got {value!r})")
        value = float(value) if ok else value
    elif fd.type == kinds.TYPE_STRING:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, int) and not isinstance(value, bool)
        low, high = INT_RANGES.get(fd.type, (-(2**63), 2**63 - 1))
        if ok and not low <= value <= high:
            raise InputError(f"{where}: expected int in {low}..{high} (got {value})")
    if not ok:
        raise InputError(f"{where}: {value!r} is not a valid {fd.name} value")
    return {"name": fd.name, "value": proto_value(value)}
