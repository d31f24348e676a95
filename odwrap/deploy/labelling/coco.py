"""COCO: OUTPUT/coco/annotations.json, a dataset file (not the results list detections.json
is): `images` (predict's image ids, `file_name` relative to the images' common folder, the size
predict saw), `annotations` (predict's detection ids, `bbox` [x, y, width, height] in pixels,
`area`, `iscrowd` 0, `score`, and for a mask model `segmentation`: the outline of each part of
its mask as a polygon, largest first; `[]` for a box; for a keypoint model `keypoints` [x, y, v,
...] in pixels, v 2 for a point scored at least annotate.KEYPOINT_THRESHOLD (what the annotated
images draw; a point the model placed past an edge is moved onto it), else 0, 0, 0, and
`num_keypoints`), and `categories` (the model's classes, their ids and names, and a keypoint
class's `keypoints` names and 1-based `skeleton`), which `convert coco --keypoints` reads back.
Written as it is read, in two passes over the run's files: the images, then the annotations.
"""

import json
from pathlib import Path

from odwrap.deploy.annotate import KEYPOINT_THRESHOLD
from odwrap.deploy.labelling.run import Run, corners, outlines, point_inside


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace")


def annotation(line: dict, image, mask_area) -> dict:
    xmin, ymin, xmax, ymax = corners(line, image.width, image.height)
    width, height = round(xmax - xmin, 2), round(ymax - ymin, 2)
    found = {"id": line["id"], "image_id": image.image_id, "category_id": line["category_id"],
             "bbox": [xmin, ymin, width, height], "area": round(width * height, 2),
             "iscrowd": 0, "score": line["score"], "segmentation": []}
    if "segmentation" in line:
        found["segmentation"] = [[value for point in polygon for value in point]
                                 for polygon in outlines(line, image.width, image.height)]
        found["area"] = mask_area(line["segmentation"])
    if "keypoints" in line:
        values = line["keypoints"]
        points = [(*point_inside(values[i], values[i + 1], image.width, image.height), 2)
                  if values[i + 2] >= KEYPOINT_THRESHOLD else (0, 0, 0)
                  for i in range(0, len(values) - 2, 3)]
        found["keypoints"] = [value for point in points for value in point]
        found["num_keypoints"] = sum(1 for point in points if point[2])
    return found


def _keypoint_fields(points) -> dict:
    """A keypoint class's COCO category fields: its point names and its 1-based skeleton."""
    if points is None:
        return {}
    return {"keypoints": list(points.points),
            "skeleton": [[start + 1, end + 1] for start, end in points.skeleton]}


def _mask_area(rle: dict) -> int:
    from pycocotools import mask as coco_mask

    return int(coco_mask.area({"size": rle["size"], "counts": rle["counts"].encode()}))


def write(folder: Path, run: Run) -> list[str]:
    with open(folder / "annotations.json", "wb") as out:
        out.write(b'{"info": {"description": "odwrap predict"},\n"images": [')
        for number, image in enumerate(run.images()):
            out.write(b",\n" if number else b"\n")
            out.write(_json({"id": image.image_id, "file_name": run.relative_name(image),
                             "width": image.width, "height": image.height}))
        out.write(b'\n],\n"annotations": [')
        first = True
        for image in run.images():
            for line in image.detections:
                out.write(b"\n" if first else b",\n")
                out.write(_json(annotation(line, image, _mask_area)))
                first = False
        categories = [{"id": class_id, "name": name, "supercategory": "",
                       **_keypoint_fields(run.keypoints.get(class_id))}
                      for class_id, name in run.classes().items()]
        out.write(b'\n],\n"categories": ' + _json(categories) + b"}\n")
    return [f"file_name: relative to {run.images_root}"]
