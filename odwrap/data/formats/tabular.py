"""CSV files read safely for the CSV readers: UTF-8 (with or without a byte-order mark) or
UTF-16/UTF-32 with one; anything else, a field over csv's size limit or a missing column is an
InputError that names the file (and the line where there is one).
"""

import codecs
import csv
from pathlib import Path

from odwrap.errors import InputError

# The longest BOM first: UTF-32-LE's starts with UTF-16-LE's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def encoding_of(path: Path) -> str:
    """The encoding a byte-order mark names, else UTF-8."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    return next((encoding for bom, encoding in _BOMS if head.startswith(bom)), "utf-8")


def rows(path, what: str, columns=None):
    """Yield (line, row) of a CSV file: dicts checked to have `columns` when given, else lists.
    `what` names the file in messages ("CSV file", "class descriptions file")."""
    path = Path(path)
    line = 0
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such {what}")
        with open(path, newline="", encoding=encoding_of(path)) as handle:
            if columns is None:
                reader = csv.reader(handle)
            else:
                reader = csv.DictReader(handle)
                fields = reader.fieldnames or ()
                missing = [column for column in columns if column not in fields]
                if missing:
                    raise InputError(f"{path}:1: missing column(s) {', '.join(missing)}; "
                                     f"expected {','.join(columns)}")
            for row in reader:
                line = reader.line_num
                yield line, row
    except UnicodeDecodeError:
        raise InputError(f"{path}: the {what} is not UTF-8 text (nor UTF-16 with a byte-order "
                         "mark); save it as UTF-8") from None
    except csv.Error as exc:
        detail = f"a field is longer than {csv.field_size_limit()} characters (the limit)" \
            if "field limit" in str(exc) else str(exc)
        raise InputError(f"{path}:{line + 1}: {detail}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
