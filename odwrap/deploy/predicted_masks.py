"""Instance masks of a detection model, in full-image coordinates: pasted at their boxes as the
OD API reframes them, thresholded, measured and written as compressed COCO RLE.

A mask model's SavedModel returns each mask box-relative ([mask_height, mask_width]
probabilities over the detection's box); `object_detection.utils.ops.
reframe_box_masks_to_image_masks` samples it at the image's pixels. One mask is pasted at a
time, so memory holds one image-sized mask however many detections an image has.
"""

import threading
from dataclasses import dataclass

import numpy as np

MASK_THRESHOLD = 0.5  # the OD API's own threshold for a pixel of a reframed mask
# predict's workers paste masks side by side: the OD API module is imported (and odwrap's fixes
# checked) by one of them at a time
_LOADING = threading.Lock()


@dataclass
class ImageMask:
    """One detection's mask at the image's size."""

    mask: np.ndarray  # [H, W] bool
    mean_score: float  # the mean probability over the mask's pixels (0.0 for an empty mask)
    area_fraction: float  # mask pixels over the box's pixels

    def rle(self) -> dict:
        """{"size": [H, W], "counts": compressed COCO RLE as text}, what pycocotools decodes."""
        from pycocotools import mask as coco_mask

        encoded = coco_mask.encode(np.asfortranarray(self.mask.astype(np.uint8)))
        return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode()}


def paste(box_mask: np.ndarray, box, height: int, width: int) -> ImageMask:
    """BOX_MASK ([h, w] probabilities over BOX, normalized ymin, xmin, ymax, xmax) at the
    image's HEIGHT x WIDTH, with the OD API's reframing and threshold."""
    from odwrap.odapi import compat

    with _LOADING:
        ops = compat.load("object_detection.utils.ops")
        tf = compat.import_tensorflow()

    pasted = ops.reframe_box_masks_to_image_masks(
        tf.constant(box_mask[None], tf.float32), tf.constant(np.asarray(box)[None], tf.float32),
        height, width)[0].numpy()
    mask = pasted > MASK_THRESHOLD
    pixels = int(mask.sum())
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    box_pixels = max((ymax - ymin) * height * (xmax - xmin) * width, 1e-9)
    return ImageMask(mask=mask, mean_score=float(pasted[mask].mean()) if pixels else 0.0,
                     area_fraction=pixels / box_pixels)


def decode(rle: dict) -> np.ndarray:
    """The [H, W] bool mask of a {"size", "counts"} compressed RLE (pycocotools)."""
    from pycocotools import mask as coco_mask

    return coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool)


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two bool masks of one size; 0.0 when both are empty."""
    union = np.logical_or(first, second).sum()
    return float(np.logical_and(first, second).sum() / union) if union else 0.0
