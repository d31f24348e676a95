"""The confusion matrix at IoU 0.5 and a score threshold, with a background row (false boxes:
detected where nothing of any class is) and column (missed boxes), and each image's count of
missed and false boxes (the worst images are the ones with the most).

Matching, per image: the detections at or above the threshold and the ground-truth boxes
(crowd boxes aside) that overlap at IoU >= 0.5 are paired one to one, pairs of the same class
first, then by IoU, highest first. A detection left over that lies on a crowd box (COCO's
crowd overlap >= 0.5) is neither a false box nor a match, as in COCO's AP."""

from dataclasses import dataclass

import numpy as np

IOU = 0.5


@dataclass(frozen=True)
class Confusion:
    names: list[str]  # the classes, then "background"
    counts: list[list[int]]  # [true class][predicted class]
    threshold: float
    per_image: dict  # image id -> {"missed": n, "false": n, "confused": n}

    def normalized(self) -> list[list[float]]:
        """Each row divided by its total (a row of zeros stays zeros)."""
        counts = np.asarray(self.counts, float)
        totals = counts.sum(axis=1, keepdims=True)
        return np.divide(counts, totals, out=np.zeros_like(counts),
                         where=totals > 0).round(6).tolist()

    def worst_images(self, count: int) -> list:
        """The ids of the COUNT images with the most missed, false and confused boxes."""
        ranked = sorted(self.per_image.items(),
                        key=lambda item: (-sum(item[1].values()), str(item[0])))
        return [image for image, errors in ranked[:count] if sum(errors.values())]

    def as_json(self) -> dict:
        return {"names": self.names, "counts": self.counts, "normalized": self.normalized(),
                "threshold": self.threshold, "iou": IOU}


def _ious(detected: list, truth: list, crowd: list) -> np.ndarray:
    from pycocotools import mask

    if not detected or not truth:
        return np.zeros((len(detected), len(truth)))
    return np.asarray(mask.iou(np.asarray(detected, float), np.asarray(truth, float),
                               [int(c) for c in crowd]))


def confusion(groundtruth: dict, detections: list[dict], threshold: float) -> Confusion:
    """The confusion matrix of DETECTIONS (COCO result rows) at or above THRESHOLD against
    GROUNDTRUTH (a COCO dataset dict)."""
    categories = sorted(groundtruth["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(categories)}
    background = len(categories)
    counts = np.zeros((background + 1, background + 1), int)
    truths, found = {}, {}
    for row in groundtruth["annotations"]:
        truths.setdefault(row["image_id"], []).append(row)
    for row in detections:
        if row["score"] >= threshold and row["category_id"] in index:
            found.setdefault(row["image_id"], []).append(row)
    per_image = {}
    for image in [i["id"] for i in groundtruth["images"]]:
        boxes = [t for t in truths.get(image, []) if not t.get("iscrowd", 0)]
        crowds = [t for t in truths.get(image, []) if t.get("iscrowd", 0)]
        shown = found.get(image, [])
        ious = _ious([d["bbox"] for d in shown], [t["bbox"] for t in boxes], [0] * len(boxes))
        pairs = sorted(((d, t) for d, t in zip(*np.nonzero(ious >= IOU))),
                       key=lambda p: (shown[p[0]]["category_id"] != boxes[p[1]]["category_id"],
                                      -ious[p]))
        paired_d, paired_t, confused = set(), set(), 0
        for d, t in pairs:
            if d in paired_d or t in paired_t:
                continue
            paired_d.add(d), paired_t.add(t)
            predicted, true = index[shown[d]["category_id"]], index[boxes[t]["category_id"]]
            counts[true, predicted] += 1
            confused += predicted != true
        on_crowd = _ious([d["bbox"] for d in shown], [c["bbox"] for c in crowds],
                         [1] * len(crowds)).max(axis=1, initial=0) >= IOU
        false = [d for d in range(len(shown)) if d not in paired_d and not on_crowd[d]]
        for d in false:
            counts[background, index[shown[d]["category_id"]]] += 1
        missed = [t for t in range(len(boxes)) if t not in paired_t]
        for t in missed:
            counts[index[boxes[t]["category_id"]], background] += 1
        per_image[image] = {"missed": len(missed), "false": len(false), "confused": confused}
    names = [c.get("name", str(c["id"])) for c in categories] + ["background"]
    return Confusion(names=names, counts=counts.tolist(), threshold=threshold,
                     per_image=per_image)
