"""Per-class AP, AP@.50, AP@.75 and AR@100 from pycocotools' own accumulated arrays (the numbers
COCOeval gives when restricted to that class), precision-recall curves at IoU 0.5, F1 against
the score threshold and the threshold that maximizes it, each class and all together."""

import contextlib
import io
from dataclasses import dataclass, field

import numpy as np

IOU_50 = 0  # index of IoU 0.5 in COCOeval's thresholds (0.5:0.05:0.95)
IOU_75 = 5
ALL_AREAS = 0  # COCOeval's area range "all"
MAX_DETECTIONS = 2  # index of maxDets 100


@dataclass(frozen=True)
class Curve:
    x: list[float]
    y: list[float]


@dataclass(frozen=True)
class Threshold:
    """The score threshold (keep detections at or above it) where F1 is highest at IoU 0.5,
    with its precision and recall; threshold None when nothing was detected."""

    threshold: float | None
    f1: float
    precision: float
    recall: float


@dataclass(frozen=True)
class ClassMetrics:
    """One class's COCO metrics (-1 where it has no ground truth, as COCO writes it)."""

    id: int
    name: str
    ground_truth: int  # boxes that count (not crowd)
    detections: int
    ap: float
    ap50: float
    ap75: float
    ar100: float
    best: Threshold
    pr_curve: Curve  # recall -> interpolated precision at IoU 0.5, COCO's 101 points
    f1_curve: Curve  # score threshold -> F1 at IoU 0.5


@dataclass(frozen=True)
class Analysis:
    classes: list[ClassMetrics]  # worst AP first; classes without ground truth last
    best: Threshold  # over all classes together
    f1_curve: Curve
    extra: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        """metrics.json's "per_class" and "threshold" parts (curves left to the plots)."""
        return {"per_class": {c.name: {"id": c.id, "ground_truth": c.ground_truth,
                                       "detections": c.detections, "AP": c.ap,
                                       "AP@.50": c.ap50, "AP@.75": c.ap75, "AR@100": c.ar100,
                                       "best_threshold": c.best.threshold,
                                       "best_f1": c.best.f1}
                              for c in self.classes},
                "threshold": {"best_f1_threshold": self.best.threshold, "f1": self.best.f1,
                              "precision": self.best.precision, "recall": self.best.recall,
                              "iou": 0.5}}


def coco_pair(groundtruth: dict, detections: list[dict]):
    """(ground truth, detections) as pycocotools COCO objects: GROUNDTRUTH a COCO dataset dict
    (images, annotations with bbox [x, y, w, h], categories), DETECTIONS COCO result rows."""
    from pycocotools.coco import COCO

    truth = COCO()
    truth.dataset = {"images": list(groundtruth["images"]),
                     "annotations": [dict(a, iscrowd=a.get("iscrowd", 0),
                                          area=a.get("area", a["bbox"][2] * a["bbox"][3]))
                                     for a in groundtruth["annotations"]],
                     "categories": list(groundtruth["categories"])}
    found = COCO()
    found.dataset = {"images": truth.dataset["images"], "categories": truth.dataset["categories"],
                     "annotations": [_result_row(index, d)
                                     for index, d in enumerate(detections, start=1)]}
    with contextlib.redirect_stdout(io.StringIO()):  # "creating index..."
        truth.createIndex()
        found.createIndex()
    return truth, found


def _result_row(index: int, row: dict) -> dict:
    """A detection as pycocotools' loadRes makes it: an id, and a mask result's box and area
    from its RLE."""
    if "bbox" in row:
        return dict(row, id=index, iscrowd=0, area=row["bbox"][2] * row["bbox"][3])
    from pycocotools import mask

    return dict(row, id=index, iscrowd=0, area=float(mask.area(row["segmentation"])),
                bbox=mask.toBbox(row["segmentation"]).tolist())


def evaluated(truth, found, iou_type: str = "bbox"):
    """COCOeval of the detections (IOU_TYPE bbox or segm), evaluated and accumulated."""
    from pycocotools.cocoeval import COCOeval

    evaluation = COCOeval(truth, found, iou_type)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation.evaluate()
        evaluation.accumulate()
    return evaluation


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else -1.0


def matched_scores(evaluation, category_index: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, true-positive flags, ground-truth count) of one class at IoU 0.5 over every
    image, as COCOeval matched them (at most 100 detections an image; crowd matches ignored)."""
    params = evaluation.params
    images, areas = len(params.imgIds), len(params.areaRng)
    scores, hits, positives = [], [], 0
    start = category_index * areas * images + ALL_AREAS * images
    for entry in evaluation.evalImgs[start:start + images]:
        if entry is None:
            continue
        ignored = entry["dtIgnore"][IOU_50].astype(bool)
        scores.append(np.asarray(entry["dtScores"])[~ignored])
        hits.append(entry["dtMatches"][IOU_50][~ignored] > 0)
        positives += int((~entry["gtIgnore"].astype(bool)).sum())
    if not scores:
        return np.zeros(0), np.zeros(0, bool), positives
    return np.concatenate(scores), np.concatenate(hits), positives


def best_threshold(scores, hits, positives: int) -> Threshold:
    """The score threshold whose kept detections (score >= it) give the highest F1 against
    POSITIVES ground-truth boxes; of equal F1, the highest threshold; None when no detection
    is right (every threshold has F1 0)."""
    scores, hits = np.asarray(scores, float), np.asarray(hits, bool)
    if not hits.any():
        return Threshold(None, 0.0, 0.0, 0.0)
    order = np.argsort(-scores, kind="stable")
    scores, hits = scores[order], hits[order]
    true = np.cumsum(hits)
    kept = np.arange(1, scores.size + 1)
    last = np.r_[scores[1:] != scores[:-1], True]  # a threshold keeps every tied score
    f1 = 2 * true / (kept + positives)
    f1 = np.where(last, f1, -1.0)
    best = int(np.flatnonzero(f1 == f1.max())[0])
    recall = true[best] / positives if positives else 0.0
    return Threshold(float(scores[best]), float(f1[best]), float(true[best] / kept[best]),
                     float(recall))


def f1_curve(scores, hits, positives: int, points: int = 101) -> Curve:
    """F1 at score thresholds 0, 0.01, ..., 1."""
    scores, hits = np.asarray(scores, float), np.asarray(hits, bool)
    thresholds = np.linspace(0, 1, points)
    kept = (scores[None, :] >= thresholds[:, None])
    true = (kept & hits[None, :]).sum(axis=1)
    denominator = kept.sum(axis=1) + positives
    f1 = np.divide(2 * true, denominator, out=np.zeros(points), where=denominator > 0)
    return Curve(thresholds.round(2).tolist(), f1.round(6).tolist())


def analyze(groundtruth: dict, detections: list[dict], iou_type: str = "bbox") -> Analysis:
    """The per-class metrics and thresholds of DETECTIONS against GROUNDTRUTH (COCO dicts),
    by box overlap or (IOU_TYPE segm) by mask overlap."""
    truth, found = coco_pair(groundtruth, detections)
    evaluation = evaluated(truth, found, iou_type)
    precision, recall = evaluation.eval["precision"], evaluation.eval["recall"]
    recall_points = [float(r) for r in evaluation.params.recThrs]
    names = {c["id"]: c.get("name", str(c["id"])) for c in groundtruth["categories"]}
    counts = {}
    for row in detections:
        counts[row["category_id"]] = counts.get(row["category_id"], 0) + 1
    classes, pooled = [], ([], [], 0)
    for k, category in enumerate(evaluation.params.catIds):
        scores, hits, positives = matched_scores(evaluation, k)
        pooled = (pooled[0] + [scores], pooled[1] + [hits], pooled[2] + positives)
        at_50 = precision[IOU_50, :, k, ALL_AREAS, MAX_DETECTIONS]
        classes.append(ClassMetrics(
            id=int(category), name=names[category], ground_truth=positives,
            detections=counts.get(category, 0),
            ap=_mean_valid(precision[:, :, k, ALL_AREAS, MAX_DETECTIONS]),
            ap50=_mean_valid(at_50),
            ap75=_mean_valid(precision[IOU_75, :, k, ALL_AREAS, MAX_DETECTIONS]),
            ar100=_mean_valid(recall[:, k, ALL_AREAS, MAX_DETECTIONS]),
            best=best_threshold(scores, hits, positives),
            pr_curve=Curve(recall_points, np.maximum(at_50, 0).round(6).tolist()),
            f1_curve=f1_curve(scores, hits, positives)))
    classes.sort(key=lambda c: (c.ap < 0, c.ap, c.name))
    scores = np.concatenate(pooled[0]) if pooled[0] else np.zeros(0)
    hits = np.concatenate(pooled[1]) if pooled[1] else np.zeros(0, bool)
    return Analysis(classes=classes, best=best_threshold(scores, hits, pooled[2]),
                    f1_curve=f1_curve(scores, hits, pooled[2]))
