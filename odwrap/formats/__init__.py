"""Annotation formats: each module reads one into Samples (odwrap/dataset.py).

`read(source, options, problems) -> (samples, images_root)`; the images root is the folder
that every image path must stay inside.
"""

from dataclasses import dataclass
from pathlib import Path

from odwrap.formats import coco, csv_boxes, oid, voc


@dataclass(frozen=True)
class ReadOptions:
    images: Path | None = None  # where the images are, when not the format's default
    masks: bool = False  # COCO: keep instance masks
    crowd: str = "keep"  # COCO iscrowd: keep (flagged is_crowd) | drop
    group_of: bool = True  # Open Images: keep IsGroupOf boxes (flagged group_of)
    class_names: Path | None = None  # Open Images: class-descriptions CSV (MID,Name)


READERS = {
    "voc": voc.read,
    "coco": coco.read,
    "csv": csv_boxes.read,
    "oid": oid.read,
}
