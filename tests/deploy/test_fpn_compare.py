"""The check that the native-resize build's detections equal the default build's."""

import numpy as np

from odwrap.deploy.export.fpn import compare


def found(boxes, scores, classes):
    return {"boxes": np.array(boxes, np.float32), "scores": np.array(scores, np.float32),
            "classes": np.array(classes, np.float32)}


REFERENCE = [found([[0.1, 0.1, 0.5, 0.5]], [0.9], [0]), found([], [], [])]


def test_equal_detections_pass():
    assert compare(REFERENCE, [found([[0.1, 0.1, 0.5, 0.5000001]], [0.9], [0]),
                               found([], [], [])]) is None


def test_a_moved_box_a_changed_class_or_a_missing_detection_fail():
    moved = [found([[0.1, 0.1, 0.5, 0.6]], [0.9], [0]), REFERENCE[1]]
    assert compare(moved, REFERENCE) == "image 1: boxes differ by up to 0.1"
    relabelled = [found([[0.1, 0.1, 0.5, 0.5]], [0.9], [1]), REFERENCE[1]]
    assert compare(relabelled, REFERENCE) == "image 1: the classes differ"
    extra = [REFERENCE[0], found([[0, 0, 1, 1]], [0.2], [1])]
    assert compare(extra, REFERENCE) == "image 2: 1 detections against 0"
