"""Keypoints (convert --keypoints): each class's point names and skeleton, each object's points
checked, and the features the OD API's TfExampleDecoder reads.

The decoder reshapes image/object/keypoint/{x,y,visibility} of a record to [objects,
num_keypoints], so every object of every record carries the same num_keypoints points: all the
keypoints of the label map, each class's at its own ids (`KeypointMapItem.id`, as CenterNet's
model_builder reads them), the points of other classes unlabeled (visibility 0, at 0, 0). Points
follow COCO's visibility: 0 unlabeled, 1 labeled but hidden, 2 visible; the decoder keeps 1 and
2 and turns 0 into NaN. A point that is malformed or outside the image is left unlabeled and
counted, never guessed; the object's box is kept either way.
"""

import math
from dataclasses import dataclass

from odwrap.data.dataset import CLIP_SLACK, BadValue, coordinate, shown, text
from odwrap.errors import InputError
from odwrap.odapi import labelmap

MAX_PER_CLASS = 1000  # keypoints of one class (COCO-WholeBody has 133)
MAX_TOTAL = 4096  # keypoints of the label map: every object of every record carries them all
VISIBILITIES = (0, 1, 2)  # COCO: unlabeled, labeled but not visible, visible
UNLABELED = (0.0, 0.0, 0)


@dataclass(frozen=True)
class ClassKeypoints:
    """One class's keypoint names, in order, and its skeleton: pairs of 0-based indices."""

    names: tuple
    skeleton: tuple = ()


@dataclass(frozen=True)
class Layout:
    """Where each class's keypoints go in a record: {class: their ids, in the class's order},
    the name of every id 0..size-1 ('' for an id no class uses), and each class's skeleton as
    pairs of ids."""

    ids: dict
    names: tuple
    skeletons: dict

    @property
    def size(self) -> int:
        return len(self.names)

    def as_json(self) -> dict:
        return {"ids": {name: list(ids) for name, ids in self.ids.items()},
                "names": list(self.names),
                "skeletons": {name: [list(edge) for edge in edges]
                              for name, edges in self.skeletons.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "Layout":
        return cls({name: tuple(ids) for name, ids in data["ids"].items()},
                   tuple(data["names"]),
                   {name: tuple(tuple(edge) for edge in edges)
                    for name, edges in data["skeletons"].items()})


def _whole(value) -> int | None:
    """A whole number from JSON (3 or 3.0, not true), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def category_keypoints(category: dict, where: str) -> ClassKeypoints | None:
    """A COCO category's `keypoints` and `skeleton` (1-based pairs), checked; None when it has
    no keypoints. InputError naming WHERE when they are malformed (categories must be sound)."""
    names = category.get("keypoints")
    if names is None or names == []:
        if category.get("skeleton"):
            raise InputError(f"{where}: has a skeleton but no keypoints")
        return None
    if not isinstance(names, list) or len(names) > MAX_PER_CLASS:
        raise InputError(f"{where}: keypoints must be a list of at most {MAX_PER_CLASS} names")
    checked = []
    for index, name in enumerate(names):
        try:
            checked.append(text(name, f"keypoints[{index}]"))
        except BadValue as exc:
            raise InputError(f"{where}: {exc}") from None
        if name in checked[:-1]:
            raise InputError(f"{where}: keypoint {shown(name)} is named twice")
    skeleton = category.get("skeleton") or []
    if not isinstance(skeleton, list) or len(skeleton) > len(names) ** 2:
        raise InputError(f"{where}: skeleton must be a list of [a, b] keypoint numbers")
    edges = []
    for index, edge in enumerate(skeleton):
        ends = [_whole(end) for end in edge] if isinstance(edge, list) and len(edge) == 2 else []
        if len(ends) != 2 or not all(end is not None and 1 <= end <= len(names) for end in ends) \
                or ends[0] == ends[1]:
            raise InputError(f"{where}: skeleton[{index}] {shown(edge)} is not a pair of two "
                             f"different keypoint numbers in 1..{len(names)}")
        edges.append((ends[0] - 1, ends[1] - 1))
    return ClassKeypoints(tuple(checked), tuple(edges))


def read_points(value, count: int, where: str, problems) -> list[float]:
    """An annotation's `keypoints` [x1, y1, v1, ...] for a class of COUNT keypoints, as a flat
    list in pixels; a point that is not a finite number or whose visibility is not 0, 1 or 2
    is unlabeled (counted: bad_keypoint); a list of the wrong length leaves them all unlabeled
    (counted: bad_keypoints). None or [] (no keypoints given) is all unlabeled, as COCO's
    zeros are."""
    unlabeled = list(UNLABELED) * count
    if value is None or value == []:
        return unlabeled
    if not isinstance(value, list) or len(value) != 3 * count:
        size = f"{len(value)} numbers" if isinstance(value, list) else shown(value)
        problems.add("bad_keypoints", f"{where}: keypoints has {size}, the category's "
                                      f"{count} keypoints need {3 * count}")
        return unlabeled
    points = []
    for index in range(count):
        x, y, v = value[3 * index:3 * index + 3]
        visibility = _whole(v)
        if visibility not in VISIBILITIES:
            problems.add("bad_keypoint", f"{where}: keypoint {index + 1} visibility {shown(v)} "
                                         "is not 0, 1 or 2")
            points += UNLABELED
            continue
        if visibility == 0:  # COCO writes 0, 0; whatever else is written is not a point
            points += UNLABELED
            continue
        try:
            points += [coordinate(x, f"keypoint {index + 1} x"),
                       coordinate(y, f"keypoint {index + 1} y"), visibility]
        except BadValue as exc:
            problems.add("bad_keypoint", f"{where}: {exc}")
            points += UNLABELED
    return points


def fit(points: list[float], width: int, height: int, where: str, problems) -> list[float]:
    """POINTS on the WIDTHxHEIGHT image: a labeled point past an edge by at most CLIP_SLACK
    pixels is clamped, one further out is unlabeled (counted: keypoint_outside)."""
    out = list(points)
    for index in range(0, len(out), 3):
        x, y, visibility = out[index:index + 3]
        if not visibility:
            continue
        if -CLIP_SLACK <= x <= width + CLIP_SLACK and -CLIP_SLACK <= y <= height + CLIP_SLACK:
            out[index:index + 2] = min(max(x, 0.0), width), min(max(y, 0.0), height)
        else:
            problems.add("keypoint_outside", f"{where}: keypoint {index // 3 + 1} at "
                                             f"({x:g}, {y:g}) in a {width}x{height} image")
            out[index:index + 3] = UNLABELED
    return out


def scaled(points, scale_x: float, scale_y: float):
    """POINTS (None, or a flat [x, y, v, ...]) with x and y scaled."""
    if points is None:
        return None
    out = list(points)
    for index in range(0, len(out), 3):
        out[index] *= scale_x
        out[index + 1] *= scale_y
    return out


def dataset_layout(schema: dict | None, label_map, rename=(), given: bool = False):
    """The Layout of a dataset's records (None without keypoints): SCHEMA under convert's
    RENAME items ('OLD=NEW'), its keypoints written into LABEL_MAP unless a GIVEN map
    (--label-map) carries keypoints, whose ids are then followed."""
    if schema is None:
        return None
    from odwrap.data.classes import parse_rename

    return layout_label_map(label_map, renamed(schema, parse_rename(rename)), given)


def renamed(schema: dict, rename: dict) -> dict:
    """SCHEMA ({class: ClassKeypoints}) under convert's --rename; two classes renamed into one
    must name the same keypoints."""
    out: dict = {}
    for name, keypoints in schema.items():
        new = rename.get(name, name)
        if new in out and out[new] != keypoints:
            raise InputError(f"--rename: '{name}' becomes '{new}', whose keypoints differ "
                             f"({', '.join(out[new].names)} vs {', '.join(keypoints.names)})")
        out[new] = keypoints
    return out


def layout_label_map(label_map, schema: dict, given: bool) -> Layout:
    """The Layout of the records, written into LABEL_MAP (its items' `keypoints`, numbered by
    labelmap.add_keypoints) unless a GIVEN map (--label-map) already carries keypoints: then
    its ids are followed, and each class of SCHEMA that it has must list the same names."""
    own = labelmap.keypoints_of(label_map)
    if given and own:
        for item in label_map.item:
            wanted = schema.get(item.name)
            if wanted is not None and set(own.get(item.name, ())) != set(wanted.names):
                listed = ", ".join(own.get(item.name, ())) or "no keypoints"
                raise InputError(f"--label-map: class '{item.name}' lists {listed}; the "
                                 f"dataset's category names {', '.join(wanted.names)}")
        ids = {name: tuple(points[label] for label in (schema[name].names if name in schema
                                                       else points))
               for name, points in own.items()}
    else:
        ids = labelmap.add_keypoints(label_map, {name: keypoints.names
                                                 for name, keypoints in schema.items()})
    size = labelmap.num_keypoints(label_map)
    if size > MAX_TOTAL:
        raise InputError(f"the label map's classes have {size} keypoints in all, over odwrap's "
                         f"limit of {MAX_TOTAL} (every object of every record carries them all)")
    if not size:
        items = [item.name for item in sorted(label_map.item, key=lambda item: item.id)]
        classes = ", ".join(items[:5]) + (", ..." if len(items) > 5 else "")
        raise InputError(f"--keypoints: no class of the label map ({classes}) has keypoints: "
                         "no box of a category that names keypoints is left")
    names = [""] * size
    for points in labelmap.keypoints_of(label_map).values():
        for label, index in points.items():
            names[index] = label
    skeletons = {name: tuple((ids[name][a], ids[name][b]) for a, b in schema[name].skeleton)
                 for name in ids if name in schema}
    return Layout(ids, tuple(names), skeletons)


def features(objects, width: int, height: int, layout: Layout) -> dict:
    """The image/object/keypoint/* features of OBJECTS (already fitted to the image)."""
    xs, ys, visibilities, counts = [], [], [], []
    for obj in objects:
        row = [UNLABELED] * layout.size
        for index, point in zip(layout.ids.get(obj.name, ()), _triples(obj.keypoints)):
            row[index] = point
        xs += [x / width for x, _, _ in row]
        ys += [y / height for _, y, _ in row]
        visibilities += [v for _, _, v in row]
        counts.append(sum(1 for _, _, v in row if v))
    return {
        "image/object/keypoint/x": ("float", xs),
        "image/object/keypoint/y": ("float", ys),
        "image/object/keypoint/visibility": ("int", visibilities),
        "image/object/keypoint/num": ("int", counts),
        "image/object/keypoint/text": ("bytes", [name.encode("utf-8")
                                                 for _ in objects for name in layout.names]),
    }


def _triples(points):
    points = points or []
    return [tuple(points[index:index + 3]) for index in range(0, len(points), 3)]


def report(layout: Layout | None) -> dict:
    """report.json's `keypoints` ({} without): each class's keypoint names in its order, their
    ids, and its skeleton as pairs of names."""
    if layout is None:
        return {}
    return {"keypoints": {name: {
        "names": [layout.names[index] for index in ids], "ids": list(ids),
        "skeleton": [[layout.names[a], layout.names[b]] for a, b in layout.skeletons.get(name, ())]}
        for name, ids in layout.ids.items()}}
