"""The keypoint evaluations of one `eval` (one per class that has keypoints, the OD API's
CocoKeypointEvaluator each) as DIR/analysis/keypoints.json: each class's keypoint names, OKS
sigmas, ground truth and detections as COCO dicts, so that any COCO tool (pycocotools'
`COCOeval(gt, dt, "keypoints")` with `params.kpt_oks_sigmas` set to the sigmas) reproduces the
OKS metrics that `eval` reports, and a user can look at each detection's points."""

import json
from pathlib import Path

from odwrap.fsutil import atomic_write_text

KEYPOINTS_JSON = "keypoints.json"


def write(evaluations: list[dict], folder: Path, label_map_path: str,
          files: dict | None = None) -> Path | None:
    """FOLDER/keypoints.json of EVALUATIONS (odapi.evaluators.coco_keypoint_lists each), the
    points named by the label map at LABEL_MAP_PATH; FILES: {image id: the record's
    source_id}, each image's "file_name". A stale file goes when there is none to write."""
    from odwrap.odapi import labelmap

    path = Path(folder) / KEYPOINTS_JSON
    if not evaluations:
        path.unlink(missing_ok=True)
        return None
    names = labelmap.keypoints_of(labelmap.read(label_map_path))  # {class: {point: id}}
    classes = []
    for evaluation in evaluations:
        by_id = {point: name for name, point in names.get(evaluation["class"], {}).items()}
        groundtruth = dict(evaluation["groundtruth"])
        groundtruth["images"] = [{**image, "file_name": (files or {}).get(image["id"], "")}
                                 for image in groundtruth["images"]]
        groundtruth["annotations"] = [annotation for annotation in groundtruth["annotations"]
                                      if not _padding(annotation)]
        category = {"id": evaluation["category_id"], "name": evaluation["class"],
                    "keypoints": [by_id.get(point, str(point))
                                  for point in evaluation["keypoint_ids"]]}
        groundtruth["categories"] = [category]
        classes.append({"class": evaluation["class"], "keypoints": category["keypoints"],
                        "keypoint_ids": evaluation["keypoint_ids"],
                        "sigmas": evaluation["sigmas"], "groundtruth": groundtruth,
                        "detections": evaluation["detections"]})
    Path(folder).mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, json.dumps({"classes": classes}, default=_number))


def _padding(annotation: dict) -> bool:
    """A row of the eval batch's padding (to max_number_of_boxes), which the OD API's keypoint
    evaluator keeps as an object of the label map's first class: no box, no keypoints. COCO's
    keypoint evaluation ignores it (no labeled point) and it matches nothing (no area), so
    leaving it out changes no metric."""
    return not any(annotation["bbox"]) and not annotation.get("num_keypoints") \
        and not annotation.get("area")


def _number(value):
    """numpy scalars and arrays as JSON numbers and lists (the evaluators hold numpy values)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")
