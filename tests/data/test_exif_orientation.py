"""EXIF orientation in convert (issue 27): a phone photo of each Orientation tag, annotated on
the image as viewers show it and on the stored pixels; the box written to the record must land
on the drawn rectangle in the image written beside it, decoded as TensorFlow does (the tag
ignored). The rule itself (odwrap.data.orientation) case by case."""

import io
import json
import struct
import warnings

import numpy as np
import pytest
from PIL import Image

from odwrap import cli
from odwrap.data import orientation
from tests import exifphotos as photos
from tests.recordcheck import assert_valid, features, read_examples

TAGS = range(1, 9)
SAME_SIDES = (1, 2, 3, 4)  # the stored pixels have the upright picture's width and height


def convert(*argv):
    return cli.main(["convert", *map(str, argv)])


def written(out) -> dict:
    """{filename: (decoded pixels with the tag ignored, [box in pixels], features)}."""
    found = {}
    for shard in sorted(out.glob("*.tfrecord")):
        for example in read_examples(shard):
            assert_valid(example)
            values = features(example)
            with Image.open(io.BytesIO(values["image/encoded"][0])) as image:
                pixels = np.asarray(image.convert("RGB"))  # Pillow applies no tag on its own
            height, width = pixels.shape[:2]
            assert (values["image/width"][0], values["image/height"][0]) == (width, height)
            boxes = [(xmin * width, ymin * height, xmax * width, ymax * height)
                     for xmin, ymin, xmax, ymax in zip(*(values[f"image/object/bbox/{key}"]
                                                         for key in ("xmin", "ymin", "xmax",
                                                                     "ymax")))]
            name = values["image/filename"][0].decode().rpartition("/")[2]
            found[name] = (pixels, boxes, values)
    return found


def counts(out) -> dict:
    report = json.loads((out / "report.json").read_text())
    return {reason: entry["count"] for reason, entry in report["problems"].items()}


def as_viewed(tag: int) -> tuple:
    """(annotated size, box) of an annotation drawn on the upright picture."""
    return (photos.WIDTH, photos.HEIGHT), photos.RECT


def as_stored(tag: int) -> tuple:
    """(annotated size, box) of an annotation drawn on the stored pixels."""
    pixels = photos.stored(tag)
    return (pixels.shape[1], pixels.shape[0]), photos.red_box(pixels)


def dataset(root, annotation) -> dict:
    """A VOC dataset of one photo per tag, each annotated by ANNOTATION(tag)."""
    images = {}
    for tag in TAGS:
        size, box = annotation(tag)
        images[f"tag{tag}.jpg"] = (photos.photo(tag), size, [("red", box)])
    photos.write_voc(root, images)
    return images


def assert_on_rectangle(pixels, box):
    assert photos.is_red(photos.mean_colour(pixels, box)), (box, photos.red_box(pixels))
    assert photos.red_box(pixels) == tuple(round(value) for value in box)


def test_annotated_as_viewers_show_it_the_image_is_written_turned(tmp_path):
    images = dataset(tmp_path / "voc", as_viewed)
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    found = written(tmp_path / "out")
    for tag in TAGS:
        pixels, (box,), values = found[f"tag{tag}.jpg"]
        assert box == pytest.approx(photos.RECT)  # the boxes as given
        assert_on_rectangle(pixels, box)
        assert np.abs(pixels.astype(int) - photos.upright()).mean() < 3  # the upright picture
        assert values["image/format"] == [b"jpeg"]
        with Image.open(io.BytesIO(values["image/encoded"][0])) as image:
            assert image.getexif().get(orientation.TAG, 1) == 1  # no viewer turns it again
        if tag == 1:
            assert values["image/encoded"][0] == images["tag1.jpg"][0]  # untouched
    assert counts(tmp_path / "out") == {"exif_oriented": 7}


def test_annotated_on_the_stored_pixels_the_bytes_are_kept(tmp_path):
    """--exif raw: for tags 2-4 the annotated size cannot tell; 5-8 it can, either way."""
    images = dataset(tmp_path / "voc", as_stored)
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out", "--exif", "raw") == 0
    found = written(tmp_path / "out")
    for tag in TAGS:
        pixels, (box,), values = found[f"tag{tag}.jpg"]
        assert values["image/encoded"][0] == images[f"tag{tag}.jpg"][0]
        assert box == pytest.approx(as_stored(tag)[1])
        assert_on_rectangle(pixels, box)
    assert counts(tmp_path / "out") == {"exif_raw": 7}


def test_by_default_the_size_tells_quarter_turns_apart_and_the_rest_are_taken_as_viewed(
        tmp_path):
    """Annotated on the stored pixels, no --exif: tags 5-8 swap the sides, so the recorded size
    shows the annotation is of the stored pixels; tags 2-4 keep them, and the convention
    (oriented) turns the image while the boxes stay as given: off the rectangle."""
    dataset(tmp_path / "voc", as_stored)
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    found = written(tmp_path / "out")
    for tag in TAGS:
        pixels, (box,), _ = found[f"tag{tag}.jpg"]
        assert photos.is_red(photos.mean_colour(pixels, box)) == (tag not in (2, 3, 4))
    assert counts(tmp_path / "out") == {"exif_raw": 4, "exif_oriented": 3}


def test_the_size_wins_over_the_option_where_it_tells(tmp_path):
    """--exif raw, but annotations of the upright picture of tags 5-8 record its size."""
    dataset(tmp_path / "voc", as_viewed)
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out", "--exif", "raw") == 0
    found = written(tmp_path / "out")
    for tag in (1, 5, 6, 7, 8):
        pixels, (box,), _ = found[f"tag{tag}.jpg"]
        assert_on_rectangle(pixels, box)
    assert counts(tmp_path / "out") == {"exif_oriented": 4, "exif_raw": 3}


def test_a_scaled_annotation_is_scaled_evenly_to_the_image_it_fits(tmp_path):
    """Annotated on a half-size copy of the upright picture (48x32) of a tag 6 photo stored
    64x96: the aspect ratio picks the upright image and both sides scale by 2 (counted as
    size_mismatch, as any other size difference)."""
    half = tuple(value // 2 for value in photos.RECT)
    photos.write_voc(tmp_path / "voc", {"a.jpg": (photos.photo(6), (48, 32), [("red", half)])})
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    pixels, (box,), _ = written(tmp_path / "out")["a.jpg"]
    assert pixels.shape[:2] == (photos.HEIGHT, photos.WIDTH)
    assert box == pytest.approx(photos.RECT)
    assert_on_rectangle(pixels, box)
    assert counts(tmp_path / "out") == {"exif_oriented": 1, "size_mismatch": 1}


def test_a_size_mismatch_unrelated_to_orientation_keeps_todays_behaviour(tmp_path):
    """No tag, annotated 192x64 for a 96x64 image: boxes scaled to the image, counted."""
    photos.write_voc(tmp_path / "voc", {"a.jpg": (photos.jpeg(photos.upright()), (192, 64),
                                                  [("red", (32, 8, 80, 32))])})
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    pixels, (box,), _ = written(tmp_path / "out")["a.jpg"]
    assert box == pytest.approx(photos.RECT)
    assert counts(tmp_path / "out") == {"size_mismatch": 1}


def test_strict_does_not_fail_on_an_oriented_photo(tmp_path):
    dataset(tmp_path / "voc", as_viewed)
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out", "--strict") == 0
    assert counts(tmp_path / "out") == {"exif_oriented": 7}


def test_a_png_with_an_exif_chunk_is_turned_losslessly(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(photos.stored(6)).save(buffer, "PNG", exif=photos.orientation_exif(6)[6:])
    photos.write_voc(tmp_path / "voc", {"a.png": (buffer.getvalue(), (96, 64),
                                                  [("red", photos.RECT)])})
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    pixels, (box,), values = written(tmp_path / "out")["a.png"]
    assert values["image/format"] == [b"png"]
    assert np.array_equal(pixels, photos.upright())
    assert_on_rectangle(pixels, box)


# --- the rule --------------------------------------------------------------------------------

@pytest.mark.parametrize("annotated, size, tag, convention, expected", [
    ((96, 64), (64, 96), 6, "raw", "oriented"),  # the oriented size, not the stored one
    ((64, 96), (64, 96), 6, "oriented", "raw"),  # the stored size, not the oriented one
    ((48, 32), (64, 96), 8, "raw", "oriented"),  # half the oriented size: its aspect ratio
    ((21, 32), (64, 96), 5, "oriented", "raw"),  # a third of the stored size, rounded
    ((100, 100), (64, 96), 6, "raw", "raw"),  # neither: the convention
    ((100, 100), (64, 96), 6, "oriented", "oriented"),
    ((96, 64), (96, 64), 3, "raw", "raw"),  # a half turn keeps the sides: the convention
    ((96, 64), (96, 64), 2, "oriented", "oriented"),
    ((50, 50), (50, 50), 6, "raw", "raw"),  # square
    (None, (64, 96), 6, "raw", "raw"),  # the format records no size (YOLO, Open Images)
    (None, (64, 96), 6, "oriented", "oriented"),
    ((96, 64), (96, 64), 1, "oriented", "raw"),  # no turn: the stored pixels are the image
], ids=lambda value: str(value))
def test_annotated_on(annotated, size, tag, convention, expected):
    assert orientation.annotated_on(annotated, size, tag, convention) == expected


def test_an_unknown_convention_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="sideways"):
        orientation.annotated_on((1, 2), (2, 1), 6, "sideways")
    dataset(tmp_path / "voc", as_viewed)
    assert cli.main(["convert", "voc", str(tmp_path / "voc"), "-o", str(tmp_path / "out"),
                     "--exif", "sideways"]) == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err
    from odwrap import api
    from odwrap.errors import InputError

    with pytest.raises(InputError, match="^--exif sideways: one of oriented, raw$"):
        api.convert("voc", tmp_path / "voc", tmp_path / "api", exif="sideways", workers=1)


@pytest.mark.parametrize("tag", TAGS)
def test_oriented_size_swaps_the_sides_of_quarter_turns(tag):
    with Image.open(io.BytesIO(photos.photo(tag))) as image:
        assert orientation.oriented_size(image.size, orientation.read(image)) == \
            (photos.WIDTH, photos.HEIGHT)


# --- hostile EXIF ----------------------------------------------------------------------------

def _short(tag: int) -> bytes:
    return photos.ifd_entry(0x0112, 3, 1, struct.pack(">H", tag))


HOSTILE_EXIF = {
    "not TIFF": b"Exif\0\0" + b"\x13\x37" * 200,
    "empty": b"Exif\0\0",
    "truncated IFD": b"Exif\0\0MM\0*\0\0\0\x08\xff\xff",  # 65535 entries claimed, none there
    "tag 9": b"Exif\0\0" + photos.tiff([_short(9)]),
    "tag 0": b"Exif\0\0" + photos.tiff([_short(0)]),
    "tag as text": b"Exif\0\0" + photos.tiff([photos.ifd_entry(0x0112, 2, 4, b"six\0")]),
    "tag as a ratio": b"Exif\0\0" + photos.tiff(
        [photos.ifd_entry(0x0112, 5, 1, struct.pack(">I", 26))], tail=struct.pack(">II", 6, 0)),
    "tag past the end": b"Exif\0\0" + photos.tiff(
        [photos.ifd_entry(0x0112, 3, 40_000, struct.pack(">I", 0xFFFFFF00))]),
}


@pytest.mark.parametrize("name", HOSTILE_EXIF)
def test_an_unreadable_exif_block_is_counted_and_the_image_kept_as_stored(tmp_path, name):
    data = photos.jpeg(photos.upright(), HOSTILE_EXIF[name])
    photos.write_voc(tmp_path / "voc", {"a.jpg": (data, (96, 64), [("red", photos.RECT)])})
    with warnings.catch_warnings(record=True) as caught:  # in this process: --workers 1
        warnings.simplefilter("always", UserWarning)
        assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out", "--workers", 1) == 0
    pillows = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert not pillows  # Pillow's warnings of corrupt EXIF stay out of the user's terminal
    with warnings.catch_warnings():  # Pillow warns again reading the record's image here
        warnings.simplefilter("ignore", UserWarning)
        pixels, (box,), values = written(tmp_path / "out")["a.jpg"]
    assert values["image/encoded"][0] == data
    assert_on_rectangle(pixels, box)
    assert counts(tmp_path / "out") == {"bad_exif": 1}


def test_bad_exif_fails_strict_in_one_line(tmp_path, capsys):
    data = photos.jpeg(photos.upright(), HOSTILE_EXIF["tag 9"])
    photos.write_voc(tmp_path / "voc", {"a.jpg": (data, (96, 64), [("red", photos.RECT)])})
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out", "--strict") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a.jpg: EXIF orientation 9 is not 1..8" in err, err
    assert not (tmp_path / "out").exists()


def test_a_full_app1_of_entries_and_a_looping_ifd_are_read_in_bounds(tmp_path):
    """The largest APP1 (64 KiB: 5,400 entries, the tag last) and an Exif IFD pointing back
    at its own IFD: both read, quickly."""
    filler = [photos.ifd_entry(0x010E, 2, 4, b"abc\0")] * 5_400
    full = b"Exif\0\0" + photos.tiff(filler + [_short(6)])
    loop = b"Exif\0\0" + photos.tiff([_short(6), photos.ifd_entry(0x8769, 4, 1,
                                                                    struct.pack(">I", 8))])
    images = {"full.jpg": (photos.jpeg(photos.stored(6), full), (96, 64),
                           [("red", photos.RECT)]),
              "loop.jpg": (photos.jpeg(photos.stored(6), loop), (96, 64),
                           [("red", photos.RECT)])}
    photos.write_voc(tmp_path / "voc", images)
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    found = written(tmp_path / "out")
    for name in images:
        pixels, (box,), _ = found[name]
        assert_on_rectangle(pixels, box)
    assert counts(tmp_path / "out") == {"exif_oriented": 2}


def test_a_huge_exif_chunk_in_a_png_is_counted(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(photos.upright()).save(buffer, "PNG", exif=b"MM\0*" + b"\xee" * 8_000_000)
    photos.write_voc(tmp_path / "voc", {"a.png": (buffer.getvalue(), (96, 64),
                                                  [("red", photos.RECT)])})
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    pixels, (box,), _ = written(tmp_path / "out")["a.png"]
    assert_on_rectangle(pixels, box)
    assert counts(tmp_path / "out") == {"bad_exif": 1}


def test_a_truncated_photo_is_corrupt_and_nothing_else(tmp_path):
    data = photos.photo(6)
    photos.write_voc(tmp_path / "voc", {"a.jpg": (data[:len(data) // 2], (96, 64),
                                                  [("red", photos.RECT)])})
    assert convert("voc", tmp_path / "voc", "-o", tmp_path / "out") == 0
    assert counts(tmp_path / "out") == {"corrupt_image": 1}
