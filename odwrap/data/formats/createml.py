"""Apple Create ML object detection JSON: a list of {"image": NAME, "annotations": [{"label":
CLASS, "coordinates": {"x", "y", "width", "height"}}]}, where x and y are the box's CENTRE in
pixels. The file gives no image size (the image's own is used).

Images are relative to --images, or to the JSON file's folder. A file that is no list of
entries is an InputError; a bad entry or annotation is counted and left out.
"""

from pathlib import Path

from odwrap.data import dataset
from odwrap.data.dataset import BadValue, Obj, Sample
from odwrap.data.formats import jsonfile
from odwrap.errors import InputError

MAX_JSON_BYTES = 4 * 1024 ** 3  # json.load holds it all, several times over, in memory


def _object(annotation, where: str) -> Obj:
    if not isinstance(annotation, dict) or not isinstance(annotation.get("coordinates"), dict):
        raise BadValue("bad_annotation", f"{where}: needs a label and coordinates {{x, y, "
                                         "width, height}")
    label = dataset.text(annotation.get("label"), f"{where}: label")
    box = annotation["coordinates"]
    if any(key not in box for key in ("x", "y", "width", "height")):
        raise BadValue("bad_annotation", f"{where}: coordinates {dataset.shown(box)} lack x, y, "
                                         "width or height")
    x, y, width, height = (dataset.coordinate(box[key], f"{where}: {key}")
                           for key in ("x", "y", "width", "height"))
    return Obj(label, x - width / 2, y - height / 2, x + width / 2, y + height / 2)


def _sample(entry, where: str) -> tuple[Sample, list]:
    """The Sample of one entry and the BadValues of the annotations left out; BadValue when
    the entry is."""
    if not isinstance(entry, dict) or not isinstance(entry.get("annotations"), list):
        raise BadValue("bad_annotation", f"{where}: needs an image and an annotations list")
    image = dataset.text(entry.get("image"), f"{where}: image")
    sample, dropped = Sample(image=image, width=None, height=None, source=where), []
    for index, annotation in enumerate(entry["annotations"]):
        try:
            sample.objects.append(_object(annotation, f"{where}: annotations[{index}]"))
        except BadValue as exc:
            dropped.append(exc)
    return sample, dropped


def read(source, options, problems):
    path = Path(source)
    try:
        data = jsonfile.load(path, MAX_JSON_BYTES, "a Create ML JSON file")
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(data, list):
        raise InputError(f"{path}: a Create ML file is a list of {{\"image\", \"annotations\"}} "
                         "entries")
    samples = []
    for index, entry in enumerate(data):
        try:
            sample, dropped = _sample(entry, f"{path.name}: [{index}]")
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
            continue
        for exc in dropped:
            problems.add(exc.reason, str(exc))
        samples.append(sample)
    return samples, Path(options.images) if options.images else path.parent
