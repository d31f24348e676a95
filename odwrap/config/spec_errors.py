"""A spec that fails validation, as one line naming the file, the line of the key, the field,
what it may be and what it was (or `--set` when an override set it)."""

import re

import msgspec
import yaml

from odwrap.errors import InputError


def key_lines(text: str) -> dict[tuple, int]:
    """Map each key path of a YAML document to its 1-based line, for error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                sub = path + (key_node.value,)
                lines[sub] = key_node.start_mark.line + 1
                walk(value_node, sub)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[path + (index,)] = item.start_mark.line + 1
                walk(item, path + (index,))

    if root is not None:
        walk(root, ())
    return lines


_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _parse_location(location: str) -> tuple:
    """'$.train.augmentations[0]' -> ('train', 'augmentations', 0)"""
    return tuple(name if name else int(index) for name, index in _PATH_PART.findall(location))


def _value_at(tree, loc):
    for part in loc:
        try:
            tree = tree[part]
        except (KeyError, IndexError, TypeError):
            return None
    return tree


def _flat(kinds) -> list:
    out = []
    for kind in kinds:
        out += _flat(kind.types) if isinstance(kind, msgspec.inspect.UnionType) else [kind]
    return out


def _kinds_at(schema, loc: tuple) -> list:
    """The msgspec types SCHEMA allows at LOC."""
    kinds = [msgspec.inspect.type_info(schema)]
    for part in loc:
        found = []
        for kind in _flat(kinds):
            if isinstance(kind, msgspec.inspect.StructType):
                found += [item.type for item in kind.fields if item.name == part]
            elif isinstance(kind, msgspec.inspect.ListType) and isinstance(part, int):
                found.append(kind.item_type)
        kinds = found
    return _flat(kinds)


def _allowed_values(schema, loc: tuple) -> str | None:
    """"one of 'a', 'b'": SCHEMA's choices at LOC."""
    values = [value for kind in _kinds_at(schema, loc) if isinstance(kind, msgspec.inspect.LiteralType)
              for value in kind.values]
    return f"one of {', '.join(repr(value) for value in values)}" if values else None


def _allowed_range(schema, loc: tuple) -> str | None:
    """'int in 32..4096' or 'number in (0, 100]': SCHEMA's bounds of the number at LOC."""
    for kind in _kinds_at(schema, loc):
        if isinstance(kind, msgspec.inspect.IntType) and kind.le is not None:
            return f"int in {kind.ge}..{kind.le}"
        if isinstance(kind, msgspec.inspect.FloatType) and kind.le is not None:
            low = f"({kind.gt:g}" if kind.gt is not None else f"[{kind.ge:g}"
            return f"number in {low}, {kind.le:g}]"
    return None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text)} characters)"


def where(loc: tuple, source: str, lines: dict, overridden: set) -> str:
    """'--set' when an override set the field, else 'file:line' of the closest key in the file."""
    keys = tuple(str(part) for part in loc)
    if any(keys[:cut] in overridden for cut in range(1, len(keys) + 1)):
        return "--set"
    for cut in range(len(loc), min(len(loc), 2) - 1, -1):
        if loc[:cut] in lines:
            return f"{source}:{lines[loc[:cut]]}"
    return source


def field_error(loc: tuple, message: str, where: str) -> InputError:
    field = ".".join(str(part) for part in loc) if loc else "spec"
    field = re.sub(r"\.(\d+)", r"[\1]", field)
    return InputError(f"{where}: {field}: {message}")


def flatten_keys(nested: dict, prefix=()) -> set[tuple]:
    keys = set()
    for key, value in nested.items():
        keys.add(prefix + (key,))
        if isinstance(value, dict):
            keys |= flatten_keys(value, prefix + (key,))
    return keys


def one_line(exc: msgspec.ValidationError, schema, merged: dict, source: str, lines: dict,
             overridden: set) -> InputError:
    """msgspec's error for SCHEMA as odwrap's one line."""
    message, _, location = str(exc).rpartition(" - at `")
    loc = _parse_location(location.rstrip("`")) if message else ()
    message = (message or str(exc)).replace("`", "")
    message = message[:1].lower() + message[1:]
    got = _value_at(merged, loc)
    choices = _allowed_values(schema, loc)
    if choices and message.startswith("invalid enum value"):
        message = f"expected {choices}"
    allowed = _allowed_range(schema, loc)
    if allowed and re.match(r"expected (int|float)( [<>]|, got)", message):
        # name the range, not only the bound that failed (NaN and inf fail one)
        message = re.sub(r"^expected (int|float)( [<>]=? [^,]+)?", f"expected {allowed}",
                         message)
    if got is not None and not isinstance(got, (dict, list)):
        typed = re.fullmatch(r"(expected .+), got \w+", message)
        message = (f"{typed.group(1)}, got {_shown(got)}" if typed
                   else f"{message} (got {_shown(got)})")
    return field_error(loc, message, where(loc, source, lines, overridden))
