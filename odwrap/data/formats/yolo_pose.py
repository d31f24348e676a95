"""YOLO pose (Ultralytics): data.yaml's `kpt_shape: [K, D]` makes every label line a box and K
points, `class cx cy w h` then `x y` (D 2) or `x y v` (D 3) for each point, as fractions of
the image. The YOLO reader (formats/yolo.py) asks Pose for the box's five fields of a line;
with --keypoints the points become the object's keypoints (odwrap.data.keypoints checks them).

Point names: data.yaml's `kpt_names` ({class id: [names]}, as Ultralytics' coco8-pose.yaml
writes it, or a list of lists by class id), else kp0, kp1, ... (a point's place on the line,
as flip_idx counts). Visibility: D 3's v (0 unlabeled, 1 hidden, 2 visible); with D 2 a point
at 0 0 is unlabeled (Ultralytics writes unlabeled points so), any other visible. Ultralytics
has no skeleton field (flip_idx pairs mirrored points): the records' classes have none.
"""

from dataclasses import dataclass, field

from odwrap.data import keypoints
from odwrap.data.dataset import BadValue, shown, text
from odwrap.errors import InputError

DEFAULT_NAME = "kp{}"  # a point's name where kpt_names gives none: its place on the line, 0..


@dataclass
class Pose:
    """A pose dataset's points: COUNT a line, DIMS numbers each (2 or 3), NAMES {class id:
    names} from kpt_names; KEEP (--keypoints) reads them into SCHEMA {class: ClassKeypoints}."""

    count: int
    dims: int
    names: dict
    origin: str
    keep: bool = False
    schema: dict = field(default_factory=dict)

    def split(self, fields: list[str], where: str) -> tuple[list[str], list[str] | None]:
        """(The box's five fields, the points' fields or None) of a label line; a line of
        another length is a BadValue (bad_annotation): no box is guessed from it."""
        wanted = 5 + self.count * self.dims
        if len(fields) == wanted:
            return fields[:5], fields[5:]
        if len(fields) == 5:
            return fields, None
        raise BadValue("bad_annotation", f"{where}: {len(fields)} fields; a pose line has "
                                         f"{wanted} (class cx cy w h and {self.count} points of "
                                         f"{self.dims} numbers, kpt_shape in {self.origin})")

    def points(self, fields: list[str] | None, class_id: int, name: str, where: str,
               problems) -> list[float] | None:
        """The keypoints [x, y, v, ...] (fractions) of a line of class NAME; None without
        --keypoints. A line with a box alone has them all unlabeled (counted: bad_keypoints)."""
        if not self.keep:
            return None
        names = self.names.get(class_id) or tuple(DEFAULT_NAME.format(index)
                                                  for index in range(self.count))
        known = self.schema.setdefault(name, keypoints.ClassKeypoints(names))
        if known.names != names:
            raise InputError(f"{self.origin}: class '{name}' has two ids whose kpt_names "
                             "differ")
        if fields is None:
            problems.add("bad_keypoints", f"{where}: a box without its {self.count} points")
            return list(keypoints.UNLABELED) * self.count
        values = []
        for index in range(self.count):
            x, y, *v = fields[index * self.dims:(index + 1) * self.dims]
            values += [x, y, _visibility(x, y, v[0] if v else None)]
        return keypoints.read_points(values, self.count, where, problems)


def _number(value: str):
    """VALUE as a float where it is one, else as it is (read_points counts it)."""
    try:
        return float(value)
    except ValueError:
        return value


def _visibility(x: str, y: str, v: str | None):
    if v is not None:
        return _number(v)
    return 0 if _number(x) == 0 and _number(y) == 0 else 2


def _shape(value, path) -> tuple[int, int]:
    good = isinstance(value, list) and len(value) == 2 and all(
        isinstance(n, int) and not isinstance(n, bool) for n in value)
    if not good or not 1 <= value[0] <= keypoints.MAX_PER_CLASS or value[1] not in (2, 3):
        raise InputError(f"{path}: kpt_shape {shown(value)} is not [K, D]: K points (1.."
                         f"{keypoints.MAX_PER_CLASS}) of D numbers each (2: x y, 3: x y v)")
    return value[0], value[1]


def _names(value, count: int, path) -> dict:
    """{class id: names} of kpt_names: a mapping of class id to a list of COUNT names, or a
    list of such lists by class id."""
    if value is None:
        return {}
    if isinstance(value, list):
        entries = list(enumerate(value))
    elif isinstance(value, dict):
        entries = list(value.items())
    else:
        raise InputError(f"{path}: kpt_names is neither a {{class id: [names]}} mapping nor a "
                         "list of lists")
    found = {}
    for key, names in entries:
        key = int(key) if isinstance(key, str) and key.strip().isdigit() else key
        if isinstance(key, bool) or not isinstance(key, int) or key < 0 or key in found:
            raise InputError(f"{path}: kpt_names key {shown(key)} is not a class id given once")
        where = f"{path}: kpt_names[{key}]"
        if not isinstance(names, list) or len(names) != count:
            raise InputError(f"{where} is not a list of {count} names (kpt_shape's K)")
        checked = []
        for index, name in enumerate(names):
            try:
                checked.append(text(str(name) if isinstance(name, (int, float)) and
                                    not isinstance(name, bool) else name, f"[{index}]").strip())
            except BadValue as exc:
                raise InputError(f"{where}{exc}") from None
            if checked[-1] in checked[:-1]:
                raise InputError(f"{where}: point {shown(checked[-1])} is named twice")
        found[key] = tuple(checked)
    return found


def pose(data: dict, path, keep: bool) -> Pose | None:
    """The Pose of a data.yaml (None without kpt_shape); KEEP: --keypoints. --keypoints
    without kpt_shape is one line."""
    if data.get("kpt_shape") is None:
        if keep:
            raise InputError(f"{path}: --keypoints reads a YOLO pose dataset, whose data.yaml "
                             "gives kpt_shape: [K, D]; this one has none")
        return None
    count, dims = _shape(data["kpt_shape"], path)
    return Pose(count, dims, _names(data.get("kpt_names"), count, path), path.name, keep)
