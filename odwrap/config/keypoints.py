"""`model.keypoints`: a spec's keypoints, named once per class, checked field by field (one
line naming the field), and CenterNet's keypoint task rendered from them.

    model:
      keypoints:
        square:                              # a class of the label map
          points: [top_left, top_right, bottom_right, bottom_left]
          skeleton: [[top_left, top_right], [top_right, bottom_right]]   # optional
          flip: [[top_left, top_right], [bottom_left, bottom_right]]     # optional
          sigmas: [0.05, 0.05, 0.05, 0.05]                               # optional
        person: coco                         # COCO's 17 person keypoints, as the samples

`flip` pairs the points that trade places when random_horizontal_flip mirrors the image;
null: each name with `left` in it and its twin with `right` (top_left and top_right). `sigmas`
are COCO's OKS sigmas (coco_keypoint_metrics' keypoint_label_to_sigmas); the heatmap stds
(keypoint_label_to_std) are then 10 x sigma, as the samples' are within 3%; null: the OD API's
defaults (sigma 0.05, std 1.0). The keypoints' ids are the label map's (odapi.labelmap.
add_keypoints numbers them when it has none, as convert --keypoints does).
"""

import difflib
import re
from dataclasses import dataclass, replace

from odwrap.config.architectures.center_net import (COCO_PERSON, COCO_PERSON_EDGES,
                                                    COCO_PERSON_TASK)
from odwrap.errors import InputError, shown

COCO = "coco"
FIELDS = ("points", "skeleton", "flip", "sigmas")
MAX_POINTS = 1000  # of one class, as convert --keypoints takes
MAX_TOTAL = 4096  # of the label map: every object of every record carries them all
STD_PER_SIGMA = 10.0


@dataclass(frozen=True)
class KeypointClass:
    """One class's keypoints: names, skeleton and flip pairs as index pairs, OKS sigmas and
    heatmap stds (None: the OD API's defaults), its task's name."""

    points: tuple
    skeleton: tuple = ()
    flip: tuple = ()
    sigmas: tuple | None = None
    stds: tuple | None = None
    task_name: str = ""


def _coco() -> KeypointClass:
    names = tuple(name for name, _, _ in COCO_PERSON)
    return KeypointClass(names, COCO_PERSON_EDGES, _flip_by_name(names),
                         tuple(sigma for _, sigma, _ in COCO_PERSON),
                         tuple(std for _, _, std in COCO_PERSON), COCO_PERSON_TASK)


def _twin(name: str) -> str:
    """NAME with left and right swapped where they stand as words (top_left: top_right)."""
    swap = {"left": "right", "right": "left", "Left": "Right", "Right": "Left",
            "LEFT": "RIGHT", "RIGHT": "LEFT"}
    return re.sub(r"(?<![a-z])(left|right|Left|Right|LEFT|RIGHT)(?![a-z])",
                  lambda match: swap[match.group(1)], name)


def _flip_by_name(names) -> tuple:
    index = {name: position for position, name in enumerate(names)}
    return tuple((position, index[_twin(name)]) for position, name in enumerate(names)
                 if _twin(name) in index and position < index[_twin(name)])


def _pairs(value, names, loc, errors, distinct_points: bool) -> tuple:
    """Index pairs of VALUE, a list of [name, name]; errors at LOC. DISTINCT_POINTS: each
    point in one pair at most (flip)."""
    if not isinstance(value, list):
        errors.append((loc, f"expected a list of [point, point] pairs, got {shown(value)}"))
        return ()
    out, used = [], set()
    for index, pair in enumerate(value):
        where = loc + (index,)
        if not (isinstance(pair, list) and len(pair) == 2):
            errors.append((where, f"expected a pair [point, point], got {shown(pair)}"))
            continue
        unknown = [end for end in pair if end not in names]
        if unknown:
            errors.append((where, f"'{shown(unknown[0])}' is not one of points "
                                  f"({', '.join(names)}){_suggest(unknown[0], names)}"))
            continue
        if pair[0] == pair[1]:
            errors.append((where, f"pairs '{shown(pair[0])}' with itself"))
            continue
        if distinct_points and used & set(pair):
            errors.append((where, f"'{shown(sorted(used & set(pair))[0])}' is in another pair "
                                  "already (each point trades places with one other)"))
            continue
        used |= set(pair)
        out.append((names.index(pair[0]), names.index(pair[1])))
    return tuple(out)


def _suggest(word, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f", did you mean '{close[0]}'?" if close else ""


def _one_class(value, loc, errors) -> KeypointClass | None:
    """A class's entry: `coco`, or a mapping of FIELDS."""
    if value == COCO:
        return _coco()
    if not isinstance(value, dict):
        errors.append((loc, f"expected {COCO} or a mapping with points (and skeleton, flip, "
                            f"sigmas), got {shown(value)}"))
        return None
    for key in value:
        if key not in FIELDS:
            errors.append((loc + (key,), f"unknown key{_suggest(key, FIELDS)}; one of "
                                         f"{', '.join(FIELDS)}"))
            return None
    names = value.get("points")
    if not isinstance(names, list) or not 1 <= len(names) <= MAX_POINTS:
        errors.append((loc + ("points",), f"expected a list of 1 to {MAX_POINTS} point names, "
                                          f"got {shown(names)}"))
        return None
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "\0\n\r"):
            errors.append((loc + ("points", index), f"expected a point name, got {shown(name)}"))
            return None
        if name in names[:index]:
            errors.append((loc + ("points", index), f"names point '{shown(name)}' twice"))
            return None
    skeleton = _pairs(value.get("skeleton") or [], names, loc + ("skeleton",), errors, False)
    flip = value.get("flip")
    flip = _flip_by_name(names) if flip is None else \
        _pairs(flip, names, loc + ("flip",), errors, True)
    sigmas = value.get("sigmas")
    if sigmas is not None:
        good = isinstance(sigmas, list) and len(sigmas) == len(names) and all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and 0 < s <= 1
            for s in sigmas)
        if not good:
            errors.append((loc + ("sigmas",), f"expected {len(names)} numbers in (0, 1], one "
                                              f"per point, got {shown(sigmas)}"))
            return None
        sigmas = tuple(float(s) for s in sigmas)
    return KeypointClass(tuple(names), skeleton, flip, sigmas,
                         None if sigmas is None else tuple(STD_PER_SIGMA * s for s in sigmas))


def parse(raw, classes=None) -> tuple[dict, list]:
    """({class: KeypointClass}, [(field path, message)]) of a spec's model.keypoints RAW;
    CLASSES: data.classes, when the spec lists them."""
    loc = ("model", "keypoints")
    if raw is None:
        return {}, []
    if not isinstance(raw, dict) or not raw:
        return {}, [(loc, f"expected a mapping of class: keypoints, got {shown(raw)}")]
    found, errors, tasks = {}, [], {}
    for name, value in raw.items():
        where = loc + (name,)
        if not isinstance(name, str) or not name.strip():
            errors.append((loc, f"class '{shown(name)}' is not a class name"))
            continue
        if classes is not None and name not in classes:
            errors.append((where, f"'{shown(name)}' is not one of data.classes"
                                  f"{_suggest(name, classes)}"))
            continue
        keypoints = _one_class(value, where, errors)
        if keypoints is None:
            continue
        task = keypoints.task_name or name
        if task in tasks:
            errors.append((where, f"its keypoint task would be named '{task}' as {tasks[task]}'s "
                                  f"(one class may take {COCO})"))
            continue
        tasks[task] = name
        found[name] = keypoints if keypoints.task_name else replace(keypoints, task_name=name)
    total = sum(len(keypoints.points) for keypoints in found.values())
    if total > MAX_TOTAL:
        errors.append((loc, f"{total} keypoints in all, over odwrap's limit of {MAX_TOTAL}"))
    return found, errors


@dataclass(frozen=True)
class Placed:
    """The keypoints of a spec placed in the label map: each class's ids in its points' order,
    and how many keypoints every object of a record carries."""

    ids: dict
    num_keypoints: int


def place(classes: dict, label_map, source: str, notes: list) -> Placed:
    """Each class's ids: the label map's own where it lists the class's keypoints (the same
    names, or an InputError), else numbered into LABEL_MAP (odapi.labelmap.add_keypoints;
    a copy when the map is read from a file, whose check ODW030 then says it lacks them).
    LABEL_MAP None (not readable here): in the order of model.keypoints."""
    from odwrap.odapi import labelmap

    if label_map is None:
        ids, taken = {}, 0
        for name, keypoints in classes.items():
            ids[name] = tuple(range(taken, taken + len(keypoints.points)))
            taken += len(keypoints.points)
        notes.append("keypoint ids in the order of model.keypoints: the label map cannot be "
                     "read here (convert --keypoints numbers them by class id)")
        return Placed(ids, taken)
    names = {item.name for item in label_map.item}
    missing = [name for name in classes if name not in names]
    if missing:
        raise InputError(f"{source}: model.keypoints.{missing[0]}: the label map has no class "
                         f"'{missing[0]}'")
    own = labelmap.keypoints_of(label_map)
    ids = {}
    for name, keypoints in classes.items():
        if name in own:
            if set(own[name]) != set(keypoints.points):
                raise InputError(f"{source}: model.keypoints.{name}.points: the label map lists "
                                 f"{', '.join(own[name])} for '{name}'")
            ids[name] = tuple(own[name][point] for point in keypoints.points)
    ids.update(labelmap.add_keypoints(label_map, {name: keypoints.points
                                                  for name, keypoints in classes.items()
                                                  if name not in ids}))
    return Placed(ids, labelmap.num_keypoints(label_map))


def template_values(classes: dict, placed: Placed, label_map, label_map_path) -> dict:
    """What center_net.j2 and pipeline.config.j2 print of the keypoints: the tasks, the
    flip permutation, the evaluation's metrics and edges, num_keypoints."""
    from odwrap.config.architectures.center_net import KEYPOINT_EVAL, KEYPOINT_TASK
    from odwrap.config.proto_text import proto_value

    display = {item.name: item.display_name or item.name
               for item in (label_map.item if label_map is not None else ())}
    permutation = list(range(placed.num_keypoints))
    tasks, metrics, edges = [], [], []
    for name, keypoints in classes.items():
        ids = placed.ids[name]
        for first, second in keypoints.flip:
            permutation[ids[first]], permutation[ids[second]] = ids[second], ids[first]
        tasks.append({"task_name": proto_value(keypoints.task_name),
                      "class_name": proto_value(name),
                      "stds": [(proto_value(point), proto_value(float(f"{std:.6g}")))
                               for point, std in zip(keypoints.points, keypoints.stds or ())],
                      **{key: proto_value(value) for key, value in KEYPOINT_TASK.items()}})
        metrics.append({"class_label": proto_value(display.get(name, name)),
                        "sigmas": [(proto_value(point), proto_value(sigma))
                                   for point, sigma in zip(keypoints.points,
                                                           keypoints.sigmas or ())]})
        edges += [(ids[first], ids[second]) for first, second in keypoints.skeleton]
    return {"label_map_path": label_map_path, "tasks": tasks, "num_keypoints":
            placed.num_keypoints, "flip_permutation": permutation, "metrics": metrics,
            "edges": edges, **KEYPOINT_EVAL}
