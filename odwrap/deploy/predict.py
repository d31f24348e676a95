"""`predict`: run an exported model on images; COCO results JSON (or JSON Lines),
annotated images, and the latency of each image.

An image that cannot be read (corrupt, not an image, a decompression bomb) is skipped and
named in the result, as a user predicting over a folder wants the rest; when none can be read,
that is an InputError."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from odwrap.deploy.runtime import load_detector, load_rgb
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes, atomic_write_text

PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60))


@dataclass
class Prediction:
    image: str
    width: int
    height: int
    milliseconds: float
    detections: list = field(default_factory=list)  # COCO result dicts


@dataclass
class PredictResult:
    runtime: str  # what ran the model
    output: Path  # the folder of detections.json(l) and the annotated images
    predictions: list = field(default_factory=list)  # one Prediction per image read
    skipped: list = field(default_factory=list)  # (image, why) of each image not read


def read_labels(path) -> dict[int, str]:
    if path is None or not Path(path).exists():
        return {}
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {index: name for index, name in enumerate(lines, start=1)}


def _annotate(image, prediction: Prediction, labels: dict) -> bytes:
    import io

    from PIL import Image, ImageDraw

    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    for detection in prediction.detections:
        x, y, w, h = detection["bbox"]
        colour = PALETTE[detection["category_id"] % len(PALETTE)]
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=2)
        name = labels.get(detection["category_id"], str(detection["category_id"]))
        text = f"{name} {detection['score']:.2f}"
        left, top, right, bottom = draw.textbbox((x, y), text)
        draw.rectangle((left, top - (bottom - top) - 2, right + 2, top), fill=colour)
        draw.text((x + 1, y - (bottom - top) - 2), text, fill=(255, 255, 255))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()


def predict(model, images, output, threshold=0.5, labels=None, runtime="auto", jsonl=False,
            threads=2) -> PredictResult:
    """Detections of every image; writes OUTPUT/detections.json(l) and annotated PNGs."""
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold {threshold}: must be in [0, 1]")
    detector = load_detector(model, runtime=runtime, threads=threads)
    model = Path(model)
    packed = dict(enumerate(getattr(detector, "labels", []), start=1))  # from its metadata
    beside = (model.parent if model.is_file() else model) / "labels.txt"
    labels = read_labels(labels) if labels else packed or read_labels(beside)
    output = Path(output)
    results, skipped = [], []
    for path in images:
        try:
            image = load_rgb(path)
        except InputError as exc:  # corrupt, not an image, a decompression bomb: the rest run
            skipped.append((str(path), str(exc)))
            continue
        found = detector.detect(image)
        height, width = image.shape[:2]
        prediction = Prediction(image=str(path), width=width, height=height,
                                milliseconds=found.milliseconds)
        for box, label, score in zip(found.boxes, found.classes, found.scores):
            if score < threshold:
                continue
            ymin, xmin, ymax, xmax = (float(v) for v in box)
            prediction.detections.append({
                "image_id": Path(path).name, "category_id": int(label),
                "bbox": [round(xmin * width, 2), round(ymin * height, 2),
                         round((xmax - xmin) * width, 2), round((ymax - ymin) * height, 2)],
                "score": round(float(score), 4)})
        atomic_write_bytes(output / f"{Path(path).stem}.annotated.png",
                           _annotate(image, prediction, labels))
        results.append(prediction)
    if not results:
        raise InputError(f"no image could be read ({len(skipped)} tried): {skipped[0][1]}")
    if jsonl:
        text = "".join(json.dumps({"image": p.image, "milliseconds": round(p.milliseconds, 2),
                                   "detections": p.detections}) + "\n" for p in results)
        atomic_write_text(output / "detections.jsonl", text)
    else:
        flat = [d for p in results for d in p.detections]
        atomic_write_text(output / "detections.json", json.dumps(flat, indent=1))
    return PredictResult(runtime=detector.runtime, output=output, predictions=results,
                         skipped=skipped)
