"""model.keypoints: rendering against the official keypoint samples (field by field, the expected
values written out here from configs/tf2/centernet_*_kpts_*.config), a spec's own keypoints
worked out by hand, one-line errors naming the field, check's ODW030 (the keypoint count of the
config, the label maps and the records), and the OD API building the model and computing its
keypoint losses on records that convert --keypoints wrote (marked tf)."""

import json
import textwrap

import pytest

from odwrap import cli
from odwrap.config.loader import render_spec
from odwrap.config.spec import load_spec
from odwrap.odapi.labelmap import builtin_path
from odwrap.odapi.pipeline import read_pipeline
from tests.conftest import ROOT, run_python
from tests.config.test_sample_configs import (ADAM, BRIGHTNESS, CN, COLOR, CROP_AND_PAD, FLIP,
                                              HOURGLASS, IGNORED, SQUARE_CROP, _adam_cosine,
                                              _augmentations, center_net)
from tests.protoflat import flatten

# COCO's person keypoints as the samples list them (the label map's ids 0-16), their OKS sigmas
# (keypoint_label_to_sigmas) and heatmap stds (keypoint_label_to_std).
PERSON = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
SIGMAS = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
          0.107, 0.087, 0.087, 0.089, 0.089]
STDS = [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.89, 0.89,
        0.89, 0.89]
EDGES = [(0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 6),
         (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16)]
FLIP_PERMUTATION = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
TASK = CN + "keypoint_estimation_task[0]."
KEYPOINT_PARTS = {
    TASK + "task_name": "human_pose",
    TASK + "task_loss_weight": 1.0,
    TASK + "loss.localization_loss.l1_localization_loss": {},
    TASK + "loss.classification_loss.penalty_reduced_logistic_focal_loss.alpha": 2.0,
    TASK + "loss.classification_loss.penalty_reduced_logistic_focal_loss.beta": 4.0,
    TASK + "keypoint_class_name": "person",  # the samples' /m/01g317: odwrap's COCO map's name
    TASK + "keypoint_regression_loss_weight": 0.1,
    TASK + "keypoint_heatmap_loss_weight": 1.0,
    TASK + "keypoint_offset_loss_weight": 1.0,
    TASK + "offset_peak_radius": 3,
    TASK + "per_keypoint_offset": True,
    "train_input_reader.num_keypoints": 17,
    "eval_input_reader[0].num_keypoints": 17,
    "eval_config.num_visualizations": 10,
    "eval_config.max_num_boxes_to_visualize": 20,
    "eval_config.min_score_threshold": 0.2,
    "eval_config.parameterized_metric[0].coco_keypoint_metrics.class_label": "person",
    **{f"eval_config.keypoint_edge[{index}].{end}": value
       for index, edge in enumerate(EDGES) for end, value in zip(("start", "end"), edge)},
}
MAPS = {TASK + "keypoint_label_to_std": dict(zip(PERSON, STDS)),
        "eval_config.parameterized_metric[0].coco_keypoint_metrics.keypoint_label_to_sigmas":
            dict(zip(PERSON, SIGMAS))}
FLIPPED = "train_config.data_augmentation_options[0].random_horizontal_flip"


def keypoint_sample(backbone, side=512):
    """The flattened kpts sample of BACKBONE: the boxes sample (test_sample_configs) with the
    keypoint parts, and HourGlass104's keypoint training (250000 steps, cosine)."""
    expected = center_net(backbone, side)
    if backbone == "hourglass104":
        steps = ("train_config.num_steps", ADAM + "learning_rate.manual_step_learning_rate")
        expected = {key: value for key, value in expected.items() if not key.startswith(steps)}
        expected.update(_adam_cosine(1e-3, 2.5e-4, 5000, 250000))
        expected.update(CROP_AND_PAD if side == 512 else
                        _augmentations(FLIP, *COLOR, BRIGHTNESS, SQUARE_CROP))
        expected.update(HOURGLASS)
    del expected[FLIPPED]
    return {**expected, **KEYPOINT_PARTS, FLIPPED + ".keypoint_flip_permutation":
            FLIP_PERMUTATION}


def person_label_map(path):
    """odwrap's COCO label map with person's 17 keypoints at ids 0-16, written by hand."""
    points = "".join(f'  keypoints {{ id: {index} label: "{name}" }}\n'
                     for index, name in enumerate(PERSON))
    text = builtin_path("coco").read_text()
    head = '\n  name: "person"\n'
    assert text.count(head) == 1
    path.write_text(text.replace(head, head + points))
    return path


@pytest.mark.parametrize("architecture, size, expected", [
    pytest.param("centernet_hourglass104", 512, keypoint_sample("hourglass104"),
                 id="hourglass104-512-kpts"),
    pytest.param("centernet_hourglass104", 1024, keypoint_sample("hourglass104", 1024),
                 id="hourglass104-1024-kpts"),
    pytest.param("centernet_resnet50_v1_fpn", 512, keypoint_sample("resnet50_v1_fpn"),
                 id="resnet50-v1-fpn-512-kpts"),
    pytest.param("centernet_resnet50_v2", 512, keypoint_sample("resnet50_v2"),
                 id="resnet50-v2-512-kpts"),
    pytest.param("centernet_mobilenet_v2_fpn", 512, keypoint_sample("mobilenet_v2_fpn"),
                 id="mobilenet-v2-fpn-512-kpts-derived"),
])
def test_coco_person_renders_the_official_keypoint_sample(tmp_path, architecture, size,
                                                         expected):
    person_label_map(tmp_path / "labels.pbtxt")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"model: {{architecture: {architecture}, image_size: {size},\n"
        "        keypoints: {person: coco}}\n"
        "data: {label_map: labels.pbtxt, train: t.tfrecord, eval: e.tfrecord}\n"
        "train:\n  device: tpu\n  fine_tune_checkpoint: ckpt/ckpt-1\n"
        f"  fine_tune_checkpoint_type: {expected['train_config.fine_tune_checkpoint_type']}\n")
    config = render_spec(load_spec(spec)).config
    expected = {key: value for key, value in expected.items() if value is not None}
    expected.update(MAPS)
    actual = {key: value for key, value in flatten(config).items()
              if not key.startswith(IGNORED) and key != "train_config.fine_tune_checkpoint"
              and key != CN + "keypoint_label_map_path"}
    assert sorted(set(actual) - set(expected)) == [], "fields the sample does not have"
    assert sorted(set(expected) - set(actual)) == [], "sample fields missing"
    for key, value in expected.items():
        numeric = isinstance(value, (float, dict)) or (
            isinstance(value, list) and all(isinstance(item, float) for item in value))
        assert actual[key] == (pytest.approx(value, rel=1e-6) if numeric else value), key
    assert config.model.center_net.keypoint_label_map_path == str(tmp_path / "labels.pbtxt")


SHAPES_SPEC = """\
model:
  architecture: centernet_mobilenet_v2_fpn
  image_size: 128
  depth_multiplier: 0.5
  keypoints:
    square:
      points: [top_left, top_right, bottom_right, bottom_left]
      skeleton: [[top_left, top_right], [bottom_right, bottom_left]]
    triangle:
      points: [apex, base_right, base_left]
      skeleton: [[apex, base_left]]
      sigmas: [0.05, 0.1, 0.1]
data:
  {data}
train:
  batch_size: 2
  steps: 10
  learning_rate: 0.001
  augmentations: [random_horizontal_flip]
"""


def write_spec(folder, data="classes: [circle, square, triangle]", text=SHAPES_SPEC, **model):
    spec = folder / "spec.yaml"
    spec.write_text(text.replace("{data}", data))
    return spec


def test_a_specs_keypoints_rendered_and_written_into_its_label_map(tmp_path):
    """Classes by id: circle 1, square 2, triangle 3; so square's points are 0-3, triangle's
    4-6. Flip: top_left<->top_right, bottom_right<->bottom_left, base_right<->base_left."""
    out = tmp_path / "out"
    assert cli.main(["generate", str(write_spec(tmp_path)), "-o", str(out)]) == 0
    config = read_pipeline(out / "pipeline.config")
    tasks = config.model.center_net.keypoint_estimation_task
    assert [(t.task_name, t.keypoint_class_name) for t in tasks] == [("square", "square"),
                                                                      ("triangle", "triangle")]
    assert dict(tasks[0].keypoint_label_to_std) == {}  # no sigmas: the builder's std 1.0
    assert dict(tasks[1].keypoint_label_to_std) == pytest.approx(
        {"apex": 0.5, "base_right": 1.0, "base_left": 1.0})
    assert config.model.center_net.keypoint_label_map_path == str(out / "label_map.pbtxt")
    flip = config.train_config.data_augmentation_options[0].random_horizontal_flip
    assert list(flip.keypoint_flip_permutation) == [1, 0, 3, 2, 4, 6, 5]
    assert config.train_input_reader.num_keypoints == 7
    assert config.eval_input_reader[0].num_keypoints == 7
    assert [(e.start, e.end) for e in config.eval_config.keypoint_edge] == [(0, 1), (2, 3),
                                                                           (4, 6)]
    metrics = [m.coco_keypoint_metrics for m in config.eval_config.parameterized_metric]
    assert [m.class_label for m in metrics] == ["square", "triangle"]
    assert dict(metrics[0].keypoint_label_to_sigmas) == {}
    assert dict(metrics[1].keypoint_label_to_sigmas) == pytest.approx(
        {"apex": 0.05, "base_right": 0.1, "base_left": 0.1})
    text = (out / "label_map.pbtxt").read_text()
    assert 'name: "circle"\n  id: 1\n  display_name: "circle"\n}' in text
    assert 'keypoints {\n    id: 6\n    label: "base_left"\n  }' in text
    assert 'keypoints {\n    id: 0\n    label: "top_left"\n  }' in text


@pytest.mark.parametrize("architecture, size, zoo", [
    ("centernet_mobilenet_v2_fpn", 512, "centernet_mobilenetv2fpn_512x512_coco17_kpts"),
    ("centernet_resnet50_v1_fpn", 512, "centernet_resnet50_v1_fpn_512x512_kpts_coco17_tpu-8"),
    ("centernet_hourglass104", 1024, "centernet_hg104_1024x1024_kpts_coco17_tpu-32"),
])
def test_pretrained_coco_starts_a_keypoint_spec_from_the_zoos_keypoint_model(
        tmp_path, architecture, size, zoo):
    spec = tmp_path / "spec.yaml"
    body = textwrap.dedent(f"""\
        model:
          architecture: {architecture}
          image_size: {size}
          pretrained: coco
          {{keypoints}}
        data:
          classes: [plate]
          train: records/train-*.tfrecord
        """)
    spec.write_text(body.format(keypoints="keypoints: {plate: {points: [a, b]}}"))
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "kpts")]) == 0
    config = read_pipeline(tmp_path / "kpts" / "pipeline.config")
    assert f"/{zoo}/checkpoint/ckpt-0" in config.train_config.fine_tune_checkpoint
    spec.write_text(body.format(keypoints=""))  # boxes only: the zoo's boxes model
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "boxes")]) == 0
    boxes = read_pipeline(tmp_path / "boxes" / "pipeline.config")
    assert "kpts" not in boxes.train_config.fine_tune_checkpoint


@pytest.mark.parametrize("name, count", [("centernet_keypoints_shapes.yaml", 7),
                                         ("centernet_keypoints_squares.yaml", 4)])
def test_the_example_specs_generate(tmp_path, name, count):
    spec = ROOT / "templates" / "specs" / name
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "out")]) == 0
    config = read_pipeline(tmp_path / "out" / "pipeline.config")
    assert config.train_input_reader.num_keypoints == count


@pytest.mark.parametrize("keypoints, message", [
    pytest.param("[square]", "model.keypoints: expected object | null, got array", id="a-list"),
    pytest.param("{}", "model.keypoints: expected a mapping of class: keypoints, got {}",
                 id="empty"),
    pytest.param("{cube: coco}", "model.keypoints.cube: 'cube' is not one of data.classes",
                 id="unknown-class"),
    pytest.param("{square: cocoa}", "model.keypoints.square: expected coco or a mapping",
                 id="not-coco"),
    pytest.param("{square: {pointz: [a]}}",
                 "model.keypoints.square.pointz: unknown key, did you mean 'points'?",
                 id="unknown-key"),
    pytest.param("{square: {points: []}}",
                 "model.keypoints.square.points: expected a list of 1 to 1000 point names",
                 id="no-points"),
    pytest.param("{square: {points: [a, a]}}", "model.keypoints.square.points[1]: names point "
                 "'a' twice", id="twice"),
    pytest.param("{square: {points: [a, 3]}}", "model.keypoints.square.points[1]: expected a "
                 "point name, got 3", id="a-number"),
    pytest.param("{square: {points: [a, b], skeleton: [[a, c]]}}",
                 "model.keypoints.square.skeleton[0]: 'c' is not one of points (a, b)",
                 id="skeleton-unknown-point"),
    pytest.param("{square: {points: [a, b], skeleton: [[a, a]]}}",
                 "model.keypoints.square.skeleton[0]: pairs 'a' with itself", id="self-edge"),
    pytest.param("{square: {points: [a, b], skeleton: [a, b]}}",
                 "model.keypoints.square.skeleton[0]: expected a pair [point, point]",
                 id="flat-skeleton"),
    pytest.param("{square: {points: [a, b, c], flip: [[a, b], [b, c]]}}",
                 "model.keypoints.square.flip[1]: 'b' is in another pair already",
                 id="flip-twice"),
    pytest.param("{square: {points: [a, b], sigmas: [0.1]}}",
                 "model.keypoints.square.sigmas: expected 2 numbers in (0, 1], one per point",
                 id="sigmas-count"),
    pytest.param("{square: {points: [a, b], sigmas: [0.1, .nan]}}",
                 "model.keypoints.square.sigmas: expected 2 numbers in (0, 1]", id="sigma-nan"),
    pytest.param("{square: {points: [a, b], sigmas: [0.1, 0]}}",
                 "model.keypoints.square.sigmas: expected 2 numbers in (0, 1]", id="sigma-0"),
    pytest.param("{square: coco, triangle: coco}", "model.keypoints.triangle: its keypoint task "
                 "would be named 'human_pose' as square's (one class may take coco)",
                 id="coco-twice"),
    pytest.param("{square: {points: [" + ", ".join(f"p{i}" for i in range(1001)) + "]}}",
                 "model.keypoints.square.points: expected a list of 1 to 1000", id="1001"),
])
def test_bad_keypoints_are_one_line_naming_the_field(tmp_path, capsys, keypoints, message):
    text = SHAPES_SPEC.split("  keypoints:")[0] + f"  keypoints: {keypoints}\n" + \
        "data:\n  {data}\n"
    spec = write_spec(tmp_path, text=text)
    assert cli.main(["check", str(spec)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "spec.yaml:5: " + message in err or message in err, err
    assert message in err


def test_keypoints_on_an_architecture_without_a_keypoint_sample(tmp_path, capsys):
    text = SHAPES_SPEC.replace("centernet_mobilenet_v2_fpn", "centernet_resnet101_v1_fpn") \
        .replace("  depth_multiplier: 0.5\n", "")
    assert cli.main(["check", str(write_spec(tmp_path, text=text))]) == 2
    assert ("model.keypoints: centernet_resnet101_v1_fpn has no keypoint sample config; "
            "architectures with one: centernet_hourglass104, centernet_resnet50_v1_fpn, "
            "centernet_resnet50_v2, centernet_mobilenet_v2_fpn") in capsys.readouterr().err
    text = SHAPES_SPEC.replace("centernet_mobilenet_v2_fpn", "ssd_mobilenet_v2_fpnlite") \
        .replace("  depth_multiplier: 0.5\n", "")
    assert cli.main(["check", str(write_spec(tmp_path, text=text))]) == 2
    assert "ssd_mobilenet_v2_fpnlite has no keypoint sample config" in capsys.readouterr().err


def test_a_label_map_file_must_have_the_classes_and_their_keypoints(tmp_path, capsys):
    labels = tmp_path / "labels.pbtxt"
    labels.write_text('item { name: "circle" id: 1 }\nitem { name: "square" id: 2 keypoints { '
                      'id: 0 label: "corner" } }\nitem { name: "triangle" id: 3 }\n')
    assert cli.main(["check", str(write_spec(tmp_path, data=f"label_map: {labels}"))]) == 2
    assert "spec.yaml: model.keypoints.square.points: the label map lists corner for 'square'" \
        in capsys.readouterr().err
    labels.write_text('item { name: "circle" id: 1 }\nitem { name: "square" id: 2 }\n')
    assert cli.main(["check", str(write_spec(tmp_path, data=f"label_map: {labels}"))]) == 2
    assert "spec.yaml: model.keypoints.triangle: the label map has no class 'triangle'" in \
        capsys.readouterr().err


def test_flip_pairs_by_name_and_given(tmp_path):
    text = SHAPES_SPEC.replace(
        "      skeleton: [[top_left, top_right], [bottom_right, bottom_left]]\n",
        "      flip: [[top_left, bottom_left]]\n")
    config = render_spec(load_spec(write_spec(tmp_path, text=text))).config
    flip = config.train_config.data_augmentation_options[0].random_horizontal_flip
    assert list(flip.keypoint_flip_permutation) == [3, 1, 2, 0, 4, 6, 5]


def convert_demo(tmp_path, keypoints=True):
    demo = tmp_path / "demo"
    assert cli.main(["demo-data", str(demo), "--images", "6", "--keypoints",
                     "--shapes", "square,triangle,circle"]) == 0
    out = tmp_path / "records"
    argv = ["convert", "coco", str(demo / "annotations.json"), "-o", str(out)]
    assert cli.main(argv + (["--keypoints"] if keypoints else [])) == 0
    return out


def odw030(findings) -> list:
    return [(f.severity, f.path, f.message) for f in findings if f.id == "ODW030"]


def test_check_finds_keypoint_counts_that_differ(tmp_path):
    from odwrap import check

    records = convert_demo(tmp_path)
    labels = records / "label_map.pbtxt"
    data = (f"label_map: {labels}\n  train: {records}/data-*.tfrecord\n"
            f"  eval: {records}/data-*.tfrecord")
    assert odw030(check(write_spec(tmp_path, data=data))) == []

    boxes = convert_demo(tmp_path / "boxes", keypoints=False)
    found = odw030(check(write_spec(tmp_path, data=(
        f"label_map: {labels}\n  train: {boxes}/data-*.tfrecord\n"
        f"  eval: {boxes}/data-*.tfrecord"))))
    assert [path for _, path, _ in found] == ["train_input_reader.num_keypoints",
                                              "eval_input_reader[0].num_keypoints"]
    assert "have no keypoints; the decoder's reshape fails on them" in found[0][2]

    # A label map without keypoints: the builder's KeyError, and the count.
    (tmp_path / "plain.pbtxt").write_text(
        'item { name: "circle" id: 1 }\nitem { name: "square" id: 2 }\n'
        'item { name: "triangle" id: 3 }\n')
    found = odw030(check(write_spec(tmp_path, data=data.replace(
        str(records / "label_map.pbtxt"), str(tmp_path / "plain.pbtxt")))))
    assert [path for _, path, _ in found][:3] == [
        "model.center_net.keypoint_estimation_task[0].keypoint_class_name",
        "model.center_net.keypoint_estimation_task[1].keypoint_class_name",
        "train_input_reader.num_keypoints"]
    assert "num_keypoints is 7 but the keypoint label map's keypoints number 0" in found[2][2]


PIPELINE = """model {{ center_net {{ num_classes: 3 keypoint_label_map_path: "{labels}"
  keypoint_estimation_task {{ task_name: "square" keypoint_class_name: "square" }} }} }}
train_config {{ data_augmentation_options {{ random_horizontal_flip {{ {flip} }} }} }}
train_input_reader {{ label_map_path: "{labels}" num_keypoints: {count} }}
eval_config {{ keypoint_edge {{ start: 0 end: {end} }} }}"""


@pytest.mark.parametrize("count, flip, end, paths", [
    pytest.param(4, "keypoint_flip_permutation: [1, 0, 3, 2]", 3, [], id="clean"),
    pytest.param(5, "keypoint_flip_permutation: [1, 0, 3, 2, 4]", 3,
                 ["train_input_reader.num_keypoints"], id="num-keypoints-5-of-4"),
    pytest.param(4, "", 3, ["train_config.data_augmentation_options[0].random_horizontal_flip"
                            ".keypoint_flip_permutation"], id="no-flip-permutation"),
    pytest.param(4, "keypoint_flip_permutation: [1, 0, 3]", 3,
                 ["train_config.data_augmentation_options[0].random_horizontal_flip"
                  ".keypoint_flip_permutation"], id="short-flip-permutation"),
    pytest.param(4, "keypoint_flip_permutation: [1, 0, 3, 2]", 4,
                 ["eval_config.keypoint_edge[0]"], id="edge-past-the-end"),
])
def test_odw030_on_a_pipeline_config(tmp_path, count, flip, end, paths):
    from google.protobuf import text_format

    from odwrap.config.checks import check_pipeline
    from odwrap.odapi.protos import pipeline_pb2

    labels = tmp_path / "labels.pbtxt"
    labels.write_text('item { name: "square" id: 1 keypoints { id: 0 label: "a" } keypoints '
                      '{ id: 1 label: "b" } keypoints { id: 2 label: "c" } keypoints { id: 3 '
                      'label: "d" } }\nitem { name: "circle" id: 2 }\nitem { name: "x" id: 3 }\n')
    config = text_format.Parse(PIPELINE.format(labels=labels, count=count, flip=flip, end=end),
                               pipeline_pb2().TrainEvalPipelineConfig())
    assert [path for _, path, _ in odw030(check_pipeline(config))] == paths


LOSSES = """
import json, sys
from odwrap.odapi import compat
compat.apply()
import tensorflow as tf
from odwrap.odapi.pipeline import read_pipeline
inputs = compat.load("object_detection.inputs")
model_builder = compat.load("object_detection.builders.model_builder")
model_lib = compat.load("object_detection.model_lib")
model_lib_v2 = compat.load("object_detection.model_lib_v2")
config = read_pipeline(sys.argv[1])
model = model_builder.build(config.model, is_training=True)
dataset = inputs.train_input(config.train_config, config.train_input_reader, config.model,
                             model=model)
features, labels = next(iter(dataset))
shape = list(labels["groundtruth_keypoints"].shape)
labels = model_lib.unstack_batch(labels, unpad_groundtruth_tensors=False)
losses, _ = model_lib_v2._compute_losses_and_predictions_dicts(model, features, labels)
print(json.dumps({"keypoints": shape,
                  "losses": {key: float(value) for key, value in losses.items()}}))
"""


@pytest.mark.tf
def test_the_od_api_builds_it_and_computes_keypoint_losses_on_converted_records(tmp_path):
    """Records of convert --keypoints through the OD API's own input pipeline (its decoder
    and random_horizontal_flip with the rendered permutation), into the built model's losses;
    check --build builds and runs the same model from the spec's inline label map."""
    records = convert_demo(tmp_path)
    data = (f"label_map: {records / 'label_map.pbtxt'}\n  train: {records}/data-*.tfrecord\n"
            f"  eval: {records}/data-*.tfrecord")
    assert cli.main(["generate", str(write_spec(tmp_path, data=data)), "-o",
                     str(tmp_path / "out")]) == 0
    result = run_python(["-c", textwrap.dedent(LOSSES), str(tmp_path / "out" / "pipeline.config")])
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["keypoints"][1:] == [100, 7, 2]  # batch, max boxes, keypoints, (y, x)
    for task in ("square", "triangle"):
        for head in ("heatmap", "offset", "regression"):
            loss = found["losses"][f"Loss/{task}/keypoint/{head}"]
            assert loss == loss and loss >= 0, (task, head, loss)  # not NaN
    assert found["losses"]["Loss/square/keypoint/heatmap"] > 0

    from odwrap import check

    (tmp_path / "inline").mkdir()
    findings = check(write_spec(tmp_path / "inline"), build=True)
    assert [f.format() for f in findings if f.severity == "error"] == []


def test_every_keypoint_sample_is_a_keypoint_model_of_the_zoo():
    """The keypoint samples of the architecture table are the zoo's keypoint models of the same
    architecture and size (the mobile one by its tarball's name: it has no sample config)."""
    from odwrap.config.architectures import ARCHITECTURES
    from odwrap.zoo import find, for_sample_config

    found = {}
    for arch in ARCHITECTURES.values():
        for size, sample in arch.keypoint_samples.items():
            model = for_sample_config(sample.config) if sample.official else find(sample.config)
            assert model.architecture == arch.name and "keypoints" in model.outputs
            assert model.input_size == (size, size)
            found[arch.name, size] = model.name
    assert found == {
        ("centernet_hourglass104", 512): "centernet_hg104_512x512_kpts_coco17_tpu-32",
        ("centernet_hourglass104", 1024): "centernet_hg104_1024x1024_kpts_coco17_tpu-32",
        ("centernet_resnet50_v1_fpn", 512): "centernet_resnet50_v1_fpn_512x512_kpts_coco17_tpu-8",
        ("centernet_resnet50_v2", 512): "centernet_resnet50_v2_512x512_kpts_coco17_tpu-8",
        ("centernet_mobilenet_v2_fpn", 512): "centernet_mobilenetv2fpn_512x512_coco17_kpts"}
