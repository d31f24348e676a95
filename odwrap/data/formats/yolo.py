"""YOLO (Ultralytics, Roboflow, Darknet): a label file per image, one object a line, either a
box `class cx cy w h` or a polygon `class x1 y1 x2 y2 ...`, as fractions of the image's size.

SOURCE is a data.yaml, or a folder: one with a data.yaml, an images/ + labels/ pair (images/
may hold split folders: images/train, images/val), or split folders that each hold images/ and
labels/ (Roboflow's train/, valid/, test/). An image's label file is found by Ultralytics' rule:
the last images/ folder of its path (below the dataset root) becomes labels/ and its extension
.txt; an image without one is a background image, kept without boxes. Classes are named by
data.yaml's `names` (a list or an {id: name} mapping), else by a classes.txt, else by their ids.
Boxes stay fractions (Sample.normalized) until convert knows the image's size; so do polygons,
which are the objects' masks with --masks. A bad line is counted with its file and line. A
data.yaml with `kpt_shape` makes every line a box and its points (yolo_pose; --keypoints).
"""

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from odwrap.data import dataset
from odwrap.data.dataset import BadValue, Obj, Sample, inside_root
from odwrap.data.formats import yolo_pose
from odwrap.data.splits import SOURCE_SPLITS, source_split
from odwrap.errors import InputError, shown

# Ultralytics' image formats; one that PIL cannot open is counted as corrupt, not skipped.
IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff",
                            ".webp", ".pfm", ".heic"})
SPLIT_KEYS = ("train", "val", "test")  # data.yaml's, in Ultralytics' order
YAML_NAMES = ("data.yaml", "data.yml")  # a dataset folder's data.yaml
NAMES_FILES = ("classes.txt", "labels/classes.txt")  # LabelImg writes it beside the labels
MAX_YAML_BYTES = 1024 ** 2  # a data.yaml or classes.txt: a few KB for a thousand classes
MAX_LIST_BYTES = 256 * 1024 ** 2  # an image list: COCO's train2017.txt is 5 MB
MAX_LABEL_BYTES = 10 * 1024 ** 2  # one label file; real ones are a few KB
CLASS_ID = re.compile(r"\d{1,6}(\.0*)?")  # 0..999999, as Ultralytics writes them (or 3.0)
BOX_KEYS = ("cx", "cy", "w", "h")


@dataclass(frozen=True)
class Classes:
    """What a class id is called: NAMES {id: name}, or with none its id as text, below COUNT
    when data.yaml gives `nc` alone. ORIGIN names the file they come from, for messages."""

    names: dict | None = None
    count: int | None = None
    origin: str = ""

    def name(self, class_id: int, where: str) -> str:
        if self.names is not None and class_id in self.names:
            return self.names[class_id]
        if self.names is None and (self.count is None or class_id < self.count):
            return str(class_id)
        known = len(self.names) if self.names is not None else self.count
        raise BadValue("unknown_class", f"{where}: class id {class_id} is not one of the "
                                        f"{known} classes of {self.origin}")


def _read_text(path: Path, limit: int, what: str) -> str:
    """A whole UTF-8 file the user must fix when it is wrong: InputError naming it."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{path}: {size} bytes, over the limit of {limit} bytes for {what}")
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: {what} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


def _load_yaml(path: Path) -> dict:
    """A data.yaml, by yaml.safe_load: an alias bomb shares its nodes, and the checks below
    stop at the first value that is not what it must be, so nothing walks one."""
    text = _read_text(path, MAX_YAML_BYTES, "a data.yaml")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: YAML syntax error: {problem}") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # int() of 5000 digits
        raise InputError(f"{path}: a YAML value cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a data.yaml is a mapping (path, train, val, test, names)")
    return data


def _kind(value) -> str:
    """A YAML value in a message: a scalar as it is, a list or mapping by its kind (aliases can
    make one too large to print)."""
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    return "null" if value is None else shown(value)


def _name(value, where: str) -> str:
    if isinstance(value, bool):  # YAML 1.1 reads yes/no/on/off as booleans
        raise InputError(f"{where}: {value} is not a class name (YAML reads yes, no, on and off "
                         "as true and false: quote the name)")
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        raise InputError(f"{where}: {_kind(value)} is not a class name")
    try:
        return dataset.text(value, "class name").strip()
    except BadValue as exc:
        raise InputError(f"{where}: {exc}") from None


def _yaml_id(key, where: str) -> int:
    if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
        return key
    if isinstance(key, str) and CLASS_ID.fullmatch(key.strip()):
        return int(float(key))
    raise InputError(f"{where}: key {shown(key)} is not a class id (a whole number from 0)")


def yaml_classes(data: dict, path: Path) -> Classes | None:
    """The classes data.yaml's `names` and `nc` give, None when it gives neither."""
    names, count = data.get("names"), data.get("nc")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or count < 1):
        raise InputError(f"{path}: nc {_kind(count)} is not a whole number from 1")
    if names is None:
        return None if count is None else Classes(count=count, origin=path.name)
    if isinstance(names, list):
        entries = list(enumerate(names))
    elif isinstance(names, dict):
        entries = [(_yaml_id(key, f"{path}: names"), value) for key, value in names.items()]
    else:
        raise InputError(f"{path}: names is neither a list nor an {{id: name}} mapping")
    found = {class_id: _name(value, f"{path}: names[{class_id}]") for class_id, value in entries}
    if not found:
        raise InputError(f"{path}: names is empty")
    if len(found) < len(entries):  # '0' and 0 as keys
        raise InputError(f"{path}: names gives a class id twice")
    if count is not None and count != len(found):
        raise InputError(f"{path}: nc is {count} but names has {len(found)} classes")
    return Classes(names=found, origin=path.name)


def _names_file(root: Path) -> Classes:
    """The classes of a classes.txt in ROOT or ROOT/labels (a name a line, ids from 0), else
    the ids themselves."""
    path = next((root / name for name in NAMES_FILES
                 if (root / name).is_file() and inside_root(root, name)), None)
    if path is None:
        return Classes(origin="the labels (no names given)")
    lines = _read_text(path, MAX_YAML_BYTES, "a class names file").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    names = {index: _name(line, f"{path}:{index + 1}") for index, line in enumerate(lines)}
    if not names:
        raise InputError(f"{path}: no class name")
    return Classes(names=names, origin=path.relative_to(root).as_posix())


def _class_id(text: str, where: str) -> int:
    if not CLASS_ID.fullmatch(text):
        raise BadValue("bad_annotation", f"{where}: class {dataset.shown(text)} is not a class "
                                         "id (a whole number 0..999999)")
    return int(float(text))


def _object(fields: list[str], where: str, classes: Classes, masks: bool, pose=None,
            problems=None) -> Obj:
    """One label line's object, in fractions of the image; BadValue says what is wrong. POSE
    (a yolo_pose.Pose): the line is a box and its points."""
    points = None
    if pose is not None:
        fields, points = pose.split(fields, where)
    count = len(fields)
    if count == 3:
        raise BadValue("bad_mask", f"{where}: a polygon of 1 point (3 at least)")
    if count != 5 and (count < 7 or count % 2 == 0):
        raise BadValue("bad_annotation", f"{where}: {count} fields; a box has 5 (class cx cy w "
                                         "h), a polygon the class and 3 or more points (x y)")
    class_id = _class_id(fields[0], where)
    name = classes.name(class_id, where)
    if count == 5:
        cx, cy, w, h = (dataset.coordinate(value, f"{where}: {key}")
                        for key, value in zip(BOX_KEYS, fields[1:]))
        # No mask (as COCO's "segmentation": []): with --masks convert gives it its box.
        return Obj(name, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2,
                   mask=[] if masks else None, keypoints=pose and pose.points(
                       points, class_id, name, where, problems))
    polygon = [dataset.coordinate(value, f"{where}: {'xy'[index % 2]}{index // 2 + 1}")
               for index, value in enumerate(fields[1:])]
    xs, ys = polygon[0::2], polygon[1::2]
    return Obj(name, min(xs), min(ys), max(xs), max(ys), mask=[polygon] if masks else None)


def label_path(image: str) -> str:
    """Ultralytics' rule: the last images/ folder of IMAGE's path becomes labels/ and the
    extension .txt (beside the image when there is no images/ folder)."""
    head, sep, tail = ("/" + image).rpartition("/images/")
    path = f"{head}/labels/{tail}" if sep else "/" + image
    return posixpath.splitext(path[1:])[0] + ".txt"


def _sample(root: Path, image: str, classes: Classes, masks: bool, problems, pose=None):
    """(The Sample of IMAGE, relative to ROOT, with its label file's objects, or None when the
    label file is unusable (counted); whether it has a label file)."""
    sample = Sample(image=image, width=None, height=None, source=image, normalized=True)
    if inside_root(root, image) is None:
        return sample, False  # convert counts it (path_escape) and reads nothing of it
    label = label_path(image)
    path = inside_root(root, label)
    if path is None:
        problems.add("bad_annotation", f"{label}: a link that leads outside the dataset root")
        return None, True
    if not path.is_file():
        return sample, False  # a background image
    try:
        size = path.stat().st_size
        if size > MAX_LABEL_BYTES:
            problems.add("bad_annotation", f"{label}: {size} bytes, over the limit of "
                                           f"{MAX_LABEL_BYTES} bytes for one label file")
            return None, True
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add("bad_annotation", f"{label}: not UTF-8 text")
        return None, True
    except OSError as exc:
        problems.add("bad_annotation", f"{label}: cannot read: {exc.strerror or exc}")
        return None, True
    sample.source = label
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            sample.objects.append(_object(fields, f"{label}:{number}", classes, masks, pose,
                                          problems))
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
    return sample, True


def _relative(path: str, root: Path) -> str:
    """PATH relative to ROOT, "/"-separated; through the real paths when a link in ROOT's path
    makes it look outside. What stays outside starts with '..': convert refuses it."""
    relative = os.path.relpath(path, root)
    if relative.split(os.sep)[0] == ".." and "\0" not in path:
        real = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
        relative = real if real.split(os.sep)[0] != ".." else relative
    return Path(relative).as_posix()


def _images_in(folder: Path, root: Path) -> list[str]:
    return [_relative(str(path), root) for path in sorted(folder.rglob("*"))
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()]


def _listed(path: Path, root: Path) -> list[str]:
    """The images of a list file, a path a line: relative ones to the list's folder."""
    images = []
    for line in _read_text(path, MAX_LIST_BYTES, "an image list").splitlines():
        entry = line.strip()
        if entry and posixpath.splitext(entry)[1].lower() in IMAGE_SUFFIXES:
            images.append(_relative(os.path.join(path.parent, entry), root))
    return images


def _entries(value, where: str) -> list[str]:
    """A split of data.yaml: one folder or list file, a list of them, or nothing."""
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    for entry in values:
        if not isinstance(entry, str) or not entry.strip() or "\0" in entry:
            raise InputError(f"{where}: {_kind(entry)} is not the path of a folder or a .txt "
                             "list of images")
    return [entry.strip() for entry in values]


def _split_images(root: Path, entry: str, where: str) -> list[str]:
    """The images of one data.yaml entry, a folder or a .txt list, which must be inside ROOT.
    Roboflow writes `train: ../train/images` beside train/: as Ultralytics does, a path
    starting with ../ that is not there is tried without it."""
    tries = [entry, entry[3:]] if entry.startswith("../") else [entry]
    escapes = False
    for text in tries:
        if inside_root(root, text) is None:
            escapes = True
            continue
        path = Path(os.path.normpath(os.path.join(root, text)))
        if path.is_dir():
            return _images_in(path, root)
        if path.is_file() and path.suffix.lower() == ".txt":
            return _listed(path, root)
        if path.exists():
            raise InputError(f"{where}: '{shown(entry)}' is neither a folder of images nor a "
                             ".txt list of them")
    if escapes:
        raise InputError(f"{where}: '{shown(entry)}' leads outside the dataset root {root} "
                         "(set path: to a folder that holds it)")
    raise InputError(f"{where}: '{shown(entry)}': no such folder or list file in {root}")


def _yaml_root(data: dict, path: Path) -> Path:
    """data.yaml's `path` (relative to its folder), else its folder."""
    value = data.get("path")
    if value is None or value == "":
        return path.parent
    if not isinstance(value, str) or "\0" in value:
        raise InputError(f"{path}: path {_kind(value)} is not a folder's path")
    root = Path(os.path.normpath(path.parent / value))
    if not root.is_dir():
        raise InputError(f"{path}: path '{shown(value)}' is not a folder ({root}; a relative "
                         "path is relative to the data.yaml's folder)")
    return root


def _yaml_splits(data: dict, path: Path, root: Path) -> list[tuple]:
    groups = []
    for key in SPLIT_KEYS:
        where = f"{path}: {key}"
        for entry in _entries(data.get(key), where):
            groups.append((source_split(key, where), _split_images(root, entry, where)))
    return groups


def _folder(root: Path, relative: str) -> Path:
    """ROOT/RELATIVE, a folder of the dataset; InputError when a link takes it outside ROOT."""
    if inside_root(root, relative) is None:
        raise InputError(f"{root / relative}: a link that leads outside {root}")
    return root / relative


def _folder_splits(root: Path) -> list[tuple]:
    """(split or None, images) of a folder without data.yaml splits: images/ (its split folders
    as splits), else each folder with an images/ in it as a split (Roboflow's layout)."""
    if (root / "images").is_dir():
        images = _folder(root, "images")
        children = sorted(images.iterdir())
        if children and all(child.is_dir() and child.name.lower() in SOURCE_SPLITS
                            for child in children):
            return [(source_split(child.name, str(child)),
                     _images_in(_folder(root, f"images/{child.name}"), root))
                    for child in children]
        return [(None, _images_in(images, root))]
    groups = [(source_split(folder.name, str(folder)),
               _images_in(_folder(root, f"{folder.name}/images"), root))
              for folder in sorted(root.iterdir()) if (folder / "images").is_dir()]
    if not groups:
        raise InputError(f"{root}: not a YOLO dataset: give its data.yaml, or a folder with "
                         "images/ and labels/ (or train/images, valid/images...) in it")
    return groups


def read(source, options, problems):
    source = Path(source)
    if options.images:
        raise InputError("--images: a YOLO dataset's images are where its data.yaml or its "
                         "folders say")
    if source.is_dir():
        yaml_path = next((source / name for name in YAML_NAMES if (source / name).is_file()),
                         None)
        data = _load_yaml(yaml_path) if yaml_path else {}
    elif source.is_file():
        yaml_path, data = source, _load_yaml(source)
    else:
        raise InputError(f"{source}: no such data.yaml or dataset folder")
    splits_in_yaml = any(data.get(key) for key in SPLIT_KEYS)
    if not (splits_in_yaml or source.is_dir()):
        raise InputError(f"{source}: gives none of train, val and test")
    root = _yaml_root(data, yaml_path) if splits_in_yaml else source
    classes = (yaml_classes(data, yaml_path) if data else None) or _names_file(root)
    points = yolo_pose.pose(data, yaml_path or source, options.keypoints)
    groups = _yaml_splits(data, yaml_path, root) if splits_in_yaml else _folder_splits(root)
    if not any(images for _, images in groups):
        raise InputError(f"{source}: no image found (a YOLO dataset's images are "
                         f"{', '.join(sorted(IMAGE_SUFFIXES))} files)")
    samples, labelled = [], 0
    for split, images in groups:
        for image in images:
            sample, has_label = _sample(root, image, classes, options.masks, problems, points)
            labelled += has_label
            if sample is not None:
                sample.split = split
                samples.append(sample)
    if not labelled:
        first = next(image for _, images in groups for image in images)
        raise InputError(f"{source}: no image has a label file (the label of {first} would "
                         f"be {label_path(first)})")
    return (samples, root, points.schema) if options.keypoints else (samples, root)

