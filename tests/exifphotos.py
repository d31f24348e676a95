"""Phone-like photos for the EXIF orientation tests: one known upright picture (a red rectangle
on grey, off-centre in both axes so that every turn or mirror moves it), its stored pixels for
each Orientation tag worked out from the EXIF specification's table with numpy (not with
Pillow's transposes, which odwrap uses), and the APP1 block written byte by byte."""

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 96, 64  # the upright picture
RECT = (16, 8, 40, 32)  # xmin, ymin, xmax, ymax (exclusive) of the red rectangle, upright
RED, GREY = (220, 20, 20), (110, 110, 110)


def upright() -> np.ndarray:
    pixels = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    pixels[:] = GREY
    xmin, ymin, xmax, ymax = RECT
    pixels[ymin:ymax, xmin:xmax] = RED
    return pixels


def stored(tag: int, picture: np.ndarray | None = None) -> np.ndarray:
    """The pixels a camera stores with Orientation TAG for the upright PICTURE. EXIF 2.3,
    tag 274: the stored 0th row and 0th column are, in the upright picture, 1 top/left,
    2 top/right, 3 bottom/right, 4 bottom/left, 5 left/top, 6 right/top, 7 right/bottom,
    8 left/bottom."""
    p = upright() if picture is None else picture
    return {1: p, 2: p[:, ::-1], 3: p[::-1, ::-1], 4: p[::-1, :],
            5: p.swapaxes(0, 1), 6: p[:, ::-1].swapaxes(0, 1),
            7: p[::-1, ::-1].swapaxes(0, 1), 8: p[::-1, :].swapaxes(0, 1)}[tag].copy()


def red_box(pixels: np.ndarray) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax), max exclusive, of the red pixels."""
    red = (pixels[..., 0] > 160) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    rows, columns = np.flatnonzero(red.any(axis=1)), np.flatnonzero(red.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def mean_colour(pixels: np.ndarray, box) -> np.ndarray:
    """The mean RGB inside BOX (pixels, float corners), two pixels in from its edges, where
    JPEG's blocks blur the rectangle's border."""
    xmin, ymin, xmax, ymax = (int(round(value)) for value in box)
    return pixels[ymin + 2:ymax - 2, xmin + 2:xmax - 2].reshape(-1, 3).mean(axis=0)


def is_red(colour) -> bool:
    return bool(np.all(np.abs(np.asarray(colour) - RED) < 25))


def ifd_entry(tag: int, kind: int, count: int, value: bytes, order=">") -> bytes:
    return struct.pack(order + "HHI", tag, kind, count) + value.ljust(4, b"\0")[:4]


def tiff(entries: list[bytes], order=">", tail: bytes = b"") -> bytes:
    """A TIFF header and one IFD of ENTRIES (then TAIL, what offsets may point into)."""
    mark = b"MM" if order == ">" else b"II"
    return (mark + struct.pack(order + "HI", 42, 8) + struct.pack(order + "H", len(entries))
            + b"".join(entries) + struct.pack(order + "I", 0) + tail)


def orientation_exif(tag: int, order=">") -> bytes:
    """An EXIF block (the APP1 payload) holding Orientation TAG, a SHORT."""
    return b"Exif\0\0" + tiff([ifd_entry(0x0112, 3, 1, struct.pack(order + "H", tag), order)],
                              order)


def jpeg(pixels: np.ndarray, exif: bytes = b"", quality: int = 95) -> bytes:
    """JPEG bytes of PIXELS with EXIF (an APP1 payload) spliced in after the SOI marker."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    data = buffer.getvalue()
    if not exif:
        return data
    assert len(exif) + 2 <= 0xFFFF
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:]


def photo(tag: int) -> bytes:
    """A phone's JPEG of the upright picture: stored pixels and their Orientation tag."""
    return jpeg(stored(tag), orientation_exif(tag))


def write_voc(root: Path, images: dict) -> Path:
    """A VOC dataset: {name: (image bytes, (width, height) annotated, [(class, box)])}."""
    (root / "JPEGImages").mkdir(parents=True)
    (root / "Annotations").mkdir()
    for name, (data, (width, height), objects) in images.items():
        (root / "JPEGImages" / name).write_bytes(data)
        boxes = "".join(
            f"<object><name>{cls}</name><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>"
            f"<xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>"
            for cls, (xmin, ymin, xmax, ymax) in objects)
        (root / "Annotations" / f"{Path(name).stem}.xml").write_text(
            f"<annotation><filename>{name}</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{boxes}</annotation>")
    return root
