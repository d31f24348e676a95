"""The real OD API on generated configs: model_builder builds them, model_lib_v2 trains one."""

import textwrap

import pytest

from odwrap import check as check_file
from odwrap import cli
from tests.conftest import ROOT, run_python
from tests.tfdata import TINY_SPEC, write_tiny_spec

pytestmark = [pytest.mark.tf, pytest.mark.slow]

@pytest.mark.parametrize("spec", sorted((ROOT / "templates" / "specs").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_example_spec_passes_check_build(spec):
    findings = check_file(spec, build=True)
    assert [f for f in findings if f.severity == "error"] == []


@pytest.mark.parametrize("size", [96, 112, 128, 144])
def test_fpn_size_check_agrees_with_the_builder(tmp_path, size):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(size=size, train="t.tfrecord", steps=1))
    findings = check_file(spec, build=True)
    flagged = any(f.id == "ODW001" for f in findings)
    failed_build = any(f.id == "ODW100" for f in findings)
    assert flagged == failed_build
    assert flagged == (size % 32 != 0)


TRAIN_ONE_STEP = """
import sys
from odwrap.odapi import compat
model_lib_v2 = compat.load("object_detection.model_lib_v2")
import tensorflow as tf
config, model_dir = sys.argv[1], sys.argv[2]
model_lib_v2.train_loop(config, model_dir, train_steps=1, checkpoint_every_n=1,
                        num_steps_per_iteration=1, record_summaries=False)
latest = tf.train.latest_checkpoint(model_dir)
reader = tf.train.load_checkpoint(latest)
names = [name for name, _ in tf.train.list_variables(latest)]
assert any("_box_predictor" in name for name in names), names[:20]
print("STEP", reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
"""


def test_train_one_step_from_a_generated_config(tmp_path):
    spec = write_tiny_spec(tmp_path, count=4, steps=1)
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "gen")]) == 0
    result = run_python(["-c", textwrap.dedent(TRAIN_ONE_STEP),
                         str(tmp_path / "gen" / "pipeline.config"), str(tmp_path / "model")])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "STEP 1" in result.stdout


TWO_STAGE = """
model { faster_rcnn {
  num_classes: 2
  image_resizer { fixed_shape_resizer { height: 128 width: 128 } }
  feature_extractor { type: "faster_rcnn_resnet50_keras" batch_norm_trainable: true }
  first_stage_anchor_generator { grid_anchor_generator {
    scales: [0.25, 0.5, 1.0, 2.0] aspect_ratios: [0.5, 1.0, 2.0]
    height_stride: 16 width_stride: 16 } }
  first_stage_box_predictor_conv_hyperparams { op: CONV
    regularizer { l2_regularizer { weight: 0.0 } }
    initializer { truncated_normal_initializer { stddev: 0.01 } } }
  first_stage_nms_iou_threshold: 0.7
  first_stage_max_proposals: 16
  first_stage_localization_loss_weight: 2.0
  first_stage_objectness_loss_weight: 1.0
  initial_crop_size: 14
  maxpool_kernel_size: 2
  maxpool_stride: 2
  second_stage_batch_size: 16
  second_stage_box_predictor { mask_rcnn_box_predictor {
    use_dropout: false
    fc_hyperparams { op: FC regularizer { l2_regularizer { weight: 0.0 } }
      initializer { variance_scaling_initializer { factor: 1.0 uniform: true mode: FAN_AVG } } }
    %(masks)s } }
  second_stage_post_processing {
    batch_non_max_suppression { iou_threshold: 0.6 max_detections_per_class: 10
                                max_total_detections: 10 }
    score_converter: SOFTMAX }
  second_stage_localization_loss_weight: 2.0
  second_stage_classification_loss_weight: 1.0
  %(mask_loss)s
} }
train_config { batch_size: 1 }
train_input_reader { tf_record_input_reader { input_path: "gs://bucket/train.tfrecord" }
                     %(reader)s }
"""

MASK_HEAD = """predict_instance_masks: true mask_height: 14 mask_width: 14
    mask_prediction_conv_depth: 0 mask_prediction_num_conv_layers: 2
    conv_hyperparams { op: CONV regularizer { l2_regularizer { weight: 0.0 } }
      initializer { truncated_normal_initializer { stddev: 0.01 } } }"""


@pytest.mark.parametrize("masks", [False, True], ids=["faster_rcnn", "mask_rcnn"])
def test_two_stage_models_build_without_a_false_finding(tmp_path, masks):
    # In training mode the second stage samples proposals against the ground truth.
    path = tmp_path / "pipeline.config"
    path.write_text(TWO_STAGE % {"masks": MASK_HEAD if masks else "",
                                 "mask_loss": "second_stage_mask_prediction_loss_weight: 4.0"
                                 if masks else "",
                                 "reader": "load_instance_masks: true mask_type: PNG_MASKS"
                                 if masks else ""})
    findings = check_file(path, build=True)
    assert [f.format() for f in findings if f.severity == "error"] == []
