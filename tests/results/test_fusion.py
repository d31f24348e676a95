"""Soft-NMS and weighted boxes fusion against results worked out by hand (issue 16)."""

import numpy as np
import pytest

from odwrap.results import fusion

# A and D and B overlap (IoU(A, B) = 50/100, IoU(A, D) = 80/100, IoU(B, D) = 50/80); C is apart.
A, B, C, D = (0, 0, 10, 10), (0, 0, 10, 5), (20, 20, 30, 30), (0, 0, 10, 8)
BOXES = np.array([A, B, C, D], float)
SCORES = np.array([0.9, 0.8, 0.7, 0.6])


def test_iou_of_the_worked_boxes():
    np.testing.assert_allclose(fusion.iou_matrix(BOXES[[0]], BOXES)[0], [1, 0.5, 0, 0.8])
    assert fusion.iou_matrix(BOXES[[1]], BOXES[[3]])[0, 0] == pytest.approx(0.625)


def test_linear_soft_nms_decays_overlaps_and_keeps_them():
    # A kept; B 0.8 * (1 - 0.5) = 0.4, D 0.6 * (1 - 0.8) = 0.12; C kept untouched; then B,
    # which decays D again: 0.12 * (1 - 0.625) = 0.045.
    kept, scores = fusion.soft_nms(BOXES, SCORES, "linear", iou=0.3, floor=0.001)
    assert kept.tolist() == [0, 2, 1, 3]
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.4, 0.045])
    kept, _ = fusion.soft_nms(BOXES, SCORES, "linear", iou=0.3, floor=0.05)
    assert kept.tolist() == [0, 2, 1]  # D decayed under the floor


def test_linear_soft_nms_leaves_overlaps_under_its_threshold():
    kept, scores = fusion.soft_nms(BOXES, SCORES, "linear", iou=0.7, floor=0.001)
    # only D overlaps A by more than 0.7: 0.6 * 0.2 = 0.12
    assert kept.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.7, 0.12])


def test_gaussian_soft_nms():
    # B 0.8 * exp(-0.25 / 0.5) = 0.485225, D 0.6 * exp(-0.64 / 0.5) = 0.166822, then
    # D * exp(-0.625^2 / 0.5) = 0.076377.
    kept, scores = fusion.soft_nms(BOXES, SCORES, "gaussian", sigma=0.5, floor=0.001)
    assert kept.tolist() == [0, 2, 1, 3]
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.485225, 0.076377], atol=1e-6)


# Two models: P (model 0) and Q (model 1) overlap by 81/119 = 0.68; R (model 1) stands alone.
P, Q, R = (0, 0, 10, 10), (1, 1, 11, 11), (50, 50, 60, 60)


def test_weighted_boxes_fusion():
    boxes = np.array([P, Q, R], float)
    fused, scores = fusion.weighted_boxes_fusion(boxes, np.array([0.9, 0.6, 0.8]), models=2,
                                                 iou=0.55)
    # P and Q: coordinates (0.9 P + 0.6 Q) / 1.5, score mean 0.75 * 2/2; R: 0.8 * 1/2.
    np.testing.assert_allclose(fused, [[0.4, 0.4, 10.4, 10.4], R])
    np.testing.assert_allclose(scores, [0.75, 0.4])


def test_weighted_boxes_fusion_with_model_weights():
    boxes = np.array([P, Q, R], float)
    # weights 2, 1 normalize to 4/3, 2/3: P 0.9 * 4/3 capped at 1, Q 0.4, R 0.8 * 2/3
    scores = fusion.weighted_scores(np.array([0.9, 0.6, 0.8]), np.array([0, 1, 1]), [2, 1])
    np.testing.assert_allclose(scores, [1.0, 0.4, 0.8 * 2 / 3])
    fused, out = fusion.weighted_boxes_fusion(boxes, scores, models=2, iou=0.55)
    np.testing.assert_allclose(fused, [[0.4 / 1.4, 0.4 / 1.4, 14.4 / 1.4, 14.4 / 1.4], R])
    np.testing.assert_allclose(out, [0.7, 0.8 / 3])


def test_weighted_boxes_fusion_does_not_join_under_its_threshold():
    boxes = np.array([P, Q], float)
    fused, scores = fusion.weighted_boxes_fusion(boxes, np.array([0.9, 0.6]), models=2, iou=0.7)
    np.testing.assert_allclose(fused, [P, Q])
    np.testing.assert_allclose(scores, [0.45, 0.3])
