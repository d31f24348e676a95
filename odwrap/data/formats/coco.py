"""COCO JSON (instances_*.json): boxes, optional instance masks (polygons and RLE), iscrowd.

Images are relative to --images, or to the JSON file's folder. Crowd annotations are kept and
flagged is_crowd (the COCO evaluator ignores them) unless --crowd drop.
"""

import json
from pathlib import Path

from odwrap.data.dataset import Obj, Sample
from odwrap.errors import InputError


def _load(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: no such COCO JSON file") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) or \
            not isinstance(data.get("annotations"), list) or \
            not isinstance(data.get("categories"), list):
        raise InputError(f"{path}: a COCO file has 'images', 'annotations' and 'categories' "
                         "lists")
    return data


def read(source, options, problems):
    path = Path(source)
    data = _load(path)
    try:
        categories = {int(cat["id"]): str(cat["name"]) for cat in data["categories"]}
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{path}: every category needs an id and a name") from None
    samples: dict[int, Sample] = {}
    seen_files = set()
    for index, image in enumerate(data["images"]):
        where = f"{path.name}: images[{index}]"
        try:
            image_id, file_name = int(image["id"]), str(image["file_name"])
            width, height = int(image["width"]), int(image["height"])
        except (KeyError, TypeError, ValueError):
            problems.add("bad_annotation", f"{where}: needs id, file_name, width and height")
            continue
        if file_name in seen_files or image_id in samples:
            problems.add("duplicate_image", f"{where}: {file_name}")
            continue
        seen_files.add(file_name)
        samples[image_id] = Sample(image=file_name, width=width, height=height, source=where)
    for index, ann in enumerate(data["annotations"]):
        where = f"{path.name}: annotations[{index}]"
        try:
            sample = samples.get(int(ann["image_id"]))
            name = categories[int(ann["category_id"])]
            x, y, w, h = (float(v) for v in ann["bbox"])
        except (KeyError, TypeError, ValueError):
            problems.add("bad_annotation", f"{where}: needs image_id, a known category_id "
                                           "and bbox [x, y, w, h]")
            continue
        if sample is None:
            continue  # its image was dropped above, or the file lists none
        crowd = int(ann.get("iscrowd", 0) or 0)
        if crowd and options.crowd == "drop":
            problems.add("crowd", where)
            continue
        mask = ann.get("segmentation") if options.masks else None
        sample.objects.append(Obj(name, x, y, x + w, y + h, is_crowd=crowd, mask=mask))
    return list(samples.values()), Path(options.images) if options.images else path.parent
