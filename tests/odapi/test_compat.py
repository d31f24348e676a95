"""Each compat fix runs the real OD API code path that broke, with the fix and without it.

The runs without the fix assert that the original error still appears: when upstream fixes a
breakage, its test fails here and the fix can go.
"""

import textwrap

import pytest

from tests.conftest import run_python

pytestmark = pytest.mark.tf

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

CASES = [
    pytest.param("tf_slim_control_flow", DECODE_TFRECORD,
                 "module 'tensorflow.python.ops.control_flow_ops' has no attribute",
                 id="tf_slim_control_flow"),
    pytest.param("pillow_getsize", DRAW_LABELLED_BOX, "object has no attribute 'getsize'",
                 id="pillow_getsize"),
    pytest.param("numpy_aliases", PASCAL_VOC_METRICS, "module 'numpy' has no attribute 'float'",
                 id="numpy_aliases"),
]


@pytest.mark.parametrize("fix, code, original_error", CASES)
def test_code_path_works_with_the_fix(fix, code, original_error):
    result = run_python(textwrap.dedent(code))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


@pytest.mark.parametrize("fix, code, original_error", CASES)
def test_original_error_without_the_fix(fix, code, original_error):
    result = run_python(textwrap.dedent(code), env={"ODWRAP_COMPAT_DISABLE": fix})
    assert result.returncode != 0, "the breakage is gone upstream; the fix may be removed"
    assert original_error in result.stderr, result.stderr[-3000:]


def test_every_fix_has_a_code_path_test():
    from odwrap.odapi import compat

    assert {case.values[0] for case in CASES} == {fix.name for fix in compat.FIXES}


def test_apply_is_idempotent():
    code = """
from odwrap.odapi import compat
first = compat.apply()
second = compat.apply()
print(sorted(first.values()), sorted(second.values()))
assert set(first.values()) == {"applied"}, first
assert set(second.values()) == {"already applied"}, second
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
