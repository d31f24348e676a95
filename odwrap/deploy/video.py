"""Videos for `predict`: files (.mp4, .avi, .mkv, .webm) and the stream URLs OpenCV opens
(rtsp://, http(s)://), read frame by frame through OpenCV (opencv-python-headless, FFmpeg
inside), and the annotated video a run writes of each.

A video is never held whole: frames are decoded one at a time, those between the kept ones
(--stride) only grabbed, and a frame larger than an image may be (Pillow's decompression-bomb
limit) is refused before one is decoded. OpenCV is imported only when a video is given.

The annotated video is MPEG-4 Part 2 ('mp4v', the encoder every opencv-python-headless wheel
has; H.264 is not in it; an odd side padded by a black row or column, which the encoder would
drop) in NAME.annotated.mp4, written in a private temporary folder beside it
(.NAME.annotated.mp4.PID.*.tmp/, which fsutil.remove_leftovers removes once its run is gone)
and renamed when the video's last frame is written. An MP4 cut off mid-write has no index (its
'moov' box comes last) and cannot be appended to, so a run interrupted in a video leaves none:
the resumed run draws that video's earlier frames again from their logged detections.
"""

import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from odwrap.errors import InputError, RunError
from odwrap.fsutil import remove_leftovers

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".webm"})
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://")
TIMEOUT_MS = 30_000  # how long opening a stream, or waiting for its next frame, may take
FALLBACK_FPS = 25.0  # a stream that tells no frame rate: the annotated video's
FOURCC, SUFFIX = "mp4v", ".mp4"
ERRORS_ONLY = 2  # OpenCV's LOG_LEVEL_ERROR


def is_stream(argument: str) -> bool:
    return str(argument).lower().startswith(STREAM_SCHEMES)


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _cv2():
    """OpenCV, with FFmpeg's and its own warnings (a file that is no video, a damaged frame)
    silenced unless --verbose: odwrap says what went wrong in one line."""
    from odwrap import report

    if not report.verbose():
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read when FFmpeg starts
    import cv2

    if not report.verbose():  # errors only: cv2.utils.logging in OpenCV 5, cv2 itself in 4
        logging = getattr(cv2.utils, "logging", None)
        set_level = logging.setLogLevel if logging else getattr(cv2, "setLogLevel", None)
        if set_level is not None:
            set_level(ERRORS_ONLY)
    return cv2


def _max_pixels() -> int:
    from PIL import Image

    return 2 * Image.MAX_IMAGE_PIXELS  # where Pillow refuses an image as a decompression bomb


def _open(name: str):
    """An opened cv2.VideoCapture of NAME; InputError naming it when OpenCV cannot open it as
    a video or its frames are larger than an image may be."""
    cv2 = _cv2()

    capture = cv2.VideoCapture(name, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, TIMEOUT_MS,
                                                     cv2.CAP_PROP_READ_TIMEOUT_MSEC, TIMEOUT_MS])
    if not capture.isOpened():
        capture.release()
        raise InputError(f"{name}: " + ("cannot open the stream (unreachable, or no video in "
                                        "it)" if is_stream(name) else
                                        "not a video OpenCV can read (no video stream found)"))
    pixels = capture.get(cv2.CAP_PROP_FRAME_WIDTH) * capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    if pixels > _max_pixels():
        capture.release()
        raise InputError(f"{name}: frames of {pixels:.0f} pixels, more than the "
                         f"{_max_pixels()} an image may have")
    return capture


def kept_frames(name: str, stride: int) -> int | None:
    """How many frames of NAME a run keeps at STRIDE, from the container's frame count; None
    for a stream (opened here too, so that one OpenCV cannot open fails before a model loads)
    or a container that does not tell. InputError when NAME is no video."""
    cv2 = _cv2()

    capture = _open(name)
    try:
        frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        capture.release()
    if is_stream(name) or not math.isfinite(frames) or frames <= 0:
        return None
    return math.ceil(frames / stride)


def frames(name: str, stride: int) -> Iterator[tuple[int, float, object, float]]:
    """(index counted from 0, time in seconds, uint8 RGB [H, W, 3], the kept frames' rate per
    second) of every STRIDE-th frame of NAME (0, STRIDE, 2 STRIDE, ...), one decoded at a time;
    ends where OpenCV reads no more."""
    cv2 = _cv2()

    capture = _open(name)
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if math.isfinite(fps) and fps > 0 else 0.0
    rate = (fps or FALLBACK_FPS) / stride
    limit = _max_pixels()
    try:
        index = 0
        while capture.grab():
            if index % stride == 0:
                milliseconds = capture.get(cv2.CAP_PROP_POS_MSEC)
                if not math.isfinite(milliseconds) or milliseconds < 0:
                    milliseconds = index * 1000 / fps if fps > 0 else 0.0
                ok, frame = capture.retrieve()
                if not ok:
                    break
                if frame.shape[0] * frame.shape[1] > limit:
                    raise InputError(f"{name}: frame {index} is larger than an image may be")
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if frame.ndim == 3 else \
                    cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
                yield index, round(milliseconds / 1000, 3), rgb, rate
            index += 1
    finally:
        capture.release()


class AnnotatedVideo:
    """OUTPUT/NAME (NAME.annotated.mp4) written frame by frame through a private temporary
    folder beside it; `close()` gives it its name, `discard()` removes what was written."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = Path(path), fps
        remove_leftovers(self.path)  # what a killed run left of it
        self.folder = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.{os.getpid()}.",
                                            suffix=".tmp", dir=self.path.parent))
        self.temporary = self.folder / f"video{SUFFIX}"
        self.writer = None
        self.frames = 0

    def write(self, rgb) -> None:
        import numpy as np

        cv2 = _cv2()

        if self.writer is None:  # the first frame's size is the video's, made even: MPEG-4's
            height, width = (side + side % 2 for side in rgb.shape[:2])  # encoder drops odd edges
            self.writer = cv2.VideoWriter(str(self.temporary), cv2.VideoWriter_fourcc(*FOURCC),
                                          self.fps, (width, height))
            if not self.writer.isOpened():
                raise RunError(f"{self.path}: OpenCV cannot write a {FOURCC} video of "
                               f"{width}x{height}")
            self.size = (height, width)
        height, width = rgb.shape[:2]
        if (height + height % 2, width + width % 2) != self.size:  # a stream changed its size
            rgb = cv2.resize(rgb, self.size[::-1], interpolation=cv2.INTER_AREA)
        elif (height, width) != self.size:  # an odd side: a black row or column added
            rgb = np.pad(rgb, ((0, self.size[0] - height), (0, self.size[1] - width), (0, 0)))
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> Path | None:
        """The finished video at its name (None when no frame was written)."""
        if self.writer is not None:
            self.writer.release()
            os.replace(self.temporary, self.path)
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.path if self.writer is not None else None

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.release()
        shutil.rmtree(self.folder, ignore_errors=True)
