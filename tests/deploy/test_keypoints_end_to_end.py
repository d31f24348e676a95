"""Keypoints end to end (issue 33): the keypoint demo (demo-data --keypoints, the CenterNet
keypoint spec shrunk) trains a few steps, evaluates with OKS metrics beside the box metrics,
exports a SavedModel and a TFLite model with keypoint outputs, and predicts keypoints (COCO
results and JSON Lines, annotated images with the skeleton drawn). One model for the module,
made by odwrap's own commands in the session's worker process."""

import json

import numpy as np
import pytest
from PIL import Image

from odwrap.deploy import keypoint_layout, modelinfo
from odwrap.deploy.annotate import KEYPOINT_THRESHOLD
from tests.conftest import built_once, run_odwrap_in_one_process

pytestmark = [pytest.mark.tf, pytest.mark.slow]

SPEC = """
model:
  architecture: centernet_mobilenet_v2_fpn
  image_size: 64
  resizer: fixed
  depth_multiplier: 0.25
  keypoints:
    square:
      points: [top_left, top_right, bottom_right, bottom_left]
      skeleton: [[top_left, top_right], [top_right, bottom_right], [bottom_right, bottom_left],
                 [bottom_left, top_left]]
data:
  classes: [square]
  train: {root}/records/train-*.tfrecord
  eval: {root}/records/val-*.tfrecord
train:
  batch_size: 2
  steps: 3
  learning_rate: 0.005
eval:
  num_examples: 6
"""
SQUARE = 1  # the one class: the OD API's TFLite graph decodes keypoints of one class only
SQUARE_POINTS = ["top_left", "top_right", "bottom_right", "bottom_left"]


@pytest.fixture(scope="module")
def keypoint_model(tmp_path_factory):
    def build(root):
        spec = root / "spec.yaml"
        spec.write_text(SPEC.format(root=root))
        ran = run_odwrap_in_one_process(
            ["demo-data", root / "shapes", "--keypoints", "--images", "16", "--size", "64",
             "--shapes", "square"],
            ["convert", "coco", root / "shapes" / "annotations.json", "-o", root / "records",
             "--keypoints", "--split", "train=0.6,val=0.4"],
            ["train", spec, "--model-dir", root / "model"],
            ["eval", root / "model"],
            ["export", root / "model", "--format", "tflite", "-o", root / "export"],
            ["export", root / "model", "--format", "saved_model", "-o", root / "export"],
            ["predict", root / "export" / "model_fp32.tflite", root / "shapes" / "JPEGImages",
             "-o", root / "predicted", "--threshold", "0", "--jsonl"],
            ["predict", root / "export" / "saved_model", root / "shapes" / "JPEGImages",
             "-o", root / "predicted_saved", "--threshold", "0", "--no-annotate"],
            ["eval", "--model", root / "export" / "model_fp32.tflite"],
            ["predict", root / "export" / "model_fp32.tflite", root / "shapes" / "JPEGImages",
             "-o", root / "labelled", "--threshold", "0.05", "--no-annotate", "--format",
             "coco"],
            ["convert", "coco", root / "labelled" / "coco" / "annotations.json", "--images",
             root / "shapes" / "JPEGImages", "-o", root / "relabelled", "--keypoints",
             "--split", "train=1"],
            # A keypoint checkpoint fine-tuned as model.pretrained does with a zoo _kpts one.
            ["train", spec, "--model-dir", root / "tuned", "--steps", "1",
             "--set", f"train.fine_tune_checkpoint={root}/model/ckpt-3",
             "--set", "train.fine_tune_checkpoint_type=detection"])
        for result in ran:
            assert result.returncode == 0, result.stderr[-3000:]
        return {"train": ran[2].stdout, "eval": ran[3].stdout, "eval_model": ran[8].stdout,
                "tuned": ran[11].stdout}

    return built_once(tmp_path_factory, "keypoint_model", build)


def test_a_checkpoint_from_scratch_holds_its_batches_statistics(keypoint_model):
    """Three steps from scratch leave 0.9997 ** 3 of each MobileNetV2 moving average at its
    initial value: as trained, every moving variance lies within 0.001 of 1 (measured: 98 %
    within 0.01), which inference normalizes with. train measures the statistics again before
    it saves: the saved variances are the batches' (a median of 0.11 measured)."""
    from tests.training.test_batch_norm import moving_variances

    root, made = keypoint_model
    assert "batch norm: step 3: 100% of the moving averages were still their initial values" \
        in made["train"]
    variances = moving_variances(root / "model" / "ckpt-3")
    assert variances.size > 1000
    assert np.mean(np.abs(variances - 1) < 0.01) < 0.1


def test_a_keypoint_checkpoint_fine_tunes_with_its_statistics(keypoint_model):
    """Fine-tuning from a keypoint model's checkpoint (what `model.pretrained: coco` does with
    the zoo's _kpts model) restores its backbone and FPN, and keeps its batch-norm averages."""
    _, made = keypoint_model
    assert "fine-tune checkpoint: restored the backbone and FPN" in made["tuned"]
    assert "batch norm:" not in made["tuned"]


def test_eval_reports_oks_metrics_beside_the_box_metrics(keypoint_model):
    root, made = keypoint_model
    metrics = json.loads((root / "model" / "metrics.json").read_text())["metrics"]
    assert 0 <= metrics["Keypoints_Precision/mAP ByCategory/square"] <= 1
    assert "Keypoints_Precision/mAP" in metrics and "DetectionBoxes_Precision/mAP" in metrics
    assert "Keypoints_Precision/mAP" in made["eval"]
    written = json.loads((root / "model" / "analysis" / "keypoints.json").read_text())
    assert [entry["class"] for entry in written["classes"]] == ["square"]
    # The ground truth eval used: the val records' images, by file name, with their points.
    coco = json.loads((root / "shapes" / "annotations.json").read_text())
    files = {image["id"]: image["file_name"] for image in coco["images"]}
    squares = sorted(files[a["image_id"]] for a in coco["annotations"]
                     if a["category_id"] == 1 and "keypoints" in a)
    square = written["classes"][0]
    shown = {image["id"]: image["file_name"] for image in square["groundtruth"]["images"]}
    val = set(shown.values())
    assert sorted(shown[a["image_id"]] for a in square["groundtruth"]["annotations"]) == \
        [name for name in squares if name in val]
    # pycocotools reproduces the checkpoint's OKS AP from the file alone.
    from tests.deploy.test_keypoint_metrics import coco_eval_of

    assert metrics["Keypoints_Precision/mAP ByCategory/square"] == \
        pytest.approx(coco_eval_of(square)[0], abs=1e-9)
    # The TFLite model's evaluation has them too.
    exported = json.loads((root / "export" / "model_fp32.metrics.json").read_text())["metrics"]
    assert 0 <= exported["Keypoints_Precision/mAP ByCategory/square"] <= 1
    assert "Keypoints_Precision/mAP" in made["eval_model"]


def test_the_tflite_model_outputs_keypoints_and_packs_their_layout(keypoint_model):
    root, _ = keypoint_model
    data = (root / "export" / "model_fp32.tflite").read_bytes()
    roles = modelinfo.output_roles(data)
    assert sorted(roles) == [0, 1, 2, 3, 4, 5]
    info = modelinfo.read_info(data)
    assert info.output_names[roles.index(modelinfo.KEYPOINTS)] == "keypoints"
    layout = info.keypoints
    assert sorted(layout) == [SQUARE]
    assert layout[SQUARE].points == tuple(SQUARE_POINTS)
    assert layout[SQUARE].keypoint_ids == (0, 1, 2, 3)
    assert layout[SQUARE].skeleton == ((0, 1), (1, 2), (2, 3), (3, 0))
    # The folder's keypoints.json says the same (a SavedModel's predict reads it).
    assert keypoint_layout.parse((root / "export" / "keypoints.json").read_bytes(),
                                 "keypoints.json") == layout


def lines_of(folder):
    return [json.loads(line) for line in (folder / "detections.jsonl").read_text().splitlines()]


def test_predict_writes_each_class_own_points(keypoint_model):
    root, _ = keypoint_model
    lines = lines_of(root / "predicted")
    assert lines
    for line in lines:
        assert line["category_id"] == SQUARE
        values = line["keypoints"]
        assert len(values) == 12
        assert all(0 <= score <= 1 for score in values[2::3])


def test_the_tflite_and_the_saved_model_find_the_same_points(keypoint_model):
    root, _ = keypoint_model
    def key(line):  # a 3-step model ties many scores: a detection is its box
        return line["filename"], line["category_id"], tuple(round(v) for v in line["bbox"])

    tflite = {key(line): line for line in lines_of(root / "predicted")}
    saved = json.loads((root / "predicted_saved" / "detections.json").read_text())
    compared = 0
    for line in saved:
        twin = tflite.get(key(line))
        if twin is None or "keypoints" not in line:
            continue
        ours = np.array(line["keypoints"]).reshape(-1, 3)
        theirs = np.array(twin["keypoints"]).reshape(-1, 3)
        assert np.abs(ours[:, :2] - theirs[:, :2]).max() < 0.5  # pixels
        assert np.abs(ours[:, 2] - theirs[:, 2]).max() < 0.01
        compared += 1
    assert compared >= 5


def test_the_annotated_image_draws_the_points(keypoint_model):
    """A drawn point's centre is white, over the boxes. A 3-step model packs points within a
    pixel or two, where a later point's coloured outline covers an earlier one's centre, and
    places some past an edge; so the point checked in each image is the last one drawn on it
    whose centre is on the image and no later point near."""
    from odwrap.deploy.annotate import KEYPOINT_RADIUS

    root, _ = keypoint_model
    log = {entry["filename"]: entry["annotated"] for entry in map(
        json.loads, (root / "predicted" / "images.jsonl").read_text().splitlines())}
    drawn_points = {}  # image: the points annotate draws on it, in the order it draws them
    for line in lines_of(root / "predicted"):
        values = line.get("keypoints", [])
        drawn_points.setdefault(line["filename"], []).extend(
            values[index:index + 2] for index in range(0, len(values), 3)
            if values[index + 2] >= KEYPOINT_THRESHOLD)
    checked = 0
    for filename, points in drawn_points.items():
        drawn = np.asarray(Image.open(root / "predicted" / log[filename]).convert("RGB"))
        height, width = drawn.shape[:2]
        for place in reversed(range(len(points))):
            x, y = points[place]
            column, row = int(round(x)), int(round(y))
            later_near = any(max(abs(x - u), abs(y - v)) <= 2 * KEYPOINT_RADIUS + 1
                             for u, v in points[place + 1:])
            if 0 <= column < width and 0 <= row < height and not later_near:
                assert tuple(drawn[row, column]) == (255, 255, 255), (filename, x, y)
                checked += 1
                break
    assert checked > 0


def test_predict_on_beam_writes_the_same_points(keypoint_model, beam_python, tmp_path):
    from odwrap import cli

    root, _ = keypoint_model
    images = sorted((root / "shapes" / "JPEGImages").glob("*.jpg"))[:4]
    argv = ["predict", str(root / "export" / "model_fp32.tflite"), *map(str, images),
            "--threshold", "0", "--jsonl"]
    assert cli.main([*argv, "-o", str(tmp_path / "local")]) == 0
    assert cli.main([*argv, "-o", str(tmp_path / "beam"), "--runner", "beam"]) == 0
    local, beam = lines_of(tmp_path / "local"), lines_of(tmp_path / "beam")
    assert [line["keypoints"] for line in beam] == [line["keypoints"] for line in local]
    assert all(len(line["keypoints"]) == 12 for line in beam)
    for name in (path.name for path in (tmp_path / "local").glob("*.png")):
        assert (tmp_path / "beam" / name).read_bytes() == \
            (tmp_path / "local" / name).read_bytes()  # the skeletons drawn alike


def test_predicted_points_go_to_a_labelling_tool_and_come_back_as_records(keypoint_model):
    """predict --format coco writes a COCO keypoint dataset (to correct in a tool); convert
    coco --keypoints reads it back: the records hold the predicted points."""
    from tests.recordcheck import records_by_filename

    root, _ = keypoint_model
    dataset = json.loads((root / "labelled" / "coco" / "annotations.json").read_text())
    assert dataset["categories"] == [{"id": SQUARE, "name": "square", "supercategory": "",
                                      "keypoints": SQUARE_POINTS,
                                      "skeleton": [[1, 2], [2, 3], [3, 4], [4, 1]]}]
    files = {image["id"]: image["file_name"] for image in dataset["images"]}
    records = records_by_filename(root / "relabelled")
    # A 3-step model's box may be flat (a height of 0.0): convert drops it, counted, with its
    # points; every other one comes back.
    flat = [annotation for annotation in dataset["annotations"]
            if min(annotation["bbox"][2:]) <= 0]
    problems = json.loads((root / "relabelled" / "report.json").read_text())["problems"]
    assert {reason: entry["count"] for reason, entry in problems.items()} == \
        ({"box_zero_area": len(flat)} if flat else {})
    checked = 0
    for annotation in dataset["annotations"]:
        if annotation in flat:
            continue
        features = records[files[annotation["image_id"]]]
        width, height = features["image/width"][0], features["image/height"][0]
        labelled = [(x, y) for x, y, v in zip(*[iter(annotation["keypoints"])] * 3) if v == 2]
        kept = np.stack([np.array(features["image/object/keypoint/x"]) * width,
                         np.array(features["image/object/keypoint/y"]) * height], -1)
        for point in labelled:  # within float32's rounding of the normalized value
            assert np.abs(kept - point).max(axis=1).min() < 0.01, (point, kept)
        checked += len(labelled)
    assert checked > 0
