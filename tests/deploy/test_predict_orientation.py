"""`predict` sees a phone photo as a viewer shows it (issue 27): the model gets the pixels with
the EXIF orientation applied, the boxes and the sizes it reports are of that image, and the
annotated image is drawn on it. An image inside a TFRecord is taken as stored, as the record's
boxes and TensorFlow's decoder take it. No model runs: a stand-in detector finds the red
rectangle in whatever pixels it is given, so a turned or untouched image moves its box."""

import json

import numpy as np
import pytest
from PIL import Image

from odwrap import cli
from odwrap.deploy.runtime import Detections
from odwrap.odapi.tfexample import encode_example, frame_record
from tests import exifphotos as photos


class RedFinder:
    """A detector of one class ('red'): the red pixels' bounding box, normalized."""

    runtime = "stand-in"
    labels = ["red"]

    def detect(self, image: np.ndarray) -> Detections:
        height, width = image.shape[:2]
        xmin, ymin, xmax, ymax = photos.red_box(image)
        return Detections(boxes=np.array([[ymin / height, xmin / width, ymax / height,
                                           xmax / width]], np.float32),
                          classes=np.array([1]), scores=np.array([0.9], np.float32),
                          milliseconds=0.0)


@pytest.fixture
def stand_in(monkeypatch):
    monkeypatch.setattr("odwrap.deploy.runtime.load_detector",
                        lambda *args, **kwargs: RedFinder())


def as_bbox(box) -> list:
    xmin, ymin, xmax, ymax = box
    return [xmin, ymin, xmax - xmin, ymax - ymin]


def test_photos_are_predicted_and_drawn_as_viewers_show_them(tmp_path, stand_in):
    for tag in range(1, 9):
        (tmp_path / f"tag{tag}.jpg").write_bytes(photos.photo(tag))
    out = tmp_path / "out"
    assert cli.main(["predict", str(tmp_path / "model.tflite"), str(tmp_path / "tag*.jpg"),
                     "-o", str(out), "--threshold", "0.5"]) == 0
    detections = json.loads((out / "detections.json").read_text())
    assert [line["bbox"] for line in detections] == [as_bbox(photos.RECT)] * 8
    for entry in map(json.loads, (out / "images.jsonl").read_text().splitlines()):
        assert (entry["width"], entry["height"]) == (photos.WIDTH, photos.HEIGHT), entry
        with Image.open(out / entry["annotated"]) as drawn:
            pixels = np.asarray(drawn.convert("RGB"))
        assert pixels.shape[:2] == (photos.HEIGHT, photos.WIDTH)
        assert photos.is_red(photos.mean_colour(pixels, photos.RECT)), entry


def test_an_image_in_a_tfrecord_is_taken_as_stored(tmp_path, stand_in):
    """A tag 6 photo kept as stored by `convert --exif raw`: its boxes describe the stored
    pixels (64x96), which TensorFlow decodes; predict reads the same."""
    record = encode_example({"image/encoded": ("bytes", [photos.photo(6)]),
                             "image/filename": ("bytes", [b"raw.jpg"])})
    (tmp_path / "raw.tfrecord").write_bytes(frame_record(record))
    out = tmp_path / "out"
    assert cli.main(["predict", str(tmp_path / "model.tflite"), str(tmp_path / "raw.tfrecord"),
                     "-o", str(out), "--threshold", "0.5", "--no-annotate"]) == 0
    (line,) = json.loads((out / "detections.json").read_text())
    assert line["bbox"] == as_bbox(photos.red_box(photos.stored(6)))
    (entry,) = map(json.loads, (out / "images.jsonl").read_text().splitlines())
    assert (entry["width"], entry["height"]) == (photos.HEIGHT, photos.WIDTH)


def test_a_photo_with_unreadable_exif_is_predicted_as_stored(tmp_path, stand_in):
    path = tmp_path / "bad.jpg"
    path.write_bytes(photos.jpeg(photos.upright(), b"Exif\0\0" + b"\x13\x37" * 100))
    out = tmp_path / "out"
    assert cli.main(["predict", str(tmp_path / "model.tflite"), str(path), "-o", str(out),
                     "--threshold", "0.5", "--no-annotate"]) == 0
    (line,) = json.loads((out / "detections.json").read_text())
    assert line["bbox"] == as_bbox(photos.RECT)
