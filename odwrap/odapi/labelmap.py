"""Read, write and validate OD API label maps (label_map.pbtxt)."""

import functools
from importlib import resources
from pathlib import Path

from google.protobuf import text_format

from odwrap.errors import InputError
from odwrap.fsutil import MiB, atomic_write_text, read_text
from odwrap.odapi import protos

FILE_NAME = "label_map.pbtxt"  # what odwrap calls the label map it writes beside a config
BUILTIN = {"coco": "mscoco_label_map.pbtxt"}
LIMIT = 8 * MiB  # 100,000 classes take about 7 MB (and 3 s to parse)


def builtin_path(name: str) -> Path:
    return Path(str(resources.files("odwrap.label_maps").joinpath(BUILTIN[name])))


@functools.cache
def read_builtin(name: str):
    """A shipped label map, parsed once per process (callers only read it)."""
    return read(builtin_path(name))


def resolve(value: str, base_dir: Path) -> Path:
    """A spec's `label_map` value as a path: a shipped name (`coco`) or relative to base_dir."""
    if value in BUILTIN:
        return builtin_path(value)
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def parse(text: str, source: str):
    return protos.parse_text(protos.label_map_pb2().StringIntLabelMap(), text, source)


def read(path):
    return parse(read_text(path, "label map", limit=LIMIT), str(path))


def read_checked(path):
    """The label map at PATH, refused (InputError naming the file and its first error) when
    problems() finds an error: ids under 1, one id for two classes, names missing or twice."""
    label_map = read(path)
    errors = [message for severity, message in problems(label_map) if severity == "error"]
    if errors:
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        raise InputError(f"{path}: {errors[0]}{more}")
    return label_map


def names(path) -> dict[int, str]:
    """{id: display name (else name)} of the label map at PATH, refused as read_checked refuses
    one; {} when there is none."""
    if not path or not Path(path).is_file():
        return {}
    return {item.id: item.display_name or item.name for item in read_checked(path).item}


def from_classes(names):
    """A label map with ids 1..N in the order given (0 is the OD API's background)."""
    label_map = protos.label_map_pb2().StringIntLabelMap()
    for index, name in enumerate(names, start=1):
        label_map.item.add(id=index, name=name, display_name=name)
    return label_map


def to_text(label_map) -> str:
    return text_format.MessageToString(label_map)


def write(label_map, path) -> Path:
    try:
        return atomic_write_text(path, to_text(label_map))
    except OSError as exc:  # a folder, a read-only file system, a full disk
        raise InputError(f"{path}: cannot write the label map: {exc.strerror or exc}") from None


def num_classes(label_map) -> int:
    """What num_classes must be for this map: its highest id."""
    return max((item.id for item in label_map.item), default=0)


def same_items(first, second) -> bool:
    """Whether two label maps have the same (id, name) items, in any order."""
    def items(label_map):
        return sorted((item.id, item.name) for item in label_map.item)
    return items(first) == items(second)


def problems(label_map) -> list[tuple[str, str]]:
    """(severity, message) for each problem: bad or duplicated ids and names, gaps."""
    found = []
    if not label_map.item:
        return [("error", "has no item")]
    ids, names = {}, {}
    for item in label_map.item:
        if item.id < 1:
            found.append(("error", f"item '{item.name}' has id {item.id}; ids start at 1 "
                                   "(0 is the background)"))
        if item.id in ids:
            found.append(("error", f"id {item.id} is used by '{ids[item.id]}' and '{item.name}'"))
        if not item.name:
            found.append(("error", f"item with id {item.id} has no name"))
        elif item.name in names:
            found.append(("error", f"name '{item.name}' has ids {names[item.name]} and {item.id}"))
        ids.setdefault(item.id, item.name)
        names.setdefault(item.name, item.id)
    top = num_classes(label_map)
    unused = top - len(ids)
    if unused > 0 and not any(severity == "error" for severity, _ in found):
        found.append(("warning", f"ids are not 1..{len(ids)}: {unused} of 1..{top} unused; the "
                                 f"model still predicts {top} classes"))
    return found
