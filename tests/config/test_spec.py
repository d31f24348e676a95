"""Spec loading through the CLI: bad input gets one line naming file/line/field, exit 2."""

import textwrap

import pytest

from odwrap import cli
from odwrap.config.spec import load_spec, parse_overrides

GOOD = """\
model:
  architecture: ssd_mobilenet_v2_fpnlite
  image_size: 320
data:
  classes: [cat, dog]
train:
  batch_size: 8
  steps: 1000
"""


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_generate(tmp_path, spec, *extra):
    out = tmp_path / "out"
    code = cli.main(["generate", str(spec), "-o", str(out), *extra])
    return code, out


BAD_SPECS = [
    pytest.param(GOOD.replace("  batch_size: 8", "  batch_size: 8\n   steps: [1"),
                 "spec.yaml:8: YAML syntax error", id="yaml-syntax"),
    pytest.param(GOOD.replace("batch_size", "batch_sise"),
                 "unknown key 'train.batch_sise', did you mean 'batch_size'?", id="unknown-key"),
    pytest.param(GOOD.replace("train:", "trian:"),
                 "unknown key 'trian', did you mean 'train'?", id="unknown-section"),
    pytest.param(GOOD.replace("batch_size: 8", "batch_size: eight"),
                 "spec.yaml:7: train.batch_size: expected int | null, got 'eight'",
                 id="wrong-type"),
    pytest.param(GOOD.replace("ssd_mobilenet_v2_fpnlite", "ssd_mobilenet_v2_fpnlight"),
                 "spec.yaml:2: model.architecture: unknown architecture "
                 "'ssd_mobilenet_v2_fpnlight', did you mean 'ssd_mobilenet_v2_fpnlite'?",
                 id="unknown-architecture"),
    pytest.param(GOOD.replace("batch_size: 8", "batch_size: -4"),
                 "spec.yaml:7: train.batch_size: expected int in 1..65536 (got -4)",
                 id="impossible-value"),
    pytest.param(GOOD.replace("image_size: 320", "image_size: [320, 320, 3]"),
                 "spec.yaml:3: model.image_size", id="image-size-shape"),
    pytest.param(GOOD.replace("classes: [cat, dog]", "classes: [cat, cat]"),
                 "spec.yaml:5: data.classes[1]: names class 'cat' twice", id="duplicate-class"),
    pytest.param(GOOD + "  steps: 5\n", "spec.yaml:9: YAML syntax error: duplicate key 'steps'",
                 id="duplicate-key"),
    pytest.param("- just\n- a list\n", "a spec is a mapping of sections", id="not-a-mapping"),
    pytest.param(GOOD.replace("  architecture: ssd_mobilenet_v2_fpnlite\n", ""),
                 "model.architecture: is required", id="no-architecture"),
    pytest.param(GOOD.replace("  classes: [cat, dog]", "  classes: [cat]\n  label_map: coco"),
                 "give either label_map or classes, not both", id="label-map-and-classes"),
    pytest.param(GOOD.replace("  classes: [cat, dog]", "  label_map: nope.pbtxt"),
                 "data.label_map:", id="missing-label-map"),
    pytest.param(GOOD.replace("data:\n  classes: [cat, dog]\n", ""),
                 "model.num_classes: give it", id="no-classes-at-all"),
    pytest.param(GOOD + "  augmentations: [random_horizontal_flop]\n",
                 "train.augmentations[0]: unknown augmentation 'random_horizontal_flop', "
                 "did you mean 'random_horizontal_flip'?", id="unknown-augmentation"),
    pytest.param(GOOD + "  augmentations: [{random_crop_image: {min_aera: 0.5}}]\n",
                 "'RandomCropImage' has no field 'min_aera', did you mean 'min_area'?",
                 id="unknown-augmentation-field"),
    pytest.param(GOOD + "  augmentations: [{random_crop_image: {min_area: high}}]\n",
                 "train.augmentations[0].random_crop_image.min_area: 'high' is not a valid",
                 id="bad-augmentation-value"),
]


def family(architecture, model="", train=""):
    """GOOD with another architecture and extra model / train lines."""
    text = GOOD.replace("ssd_mobilenet_v2_fpnlite", architecture).replace("  image_size: 320\n",
                                                                        model)
    return text + train


# Keys an architecture does not take, and values its sample's resizer or schedule cannot.
BAD_SPECS += [
    pytest.param(family("centernet_resnet50_v2", "  fpn_levels: [3, 7]\n"),
                 "spec.yaml:3: model.fpn_levels: centernet_resnet50_v2 does not take it (it takes "
                 "none of the optional model keys", id="fpn-levels-for-centernet"),
    pytest.param(family("faster_rcnn_resnet50_v1", "  depth_multiplier: 0.5\n"),
                 "model.depth_multiplier: faster_rcnn_resnet50_v1 does not take it (it takes "
                 "iou_threshold, proposals, score_threshold", id="depth-multiplier-for-frcnn"),
    pytest.param(family("efficientdet_d0", "  depth_multiplier: 0.5\n"),
                 "model.depth_multiplier: efficientdet_d0 does not take it",
                 id="depth-multiplier-for-efficientdet"),
    pytest.param(family("centernet_hourglass104", "  score_threshold: 0.3\n"),
                 "model.score_threshold: centernet_hourglass104 does not take it",
                 id="nms-for-centernet"),
    pytest.param(family("faster_rcnn_resnet50_v1", "  mask_size: 28\n"),
                 "model.mask_size: faster_rcnn_resnet50_v1 does not take it", id="mask-size-frcnn"),
    pytest.param(family("ssd_mobilenet_v2_fpnlite", "  proposals: 100\n"),
                 "model.proposals: ssd_mobilenet_v2_fpnlite does not take it",
                 id="proposals-for-ssd"),
    pytest.param(family("ssd_mobilenet_v2", "  fpn_depth: 64\n"),
                 "model.fpn_depth: ssd_mobilenet_v2 does not take it", id="fpn-depth-no-fpn"),
    pytest.param(family("faster_rcnn_resnet50_v1", "  image_size: [1333, 800]\n"),
                 "spec.yaml:3: model.image_size: faster_rcnn_resnet50_v1 keeps the aspect ratio: "
                 "[1333, 800] is [shorter side, longer side at most]", id="keep-aspect-min-max"),
    pytest.param(family("centernet_hourglass104", "  image_size: 512\n", "  warmup_steps: 10\n"),
                 "spec.yaml:9: train.warmup_steps: the step schedule has no warmup",
                 id="warmup-with-step-schedule"),
    pytest.param(family("ssd_mobilenet_v2_fpnlite", "", "  schedule: step\n"
                        "  warmup_learning_rate: 0.01\n"),
                 "train.warmup_learning_rate: the step schedule has no warmup",
                 id="warmup-with-chosen-step"),
    pytest.param(family("mask_rcnn_inception_resnet_v2", "  mask_size: 0\n"),
                 "model.mask_size", id="mask-size-zero"),
]


@pytest.mark.parametrize("text, message", BAD_SPECS)
def test_bad_spec_is_one_line_exit_2_nothing_written(tmp_path, capsys, text, message):
    spec = write(tmp_path, text)
    code, out = run_generate(tmp_path, spec)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_missing_spec_file(tmp_path, capsys):
    code, out = run_generate(tmp_path, tmp_path / "nope.yaml")
    assert code == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    pytest.param(["--set", "train.batch_sise=8"], "--set: unknown key 'train.batch_sise', did "
                 "you mean 'batch_size'?", id="unknown-key"),
    pytest.param(["--set", "train.batch_size"], "expected KEY=VALUE", id="no-equals"),
    pytest.param(["--set", "train.batch_size=[8"], "--set train.batch_size: YAML syntax error",
                 id="bad-yaml"),
    pytest.param(["--set", "train.batch_size=0"], "--set: train.batch_size: expected int in "
                 "1..65536 (got 0)", id="impossible"),
])
def test_bad_overrides(tmp_path, capsys, argv, message):
    code, out = run_generate(tmp_path, write(tmp_path, GOOD), *argv)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_precedence_set_over_spec_over_defaults(tmp_path):
    loaded = load_spec(write(tmp_path, GOOD), ["train.steps=77", "eval.num_examples=5"])
    spec = loaded.spec
    assert spec.train.steps == 77  # --set beats the spec's 1000
    assert spec.train.batch_size == 8  # the spec beats the default (null)
    assert spec.train.momentum == 0.9  # the default
    assert spec.eval.num_examples == 5


def test_override_values_are_yaml_never_code():
    parsed = parse_overrides(["a.b=[1, 2]", "a.c=__import__('os').system('false')", "d="])
    assert parsed == {"a": {"b": [1, 2], "c": "__import__('os').system('false')"}, "d": None}


def test_yaml_tags_are_refused(tmp_path, capsys):
    spec = write(tmp_path, GOOD + "  fine_tune_checkpoint: !!python/object/apply:os.system "
                                  "['false']\n")
    code, _ = run_generate(tmp_path, spec)
    assert code == 2
    assert "YAML syntax error" in capsys.readouterr().err
