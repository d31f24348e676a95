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
from odwrap.fsutil import atomic_writer, check_input_file

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


MAX_DEPTH = 32  # of a row's JSON: a COCO result is 3 deep (with an RLE mask), a polygon 4
MAX_LINE = 64 * 1024 * 1024  # characters of a JSON line or an Open Images field
MAX_COORDINATE = 1e7  # pixels: past any image, and far from float overflow when fused


def _number(value, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: {what} {_shown(value)} is not a number")
    try:
        return float(value)
    except OverflowError:
        raise InputError(f"{where}: {what} {_shown(value)} is out of range") from None


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _score(value, where: str) -> float:
    if isinstance(value, str):  # the Open Images string
        try:
            score = float(value)
        except ValueError:
            raise InputError(f"{where}: score {_shown(value)} is not a number") from None
    else:
        score = _number(value, where, "score")
    if not math.isfinite(score) or score < 0:
        raise InputError(f"{where}: score {_shown(value)} is not a finite number of at least 0")
    return score


def _identifier(value, where: str, what: str, strings: bool):
    """An id as an int (an integral float too) that a signed 64-bit integer holds, as COCO's
    ids are and as JSON readers take back, or a string where STRINGS."""
    if isinstance(value, str) and strings:
        return value
    number = int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(number, bool) or not isinstance(number, int) or \
            not -2**63 <= number < 2**63:
        kinds = "an integer of 64 bits or a string" if strings else "an integer of 64 bits"
        raise InputError(f"{where}: {what} {_shown(value)} is not {kinds}")
    return number


def _box(values, where: str, what: str, normalized: bool) -> tuple:
    """xmin, ymin, xmax, ymax: finite, ordered, within the image's range."""
    xmin, ymin, xmax, ymax = values
    limit = 1.0 + 1e-6 if normalized else MAX_COORDINATE
    low = -1e-6 if normalized else -MAX_COORDINATE
    if not all(math.isfinite(v) and low <= v <= limit for v in values) \
            or xmax < xmin or ymax < ymin:
        where_to = "in [0, 1]" if normalized else f"within {MAX_COORDINATE:.0e} pixels"
        raise InputError(f"{where}: {what} is not a box (finite, {where_to}, min <= max)")
    return xmin, ymin, xmax, ymax


class ImageIds:
    """One type of image_id per file, or across the files of a merge that share one ImageIds:
    a first row's int does not turn into another's string (merge groups images by their text)."""

    def __init__(self):
        self.kind, self.path = None, None

    def __call__(self, row: "Row", path: Path, where: str) -> "Row":
        kind = type(row.image)
        if self.kind is None:
            self.kind, self.path = kind, path
        elif kind is not self.kind:
            first = "the file's first row" if path == self.path else f"{self.path}'s first row"
            raise InputError(f"{where}: image_id {_shown(row.image)} is a {kind.__name__} where "
                             f"{first} has a {self.kind.__name__}")
        return row


def _coco_row(item, where: str) -> Row:
    if not isinstance(item, dict) or any(key not in item for key in COCO_KEYS):
        raise InputError(f"{where}: not a COCO result (needs {', '.join(COCO_KEYS)})")
    bbox = item["bbox"]
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        raise InputError(f"{where}: bbox {_shown(bbox)} is not [x, y, width, height]")
    x, y, w, h = (_number(value, where, "bbox") for value in bbox)
    if not all(map(math.isfinite, (x, y, w, h))) or w < 0 or h < 0:
        raise InputError(f"{where}: bbox {_shown(bbox)} is not [x, y, width, height]")
    box = _box((x, y, x + w, y + h), where, f"bbox {_shown(bbox)}", normalized=False)
    extra = {key: value for key, value in item.items() if key not in COCO_KEYS}
    return Row(_identifier(item["image_id"], where, "image_id", strings=True),
               _identifier(item["category_id"], where, "category_id", strings=False),
               _score(item["score"], where), box, extra or None)


def _items(handle, path: Path):
    """The items of the JSON array in HANDLE, one at a time, from ijson's events without paths
    (their prefixes grow with the depth); refused past MAX_DEPTH, where a file of nested
    brackets would build them all, and when the top level is not an array."""
    import ijson
    from ijson.common import ObjectBuilder

    depth, builder = 0, None
    for event, value in ijson.basic_parse(handle, use_float=True):
        if event in ("start_map", "start_array"):
            if depth == 0 and event == "start_map":
                raise InputError(f"{path}: not a COCO results JSON array (an object)")
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError(f"{path}: nested over {MAX_DEPTH} levels deep; not COCO results")
            if depth == 1:
                continue
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return
        elif depth == 0:
            raise InputError(f"{path}: not a COCO results JSON array (a {event})")
        elif depth == 1:  # a scalar item
            yield value
            continue
        if builder is None:
            builder = ObjectBuilder()
        builder.event(event, value)
        if depth == 1:  # the item's last event
            yield builder.value
            builder = None


def _read_coco(path: Path, ids: ImageIds):
    import ijson

    with open(path, "rb") as handle:
        try:
            for number, item in enumerate(_items(handle, path)):
                where = f"{path}: item {number}"
                yield ids(_coco_row(item, where), path, where)
        except ijson.JSONError as exc:
            reason = exc.args[0] if exc.args else ""
            if isinstance(reason, bytes):  # yajl's, where the text it quotes is not UTF-8
                reason = reason.decode("utf-8", "replace")
            reason = (str(reason).splitlines() or [""])[0].strip()  # yajl's is 4 lines
            raise InputError(f"{path}: not a COCO results JSON array ({reason})") from None


class _NotFinite(ValueError):
    """A JSON number that is no finite float: NaN, Infinity (Python's JSON extensions) or one
    past float's range (1e400)."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def _not_finite(text: str):
    raise _NotFinite(text)


def _read_jsonl(path: Path, ids: ImageIds):
    with open(path, "rb") as handle:
        for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE + 1), b""), start=1):
            where = f"{path}:{number}"
            if len(line) > MAX_LINE:
                raise InputError(f"{where}: a line over {MAX_LINE // 2**20} MiB")
            if not line.strip():
                continue
            try:
                item = json.loads(line.decode("utf-8"), parse_float=_finite,
                                  parse_constant=_not_finite)
            except UnicodeDecodeError as exc:
                raise InputError(f"{where}: not UTF-8 text (byte {exc.start})") from None
            except _NotFinite as exc:  # not JSON, and no output could hold it
                number = exc.args[0] if len(exc.args[0]) <= 40 else exc.args[0][:37] + "..."
                raise InputError(f"{where}: {number} is not a finite number") from None
            except RecursionError:
                raise InputError(f"{where}: nested too deep; not a COCO result") from None
            except ValueError as exc:
                raise InputError(f"{where}: not JSON ({exc})") from None
            yield ids(_coco_row(item, where), path, where)


def _read_oid(path: Path, ids: ImageIds):  # an ImageId is a string: nothing for IDS
    # csv's field limit is the process's: raised while this file is read, then put back (the
    # default 131,072 is a few thousand detections; convert's CSV reader keeps its own).
    previous = csv.field_size_limit(MAX_LINE)
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            lines = csv.reader(handle)
            number = 1
            try:
                header = next(lines, None)
                if header != OID_HEADER.split(","):
                    raise InputError(f"{path}:1: not an Open Images submission (the header "
                                     f"must be {OID_HEADER})")
                for number, fields in enumerate(lines, start=2):
                    yield from _oid_rows(fields, f"{path}:{number}")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
            except csv.Error as exc:
                raise InputError(f"{path}:{number + 1}: not a CSV line ({exc})") from None
    finally:
        csv.field_size_limit(previous)


def _oid_rows(fields, where: str):
    if len(fields) != 2:
        raise InputError(f"{where}: {len(fields)} fields where {OID_HEADER} has 2")
    image, text = fields
    yield Row(image, None, 0.0, ())
    parts = text.split()
    if len(parts) % 6:
        raise InputError(f"{where}: {len(parts)} values in the prediction string, not groups "
                         "of 6 (label score xmin ymin xmax ymax)")
    for start in range(0, len(parts), 6):
        label, score, *box = parts[start:start + 6]
        try:
            coordinates = tuple(float(v) for v in box)
        except ValueError:
            raise InputError(f"{where}: box {' '.join(box)} is not 4 numbers") from None
        yield Row(image, label, _score(score, where),
                  _box(coordinates, where, f"box {' '.join(box)}", normalized=True))


READERS = {"coco": _read_coco, "jsonl": _read_jsonl, "oid": _read_oid}


def read(path, name: str | None = None, ids: ImageIds | None = None):
    """The rows of PATH (format NAME or its suffix's), one at a time; IDS: the one type of
    image_id of several files (default: PATH's own)."""
    path = check_input_file(path, "detection file")
    return READERS[format_of(path, name)](path, ids or ImageIds())


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
        text = json.dumps(_coco_dict(row), allow_nan=False)  # NaN is no JSON a reader takes
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
        try:
            if self.format == "oid":
                self._flush_line()
            elif self.format == "coco":
                self._handle.write("\n]\n")
        except BaseException as exc:  # the last line refused: nothing is left behind
            self.abort(exc)
            raise
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
