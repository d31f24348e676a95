"""The images that `predict` and `verify` read: image files, folders of them, glob patterns
(expanded here, as a quoted pattern reaches odwrap unexpanded) and TFRecord files of
tf.Examples (`image/encoded`, as `odwrap convert` writes them); for `predict`, also the frames
of video files and streams (odwrap.deploy.video).

Sources come in a stable order (the arguments' order; a folder's and a glob's files sorted), one
at a time and read only when asked, so that a run over millions of images holds one in memory
and a resumed run can skip the images an earlier run finished."""

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from odwrap.deploy import video
from odwrap.errors import InputError
from odwrap.fsutil import bounded_glob, check_input_file

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
RECORD_SUFFIXES = frozenset({".tfrecord", ".record", ".tfrecords"})
GLOB_CHARACTERS = frozenset("*?[")


@dataclass
class Source:
    """One image: its id (the TFRecord's numeric `image/source_id`, else its position from 1),
    the name results give it, and how to read it. A video's frame has its index in the video
    (counted from 0), its time in seconds and its pixels, decoded already (a video is read in
    order), and the number of its video among the run's videos (CLIP)."""

    image_id: int
    filename: str
    path: Path | None = None  # an image file
    encoded: bytes | None = None  # an image from a TFRecord
    frame: int | None = None  # a video's frame
    time: float | None = None
    pixels: object = None  # the frame, uint8 RGB [H, W, 3]
    clip: int | None = None
    rate: float | None = None  # the video's kept frames per second
    record: tuple | None = None  # a TFRecord's: (the file, the record's offset, number)

    def read(self):
        """uint8 RGB [H, W, 3]: an image file as a viewer shows it (its EXIF orientation
        applied), a TFRecord's image as stored; InputError naming it when it cannot be read."""
        from odwrap.deploy.runtime import load_rgb

        if self.pixels is not None:
            return self.pixels
        if self.encoded is not None:
            return load_rgb(io.BytesIO(self.encoded), name=self.filename, oriented=False)
        return load_rgb(self.path)


def _files(argument: str, videos: bool = False) -> list[Path | str]:
    """The files ARGUMENT names (a folder's images, and its videos when VIDEOS, sorted); a
    stream URL itself when VIDEOS."""
    from odwrap.data.remote import is_url

    if videos and video.is_stream(argument):
        return [argument]
    if is_url(argument):
        raise InputError(f"{argument}: URLs are read by predict --runner beam only")
    path = Path(argument)
    if path.is_dir():
        suffixes = IMAGE_SUFFIXES | video.VIDEO_SUFFIXES if videos else IMAGE_SUFFIXES
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in suffixes
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


def _is_video(path) -> bool:
    return isinstance(path, str) or video.is_video(path)


def iterate(arguments, stride: int | None = None, files=None, opener=None) -> Iterator[Source]:
    """Every image of ARGUMENTS, in order; InputError for an argument that names nothing. With
    a STRIDE, video files and stream URLs give every STRIDE-th frame, one decoded at a time.
    FILES: what lists an argument's files instead (a URL's, for predict --runner beam), with
    OPENER to read its TFRecords."""
    position = clip = 0
    for argument in arguments:
        listed = files(str(argument)) if files else _files(str(argument),
                                                           videos=stride is not None)
        for path in listed:
            if stride is not None and _is_video(path):
                clip += 1
                for index, seconds, pixels, rate in video.frames(str(path), stride):
                    position += 1
                    yield Source(image_id=position, filename=str(path), frame=index,
                                 time=seconds, pixels=pixels, clip=clip, rate=rate)
            elif is_record(path):
                for source in _records(path, position, opener):
                    position += 1
                    yield source
            else:
                position += 1
                yield Source(image_id=position, filename=str(path), path=path)


def count(arguments, stride: int | None = None) -> tuple[int | None, int]:
    """(how many images `iterate` yields, how many videos and streams are among them): record
    headers are read, not the images, and a video's frames are counted as its container tells;
    None when a stream, or a container that does not tell, is among them. InputError for a
    video file OpenCV cannot open, before a model loads."""
    from odwrap.odapi.tfexample import read_records

    total, videos = 0, 0
    for argument in arguments:
        for path in _files(str(argument), videos=stride is not None):
            if stride is not None and _is_video(path):
                kept = video.kept_frames(str(path), stride)
                videos += 1
                total = None if kept is None or total is None else total + kept
            elif total is not None:
                total += sum(1 for _ in read_records(path)) if is_record(path) else 1
    return total, videos


def first_of(arguments, kind: str) -> Path | str | None:
    """The first TFRecord file (KIND 'record'), video file or stream (KIND 'video') or stream
    URL (KIND 'stream') that ARGUMENTS name; None when they name none."""
    for argument in arguments:
        if kind == "stream":
            if video.is_stream(str(argument)):
                return str(argument)
            continue
        for path in _files(str(argument), videos=kind == "video"):
            if kind == "video" and _is_video(path) or \
                    kind == "record" and not _is_video(path) and is_record(path):
                return path
    return None
