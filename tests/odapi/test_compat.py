"""Each compat fix runs the real OD API code path that broke, with the fix and without it.

The runs without the fix assert that the original error still appears: when upstream fixes a
breakage, its test fails here and the fix can go.
"""

import textwrap

import pytest

from tests.conftest import run_python, running_stack

pytestmark = [pytest.mark.tf, pytest.mark.smoke]

# The stacks on which each fix's breakage is present (README, Compatibility fixes).
NEEDED_ON = {
    "legacy_keras": {"tf221"},
    "protobuf_generated_code": {"tf221"},
    "estimator_modekeys": {"tf221"},
    "tensorflow_io_rgb_to_lab": {"tf221"},
    "tf_slim_control_flow": {"tf221", "tf215"},
    "pillow_getsize": {"tf221", "tf215"},
    "numpy_aliases": {"tf221", "tf215"},
    "keras_resnet_builder": {"tf221", "tf215"},
    "center_net_keypoint_eval": {"tf221", "tf215"},
}


def needed_here(fix: str) -> set[str]:
    return {fix} if running_stack() in NEEDED_ON[fix] else set()

DECODE_TFRECORD = """
import os, tempfile
import numpy as np
from odwrap.odapi import compat
compat.apply()
import tensorflow as tf
from tests.tfdata import write_shapes_tfrecord
tf_example_decoder = compat.load("object_detection.data_decoders.tf_example_decoder")

path = write_shapes_tfrecord(os.path.join(tempfile.mkdtemp(), "one.tfrecord"), count=1, size=48)
serialized = next(iter(tf.data.TFRecordDataset(str(path))))
raw = tf.train.Example.FromString(serialized.numpy()).features.feature
decoded = tf_example_decoder.TfExampleDecoder().decode(serialized)
assert decoded["image"].shape == (48, 48, 3), decoded["image"].shape
expected = [[raw["image/object/bbox/" + key].float_list.value[0]
             for key in ("ymin", "xmin", "ymax", "xmax")]]
np.testing.assert_allclose(decoded["groundtruth_boxes"].numpy(), expected)
assert decoded["groundtruth_classes"].numpy().tolist() == [1]
print("OK")
"""

DRAW_LABELLED_BOX = """
import numpy as np
from odwrap.odapi import compat
vu = compat.load("object_detection.utils.visualization_utils")
image = np.zeros((96, 96, 3), np.uint8)
vu.draw_bounding_box_on_image_array(image, 0.5, 0.2, 0.9, 0.8, color="red",
                                    display_str_list=["cat: 90%"])
# The label's filled background sits above the box, at rows < 48.
assert image[:48].any(), "no label drawn"
print("OK")
"""

PASCAL_VOC_METRICS = """
import numpy as np
from odwrap.odapi import compat
evaluation = compat.load("object_detection.utils.object_detection_evaluation")
from object_detection.core import standard_fields as fields
evaluator = evaluation.PascalDetectionEvaluator([{"id": 1, "name": "cat"}])
evaluator.add_single_ground_truth_image_info("img", {
    fields.InputDataFields.groundtruth_boxes: np.array([[10, 10, 50, 50]], np.float32),
    fields.InputDataFields.groundtruth_classes: np.array([1]),
})
evaluator.add_single_detected_image_info("img", {
    fields.DetectionResultFields.detection_boxes: np.array([[10, 10, 50, 50]], np.float32),
    fields.DetectionResultFields.detection_scores: np.array([0.9], np.float32),
    fields.DetectionResultFields.detection_classes: np.array([1]),
})
metrics = evaluator.evaluate()
assert metrics["PascalBoxes_Precision/mAP@0.5IOU"] == 1.0, metrics
print("OK")
"""

BUILD_KERAS_MODEL = """
from odwrap.odapi import compat
compat.load("object_detection.builders.model_builder")
import tensorflow as tf
assert hasattr(tf.keras.layers, "experimental"), tf.keras  # Keras 2, as the OD API needs
print("OK")
"""

PARSE_PIPELINE_PROTO = """
from odwrap.odapi import protos
from google.protobuf import text_format
config = text_format.Parse("model { ssd { num_classes: 3 } } train_config { batch_size: 2 }",
                           protos.pipeline_pb2().TrainEvalPipelineConfig())
assert config.model.ssd.num_classes == 3 and config.train_config.batch_size == 2
step = protos.preprocessor_pb2().PreprocessingStep(random_horizontal_flip={})
assert step.WhichOneof("preprocessing_step") == "random_horizontal_flip"
print("OK")
"""

INPUTS_MODE_KEYS = """
from odwrap.odapi import compat
inputs = compat.load("object_detection.inputs")
assert inputs.tf_estimator.ModeKeys.TRAIN == "train"
assert inputs.tf_estimator.ModeKeys.EVAL == "eval"
print("OK")
"""

# CIE L*a*b* (D65, 2 degrees) of sRGB white, red, green and mid grey, from the colour standard.
DEEPMAC_RGB_TO_LAB = """
import numpy as np
from odwrap.odapi import compat
deepmac = compat.load("object_detection.meta_architectures.deepmac_meta_arch")
rgb = np.array([[[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.5]]], np.float32)
lab = deepmac.tfio.experimental.color.rgb_to_lab(rgb).numpy()[0]
expected = [[100.0, 0.0, 0.0], [53.24, 80.09, 67.20], [87.73, -86.18, 83.18], [53.39, 0.0, 0.0]]
np.testing.assert_allclose(lab, expected, atol=0.05)
print("OK")
"""

BUILD_RESNET18 = """
from odwrap.odapi import compat
resnet_v1 = compat.load("object_detection.models.keras_models.resnet_v1")
model = resnet_v1.resnet_v1_18(weights=None, include_top=False, input_shape=(64, 64, 3))
assert model.output_shape == (None, 2, 2, 512), model.output_shape
print("OK")
"""

# model_lib_v2.eager_eval_loop's path: the keypoint model's loss in a tf.function, its ground
# truth unpadded (eval's batch of 1), so that its number of boxes is known only at run time.
CENTER_NET_KEYPOINT_LOSS = """
import pathlib
import tempfile
from odwrap.odapi import compat
compat.apply()
import tensorflow as tf
import odwrap
from odwrap.odapi.pipeline import read_pipeline
work = pathlib.Path(tempfile.mkdtemp())
(work / "spec.yaml").write_text('''
model:
  architecture: centernet_mobilenet_v2_fpn
  image_size: 64
  resizer: fixed
  depth_multiplier: 0.25
  keypoints:
    plate:
      points: [left, right]
data:
  classes: [plate]
  train: records/train-*.tfrecord
''')
odwrap.generate(work / "spec.yaml", work / "out")
config = read_pipeline(work / "out" / "pipeline.config")
model_builder = compat.load("object_detection.builders.model_builder")
model = model_builder.build(config.model, is_training=False)

@tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
def loss(boxes):  # as eval's: the ground truth unpadded, its number of boxes unknown
    count = tf.shape(boxes)[0]
    images, shapes = model.preprocess(tf.zeros([1, 64, 64, 3]))
    predicted = model.predict(images, shapes)
    model.provide_groundtruth(
        groundtruth_boxes_list=[boxes],
        groundtruth_classes_list=[tf.ones([count, 1])],
        groundtruth_keypoints_list=[tf.fill([count, 2, 2], 0.3)],
        groundtruth_keypoint_visibilities_list=[tf.ones([count, 2], tf.bool)],
        groundtruth_weights_list=[tf.ones([count])])
    return model.loss(predicted, shapes)

losses = loss(tf.constant([[0.1, 0.1, 0.6, 0.6]]))
assert all(bool(tf.math.is_finite(value)) for value in losses.values()), losses
print("OK")
"""

CASES = [
    pytest.param("legacy_keras", BUILD_KERAS_MODEL,
                 "module 'keras._tf_keras.keras.layers' has no attribute 'experimental'",
                 id="legacy_keras"),
    pytest.param("protobuf_generated_code", PARSE_PIPELINE_PROTO,
                 "Descriptors cannot be created directly", id="protobuf_generated_code"),
    pytest.param("estimator_modekeys", INPUTS_MODE_KEYS,
                 "cannot import name 'estimator' from 'tensorflow.compat.v1'",
                 id="estimator_modekeys"),
    pytest.param("tensorflow_io_rgb_to_lab", DEEPMAC_RGB_TO_LAB,
                 "No module named 'tensorflow_io'", id="tensorflow_io_rgb_to_lab"),
    pytest.param("tf_slim_control_flow", DECODE_TFRECORD,
                 "module 'tensorflow.python.ops.control_flow_ops' has no attribute",
                 id="tf_slim_control_flow"),
    pytest.param("pillow_getsize", DRAW_LABELLED_BOX, "object has no attribute 'getsize'",
                 id="pillow_getsize"),
    pytest.param("numpy_aliases", PASCAL_VOC_METRICS, "module 'numpy' has no attribute 'float'",
                 id="numpy_aliases"),
    pytest.param("keras_resnet_builder", BUILD_RESNET18,
                 "module 'keras.applications.resnet' has no attribute 'ResNet'",
                 id="keras_resnet_builder"),
    pytest.param("center_net_keypoint_eval", CENTER_NET_KEYPOINT_LOSS,
                 "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed",
                 id="center_net_keypoint_eval"),
]


@pytest.mark.parametrize("fix, code, original_error", CASES)
def test_code_path_works_with_the_fix(fix, code, original_error):
    result = run_python(textwrap.dedent(code))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


@pytest.mark.parametrize("fix, code, original_error", CASES)
def test_original_error_without_the_fix(fix, code, original_error):
    if not needed_here(fix):
        pytest.skip(f"{fix} is not needed on the {running_stack()} stack")
    result = run_python(textwrap.dedent(code), env={"ODWRAP_COMPAT_DISABLE": fix})
    assert result.returncode != 0, "the breakage is gone upstream; the fix may be removed"
    assert original_error in result.stderr, result.stderr[-3000:]


def test_every_fix_has_a_code_path_test():
    from odwrap.odapi import compat

    assert {case.values[0] for case in CASES} == {fix.name for fix in compat.FIXES}
    assert set(NEEDED_ON) == {fix.name for fix in compat.FIXES}


def test_the_standin_rgb_to_lab_matches_tensorflow_io():
    tfio = pytest.importorskip("tensorflow_io", reason="tensorflow-io is in the tf215 stack only")
    import numpy as np

    from odwrap.odapi import standins

    rgb = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(standins.rgb_to_lab(rgb).numpy(),
                               tfio.experimental.color.rgb_to_lab(rgb).numpy(), atol=1e-3)


def test_apply_is_idempotent():
    needed = {name for name, stacks in NEEDED_ON.items() if running_stack() in stacks}
    code = f"""
from odwrap.odapi import compat
first = compat.apply()
second = compat.apply()
print(sorted(first.values()), sorted(second.values()))
assert {{n for n, state in first.items() if state == "applied"}} == {needed!r}, first
assert {{n for n, state in second.items() if state == "already applied"}} == {needed!r}, second
assert {{state for n, state in first.items() if n not in {needed!r}}} <= {{"not needed"}}, first
from tensorflow.python.ops import control_flow_ops
from tensorflow.python.ops import control_flow_case
assert control_flow_ops.case is control_flow_case.case
print("OK")
"""
    result = run_python(textwrap.dedent(code))
    assert result.returncode == 0, result.stderr[-3000:]


def test_disable_all_leaves_every_fix_off():
    result = run_python("from odwrap.odapi import compat; print(compat.apply())",
                        env={"ODWRAP_COMPAT_DISABLE": "all"})
    assert result.returncode == 0, result.stderr
    from odwrap.odapi import compat

    assert result.stdout.count("'disabled'") == len(compat.FIXES)


def test_keras_3_already_in_use_is_a_clear_stack_error():
    if not needed_here("legacy_keras"):
        pytest.skip(f"legacy_keras is not needed on the {running_stack()} stack")
    code = """
import tensorflow as tf
tf.keras.layers.Dense  # a user's script that touched tf.keras before odwrap
from odwrap.errors import StackError
from odwrap.odapi import compat
try:
    compat.load("object_detection.builders.model_builder")
except StackError as exc:
    print("StackError:", exc)
"""
    result = run_python(textwrap.dedent(code))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "StackError: this process used tf.keras as Keras 3" in result.stdout
    assert "TF_USE_LEGACY_KERAS=1" in result.stdout
