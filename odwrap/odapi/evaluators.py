"""The ground truth and detections the OD API's COCO box evaluator holds, as COCO dicts, read
from an evaluator odwrap made (exported models) or recorded from the ones model_lib_v2's
eager_eval_loop makes and discards (checkpoints): what odwrap.evaluation analyzes."""

from contextlib import contextmanager

from odwrap.odapi import compat


def coco_lists(evaluator) -> tuple[dict, list]:
    """(ground truth as a COCO dataset dict, detections as COCO result rows) of a
    CocoDetectionEvaluator that has seen every image."""
    groundtruth = {"images": [{"id": image} for image in evaluator._image_ids],
                   "annotations": list(evaluator._groundtruth_list),
                   "categories": list(evaluator._categories)}
    return groundtruth, list(evaluator._detection_boxes_list)


@contextmanager
def recorded_box_evaluations():
    """Within, each CocoDetectionEvaluator.evaluate() first appends its coco_lists() to the
    list this yields."""
    coco_evaluation = compat.load("object_detection.metrics.coco_evaluation")
    evaluator_class = coco_evaluation.CocoDetectionEvaluator
    original = evaluator_class.evaluate
    recorded = []

    def evaluate(self):
        recorded.append(coco_lists(self))
        return original(self)

    evaluator_class.evaluate = evaluate
    try:
        yield recorded
    finally:
        evaluator_class.evaluate = original


def image_keys(source_ids: list[bytes]) -> list[int]:
    """The ids that eager_eval_loop's evaluators know images by: the hash of each source_id
    (inputs.HASH_KEY)."""
    inputs = compat.load("object_detection.inputs")
    tf = compat.import_tensorflow()
    hashed = tf.strings.to_hash_bucket_fast(tf.constant(source_ids, tf.string), inputs.HASH_BINS)
    return [int(key) for key in tf.cast(hashed, tf.int32).numpy()]
