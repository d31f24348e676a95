"""Detection files as streams of rows, one detection a row, read and written without holding a
file in memory.

Formats, by suffix or by name:
- `coco` (.json): COCO results, a JSON array of {"image_id", "category_id", "bbox": [x, y, w, h]
  in pixels, "score", ...}; read with ijson, item by item.
- `jsonl` (.jsonl): the same dicts, one a line (what `odwrap predict --jsonl` writes).
- `oid` (.csv): the Open Images submission, `ImageId,PredictionString`, the string a run of
  `label score xmin ymin xmax ymax` groups with normalized coordinates.
COCO and JSON Lines rows convert into each other; the Open Images format has normalized boxes
and string labels and converts into neither. Other keys of a COCO dict (masks, ids) ride along
in `extra`. An Open Images line starts with an image marker (a row without a label), so that an
image whose predictions are all trimmed away keeps its line.
"""

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from odwrap.errors import InputError
from odwrap.fsutil import atomic_writer

FORMATS = {".json": "coco", ".jsonl": "jsonl", ".csv": "oid"}
FAMILY = {"coco": "coco", "jsonl": "coco", "oid": "oid"}
OID_HEADER = "ImageId,PredictionString"
COCO_KEYS = ("image_id", "category_id", "bbox", "score")


@dataclass(slots=True)
class Row:
    image: object  # COCO: the image_id as written (int or str); Open Images: the ImageId
    label: object  # COCO: category_id (int); Open Images: the label (str); None: image marker
    score: float
    box: tuple  # xmin, ymin, xmax, ymax (COCO: pixels; Open Images: normalized)
    extra: dict | None = None  # other keys of a COCO dict


def format_of(path, name: str | None = None) -> str:
    """The format NAME, or the one PATH's suffix says."""
    if name:
        return name
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise InputError(f"{path}: cannot tell the format from the suffix (.json: COCO results, "
                         ".jsonl: JSON Lines, .csv: Open Images submission)")
    return found


def _score(value, where: str) -> float:
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: score {value!r} is not a number") from None
    if not math.isfinite(score) or score < 0:
        raise InputError(f"{where}: score {value!r} is not a finite number of at least 0")
    return score


def _coco_row(item, where: str) -> Row:
    if not isinstance(item, dict) or any(key not in item for key in COCO_KEYS):
        raise InputError(f"{where}: not a COCO result (needs {', '.join(COCO_KEYS)})")
    try:
        x, y, w, h = (float(v) for v in item["bbox"])
    except (TypeError, ValueError):
        raise InputError(f"{where}: bbox {item['bbox']!r} is not [x, y, width, height]") \
            from None
    if not all(map(math.isfinite, (x, y, w, h))) or w < 0 or h < 0:
        raise InputError(f"{where}: bbox {item['bbox']!r} is not [x, y, width, height]")
    extra = {key: value for key, value in item.items() if key not in COCO_KEYS}
    return Row(item["image_id"], item["category_id"], _score(item["score"], where),
               (x, y, x + w, y + h), extra or None)


def _read_coco(path: Path):
    import ijson

    with open(path, "rb") as handle:
        try:
            for number, item in enumerate(ijson.items(handle, "item", use_float=True)):
                yield _coco_row(item, f"{path}: item {number}")
        except ijson.JSONError as exc:
            reason = str(exc).replace("\\n", "\n").splitlines()[0].strip()  # yajl's is 4 lines
            raise InputError(f"{path}: not a COCO results JSON array ({reason})") from None


def _read_jsonl(path: Path):
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path}:{number}: not JSON ({exc})") from None
            yield _coco_row(item, f"{path}:{number}")


def _read_oid(path: Path):
    with open(path, encoding="utf-8", newline="") as handle:
        lines = csv.reader(handle)
        header = next(lines, None)
        if header != OID_HEADER.split(","):
            raise InputError(f"{path}:1: not an Open Images submission (the header must be "
                             f"{OID_HEADER})")
        for number, fields in enumerate(lines, start=2):
            if len(fields) != 2:
                raise InputError(f"{path}:{number}: {len(fields)} fields where "
                                 f"{OID_HEADER} has 2")
            image, text = fields
            yield Row(image, None, 0.0, ())
            parts = text.split()
            if len(parts) % 6:
                raise InputError(f"{path}:{number}: {len(parts)} values in the prediction "
                                 "string, not groups of 6 (label score xmin ymin xmax ymax)")
            for start in range(0, len(parts), 6):
                label, score, *box = parts[start:start + 6]
                try:
                    coordinates = tuple(float(v) for v in box)
                except ValueError:
                    raise InputError(f"{path}:{number}: box {' '.join(box)} is not 4 "
                                     "numbers") from None
                yield Row(image, label, _score(score, f"{path}:{number}"), coordinates)


READERS = {"coco": _read_coco, "jsonl": _read_jsonl, "oid": _read_oid}


def read(path, name: str | None = None):
    """The rows of PATH (format NAME or its suffix's), one at a time."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return READERS[format_of(path, name)](path)


def number(value: float) -> str:
    """A coordinate or score as the Open Images writer spells it (6 significant digits)."""
    return f"{value:.6g}"


def _coco_dict(row: Row) -> dict:
    xmin, ymin, xmax, ymax = row.box
    item = {"image_id": row.image, "category_id": row.label,
            "bbox": [round(xmin, 2), round(ymin, 2), round(xmax - xmin, 2),
                     round(ymax - ymin, 2)],
            "score": round(row.score, 6)}
    if row.extra:
        item.update(row.extra)
    return item


class Writer:
    """Rows into PATH in format NAME through a temporary file renamed at `close()`; `abort()`
    (or an exception in a `with` block) leaves nothing."""

    def __init__(self, path, name: str | None = None):
        self.path, self.format = Path(path), format_of(path, name)
        self._context = atomic_writer(self.path)
        self._handle = io.TextIOWrapper(self._context.__enter__(), encoding="utf-8",
                                        newline="")
        self.rows = 0
        self._image, self._groups = None, None
        if self.format == "coco":
            self._handle.write("[")
        elif self.format == "oid":
            self._handle.write(OID_HEADER + "\n")

    def write(self, row: Row) -> None:
        if self.format == "oid":
            if row.label is None or row.image != self._image:
                self._flush_line()
                self._image, self._groups = row.image, []
            if row.label is not None:
                xmin, ymin, xmax, ymax = row.box
                self._groups.append(f"{row.label} {number(row.score)} {number(xmin)} "
                                    f"{number(ymin)} {number(xmax)} {number(ymax)}")
                self.rows += 1
            return
        if row.label is None:  # an Open Images image marker: COCO has no empty images
            return
        text = json.dumps(_coco_dict(row))
        if self.format == "coco":
            self._handle.write(("\n" if not self.rows else ",\n") + text)
        else:
            self._handle.write(text + "\n")
        self.rows += 1

    def _flush_line(self) -> None:
        if self._groups is not None:
            image = str(self._image)
            if any(c in image for c in ',"\n\r'):
                raise InputError(f"ImageId {image!r}: not writable in a submission CSV")
            self._handle.write(f"{image},{' '.join(self._groups)}\n")
        self._groups = None

    def close(self) -> Path:
        if self.format == "oid":
            self._flush_line()
        elif self.format == "coco":
            self._handle.write("\n]\n")
        self._handle.flush()
        self._handle.detach()
        self._context.__exit__(None, None, None)
        return self.path

    def abort(self, exc: BaseException) -> None:
        self._handle.detach()
        try:
            self._context.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException:  # the context re-raises EXC after removing its temporary file
            pass

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if exc is None:
            self.close()
        else:
            self.abort(exc)
        return False


def check_convertible(sources: list[str], target: str, paths) -> None:
    """Refuse mixing the COCO family with the Open Images format (pixels and category ids
    against normalized boxes and label strings)."""
    families = {FAMILY[name] for name in [*sources, target]}
    if len(families) > 1:
        raise InputError(f"{', '.join(map(str, paths))}: COCO results (pixels, category ids) and "
                         "the Open Images format (normalized boxes, label strings) do not mix")
