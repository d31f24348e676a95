"""`odwrap eval --model`'s evaluation itself, with stand-in detectors whose answers are known:
the ground truth (mAP 1), the ground truth with x and y swapped, and the wrong class. The images
are not square, so a height/width mix-up in the box scaling shows."""

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from odwrap.deploy.exported_eval import evaluate_model
from odwrap.deploy.runtime import Detections
from odwrap.errors import InputError
from odwrap.odapi.tfexample import encode_example, frame_record

pytestmark = pytest.mark.tf  # the OD API's CocoDetectionEvaluator

HEIGHT, WIDTH = 60, 100


def _key(pixels) -> str:
    return hashlib.sha256(pixels.tobytes()).hexdigest()


def write_records(path, count=6, seed=0):
    """PNG examples with 1-2 boxes of classes 1 and 2; {image key: (boxes, classes)}."""
    rng = np.random.default_rng(seed)
    truth, records = {}, []
    for index in range(count):
        pixels = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        boxes, classes = [], []
        for _ in range(1 + index % 2):
            h, w = rng.uniform(0.2, 0.4), rng.uniform(0.1, 0.3)
            top, left = rng.uniform(0, 1 - h), rng.uniform(0, 1 - w)
            boxes.append((top, left, top + h, left + w))
            classes.append(int(rng.integers(1, 3)))
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG")
        columns = np.array(boxes, np.float64).T
        records.append(encode_example({
            "image/encoded": ("bytes", [buffer.getvalue()]),
            "image/format": ("bytes", [b"png"]),
            "image/object/bbox/ymin": ("float", list(columns[0])),
            "image/object/bbox/xmin": ("float", list(columns[1])),
            "image/object/bbox/ymax": ("float", list(columns[2])),
            "image/object/bbox/xmax": ("float", list(columns[3])),
            "image/object/class/label": ("int", classes)}))
        truth[_key(pixels)] = (np.array(boxes, np.float32), np.array(classes))
    path.write_bytes(b"".join(frame_record(record) for record in records))
    return truth


class StandIn:
    """Answers each image from the known ground truth, changed by `change`."""

    runtime = "stand-in"

    def __init__(self, truth, change=lambda boxes, classes: (boxes, classes)):
        self.truth, self.change = truth, change

    def detect(self, pixels) -> Detections:
        boxes, classes = self.change(*self.truth[_key(pixels)])
        return Detections(boxes=boxes, classes=classes, scores=np.ones(len(classes)),
                          milliseconds=1.0)


@pytest.fixture
def records(tmp_path):
    path = tmp_path / "eval.tfrecord"
    return path, write_records(path)


def _map(result):
    return result.metrics["DetectionBoxes_Precision/mAP"]


def test_the_ground_truth_scores_a_perfect_map(tmp_path, records):
    path, truth = records
    result = evaluate_model(tmp_path / "model.tflite", records=str(path), detector=StandIn(truth))
    assert result.images == 6 and result.runtime == "stand-in"
    assert _map(result) == pytest.approx(1.0)
    assert result.metrics["DetectionBoxes_Recall/AR@100"] == pytest.approx(1.0)


def test_swapped_coordinates_score_low(tmp_path, records):
    path, truth = records
    swapped = StandIn(truth, lambda boxes, classes: (boxes[:, [1, 0, 3, 2]], classes))
    assert _map(evaluate_model(tmp_path / "model.tflite", records=str(path), detector=swapped)) < 0.3


def test_the_wrong_class_scores_zero(tmp_path, records):
    path, truth = records
    wrong = StandIn(truth, lambda boxes, classes: (boxes, 3 - classes))
    assert _map(evaluate_model(tmp_path / "model.tflite", records=str(path), detector=wrong)) == \
        pytest.approx(0.0)


def test_max_images_limits_the_evaluation(tmp_path, records):
    path, truth = records
    result = evaluate_model(tmp_path / "model.tflite", records=str(path), max_images=2,
                            detector=StandIn(truth))
    assert result.images == 2


def test_a_file_that_is_not_a_tfrecord_is_named(tmp_path, records):
    _, truth = records
    text = tmp_path / "labels.txt"
    text.write_text("square\ncircle\n")
    with pytest.raises(InputError, match=f"{text}: not a TFRecord file"):
        evaluate_model(tmp_path / "model.tflite", records=str(text), detector=StandIn(truth))


def test_a_missing_model_is_named_before_its_data_are_looked_for(tmp_path):
    with pytest.raises(InputError, match="model.tflite: no such model"):
        evaluate_model(tmp_path / "model.tflite")


@pytest.mark.parametrize("kwargs, message", [
    pytest.param({"records": "nothing-*.tfrecord"}, "no TFRecord files match", id="no-records"),
    pytest.param({}, "no pipeline.config beside it or above it", id="no-config"),
    pytest.param({"records": "x", "max_images": 0}, "--max-images 0", id="max-images"),
])
def test_bad_sources_are_refused(tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        evaluate_model(tmp_path / "model.tflite", detector=StandIn({}), **kwargs)
