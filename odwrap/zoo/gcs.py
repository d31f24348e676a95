"""Fetching a zoo tarball from a gs:// mirror with TensorFlow's tf.io.gfile, the one part of the
zoo code that needs TensorFlow: imported here, only when such a mirror is used."""

import os
from pathlib import Path

from odwrap import report
from odwrap.errors import InputError, RunError, StackError
from odwrap.zoo.cache import open_part

CHUNK = 1024 * 1024


def _gfile():
    try:
        from odwrap.odapi import compat

        return compat.import_tensorflow().io.gfile
    except ImportError as exc:
        raise StackError(f"gs:// mirrors are read with TensorFlow's tf.io.gfile, and TensorFlow "
                         f"cannot be imported here ({exc}); install it, or use an http(s):// or "
                         "file:// mirror") from None


def fetch(url: str, part: Path, task: str) -> None:
    """URL's whole object in PART, going on from what PART holds (a gfile seek)."""
    gfile = _gfile()
    try:
        if not gfile.exists(url):
            raise InputError(f"{url}: not found; a mirror holds DATE/NAME.tar.gz under "
                             "ODWRAP_ZOO_URL")
        total = gfile.stat(url).length
        with gfile.GFile(url, "rb") as reader, open_part(part) as writer:
            have = os.fstat(writer.fileno()).st_size
            have = have if have <= total else 0
            writer.truncate(have)
            writer.seek(have)
            reader.seek(have)
            with report.tracking(task, total, "B", done=have) as tracker:
                while chunk := reader.read(CHUNK):
                    writer.write(chunk)
                    tracker.advance(len(chunk))
            done = writer.tell()
    except (InputError, StackError):
        raise
    except Exception as exc:  # noqa: BLE001 (tf.errors.*: permission, network, ...)
        first = (str(exc).strip().splitlines() or [""])[0]
        raise RunError(f"{url}: {type(exc).__name__}: {first}") from None
    if done != total:
        raise RunError(f"{url}: read {done} of {total} bytes; run the same pull again to resume")
