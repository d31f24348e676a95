"""The ground truth and detections the OD API's COCO box, mask and keypoint evaluators hold, as
COCO dicts, read from an evaluator odwrap made (exported models) or recorded from the ones
model_lib_v2's eager_eval_loop makes and discards (checkpoints): what odwrap.evaluation
analyzes; and the keypoint metrics of every keypoint class together."""

import re
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


def coco_keypoint_lists(evaluator) -> dict:
    """What a CocoKeypointEvaluator (one class's keypoints) holds: its class, the label map's
    ids of its keypoints, their OKS sigmas, its ground truth (as coco_lists, the annotations
    with their "keypoints" [x, y, visibility, ...] in pixels) and detections (the same, the
    third value of each point a score)."""
    groundtruth, detections = coco_lists(evaluator)
    return {"category_id": int(evaluator._category_id),
            "class": evaluator._categories[0]["name"],
            "keypoint_ids": [int(i) for i in evaluator._keypoint_ids],
            "sigmas": [float(s) for s in evaluator._oks_sigmas],
            "groundtruth": groundtruth, "detections": detections}


KEYPOINT_METRIC = re.compile(r"(Keypoints_.+) ByCategory/.+")


def with_keypoint_means(metrics: dict) -> dict:
    """METRICS with each keypoint metric over the keypoint classes: the OD API's
    CocoKeypointEvaluator reports one class ("Keypoints_Precision/mAP ByCategory/person"); as
    COCO's box mAP, the mean over the classes that have a value (-1: none has)."""
    by_name = {}  # each metric's values that the classes have (-1: a class has none)
    for key, value in metrics.items():
        matched = KEYPOINT_METRIC.fullmatch(key)
        if matched:
            kept = by_name.setdefault(matched.group(1), [])
            kept += [float(value)] if value >= 0 else []
    return {**metrics, **{name: sum(values) / len(values) if values else -1.0
                          for name, values in by_name.items()}}


@contextmanager
def recorded_coco_evaluations():
    """Within, each COCO box, mask or keypoint evaluator's evaluate() first records its lists:
    the dict this yields gets them under "boxes" (coco_lists), "masks" (coco_mask_lists) and
    "keypoints" (coco_keypoint_lists), the latest last."""
    coco_evaluation = compat.load("object_detection.metrics.coco_evaluation")
    recorded = {"boxes": [], "masks": [], "keypoints": []}
    patched = []
    for kind, evaluator_class, lists in (
            ("boxes", coco_evaluation.CocoDetectionEvaluator, coco_lists),
            ("masks", coco_evaluation.CocoMaskEvaluator, coco_mask_lists),
            ("keypoints", coco_evaluation.CocoKeypointEvaluator, coco_keypoint_lists)):
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
