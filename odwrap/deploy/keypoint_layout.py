"""Which keypoints of a keypoint model's outputs belong to which class, and the skeleton that
joins them: export writes it as keypoints.json beside the model and packs it into each .tflite
(an associated file of the keypoints output); predict reads it back to keep each detection's
own class's points and to draw its skeleton.

A CenterNet keypoint model outputs, for every detection, all the keypoints of the label map (at
their keypoint ids); those of the detection's class are its points, the rest are zero.

    {"classes": [{"id": 2, "name": "square", "points": ["top_left", ...],
                  "keypoint_ids": [0, 1, 2, 3], "skeleton": [[0, 1], ...]}]}

`skeleton` pairs index `points` (eval_config's keypoint_edge pairs of keypoint ids, each within
one class). The file is input to predict: read under a size limit, every value checked.
"""

import json
from dataclasses import dataclass

from odwrap.errors import InputError

KEYPOINTS_FILE = "keypoints.json"
LIMIT = 4 * 1024 * 1024  # bytes of keypoints.json: a few thousand named points at most
MAX_POINTS = 4096  # keypoints of one model, all classes together


@dataclass(frozen=True)
class ClassPoints:
    id: int  # the label map's class id
    name: str
    points: tuple  # keypoint names
    keypoint_ids: tuple  # where each point sits in the model's keypoint outputs
    skeleton: tuple = ()  # (i, j) pairs of indices into points

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "points": list(self.points),
                "keypoint_ids": list(self.keypoint_ids),
                "skeleton": [list(edge) for edge in self.skeleton]}


def from_config(config) -> dict[int, ClassPoints]:
    """{class id: its points} of a keypoint pipeline.config: the label map's keypoints and
    eval_config's keypoint edges; {} for a model without keypoints."""
    from odwrap.odapi import facts, labelmap

    if not facts.predicts_keypoints(config):
        return {}
    label_map = labelmap.read(config.model.center_net.keypoint_label_map_path
                              or facts.label_map_path(config))
    edges = facts.keypoint_edges(config)
    layout = {}
    for item in label_map.item:
        if not item.keypoints:
            continue
        points = sorted(item.keypoints, key=lambda point: point.id)
        ids = tuple(point.id for point in points)
        where = {point: index for index, point in enumerate(ids)}
        skeleton = tuple((where[start], where[end]) for start, end in edges
                         if start in where and end in where)
        layout[item.id] = ClassPoints(item.id, item.name, tuple(p.label for p in points), ids,
                                      skeleton)
    return layout


def to_json(layout: dict[int, ClassPoints]) -> bytes:
    return (json.dumps({"classes": [layout[key].as_json() for key in sorted(layout)]},
                       indent=1) + "\n").encode("utf-8")


def parse(data: bytes, where: str) -> dict[int, ClassPoints]:
    """The layout of a keypoints.json's bytes; InputError naming WHERE and the field when it
    is not one."""
    if len(data) > LIMIT:
        raise InputError(f"{where}: over {LIMIT // 1024 // 1024} MiB, not a keypoints.json")
    try:
        classes = json.loads(data.decode("utf-8"))["classes"]
        layout, total = {}, 0
        for number, entry in enumerate(classes):
            place = f"{where}: classes[{number}]"
            points = entry["points"]
            ids = entry["keypoint_ids"]
            skeleton = entry.get("skeleton", [])
            good = (isinstance(entry["id"], int) and not isinstance(entry["id"], bool)
                    and entry["id"] > 0 and isinstance(entry["name"], str)
                    and isinstance(points, list) and isinstance(ids, list)
                    and len(points) == len(ids)
                    and all(isinstance(p, str) for p in points)
                    and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < MAX_POINTS
                            for i in ids)
                    and isinstance(skeleton, list)
                    and all(isinstance(edge, list) and len(edge) == 2
                            and all(isinstance(i, int) and not isinstance(i, bool)
                                    and 0 <= i < len(points) for i in edge)
                            for edge in skeleton))
            if not good:
                raise InputError(f"{place}: expected id (> 0), name, points and keypoint_ids "
                                 "of the same length (ids 0-4095), skeleton pairs of point "
                                 "indices")
            if entry["id"] in layout:
                raise InputError(f"{place}: class id {entry['id']} twice")
            total += len(points)
            if total > MAX_POINTS:
                raise InputError(f"{where}: over {MAX_POINTS} keypoints")
            layout[entry["id"]] = ClassPoints(entry["id"], entry["name"], tuple(points),
                                              tuple(ids),
                                              tuple(tuple(edge) for edge in skeleton))
        return layout
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise InputError(f"{where}: not a keypoints.json (a 'classes' list of id, name, "
                         "points, keypoint_ids, skeleton)") from None
