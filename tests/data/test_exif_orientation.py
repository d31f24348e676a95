"""EXIF orientation in convert (issue 27): a phone photo of each Orientation tag, annotated on
the image as viewers show it and on the stored pixels; the box written to the record must land
on the drawn rectangle in the image written beside it, decoded as TensorFlow does (the tag
ignored). The rule itself (odwrap.data.orientation) case by case."""

import io
import json

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
