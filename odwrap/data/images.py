"""The image bytes a record stores for a sample: read, checked, turned when its annotation
describes the EXIF-oriented image (odwrap.data.orientation), re-encoded when TensorFlow's
decoders cannot take them. JPEG and PNG bytes pass through undecoded; other formats are
re-encoded as PNG; a turned photo is re-encoded (orientation.encode_turned).

Most images of a dataset are plain JPEGs: a JFIF header, tables, one frame of 8-bit grey or
colour, no EXIF. Their size is read from the frame header here (_plain_jpeg), which checks what
Pillow's opening checks of those segments (about 50 us an image less than opening them with
Pillow); anything else is opened with Pillow.
"""

import io
import warnings
from pathlib import Path

from odwrap.data import orientation
from odwrap.data.dataset import Problems


def _jpeg_complete(data: bytes) -> bool:
    # A JPEG ends with the EOI marker; a truncated download does not.
    return data.rstrip(b"\0")[-2:] == b"\xff\xd9"


# The segments a plain JPEG may have before its scan: JFIF (APP0), quantization and Huffman
# tables, restart interval, comment, and one frame header (baseline, extended or progressive).
_FRAMES = (0xC0, 0xC1, 0xC2)
_TABLES = (0xC4, 0xDB, 0xDD, 0xE0, 0xFE)


def _plain_jpeg(data: bytes):
    """(width, height) of a plain JPEG, one that Pillow opens as JPEG of mode L or RGB with no
    EXIF or XMP to read an orientation from; None for any other data (Pillow decides). Each
    segment is checked as Pillow's JpegImagePlugin checks it: lengths within the data, whole
    quantization tables, a JFIF header long enough, an 8-bit frame of 1 or 3 components."""
    from PIL import Image

    if data[:3] != b"\xff\xd8\xff":
        return None
    size, position, end = None, 2, len(data)
    while position + 4 <= end and data[position] == 0xFF:
        marker = data[position + 1]
        length = data[position + 2] << 8 | data[position + 3]
        start, position = position + 4, position + 2 + length
        if length < 2 or position > end:
            return None
        if marker == 0xDA:  # start of scan: Pillow stops reading here
            if size is None or (Image.MAX_IMAGE_PIXELS is not None
                                and size[0] * size[1] > Image.MAX_IMAGE_PIXELS):
                return None
            return size
        if marker in _FRAMES:
            frame = data[start:position]
            if size is not None or len(frame) < 6 or (len(frame) - 6) % 3 or frame[0] != 8 \
                    or frame[5] not in (1, 3):
                return None
            size = frame[3] << 8 | frame[4], frame[1] << 8 | frame[2]
            if min(size) == 0:
                return None
        elif marker == 0xDB and not _whole_tables(data[start:position]):
            return None
        elif marker == 0xE0 and data.startswith(b"JFIF", start) and length < 2 + 7:
            return None
        elif marker not in _FRAMES + _TABLES:
            return None
    return None


def _whole_tables(segment: bytes) -> bool:
    """Whether a DQT SEGMENT holds whole tables (64 entries of 1 or 2 bytes each)."""
    while segment:
        table = 1 + (64 if segment[0] < 16 else 128)
        if len(segment) < table:
            return False
        segment = segment[table:]
    return True


def load_image(path: Path, where: str, problems: Problems, annotated=None,
               convention: str = orientation.DEFAULT):
    """(bytes to store, format, width, height) or None when the image is unusable. With an EXIF
    orientation, the image that an annotation of size ANNOTATED ((width, height), None when
    unknown) describes (orientation.annotated_on): turned and re-encoded, or as stored."""
    from PIL import Image

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.add("missing_image", where)
        return None
    except OSError:
        problems.add("corrupt_image", where)
        return None
    size = _plain_jpeg(data) if convention in orientation.CONVENTIONS else None
    if size is not None and _jpeg_complete(data):
        return data, "jpeg", size[0], size[1]
    kept = Problems(strict=problems.strict)  # counted only when the image is kept
    try:
        with warnings.catch_warnings():  # Pillow's on corrupt EXIF: bad_exif counts them
            warnings.simplefilter("ignore", UserWarning)
            loaded = _stored_image(data, where, kept, annotated, convention)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        problems.add("corrupt_image", where)
        return None
    problems.merge(kept)
    return loaded


def _stored_image(data: bytes, where: str, problems: Problems, annotated, convention):
    """load_image's result for an image file's DATA; OSError and the like when corrupt."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        kind, mode = image.format, image.mode
        turn = _orientation(image, where, problems)
        if kind == "PNG":
            image.verify()
        if kind == "JPEG" and not _jpeg_complete(data):
            raise OSError("truncated JPEG")
        on = orientation.annotated_on(annotated, (width, height), turn, convention)
        if turn != 1:
            problems.add(f"exif_{on}", where)
        if turn != 1 and on == "oriented":
            with Image.open(io.BytesIO(data)) as fresh:  # verify() spent the PNG
                return orientation.encode_turned(fresh, turn)
        if kind == "JPEG" and mode in ("RGB", "L"):
            return data, "jpeg", width, height
        if kind == "PNG":
            return data, "png", width, height
    with Image.open(io.BytesIO(data)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "PNG")
        return buffer.getvalue(), "png", width, height


def _orientation(image, where: str, problems: Problems) -> int:
    """IMAGE's EXIF orientation; 1 (taken as stored) when unreadable, counted."""
    try:
        return orientation.read(image)
    except orientation.BadExif as exc:
        problems.add("bad_exif", f"{where}: {exc}")
        return 1
