"""Open Images box CSV: ImageID,...,LabelName,...,XMin,XMax,YMin,YMax,...,IsGroupOf,...

Coordinates are normalized; images are <ImageID>.jpg under --images (default: the CSV's
folder). Labels are MIDs (/m/...) unless --class-names gives the MID,Name descriptions CSV.
"""

import csv
from pathlib import Path

from odwrap.data.dataset import Obj, Sample
from odwrap.errors import InputError

COLUMNS = ("ImageID", "LabelName", "XMin", "XMax", "YMin", "YMax")


def _class_names(path: Path) -> dict[str, str]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return {row[0]: row[1] for row in csv.reader(handle) if len(row) >= 2}
    except OSError as exc:
        raise InputError(f"{path}: cannot read the class descriptions: {exc}") from None


def read(source, options, problems):
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: no such CSV file")
    names = _class_names(options.class_names) if options.class_names else {}
    samples: dict[str, Sample] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"{path}:1: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            where = f"{path.name}:{line}"
            try:
                xmin, xmax, ymin, ymax = (float(row[key]) for key in ("XMin", "XMax", "YMin",
                                                                     "YMax"))
                group_of = int(row.get("IsGroupOf") or 0)
            except (TypeError, ValueError):
                problems.add("bad_annotation", f"{where}: a number is not a number")
                continue
            if group_of and not options.group_of:
                problems.add("group_of", where)
                continue
            image_id = row["ImageID"]
            sample = samples.setdefault(image_id, Sample(
                image=f"{image_id}.jpg", width=None, height=None, source=where,
                normalized=True))
            label = row["LabelName"]
            sample.objects.append(Obj(names.get(label, label), xmin, ymin, xmax, ymax,
                                      group_of=group_of))
    return list(samples.values()), Path(options.images) if options.images else path.parent
