"""Keypoint AP (issue 33): the OKS metrics that `eval --model` reports for a keypoint model equal
pycocotools' own `COCOeval(gt, dt, "keypoints")`, worked out here from the dataset's COCO file
(demo-data --keypoints) and the detections this test gives, never from odwrap's output. The
detections come from a scripted detector (each image's true points, moved by a known amount),
so that the APs are far from 0 and 1 and a wrong id, axis, scale, sigma or class shows."""

import contextlib
import io
import json

import numpy as np
import pytest

from odwrap import cli
from odwrap.deploy.detections import Detections
from odwrap.deploy.exported_eval import evaluate_model
from odwrap.odapi.tfexample import decode_example, read_records

pytestmark = [pytest.mark.tf]

SPEC = """
model:
  architecture: centernet_mobilenet_v2_fpn
  image_size: 64
  resizer: fixed
  depth_multiplier: 0.25
  keypoints:
    square:
      points: [top_left, top_right, bottom_right, bottom_left]
      sigmas: [0.03, 0.05, 0.07, 0.09]
    triangle:
      points: [apex, base_right, base_left]
data:
  classes: [circle, square, triangle]
  train: {records}/val-*.tfrecord
  eval: {records}/val-*.tfrecord
train:
  batch_size: 2
  steps: 1
eval:
  num_examples: 40
"""
# The label map numbers the classes by name: circle 1, square 2, triangle 3; the keypoints follow
# in that order: square's 0-3, triangle's 4-6. demo-data's COCO ids: square 1, triangle 2.
LABEL = {"circle": 1, "square": 2, "triangle": 3}
KEYPOINT_IDS = {"square": [0, 1, 2, 3], "triangle": [4, 5, 6]}
SIGMAS = {"square": [0.03, 0.05, 0.07, 0.09], "triangle": [0.05, 0.05, 0.05]}  # OD API default
K = 7


@pytest.fixture(scope="module")
def keypoint_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("keypoint-metrics")
    assert cli.main(["demo-data", str(root / "shapes"), "--keypoints", "--images", "30",
                     "--size", "64", "--shapes", "square,triangle,circle"]) == 0
    assert cli.main(["convert", "coco", str(root / "shapes" / "annotations.json"), "-o",
                     str(root / "records"), "--keypoints", "--split", "val=1"]) == 0
    spec = root / "spec.yaml"
    spec.write_text(SPEC.format(records=root / "records"))
    assert cli.main(["generate", str(spec), "-o", str(root / "config")]) == 0
    return root


def scripted_detections(root, coco, rng):
    """For each eval record, in order: Detections of its true objects (boxes as they are, each
    point moved by rng's normal * 0-6 pixels) with scores that rank them at random, and the
    same detections as COCO results of the dataset's ids, in pixels (the expected side)."""
    by_file = {image["file_name"]: image for image in coco["images"]}
    names = {category["id"]: category["name"] for category in coco["categories"]}
    found, results = [], []
    for record in read_records(next((root / "records").glob("val-*.tfrecord"))):
        image = by_file[decode_example(record)["image/filename"][0].decode()]
        width, height = image["width"], image["height"]
        objects = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        boxes, classes, scores, points = [], [], [], np.zeros((len(objects), K, 2), np.float32)
        for index, annotation in enumerate(objects):
            x, y, w, h = annotation["bbox"]
            name = names[annotation["category_id"]]
            boxes.append([y / height, x / width, (y + h) / height, (x + w) / width])
            classes.append(LABEL[name])
            scores.append(float(rng.uniform(0.3, 1.0)))
            if name not in KEYPOINT_IDS:
                continue
            true = np.array(annotation["keypoints"], np.float64).reshape(-1, 3)[:, :2]
            moved = true + rng.normal(size=true.shape) * rng.uniform(0, 6)
            for point, (px, py) in zip(KEYPOINT_IDS[name], moved):
                points[index, point] = (py / height, px / width)
            results.append({"image_id": image["id"], "category_id": annotation["category_id"],
                            "score": scores[-1],
                            "keypoints": [v for px, py in moved for v in (px, py, 1)]})
        found.append(Detections(boxes=np.array(boxes, np.float32).reshape(-1, 4),
                                classes=np.array(classes), scores=np.array(scores, np.float32),
                                milliseconds=1.0, keypoints=points,
                                keypoint_scores=np.ones(points.shape[:2], np.float32)))
    return found, results


class Scripted:
    runtime = "scripted"

    def __init__(self, found):
        self.found = iter(found)

    def detect(self, image):
        return next(self.found)


def pycocotools_ap(coco, results, name) -> list[float]:
    """COCOeval's 10 keypoint stats of class NAME, from the dataset's own annotations."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    category = next(c for c in coco["categories"] if c["name"] == name)
    truth = COCO()
    truth.dataset = {"images": coco["images"], "categories": [category],
                     "annotations": [a for a in coco["annotations"]
                                     if a["category_id"] == category["id"]]}
    with contextlib.redirect_stdout(io.StringIO()):
        truth.createIndex()
        detected = truth.loadRes([r for r in results if r["category_id"] == category["id"]])
        evaluation = COCOeval(truth, detected, "keypoints")
        evaluation.params.kpt_oks_sigmas = np.array(SIGMAS[name])
        evaluation.params.imgIds = [image["id"] for image in coco["images"]]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(value) for value in evaluation.stats]


def test_eval_model_keypoint_ap_equals_pycocotools(keypoint_data, tmp_path):
    coco = json.loads((keypoint_data / "shapes" / "annotations.json").read_text())
    found, results = scripted_detections(keypoint_data, coco, np.random.default_rng(7))
    result = evaluate_model(tmp_path / "scripted.tflite",
                            config=keypoint_data / "config" / "pipeline.config",
                            detector=Scripted(found))
    metrics = result.metrics
    expected = {name: pycocotools_ap(coco, results, name) for name in KEYPOINT_IDS}
    for name, stats in expected.items():
        assert 0.05 < stats[0] < 0.95, (name, stats)  # far from trivial
        assert metrics[f"Keypoints_Precision/mAP ByCategory/{name}"] == \
            pytest.approx(stats[0], abs=1e-9)
        assert metrics[f"Keypoints_Precision/mAP@.50IOU ByCategory/{name}"] == \
            pytest.approx(stats[1], abs=1e-9)
    assert metrics["Keypoints_Precision/mAP"] == pytest.approx(
        (expected["square"][0] + expected["triangle"][0]) / 2, abs=1e-9)
    # The boxes are the true ones: box AP is 1 whatever the points.
    assert metrics["DetectionBoxes_Precision/mAP"] == pytest.approx(1.0)


def triples(values) -> list:
    """COCO's [x, y, v, ...] as (x, y, v) tuples, to 1/100 pixel (the records keep float32)."""
    return [(round(values[i], 2), round(values[i + 1], 2), int(values[i + 2]))
            for i in range(0, len(values), 3)]


def test_keypoints_json_holds_the_datasets_points_and_reproduces_the_ap(keypoint_data,
                                                                        tmp_path):
    coco = json.loads((keypoint_data / "shapes" / "annotations.json").read_text())
    found, _ = scripted_detections(keypoint_data, coco, np.random.default_rng(11))
    result = evaluate_model(tmp_path / "scripted.tflite",
                            config=keypoint_data / "config" / "pipeline.config",
                            detector=Scripted(found))
    written = json.loads((tmp_path / "scripted.analysis" / "keypoints.json").read_text())
    by_name = {entry["class"]: entry for entry in written["classes"]}
    assert sorted(by_name) == ["square", "triangle"]
    assert by_name["square"]["keypoints"] == ["top_left", "top_right", "bottom_right",
                                              "bottom_left"]
    assert by_name["square"]["sigmas"] == pytest.approx(SIGMAS["square"])
    names = {category["id"]: category["name"] for category in coco["categories"]}
    files = {image["id"]: image["file_name"] for image in coco["images"]}
    for name, entry in by_name.items():
        truth = {}
        for annotation in coco["annotations"]:
            if names[annotation["category_id"]] == name:
                truth.setdefault(files[annotation["image_id"]], []).append(
                    triples(annotation["keypoints"]))
        shown = {image["id"]: image["file_name"] for image in entry["groundtruth"]["images"]}
        written_truth = {}
        for annotation in entry["groundtruth"]["annotations"]:
            written_truth.setdefault(shown[annotation["image_id"]], []).append(
                triples(annotation["keypoints"]))
        assert {f: sorted(v) for f, v in written_truth.items()} == \
            {f: sorted(v) for f, v in truth.items()}
        # Any COCO tool reproduces the metric from the file alone.
        assert result.metrics[f"Keypoints_Precision/mAP ByCategory/{name}"] == \
            pytest.approx(coco_eval_of(entry)[0], abs=1e-9)


def coco_eval_of(entry: dict) -> list[float]:
    """pycocotools' keypoint stats of one class of a keypoints.json, from that file alone."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = entry["groundtruth"]
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluation = COCOeval(gt, gt.loadRes(entry["detections"]), "keypoints")
        evaluation.params.kpt_oks_sigmas = np.array(entry["sigmas"])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return [float(value) for value in evaluation.stats]


def test_records_without_keypoints_are_one_line_naming_the_file(keypoint_data, tmp_path):
    from odwrap.errors import InputError

    assert cli.main(["convert", "coco", str(keypoint_data / "shapes" / "annotations.json"),
                     "-o", str(tmp_path / "plain"), "--split", "val=1"]) == 0
    with pytest.raises(InputError) as caught:
        evaluate_model(tmp_path / "scripted.tflite", records=str(tmp_path / "plain/*.tfrecord"),
                       config=keypoint_data / "config" / "pipeline.config",
                       detector=Scripted(iter(lambda: Detections(
                           boxes=np.zeros((0, 4), np.float32), classes=np.zeros(0, int),
                           scores=np.zeros(0, np.float32), milliseconds=1.0), None)))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "plain")) and "0 keypoints for" in message
    assert "num_keypoints is 7" in message
