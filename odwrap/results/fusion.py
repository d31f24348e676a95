"""Fusing the detections of one image and class from several models.

Both methods first scale each detection's score by its model's weight, the weights normalized to
average 1 (equal weights leave scores as they are), capped at 1.

Soft-NMS (Bodla et al., 2017): the highest-scoring box is kept; every other box's score decays
by its overlap with it, linearly (score * (1 - IoU) where IoU exceeds `iou`) or with a Gaussian
(score * exp(-IoU^2 / sigma)); repeat with the rest. Decayed boxes stay while their score is at
least `floor`: nothing is dropped for overlapping alone.

Weighted boxes fusion (Solovyev et al., 2019): boxes in descending score order join the cluster
whose fused box they overlap most with IoU above `iou`, or start one; a cluster's box is the
score-weighted mean of its boxes' coordinates, its score the mean score times
min(boxes, models) / models, so that a box found by one model of three keeps a third of its
score.
"""

import numpy as np

MATRIX_ROWS = 1024  # Soft-NMS: groups up to this size get their IoU matrix at once (8 MiB)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)


def iou_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """[len(first), len(second)] IoU of xmin, ymin, xmax, ymax boxes."""
    width = np.minimum(first[:, None, 2], second[None, :, 2]) - \
        np.maximum(first[:, None, 0], second[None, :, 0])
    height = np.minimum(first[:, None, 3], second[None, :, 3]) - \
        np.maximum(first[:, None, 1], second[None, :, 1])
    inter = np.maximum(width, 0) * np.maximum(height, 0)
    union = _area(first)[:, None] + _area(second)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def weighted_scores(scores: np.ndarray, models: np.ndarray, weights) -> np.ndarray:
    """SCORES scaled by the weight of each one's model (weights normalized to average 1)."""
    weights = np.asarray(weights, np.float64)
    weights = weights / weights.max()  # first, so that weights near the float maximum add up
    normalized = weights * len(weights) / weights.sum()
    return np.minimum(scores * normalized[models], 1.0)


def soft_nms(boxes: np.ndarray, scores: np.ndarray, method: str = "linear", iou: float = 0.5,
             sigma: float = 0.5, floor: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
    """(indices into BOXES of the kept boxes, their decayed scores), highest first."""
    scores = scores.astype(np.float64).copy()
    left = np.flatnonzero(scores >= floor)
    if left.size < 2:
        return left, scores[left]
    # A small group's overlaps once (numpy calls cost more than the numbers); a large one's a
    # row at a time, in memory proportional to the group.
    overlaps = iou_matrix(boxes, boxes) if len(boxes) <= MATRIX_ROWS else None
    kept, kept_scores = [], []
    while left.size:
        best = left[np.argmax(scores[left])]
        kept.append(best)
        kept_scores.append(scores[best])
        left = left[left != best]
        if not left.size:
            break
        overlap = overlaps[best, left] if overlaps is not None else \
            iou_matrix(boxes[best][None], boxes[left])[0]
        if method == "linear":
            decay = np.where(overlap > iou, 1.0 - overlap, 1.0)
        else:
            decay = np.exp(-(overlap ** 2) / sigma)
        scores[left] *= decay
        left = left[scores[left] >= floor]
    return np.array(kept, dtype=np.int64), np.array(kept_scores)


def weighted_boxes_fusion(boxes: np.ndarray, scores: np.ndarray, models: int,
                          iou: float = 0.55) -> tuple[np.ndarray, np.ndarray]:
    """(fused boxes, their scores), highest first; MODELS: how many models took part. Each
    cluster keeps running sums (its fused box in constant time a join), so that a group costs
    its size times its clusters."""
    order = np.argsort(-scores, kind="stable")
    sums = np.zeros((len(boxes), 4))  # per cluster: score-weighted coordinates
    weights = np.zeros(len(boxes))  # per cluster: summed scores
    totals = np.zeros(len(boxes))  # per cluster: summed scores, for the fused score
    counts = np.zeros(len(boxes), np.int64)
    fused = np.zeros((len(boxes), 4))
    clusters = 0
    for index in order:
        box, score = boxes[index].astype(np.float64), float(scores[index])
        if clusters:
            overlap = iou_matrix(box[None], fused[:clusters])[0]
            best = int(np.argmax(overlap))
            if overlap[best] > iou:
                sums[best] += box * score
                weights[best] += score
                totals[best] += score
                counts[best] += 1
                # boxes of score 0 weigh the same: their plain mean
                fused[best] = sums[best] / weights[best] if weights[best] > 0 else \
                    (fused[best] * (counts[best] - 1) + box) / counts[best]
                continue
        sums[clusters], weights[clusters], totals[clusters] = box * score, score, score
        counts[clusters], fused[clusters] = 1, box
        clusters += 1
    counts, fused = counts[:clusters], fused[:clusters]
    out = totals[:clusters] / counts * np.minimum(counts, models) / models
    order = np.argsort(-out, kind="stable")
    return fused[order], out[order]
