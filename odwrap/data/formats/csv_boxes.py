"""CSV boxes, one per row: filename,width,height,class,xmin,ymin,xmax,ymax (pixels).

Images are relative to --images, or to the CSV file's folder. A row with a value out of range
is counted and left out; the file's encoding and size limits are tabular.py's.
"""

from pathlib import Path

from odwrap.data import dataset
from odwrap.data.dataset import BadValue, Obj, Sample
from odwrap.data.formats.tabular import rows

COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")


def _row(row: dict, where: str):
    """(filename, width, height, Obj) of one row; BadValue names the value that is wrong."""
    if any(row[key] is None for key in COLUMNS):
        raise BadValue("bad_annotation", f"{where}: fewer than {len(COLUMNS)} columns")
    filename = dataset.text(row["filename"], f"{where}: filename")
    name = dataset.text(row["class"].strip(), f"{where}: class")
    width = dataset.side(row["width"], f"{where}: width")
    height = dataset.side(row["height"], f"{where}: height")
    box = [dataset.coordinate(row[key], f"{where}: {key}")
           for key in ("xmin", "ymin", "xmax", "ymax")]
    return filename, width, height, Obj(name, *box)


def read(source, options, problems):
    path = Path(source)
    samples: dict[str, Sample] = {}
    for line, row in rows(path, "CSV file", COLUMNS):
        where = f"{path.name}:{line}"
        try:
            filename, width, height, obj = _row(row, where)
        except BadValue as exc:
            problems.add(exc.reason, str(exc))
            continue
        sample = samples.setdefault(filename, Sample(
            image=filename, width=width, height=height, source=where))
        sample.objects.append(obj)
    return list(samples.values()), Path(options.images) if options.images else path.parent
