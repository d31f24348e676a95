"""The image bytes a record stores for a sample: read, checked, turned when its annotation
describes the EXIF-oriented image (odwrap.data.orientation), re-encoded when TensorFlow's
decoders cannot take them. JPEG and PNG bytes pass through undecoded; other formats are
re-encoded as PNG; a turned photo is re-encoded (orientation.encode_turned).
"""

import io
import warnings
from pathlib import Path

from odwrap.data import orientation
from odwrap.data.dataset import Problems


def _jpeg_complete(data: bytes) -> bool:
    # A JPEG ends with the EOI marker; a truncated download does not.
    return data.rstrip(b"\0")[-2:] == b"\xff\xd9"


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
