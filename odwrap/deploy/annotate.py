"""Annotated images: each detection's mask blended over the image in its class's colour, then
its box and a label with the score, and a keypoint model's points joined by their skeleton."""

import io

import numpy as np

PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60))
MASK_OPACITY = 0.45
KEYPOINT_THRESHOLD = 0.1  # points scored lower are not drawn (nor the skeleton's edges to them)
KEYPOINT_RADIUS = 2


def colour(category: int) -> tuple:
    return PALETTE[category % len(PALETTE)]


class Annotator:
    """Masks are blended as they come (none is kept), boxes drawn at the end."""

    def __init__(self, image: np.ndarray, layout=None):
        self.canvas = image.astype(np.float32)
        self.layout = layout or {}  # {class id: keypoint_layout.ClassPoints}

    def add_mask(self, mask: np.ndarray, category: int) -> None:
        tint = np.array(colour(category), np.float32)
        self.canvas[mask] = self.canvas[mask] * (1 - MASK_OPACITY) + tint * MASK_OPACITY

    def png(self, detections, labels: dict) -> bytes:
        """The image with DETECTIONS (COCO result dicts, bbox in pixels) as PNG bytes."""
        buffer = io.BytesIO()
        self._drawn(detections, labels).save(buffer, "PNG")
        return buffer.getvalue()

    def pixels(self, detections, labels: dict) -> np.ndarray:
        """The image with DETECTIONS as uint8 RGB [H, W, 3] (a frame of an annotated video)."""
        return np.asarray(self._drawn(detections, labels))

    def _drawn(self, detections, labels: dict):
        from PIL import Image, ImageDraw

        picture = Image.fromarray(np.clip(self.canvas, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(picture)
        for detection in detections:
            x, y, w, h = detection["bbox"]
            fill = colour(detection["category_id"])
            draw.rectangle((x, y, x + w, y + h), outline=fill, width=2)
            name = labels.get(detection["category_id"], str(detection["category_id"]))
            text = f"{name} {detection['score']:.2f}"
            left, top, right, bottom = draw.textbbox((x, y), text)
            draw.rectangle((left, top - (bottom - top) - 2, right + 2, top), fill=fill)
            draw.text((x + 1, y - (bottom - top) - 2), text, fill=(255, 255, 255))
        for detection in detections:  # over every box: no box hides a point
            if "keypoints" in detection:
                self._skeleton(draw, detection, colour(detection["category_id"]))
        return picture

    def _skeleton(self, draw, detection: dict, fill: tuple) -> None:
        """DETECTION's points (its "keypoints": x, y, score, ...) scored at least
        KEYPOINT_THRESHOLD, joined by its class's skeleton."""
        values = detection["keypoints"]
        points = [(values[i], values[i + 1]) if values[i + 2] >= KEYPOINT_THRESHOLD else None
                  for i in range(0, len(values) - 2, 3)]
        known = self.layout.get(detection["category_id"])
        for start, end in known.skeleton if known else ():
            if start < len(points) and end < len(points) and points[start] and points[end]:
                draw.line((points[start], points[end]), fill=fill, width=2)
        for point in filter(None, points):
            x, y = point
            draw.ellipse((x - KEYPOINT_RADIUS, y - KEYPOINT_RADIUS, x + KEYPOINT_RADIUS,
                          y + KEYPOINT_RADIUS), fill=(255, 255, 255), outline=fill)
