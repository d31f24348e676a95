"""Detections after prediction: read and write COCO results JSON, JSON Lines and the Open
Images submission CSV as one stream of rows (`rows.py`), fuse several models' detections with
Soft-NMS or weighted boxes fusion (`fusion.py`), merge files image by image through partitions
on disk (`merge.py`), and trim by score and total count in passes of constant memory
(`trim.py`)."""
