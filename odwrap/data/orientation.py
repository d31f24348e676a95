"""EXIF orientation: which image an annotation describes, and that image's pixels.

A phone stores the pixels as its sensor reads them and an EXIF tag (274, Orientation, 1..8)
says how to turn them for display. Viewers and most annotation tools (LabelMe, CVAT since
2022, the browser-based tools such as Roboflow and Label Studio) show the turned, "oriented"
image and record its size; some (older LabelImg, scripts that read pixels with PIL or
TensorFlow) show the stored, "raw" pixels. TensorFlow's decoders ignore the tag, so the model
sees whatever pixels a TFRecord stores.

The one rule: an annotation describes the oriented image when its recorded size is the oriented
size and not the raw one, the raw image when the reverse; when the size cannot tell (mirrors and
half turns, 2-4, keep the sides; a square image; a format that records no size) the convention
decides: `oriented` by default (`convert --exif raw` for the other). convert then writes the
image the annotation describes: the oriented pixels re-encoded without the tag, or the raw
bytes as they are. Outside convert, an image file is taken as a viewer shows it (`upright`),
and an image inside a TFRecord as it is stored, since the record's boxes describe those pixels.
"""

import struct
import warnings

TAG = 0x0112  # EXIF Orientation
CONVENTIONS = ("oriented", "raw")
DEFAULT = "oriented"
# The Image.Transpose method that turns the stored pixels into the oriented image, by tag.
TURNS = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
         6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
JPEG_QUALITY = 95  # a turned JPEG is re-encoded: close to the source, a fraction of a PNG's size
TIFF_HEADERS = (b"MM\x00\x2a", b"II\x2a\x00")
# What Pillow's EXIF parser has raised on malformed blocks; any of them: the tag is unreadable.
PARSE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError,
                struct.error, RecursionError)


class BadExif(ValueError):
    """An EXIF block or Orientation tag that cannot be read; the image is taken as stored."""


def read(image) -> int:
    """The Orientation tag of an open PIL image: 1..8, 1 when there is none; BadExif when the
    EXIF block is there but unreadable, or the tag is not a whole number in 1..8."""
    from PIL import Image

    block = image.info.get("exif")
    if image.format == "PNG" and block is None:  # Pillow would decode the pixels to look after
        return 1  # them, for an eXIf chunk that viewers ignore there
    if isinstance(block, (bytes, bytearray)):
        body = block[6:] if block.startswith(b"Exif\x00\x00") else block
        if body[:4] not in TIFF_HEADERS:
            raise BadExif("the EXIF block is not TIFF data")
    try:
        with warnings.catch_warnings(record=True) as caught:  # Pillow warns of corrupt tags
            warnings.simplefilter("always")
            if block is None:
                exif = image.getexif()  # a TIFF's own tags
            else:
                exif = Image.Exif()  # parsed here: opening a JPEG parsed it, warnings unseen
                exif.load(bytes(block))
            value = exif.get(TAG, 1)
    except PARSE_ERRORS as exc:
        raise BadExif(f"unreadable EXIF ({type(exc).__name__})") from None
    if caught and value == 1 and block is not None:
        raise BadExif(f"corrupt EXIF ({str(caught[0].message).strip()[:60]})")
    if isinstance(value, bool) or not isinstance(value, int) or value not in range(1, 9):
        raise BadExif(f"EXIF orientation {str(value)[:20]} is not 1..8")
    return value


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(width, height) of the oriented image whose stored pixels are SIZE: tags 5-8 turn the
    image a quarter, swapping its sides."""
    width, height = size
    return (height, width) if orientation >= 5 else (width, height)


def _proportional(annotated: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether ANNOTATED is SIZE scaled evenly, each side rounded to a whole pixel."""
    (width, height), (image_width, image_height) = annotated, size
    return abs(width * image_height - height * image_width) <= (image_width + image_height) / 2


def annotated_on(annotated: tuple[int, int] | None, size: tuple[int, int], orientation: int,
                 convention: str = DEFAULT) -> str:
    """'oriented' or 'raw': the image an annotation of recorded size ANNOTATED (None: the
    format records none) describes, for stored pixels of SIZE with tag ORIENTATION. The size
    decides where it tells the two apart (exactly, else by its aspect ratio: an annotation of a
    scaled copy); CONVENTION where it cannot."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown EXIF convention {convention!r}; one of: "
                         f"{', '.join(CONVENTIONS)}")
    if orientation == 1:
        return "raw"
    sizes = {"oriented": oriented_size(size, orientation), "raw": tuple(size)}
    if annotated is None or sizes["oriented"] == sizes["raw"]:
        return convention
    for fits in (lambda other: tuple(annotated) == other,
                 lambda other: _proportional(annotated, other)):
        fitting = [name for name, other in sizes.items() if fits(other)]
        if len(fitting) == 1:
            return fitting[0]
    return convention


def turned(image, orientation: int):
    """IMAGE (PIL) as its ORIENTATION tag says to show it."""
    from PIL import Image

    if orientation == 1:
        return image
    return image.transpose(getattr(Image.Transpose, TURNS[orientation]))


def upright(image):
    """IMAGE (PIL) as a viewer shows it: its Orientation tag applied, or as stored when the tag
    is unreadable."""
    try:
        return turned(image, read(image))
    except BadExif:
        return image


def encode_turned(image, orientation: int) -> tuple[bytes, str, int, int]:
    """(bytes, format, width, height) of IMAGE, an open PIL image of its stored pixels, turned
    to ORIENTATION and re-encoded without the tag: an RGB or grey JPEG as a JPEG at
    JPEG_QUALITY, its chroma subsampling kept when 4:2:0 (4:4:4 otherwise, as a quarter turn
    of 4:2:2 has no Pillow setting), anything else as a PNG (lossless)."""
    import io

    from PIL import JpegImagePlugin

    as_jpeg = image.format in ("JPEG", "MPO") and image.mode in ("RGB", "L")
    sampling = JpegImagePlugin.get_sampling(image) if as_jpeg else -1
    picture = turned(image if as_jpeg else image.convert("RGB"), orientation)
    buffer = io.BytesIO()
    if as_jpeg:
        picture.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=2 if sampling == 2 else 0)
    else:
        picture.save(buffer, "PNG")
    width, height = picture.size
    return buffer.getvalue(), "jpeg" if as_jpeg else "png", width, height
