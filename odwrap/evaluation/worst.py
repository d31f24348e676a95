"""The eval images with the most missed, false and confused boxes, as one PNG grid: the ground
truth in green with its class, the detections kept at the threshold in orange with class and
score, so that the two are told apart at a glance."""

import io
from pathlib import Path

import numpy as np

from odwrap.evaluation.plots import PNG_LEVEL
from odwrap.fsutil import atomic_write_bytes

WORST_PNG = "worst_images.png"
CELL = 320  # each image is fitted into a square of this many pixels
COLUMNS = 4
TRUTH, FOUND = (40, 200, 60), (255, 140, 0)


def picture(features: dict, fallback: str):
    """(caption, RGB pixels) of a decoded tf.Example: its file name (else source_id, else
    FALLBACK) and its image, or None when it cannot be decoded."""
    from PIL import Image, UnidentifiedImageError

    names = features.get("image/filename") or features.get("image/source_id") or []
    caption = names[0].decode("utf-8", "replace") if names and names[0] else fallback
    try:
        with Image.open(io.BytesIO(features["image/encoded"][0])) as image:
            return caption, np.asarray(image.convert("RGB"))
    except (KeyError, IndexError, OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return None


def _fitted(pixels: np.ndarray):
    from PIL import Image

    image = Image.fromarray(pixels).convert("RGB")
    scale = CELL / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size), scale


def _boxes(draw, rows, scale, color, label):
    for row in rows:
        x, y, w, h = (v * scale for v in row["bbox"])
        draw.rectangle([x, y, x + w, y + h], outline=color, width=2)
        draw.text((x + 2, y + 1 if color == TRUTH else y + h - 11), label(row), fill=color)


def draw_worst(pictures: list, groundtruth: dict, detections: list[dict], threshold: float,
               path: Path) -> Path | None:
    """PICTURES: (image id, caption, RGB pixels) of the worst images, worst first; their boxes
    from GROUNDTRUTH (a COCO dict, absolute pixels) and DETECTIONS at or above THRESHOLD."""
    from PIL import Image, ImageDraw

    if not pictures:
        return None
    names = {c["id"]: c.get("name", str(c["id"])) for c in groundtruth["categories"]}
    rows = (len(pictures) + COLUMNS - 1) // COLUMNS
    sheet = Image.new("RGB", (COLUMNS * CELL, rows * (CELL + 16) + 18), "white")
    canvas = ImageDraw.Draw(sheet)
    canvas.text((4, 3), f"green: ground truth; orange: detections scoring {threshold:.2f} or "
                        "more", fill=(0, 0, 0))
    for index, (image_id, caption, pixels) in enumerate(pictures):
        image, scale = _fitted(pixels)
        draw = ImageDraw.Draw(image)
        truth = [a for a in groundtruth["annotations"] if a["image_id"] == image_id]
        found = [d for d in detections if d["image_id"] == image_id and d["score"] >= threshold]
        _boxes(draw, truth, scale, TRUTH, lambda row: names.get(row["category_id"], "?"))
        _boxes(draw, found, scale, FOUND,
               lambda row: f"{names.get(row['category_id'], '?')} {row['score']:.2f}")
        left, top = (index % COLUMNS) * CELL, 18 + (index // COLUMNS) * (CELL + 16)
        sheet.paste(image, (left, top))
        canvas.text((left + 2, top + CELL + 2), str(caption)[:50], fill=(0, 0, 0))
    buffer = io.BytesIO()
    sheet.save(buffer, "PNG", compress_level=PNG_LEVEL)
    return atomic_write_bytes(path, buffer.getvalue())
