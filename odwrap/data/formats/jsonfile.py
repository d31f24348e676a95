"""JSON annotation files read safely for the COCO, LabelMe and CreateML readers: a size limit, UTF-8
(a byte-order mark is fine), and every failure one ValueError naming the file (and the line
where there is one); the reader counts it or raises it as an InputError."""

import json
from pathlib import Path


def load(path: Path, limit: int, what: str, name: str | None = None):
    """The JSON value in PATH (named NAME in messages), at most LIMIT bytes; WHAT names the
    kind of file ("a LabelMe file")."""
    name = name or str(path)
    try:
        if not path.is_file():
            raise ValueError(f"{name}: no such file" if not path.exists() else
                             f"{name}: not a regular file")
        size = path.stat().st_size
        if size > limit:
            raise ValueError(f"{name}: {size} bytes, over the limit of {limit} bytes for {what}")
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not UTF-8 text; {what} is UTF-8") from None
    except RecursionError:
        raise ValueError(f"{name}: JSON nested too deeply") from None
    except OSError as exc:
        raise ValueError(f"{name}: cannot read: {exc.strerror or exc}") from None
