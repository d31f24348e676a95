"""The images that `predict` and `verify` read: image files, folders of them, glob patterns
(expanded here, as a quoted pattern reaches odwrap unexpanded) and TFRecord files of
tf.Examples (`image/encoded`, as `odwrap convert` writes them).

Sources come in a stable order (the arguments' order; a folder's and a glob's files sorted), one
at a time and read only when asked, so that a run over millions of images holds one in memory
and a resumed run can skip the images an earlier run finished."""

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from odwrap.errors import InputError
from odwrap.fsutil import bounded_glob, check_input_file

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
RECORD_SUFFIXES = frozenset({".tfrecord", ".record", ".tfrecords"})
GLOB_CHARACTERS = frozenset("*?[")


@dataclass
class Source:
    """One image: its id (the TFRecord's numeric `image/source_id`, else its position from 1),
    the name results give it, and how to read it."""

    image_id: int
    filename: str
    path: Path | None = None  # an image file
    encoded: bytes | None = None  # an image from a TFRecord
    record: tuple | None = None  # and where: (the TFRecord file, the record's offset, number)

    def read(self):
        """uint8 RGB [H, W, 3]: an image file as a viewer shows it (its EXIF orientation
        applied), a TFRecord's image as stored; InputError naming it when it cannot be read."""
        from odwrap.deploy.runtime import load_rgb

        if self.encoded is not None:
            return load_rgb(io.BytesIO(self.encoded), name=self.filename, oriented=False)
        return load_rgb(self.path)


def _files(argument: str) -> list[Path]:
    from odwrap.data.remote import is_url

    if is_url(argument):
        raise InputError(f"{argument}: URLs are read by predict --runner beam only")
    path = Path(argument)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                      and p.is_file())
    if not path.exists() and GLOB_CHARACTERS & set(argument):
        matches = [Path(p) for p in bounded_glob(argument, recursive=True)]
        if not matches:
            raise InputError(f"{argument}: no file matches this pattern")
        return [p for p in matches if p.is_file()]
    if not path.exists():
        raise InputError(f"{argument}: no such file or folder")
    return [check_input_file(path, "image")]  # stat only: a FIFO would wait for a writer


def is_record(path) -> bool:
    """Whether PATH (a path or a URL) names a TFRecord file, by its suffix."""
    return PurePosixPath(str(path)).suffix.lower() in RECORD_SUFFIXES


def record_source(path, number: int, data: bytes, before: int) -> Source:
    """The image of record NUMBER (its DATA) of the TFRecord file PATH (a path or a URL);
    BEFORE: how many images came before the file."""
    from odwrap.odapi.tfexample import decode_example

    try:
        features = decode_example(data)
    except (ValueError, IndexError, struct.error) as exc:  # a record that is no Example
        raise InputError(f"{path}: record {number} is not a tf.Example ({exc})") from None
    encoded = features.get("image/encoded")
    if not encoded:
        raise InputError(f"{path}: record {number} has no image/encoded feature")
    source_id = (features.get("image/source_id") or [b""])[0].decode("utf-8", "replace")
    filename = (features.get("image/filename") or [b""])[0].decode("utf-8", "replace")
    numeric = source_id.isascii() and source_id.isdigit() and len(source_id) <= 18
    name = str(path).rstrip("/").rpartition("/")[2]
    return Source(image_id=int(source_id) if numeric else before + number + 1,
                  filename=filename or source_id or f"{name}#{number}", encoded=encoded[0])


def _records(path, before: int, opener=None) -> Iterator[Source]:
    """The images of a TFRecord file; BEFORE: how many images came before it; OPENER: as
    read_records' (a URL's)."""
    from odwrap.odapi.tfexample import read_records

    found = read_records(path, offsets=True, **({"opener": opener} if opener else {}))
    for number, (offset, data) in enumerate(found):
        source = record_source(path, number, data, before)
        source.record = (str(path), offset, number)
        yield source


def iterate(arguments, files=None, opener=None) -> Iterator[Source]:
    """Every image of ARGUMENTS, in order; InputError for an argument that names nothing.
    FILES: what lists an argument's files instead (a URL's, for predict --runner beam), with
    OPENER to read its TFRecords."""
    position = 0
    for argument in arguments:
        for path in (files or _files)(str(argument)):
            if is_record(path):
                for source in _records(path, position, opener):
                    position += 1
                    yield source
            else:
                position += 1
                yield Source(image_id=position, filename=str(path), path=path)


def count(arguments) -> int:
    """How many images `iterate` yields (reads record headers only, not the images)."""
    from odwrap.odapi.tfexample import read_records

    total = 0
    for argument in arguments:
        for path in _files(str(argument)):
            total += (sum(1 for _ in read_records(path)) if path.suffix.lower() in
                      RECORD_SUFFIXES else 1)
    return total


def first_record(arguments) -> Path | None:
    """The first TFRecord file that ARGUMENTS name, None when they name image files only."""
    for argument in arguments:
        for path in _files(str(argument)):
            if path.suffix.lower() in RECORD_SUFFIXES:
                return path
    return None
