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


def coco_mask_lists(evaluator) -> tuple[dict, list]:
    """The same of a CocoMaskEvaluator: masks as COCO RLE, images with their sizes."""
    groundtruth = {"images": [{"id": image, "height": shape[1], "width": shape[2]}
                              for image, shape in evaluator._image_id_to_mask_shape_map.items()],
                   "annotations": list(evaluator._groundtruth_list),
                   "categories": list(evaluator._categories)}
    return groundtruth, list(evaluator._detection_masks_list)


@contextmanager
def recorded_coco_evaluations():
    """Within, each COCO box or mask evaluator's evaluate() first records its lists: the dict
    this yields gets them under "boxes" (coco_lists) and "masks" (coco_mask_lists), the
    latest last."""
    coco_evaluation = compat.load("object_detection.metrics.coco_evaluation")
    recorded = {"boxes": [], "masks": []}
    patched = []
    for kind, evaluator_class, lists in (
            ("boxes", coco_evaluation.CocoDetectionEvaluator, coco_lists),
            ("masks", coco_evaluation.CocoMaskEvaluator, coco_mask_lists)):
        original = evaluator_class.__dict__["evaluate"]

        def evaluate(self, original=original, kind=kind, lists=lists):
            recorded[kind].append(lists(self))
            return original(self)

        evaluator_class.evaluate = evaluate
        patched.append((evaluator_class, original))
    try:
        yield recorded
    finally:
        for evaluator_class, original in patched:
            evaluator_class.evaluate = original


def image_keys(source_ids: list[bytes]) -> list[int]:
    """The ids that eager_eval_loop's evaluators know images by: the hash of each source_id
    (inputs.HASH_KEY)."""
    inputs = compat.load("object_detection.inputs")
    tf = compat.import_tensorflow()
    hashed = tf.strings.to_hash_bucket_fast(tf.constant(source_ids, tf.string), inputs.HASH_BINS)
    return [int(key) for key in tf.cast(hashed, tf.int32).numpy()]
