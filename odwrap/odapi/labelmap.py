"""Read, write and validate OD API label maps (label_map.pbtxt), with their classes' keypoints
(StringIntLabelMapItem.keypoints: `id` is the keypoint's place in every record, `label` its
name): convert --keypoints and generate number them with add_keypoints, one rule for both."""

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


def add_keypoints(label_map, keypoints: dict) -> dict[str, tuple[int, ...]]:
    """Give each item of LABEL_MAP that KEYPOINTS ({class: [names]}) names its keypoints, ids
    numbered on from 0 in the order of the items' ids and then of the names; {class: its
    ids}. Items that already list keypoints are left as they are."""
    ids, taken = {}, num_keypoints(label_map)
    for item in sorted(label_map.item, key=lambda item: item.id):
        names = keypoints.get(item.name)
        if not names or item.keypoints:
            continue
        ids[item.name] = tuple(range(taken, taken + len(names)))
        for index, label in zip(ids[item.name], names):
            item.keypoints.add(id=index, label=label)
        taken += len(names)
    return ids


def keypoints_of(label_map) -> dict[str, dict[str, int]]:
    """{class: {keypoint label: id}} of the items that list keypoints."""
    return {item.name: {point.label: point.id for point in item.keypoints}
            for item in label_map.item if item.keypoints}


def num_keypoints(label_map) -> int:
    """How many keypoints every object of a record carries: the highest keypoint id + 1."""
    return max((point.id + 1 for item in label_map.item for point in item.keypoints),
               default=0)


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
    found += _keypoint_problems(label_map)
    top = num_classes(label_map)
    unused = top - len(ids)
    if unused > 0 and not any(severity == "error" for severity, _ in found):
        found.append(("warning", f"ids are not 1..{len(ids)}: {unused} of 1..{top} unused; the "
                                 f"model still predicts {top} classes"))
    return found


def _keypoint_problems(label_map) -> list[tuple[str, str]]:
    """Keypoint ids below 0 or given twice (CenterNet refuses 'Some keypoint indices are used
    more than once'), a label twice in one class."""
    found, owners = [], {}
    for item in label_map.item:
        labels = set()
        for point in item.keypoints:
            if point.id < 0:
                found.append(("error", f"item '{item.name}' has keypoint '{point.label}' at id "
                                       f"{point.id}; keypoint ids start at 0"))
            elif point.id in owners:
                found.append(("error", f"keypoint id {point.id} is used by '{owners[point.id]}' "
                                       f"and '{item.name}'"))
            if point.label in labels or not point.label:
                found.append(("error", f"item '{item.name}' has keypoint label "
                                       f"'{point.label}' twice or empty"))
            owners.setdefault(point.id, item.name)
            labels.add(point.label)
    return found
