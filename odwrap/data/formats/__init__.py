"""Annotation formats: each module reads one into Samples (odwrap/data/dataset.py).

`read(source, options, problems) -> (samples, images_root)`; the images root is the folder
that every image path must stay inside. A reader of keypoints (KEYPOINT_READERS, with
options.keypoints) returns a third value, {class: data.keypoints.ClassKeypoints}. A reader of
PARALLEL_READERS takes `workers=` too, the processes it may parse its files in. The table of
names imports no reader (the CLI offers them without loading the readers' libraries);
`reader(name)` loads one.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReadOptions:
    images: Path | None = None  # where the images are, when not the format's default
    masks: bool = False  # COCO, LabelMe, CVAT, YOLO: keep instance masks (convert: one a box)
    keypoints: bool = False  # COCO, YOLO pose, LabelMe: keep keypoints (every object carries
    # them all)
    crowd: str = "keep"  # COCO iscrowd: keep (flagged is_crowd) | drop
    group_of: bool = True  # Open Images: keep IsGroupOf boxes (flagged group_of)
    class_names: Path | None = None  # Open Images: class-descriptions CSV (MID,Name)


# The formats that read keypoints: where a dataset's keypoints are named.
KEYPOINT_READERS = {"coco": "a COCO category's `keypoints` list",
                    "yolo": "data.yaml's kpt_shape",
                    "labelme": "point shapes that share a group_id with a box"}
PARALLEL_READERS = ("voc",)  # the formats whose read() takes workers= (a file an image)
READERS = {"voc": "voc", "coco": "coco", "csv": "csv_boxes", "oid": "oid",  # name: module
           "yolo": "yolo", "labelme": "labelme", "cvat": "cvat", "createml": "createml"}


def reader(name: str):
    """The `read` function of format NAME (a key of READERS)."""
    return importlib.import_module(f"odwrap.data.formats.{READERS[name]}").read
