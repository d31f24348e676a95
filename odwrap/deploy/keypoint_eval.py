"""OKS keypoint metrics of an exported keypoint model (`eval --model`): the OD API's
CocoKeypointEvaluator of each class that eval_config's coco_keypoint_metrics names, made as
eval_util makes them for a checkpoint, fed the records' keypoints and the model's."""

import numpy as np

from odwrap.errors import InputError
from odwrap.odapi import compat, evaluators, facts

KEYPOINT_KEYS = ("image/object/keypoint/y", "image/object/keypoint/x")


class KeypointEvaluation:
    """The keypoint evaluators of CONFIG (none for a model without keypoints, or without a
    config), fed an image at a time."""

    def __init__(self, config):
        self.evaluators, self.config = [], config
        self.source_ids = []  # of the images added, in turn
        if config is None or not facts.predicts_keypoints(config):
            return
        eval_util = compat.load("object_detection.eval_util")
        label_map_util = compat.load("object_detection.utils.label_map_util")
        coco_evaluation = compat.load("object_detection.metrics.coco_evaluation")
        categories = label_map_util.create_categories_from_labelmap(
            facts.label_map_path(config))
        self.evaluators = [evaluator for evaluator in
                           eval_util.get_evaluators(config.eval_config, categories)
                           if isinstance(evaluator, coco_evaluation.CocoKeypointEvaluator)]
        self.fields = compat.load("object_detection.core.standard_fields")

    def add(self, image_id, features: dict, keep, truth: dict, detected: dict, keypoints,
            height: int, width: int) -> None:
        """One image: its record's FEATURES (the objects KEEP selects), the box ground truth
        TRUTH and the detections DETECTED (absolute boxes, scores, classes, as the box
        evaluator takes them), and the model's KEYPOINTS (normalized y, x; None: none)."""
        if not self.evaluators:
            return
        self.source_ids.append((features.get("image/source_id") or [b""])[0].decode(
            "utf-8", "replace"))
        inputs, outputs = self.fields.InputDataFields, self.fields.DetectionResultFields
        objects, per_object = len(keep), self.config.eval_input_reader[0].num_keypoints
        ys, xs = (np.asarray(features.get(key, []), np.float32) for key in KEYPOINT_KEYS)
        visibility = np.asarray(features.get("image/object/keypoint/visibility",
                                             [2] * len(xs)), np.int64)
        if len(xs) != objects * per_object or len(ys) != len(xs) \
                or len(visibility) != len(xs):
            raise InputError(f"an example has {len(xs)} keypoints for {objects} objects, where "
                             f"the config's num_keypoints is {per_object} an object "
                             "(convert --keypoints writes them)")
        scale = np.array([height, width], np.float32)
        points = (np.stack([ys, xs], -1).reshape(objects, per_object, 2) * scale)[keep]
        visible = visibility.reshape(objects, per_object)[keep]
        count = len(detected[outputs.detection_scores])
        found = np.zeros((count, per_object, 2), np.float32) if keypoints is None else \
            np.asarray(keypoints, np.float32).reshape(count, -1, 2) * scale
        for evaluator in self.evaluators:
            evaluator.add_single_ground_truth_image_info(image_id, {
                **truth, inputs.groundtruth_keypoints: points,
                inputs.groundtruth_keypoint_visibilities: visible})
            evaluator.add_single_detected_image_info(image_id, {
                **detected, outputs.detection_keypoints: found})

    def metrics(self) -> tuple[dict, list[dict]]:
        """(the OKS metrics of every class, and over the classes; each evaluator's lists, as
        odapi.evaluators.coco_keypoint_lists gives them)."""
        metrics = {}
        for evaluator in self.evaluators:
            metrics.update({key: float(value) for key, value in evaluator.evaluate().items()})
        return (evaluators.with_keypoint_means(metrics) if metrics else {},
                [evaluators.coco_keypoint_lists(evaluator) for evaluator in self.evaluators])
