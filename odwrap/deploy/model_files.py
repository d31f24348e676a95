"""What predict and verify read in or beside an exported model: its class names (a labels.txt
given, the model's metadata, or the export folder's), a keypoint model's keypoints.json and the
score threshold export wrote (its evaluation's best F1). Each is input: read under a size limit,
checked, one line naming the file when it is not what it must be."""

import json
from pathlib import Path

from odwrap.errors import InputError
from odwrap.fsutil import MiB, read_bytes, read_text

DEFAULT_THRESHOLD = 0.5  # predict's, where the export carries no threshold.json


def read_labels(path) -> dict[int, str]:
    """A labels.txt's class names, a line each from id 1 ('???' where an id has no class, as
    export writes it); InputError naming the file when it is missing, a FIFO or a device, over
    16 MiB or not UTF-8, or when labelmap.problems() finds an error in its classes (none, an
    empty name, a name twice)."""
    from odwrap.deploy.exportdir import UNNAMED_CLASS
    from odwrap.odapi import labelmap

    lines = read_text(path, "labels file").splitlines()
    label_map = labelmap.from_classes(lines)
    for item in [item for item in label_map.item if item.name == UNNAMED_CLASS]:
        label_map.item.remove(item)
    errors = [message for severity, message in labelmap.problems(label_map)
              if severity == "error"]
    if errors:
        raise InputError(f"{path}: {errors[0]} (a labels file names class id N on line N)")
    return {index: name for index, name in enumerate(lines, start=1)}

def model_labels(detector, model: Path, labels=None) -> dict[int, str]:
    """Class names: LABELS (a labels.txt), else the model's metadata, else a labels.txt in or
    beside the model's folder (a SavedModel export writes it beside saved_model/)."""
    from odwrap.deploy.exportdir import ExportDir

    if labels:
        return read_labels(labels)
    packed = dict(enumerate(getattr(detector, "labels", []), start=1))
    for place in ExportDir.holding(model).around():
        if not packed and place.labels.exists():
            return read_labels(place.labels)
    return packed

def model_keypoints(detector, model: Path) -> dict:
    """A keypoint model's {class id: ClassPoints}: packed in its .tflite, else the
    keypoints.json in or beside its folder (export writes one); {} for other models."""
    from odwrap.deploy import keypoint_layout
    from odwrap.deploy.exportdir import ExportDir

    info = getattr(detector, "info", None)
    if info is not None and info.keypoints:
        return info.keypoints
    for place in ExportDir.holding(model).around():
        if place.keypoints.is_file():
            return keypoint_layout.parse(read_bytes(place.keypoints, "keypoints file",
                                                    keypoint_layout.LIMIT),
                                         str(place.keypoints))
    return {}

def model_threshold(model: Path) -> tuple[float, str]:
    """(the score threshold, where it came from) for MODEL when none is given: its export
    folder's threshold.json (the best F1 of its evaluation), else DEFAULT_THRESHOLD."""
    from odwrap.deploy.exportdir import ExportDir

    path = ExportDir.holding(model).threshold
    if not path.exists():
        return DEFAULT_THRESHOLD, "the default (no threshold.json beside the model)"
    try:
        found = json.loads(read_text(path, "threshold file", limit=MiB))["threshold"]
    except (ValueError, KeyError, TypeError, RecursionError):
        found = None
    if isinstance(found, bool) or not isinstance(found, (int, float)) or not 0 < found <= 1:
        raise InputError(f"{path}: not a threshold file of odwrap export (its threshold must "
                         "be a number in (0, 1]); export again, or give --threshold")
    return float(found), f"the best F1 of its evaluation ({path})"
