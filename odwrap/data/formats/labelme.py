"""LabelMe: a folder, searched recursively, of JSON files, one per image.

Shapes: `rectangle` (2 corners in any order), `polygon` (3 points or more: its box is the box
around it), `circle` (the centre and a point on the circle: the box around the circle) and
`mask` (its 2 corners). With --masks each object's mask is its polygon, stored as a COCO
polygon: a rectangle's is itself, a circle's a polygon of 64 corners on it; a `mask` shape's
pixels are not read, so with --masks it is left out (counted). `point`, `line` and `linestrip`
have no area: counted (unsupported_shape) and left out, but with --keypoints a `point` is a
keypoint of the box shape that shares its `group_id` (labelme_points). `label` is the class;
`flags` and `description` are not read.

The image is `imagePath`, relative to the JSON file's folder (`\\` read as `/`), and must stay
inside the dataset folder. When that file is missing, or imagePath is empty, the image that
the JSON embeds (`imageData`, base64) is used: it is decoded when the shard is written, not
kept in memory. `imageWidth` and `imageHeight` are the annotated size.
"""

import math
import posixpath
from pathlib import Path

from odwrap.data import dataset, segmentations
from odwrap.data.dataset import BadValue, Obj, Sample
from odwrap.data.formats import jsonfile, labelme_points, shapes
from odwrap.errors import InputError

MAX_JSON_BYTES = dataset.MAX_EMBEDDED_BYTES  # one file, its embedded image included
NO_AREA = ("point", "points", "line", "linestrip")


def _points(shape: dict, what: str, count: int | None = None) -> list:
    points = shape.get("points")
    if not isinstance(points, list) or not all(
            isinstance(pair, list) and len(pair) == 2 for pair in points):
        raise BadValue("bad_annotation", f"{what}: points {dataset.shown(points)} is not a "
                                          "list of [x, y]")
    if count is not None and len(points) != count:
        raise BadValue("bad_annotation", f"{what}: {len(points)} point(s), not {count}")
    return [shapes.point(x, y, f"{what} points[{index}]")
            for index, (x, y) in enumerate(points)]


def _object(shape, where: str, masks: bool, width, height) -> Obj:
    """One shape as an Obj; BadValue for a shape left out (its reason says why)."""
    if not isinstance(shape, dict):
        raise BadValue("bad_annotation", f"{where}: {dataset.shown(shape)} is not a shape")
    label = dataset.text(shape.get("label"), f"{where}: label")
    kind = shape.get("shape_type") or "polygon"  # old LabelMe files: polygons, untyped
    what = f"{where} {label}"
    if kind in NO_AREA:
        raise BadValue("unsupported_shape", f"{what}: a {kind} has no box")
    if kind == "polygon":
        corners = shapes.polygon(_points(shape, what), what)
        box = shapes.bounds(corners)
    elif kind in ("rectangle", "mask"):
        if kind == "mask" and masks:
            raise BadValue("unsupported_shape", f"{what}: the pixels of a mask shape are not "
                                                "read (left out with --masks)")
        box = shapes.bounds(_points(shape, what, 2))
        corners = shapes.rectangle(*box)
    elif kind == "circle":
        (cx, cy), (x, y) = _points(shape, what, 2)
        radius = math.hypot(x - cx, y - cy)
        box, corners = shapes.ellipse(cx, cy, radius, radius)
    else:
        raise BadValue("unsupported_shape", f"{where}: shape_type {dataset.shown(kind)} is "
                                            "not one odwrap reads")
    mask = shapes.coco(corners) if masks else None
    found = segmentations.problem(mask, width, height) if mask and width else None
    if found:
        raise BadValue("bad_mask", f"{what}: {found}")
    return Obj(label, *box, mask=mask)


def _image(data: dict, where: str, root: Path) -> tuple[str, str | None]:
    """(The image, relative to ROOT; the JSON file, relative to ROOT, when the image is the
    one it embeds)."""
    path, embedded = data.get("imagePath"), data.get("imageData")
    has_data = isinstance(embedded, str) and embedded != ""
    if path is None or path == "":
        if not has_data:
            raise BadValue("bad_annotation", f"{where}: neither imagePath nor imageData")
        return where, where
    name = dataset.text(path, f"{where}: imagePath").replace("\\", "/")
    image = posixpath.normpath(posixpath.join(posixpath.dirname(where), name))
    on_disk = dataset.inside_root(root, image)  # None: convert counts the escape, reads nothing
    if has_data and on_disk is not None and not on_disk.is_file():
        return image, where
    return image, None


def _sample(path: Path, where: str, root: Path, masks: bool,
            points=None) -> tuple[Sample, list]:
    """The Sample of one JSON file and the BadValues of the shapes left out; ValueError (a
    BadValue too) when the file is. POINTS (a labelme_points.Points, --keypoints) takes the
    point shapes."""
    data = jsonfile.load(path, MAX_JSON_BYTES, "a LabelMe file", where)
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise ValueError(f"{where}: not a LabelMe file (no 'shapes' list)")
    width = height = None
    if data.get("imageWidth") is not None or data.get("imageHeight") is not None:
        width = dataset.side(data.get("imageWidth"), f"{where}: imageWidth")
        height = dataset.side(data.get("imageHeight"), f"{where}: imageHeight")
    image, embedded = _image(data, where, root)
    objects, dropped, grouped, marks = [], [], [], []
    for index, shape in enumerate(data["shapes"]):
        if points is not None and labelme_points.is_point(shape):
            marks.append((shape, f"{where}: shapes[{index}]"))
            continue
        try:
            objects.append(_object(shape, f"{where}: shapes[{index}]", masks, width, height))
        except BadValue as exc:  # counted once the file as a whole is known to be readable
            dropped.append(exc)
            continue
        grouped.append((objects[-1], labelme_points.group(shape)))
    if points is not None:
        dropped += points.add_file(where, grouped, marks)
    return Sample(image=image, width=width, height=height, objects=objects, source=where,
                  embedded=embedded), dropped


def read(source, options, problems):
    root = Path(source)
    if options.images:
        raise InputError(f"--images {options.images}: a LabelMe imagePath is relative to its "
                         "JSON file; convert the folder that holds the JSON files and images")
    if not root.is_dir():
        raise InputError(f"{root}: a LabelMe dataset is a folder of JSON files")
    files = sorted(root.rglob("*.json"))
    if not files:
        raise InputError(f"{root}: no .json annotation found")
    samples, points = [], labelme_points.Points() if options.keypoints else None
    for path in files:
        where = path.relative_to(root).as_posix()
        if dataset.inside_root(root, where) is None:  # a link to a file outside: not read
            problems.add("path_escape", f"{where}: a link out of the dataset folder")
            continue
        try:
            sample, dropped = _sample(path, where, root, options.masks, points)
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
            continue
        except ValueError as exc:
            problems.add("bad_annotation", str(exc))
            continue
        for exc in dropped:
            problems.add(exc.reason, str(exc))
        samples.append(sample)
    return (samples, root) if points is None else (samples, root, points.finish())
