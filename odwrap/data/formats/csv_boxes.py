"""CSV boxes, one per row: filename,width,height,class,xmin,ymin,xmax,ymax (pixels).

Images are relative to --images, or to the CSV file's folder.
"""

import csv
from pathlib import Path

from odwrap.data.dataset import Obj, Sample
from odwrap.errors import InputError

COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")


def read(source, options, problems):
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{path}: no such CSV file")
    samples: dict[str, Sample] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"{path}:1: missing column(s) {', '.join(missing)}; expected "
                             f"{','.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            where = f"{path.name}:{line}"
            try:
                width, height = int(row["width"]), int(row["height"])
                box = [float(row[key]) for key in ("xmin", "ymin", "xmax", "ymax")]
            except (TypeError, ValueError):
                problems.add("bad_annotation", f"{where}: a number is not a number")
                continue
            name = (row["class"] or "").strip()
            if not name or not row["filename"]:
                problems.add("bad_annotation", f"{where}: empty filename or class")
                continue
            sample = samples.setdefault(row["filename"], Sample(
                image=row["filename"], width=width, height=height, source=where))
            sample.objects.append(Obj(name, *box))
    return list(samples.values()), Path(options.images) if options.images else path.parent
