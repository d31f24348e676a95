"""What every runtime's `detect(image)` returns (odwrap.deploy.runtime, graph_runtimes)."""

from dataclasses import dataclass

import numpy as np


@dataclass
class Detections:
    boxes: np.ndarray  # [N, 4] normalized ymin, xmin, ymax, xmax
    classes: np.ndarray  # [N] label map ids (1-based)
    scores: np.ndarray  # [N]
    milliseconds: float  # inference only
    masks: np.ndarray | None = None  # [N, h, w] probabilities over each box (mask models)
    keypoints: np.ndarray | None = None  # [N, K, 2] normalized y, x (keypoint models: every
    # keypoint of the label map; keypoint_layout says which are each class's)
    keypoint_scores: np.ndarray | None = None  # [N, K]
