"""LabelMe `point` shapes as keypoints (convert labelme --keypoints).

LabelMe ties the shapes of one object by `group_id`: in one file, the box shape (rectangle,
polygon, circle, mask) with group_id G and the point shapes with group_id G are one object, and
a point's `label` is the point's name. Each class's points are the names seen with it, in the
order first seen (the files sorted by path, the shapes in file order); an object has its own at
their places, the others unlabeled. LabelMe has no visibility: a point drawn is visible (2).
LabelMe has no skeleton either: the records' classes have none.

Counted and left out, naming the file: a point without a group_id, or whose group has no box
shape or more than one (loose_keypoint); a malformed point shape (bad_keypoint); a name a second
time in one object (duplicate_keypoint: that name unlabeled in the object, never guessed).
"""

import math

from odwrap.data import keypoints
from odwrap.data.dataset import BadValue, shown, text
from odwrap.data.formats import shapes
from odwrap.errors import InputError

POINT = "point"


def group(shape: dict) -> int | None:
    """A shape's group_id: a whole number (LabelMe writes one, or null), else None."""
    value = shape.get("group_id")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


class Points:
    """The point shapes of every file, grouped with their objects file by file, then each
    object's keypoints written in its class's order (finish)."""

    def __init__(self):
        self.names: dict = {}  # class: [point names, in the order first seen]
        self.pending: list = []  # (obj, {name: (x, y)})

    def add_file(self, where: str, boxes: list, points: list) -> list:
        """BOXES [(Obj, group)] and POINTS [(shape, its place in messages)] of one file
        (WHERE): each point joined to its group's box; the BadValues of the points left out."""
        dropped, by_group = [], {}
        for obj, number in boxes:
            if number is not None:
                by_group.setdefault(number, []).append(obj)
        found = {}  # id(obj): {name: (x, y)}
        twice = {}  # id(obj): {names given twice}
        for shape, at in points:
            try:
                name, x, y = _point(shape, at)
            except BadValue as exc:
                dropped.append(exc)
                continue
            number = group(shape)
            owners = by_group.get(number, []) if number is not None else []
            if len(owners) != 1:
                why = ("has no group_id" if number is None else
                       f"group {number} has {len(owners) or 'no'} box shapes")
                dropped.append(BadValue("loose_keypoint", f"{at} '{name}': {why}"))
                continue
            obj = owners[0]
            own = found.setdefault(id(obj), {})
            if name in own:
                twice.setdefault(id(obj), set()).add(name)
                dropped.append(BadValue("duplicate_keypoint", f"{at} '{name}': named twice in "
                                                              f"the object of group {number}"))
                continue
            own[name] = (x, y)
            seen = self.names.setdefault(obj.name, [])
            if name not in seen:
                if len(seen) >= keypoints.MAX_PER_CLASS:
                    raise InputError(f"{where}: class '{obj.name}' has over "
                                     f"{keypoints.MAX_PER_CLASS} point names")
                seen.append(name)
        for obj, _ in boxes:
            own = found.get(id(obj), {})
            for name in twice.get(id(obj), ()):
                del own[name]
            self.pending.append((obj, own))
        return dropped

    def finish(self) -> dict:
        """{class: ClassKeypoints} of the classes that have points; every object of such a
        class given its keypoints [x, y, v, ...] in pixels, in the class's order."""
        schema = {name: keypoints.ClassKeypoints(tuple(names))
                  for name, names in self.names.items()}
        for obj, own in self.pending:
            if obj.name in schema:
                obj.keypoints = [value for name in schema[obj.name].names for value in
                                 ((*own[name], 2) if name in own else keypoints.UNLABELED)]
        self.pending = []
        return schema


def _point(shape: dict, at: str) -> tuple[str, float, float]:
    """(name, x, y) of a point shape; a BadValue (bad_keypoint) when it is malformed."""
    try:
        name = text(shape.get("label"), "label").strip()
        pairs = shape.get("points")
        if not (isinstance(pairs, list) and len(pairs) == 1 and isinstance(pairs[0], list)
                and len(pairs[0]) == 2):
            raise BadValue("bad_keypoint", f"points {shown(pairs)} is not one [x, y]")
        x, y = shapes.point(*pairs[0], "point")
    except BadValue as exc:
        raise BadValue("bad_keypoint", f"{at}: {exc}") from None
    return name, x, y


def is_point(shape) -> bool:
    return isinstance(shape, dict) and shape.get("shape_type") == POINT

