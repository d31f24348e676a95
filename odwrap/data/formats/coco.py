"""COCO JSON (instances_*.json): boxes, optional instance masks (polygons and RLE), iscrowd,
optional keypoints (person_keypoints_*.json: each category's `keypoints` names and `skeleton`,
each annotation's [x, y, v, ...]; odwrap.data.keypoints checks them).

Images are relative to --images, or to the JSON file's folder. Crowd annotations are kept and
flagged is_crowd (the COCO evaluator ignores them) unless --crowd drop. Categories must be
sound (an InputError otherwise); a bad image entry or annotation is counted and left out.
SOURCE may also be a folder: Roboflow's export (split folders, each an _annotations.coco.json
beside its images; the folders are the splits, classes are one by name) or Model Maker's
(images/ and labels.json).
"""

import math
from pathlib import Path

from odwrap.data import dataset, keypoints, segmentations
from odwrap.data.formats import jsonfile
from odwrap.data.dataset import BadValue, Obj, Sample, inside_root
from odwrap.data.splits import source_split
from odwrap.errors import InputError

MAX_JSON_BYTES = 4 * 1024 ** 3  # json.load holds it all, several times over, in memory
SPLIT_FILE = "_annotations.coco.json"  # Roboflow's, one in each split folder
MODEL_MAKER_FILE = "labels.json"  # TFLite/MediaPipe Model Maker's, beside images/


def _load(path: Path) -> dict:
    try:
        data = jsonfile.load(path, MAX_JSON_BYTES, "a COCO JSON file")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or \
            not isinstance(data.get("annotations"), list) or \
            not isinstance(data.get("categories"), list):
        raise InputError(f"{path}: a COCO file has 'images', 'annotations' and 'categories' "
                         "lists")
    return data


def _id(value) -> int:
    """An id: a whole number (JSON 3, 3.0 or "3"); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ValueError(value)
    return int(value)


def _categories(path: Path, entries: list, schema: dict | None = None) -> dict[int, str]:
    """{id: name} of the categories; with SCHEMA, also each one's keypoints into it."""
    categories: dict[int, str] = {}
    for index, cat in enumerate(entries):
        where = f"{path}: categories[{index}]"
        try:
            cat_id = _id(cat["id"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: needs a whole-number id") from None
        try:
            name = dataset.text(cat.get("name"), "name")
        except BadValue as exc:
            raise InputError(f"{where} (id {cat_id}): {exc}") from None
        if cat_id in categories:
            raise InputError(f"{where}: category id {cat_id} is given twice "
                             f"('{categories[cat_id]}' and '{name}')")
        categories[cat_id] = name
        if schema is not None:
            found = keypoints.category_keypoints(cat, f"{where} ('{name}')")
            if found is not None and schema.setdefault(name, found) != found:
                raise InputError(f"{where}: category '{name}' names other keypoints than "
                                 "before (another file or category of that name)")
    return categories


def _image(image, where: str) -> tuple[int, Sample]:
    try:
        image_id = _id(image["id"])
    except (KeyError, TypeError, ValueError):
        raise BadValue("bad_annotation", f"{where}: needs a whole-number id") from None
    for key in ("file_name", "width", "height"):
        if key not in image:
            raise BadValue("bad_annotation", f"{where}: needs id, file_name, width and height")
    file_name = dataset.text(image["file_name"], f"{where}: file_name")
    width = dataset.side(image["width"], f"{where}: width")
    height = dataset.side(image["height"], f"{where}: height")
    return image_id, Sample(image=file_name, width=width, height=height, source=where)


def _object(ann, where: str, categories: dict, sample: Sample, options, problems,
            schema: dict | None) -> Obj:
    try:
        name = categories[_id(ann["category_id"])]
    except (KeyError, TypeError, ValueError):
        raise BadValue("bad_annotation", f"{where}: needs a known category_id") from None
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise BadValue("bad_annotation", f"{where}: bbox {dataset.shown(bbox)} is not a list "
                                         "[x, y, width, height]")
    x, y, w, h = (dataset.coordinate(value, f"{where}: bbox {key}")
                  for key, value in zip("xywh", bbox))
    crowd = dataset.flag(ann.get("iscrowd", 0), f"{where}: iscrowd")
    mask = ann.get("segmentation") if options.masks else None
    found = segmentations.problem(mask, sample.width, sample.height)
    if found:
        raise BadValue("bad_mask", f"{where}: {found}")
    points = None
    if schema is not None:
        names = schema[name].names if name in schema else ()
        points = keypoints.read_points(ann.get("keypoints"), len(names), where, problems)
    return Obj(name, x, y, x + w, y + h, is_crowd=crowd, mask=mask, keypoints=points)


def _read_file(path: Path, name: str, options, problems, folder: str = "",
               split: str | None = None, schema: dict | None = None) -> list[Sample]:
    """The samples of one COCO JSON file, NAME in messages; their images under FOLDER/ of the
    images root, in the dataset's SPLIT; with SCHEMA, the categories' keypoints into it."""
    data = _load(path)
    categories = _categories(path, data["categories"], schema)
    samples: dict[int, Sample] = {}
    dropped: set = set()  # ids of images left out above: their annotations go quietly
    seen_files = set()
    for index, image in enumerate(data["images"]):
        where = f"{name}: images[{index}]"
        try:
            image_id, sample = _image(image, where)
            sample.image, sample.split = folder + sample.image, split
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
            try:
                dropped.add(_id(image["id"]))
            except (KeyError, TypeError, ValueError):
                pass
            continue
        if sample.image in seen_files or image_id in samples:
            problems.add("duplicate_image", f"{where}: {sample.image}")
            if image_id not in samples:
                dropped.add(image_id)
            continue
        seen_files.add(sample.image)
        samples[image_id] = sample
    for index, ann in enumerate(data["annotations"]):
        where = f"{name}: annotations[{index}]"
        try:
            image_id = _id(ann["image_id"])
        except (KeyError, TypeError, ValueError):
            problems.add("bad_annotation", f"{where}: needs a whole-number image_id")
            continue
        sample = samples.get(image_id)
        if sample is None:
            if image_id not in dropped:
                problems.add("unknown_image", f"{where}: image_id {image_id}")
            continue
        try:
            obj = _object(ann, where, categories, sample, options, problems, schema)
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
            continue
        if obj.is_crowd and options.crowd == "drop":
            problems.add("crowd", where)
            continue
        sample.objects.append(obj)
    return list(samples.values())


def _read_folder(root: Path, options, problems, schema):
    """(samples, images root) of a folder: Model Maker's images/ and labels.json, one
    _annotations.coco.json, or Roboflow's split folders that each hold one."""
    if (root / MODEL_MAKER_FILE).is_file() and (root / "images").is_dir():
        samples = _read_file(root / MODEL_MAKER_FILE, MODEL_MAKER_FILE, options, problems,
                             schema=schema)
        return samples, Path(options.images) if options.images else root / "images"
    if (root / SPLIT_FILE).is_file():
        samples = _read_file(root / SPLIT_FILE, SPLIT_FILE, options, problems, schema=schema)
        return samples, Path(options.images) if options.images else root
    folders = [folder for folder in sorted(root.iterdir()) if (folder / SPLIT_FILE).is_file()]
    if not folders:
        raise InputError(f"{root}: no COCO dataset: a folder of split folders (train/, valid/, "
                         f"test/) that each hold a {SPLIT_FILE}, or images/ and "
                         f"{MODEL_MAKER_FILE}")
    if options.images:
        raise InputError(f"--images: the images of {root} are beside each split's {SPLIT_FILE}")
    samples = []
    for folder in folders:
        if inside_root(root, folder.name) is None:
            raise InputError(f"{folder}: a link that leads outside {root}")
        samples += _read_file(folder / SPLIT_FILE, f"{folder.name}/{SPLIT_FILE}", options,
                              problems, f"{folder.name}/", source_split(folder.name, str(folder)),
                              schema)
    return samples, root


def read(source, options, problems):
    """(samples, images root), and with options.keypoints {class: ClassKeypoints} too."""
    path = Path(source)
    schema = {} if options.keypoints else None
    if path.is_dir():
        samples, root = _read_folder(path, options, problems, schema)
    else:
        samples = _read_file(path, path.name, options, problems, schema=schema)
        root = Path(options.images) if options.images else path.parent
    return (samples, root) if schema is None else (samples, root, schema)
