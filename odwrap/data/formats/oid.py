"""Open Images box CSV: ImageID,...,LabelName,...,XMin,XMax,YMin,YMax,...,IsGroupOf,...

Coordinates are normalized; images are <ImageID>.jpg under --images (default: the CSV's
folder). Labels are MIDs (/m/...) unless --class-names gives the MID,Name descriptions CSV.
A row with a value out of range is counted and left out.
"""

from pathlib import Path

from odwrap.data import dataset
from odwrap.data.dataset import BadValue, Obj, Sample
from odwrap.data.formats.tabular import rows
from odwrap.errors import InputError

COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")


def _class_names(path: Path) -> dict[str, str]:
    names = {}
    for line, row in rows(path, "class descriptions file"):
        if len(row) < 2:
            continue
        try:
            names[row[0]] = dataset.text(row[1], "class name")
        except BadValue as exc:
            raise InputError(f"{path}:{line}: {exc}") from None
    return names


def _row(row: dict, where: str, names: dict):
    """(image id, Obj) of one row; BadValue names the value that is wrong."""
    if any(row[key] is None for key in COLUMNS):
        raise BadValue("bad_annotation", f"{where}: fewer columns than the header")
    image_id = dataset.text(row["ImageID"], f"{where}: ImageID")
    label = dataset.text(row["LabelName"], f"{where}: LabelName")
    xmin, xmax, ymin, ymax = (dataset.coordinate(row[key], f"{where}: {key}")
                              for key in ("XMin", "XMax", "YMin", "YMax"))
    group_of = dataset.flag(row.get("IsGroupOf") or 0, f"{where}: IsGroupOf")
    return image_id, Obj(names.get(label, label), xmin, ymin, xmax, ymax, group_of=group_of)


def read(source, options, problems):
    path = Path(source)
    names = _class_names(options.class_names) if options.class_names else {}
    samples: dict[str, Sample] = {}
    for line, row in rows(path, "CSV file", COLUMNS):
        where = f"{path.name}:{line}"
        try:
            image_id, obj = _row(row, where, names)
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
            continue
        if obj.group_of and not options.group_of:
            problems.add("group_of", where)
            continue
        sample = samples.setdefault(image_id, Sample(
            image=f"{image_id}.jpg", width=None, height=None, source=where,
            normalized=True))
        sample.objects.append(obj)
    return list(samples.values()), Path(options.images) if options.images else path.parent
