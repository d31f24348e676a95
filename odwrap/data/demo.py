"""The built-in demo dataset: red squares and blue circles (and, when asked, green triangles) on
noisy, textured backgrounds.

Written as Pascal VOC (JPEGImages/ and Annotations/), so it goes through `odwrap convert voc`
like a user's LabelImg export; with masks or keypoints as COCO JSON (annotations.json), each
shape's polygon and its corners as named keypoints (a square's four, a triangle's three; a
circle has none). Deterministic for a seed.
"""

import io
import json
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes, atomic_write_text

CLASSES = ("square", "circle")  # the default dataset's shapes
COLOURS = {"square": (210, 40, 40), "circle": (40, 70, 210), "triangle": (40, 170, 60)}
SHAPES = tuple(COLOURS)  # every shape the dataset can draw
CIRCLE_VERTICES = 32
# Each shape's keypoints: its polygon's vertices, in polygon()'s order, named; the skeleton
# joins them round (COCO's 1-based pairs). Mirroring swaps the left and right names.
KEYPOINTS = {"square": (("top_left", "top_right", "bottom_right", "bottom_left"),
                        [[1, 2], [2, 3], [3, 4], [4, 1]]),
             "triangle": (("apex", "base_right", "base_left"), [[1, 2], [2, 3], [3, 1]])}
MAX_SIZE = 2048  # image side; the background is drawn in float64, 3 channels, twice


def _background(rng, size: int) -> np.ndarray:
    base = rng.integers(60, 180, 3)
    coarse = rng.normal(0, 25, (size // 16 + 1, size // 16 + 1, 3))
    texture = np.kron(coarse, np.ones((16, 16, 1)))[:size, :size]
    noise = rng.normal(0, 12, (size, size, 3))
    return np.clip(base + texture + noise, 0, 255).astype(np.uint8)


def _annotation(filename: str, size: int, objects) -> str:
    parts = [f"<annotation><folder>JPEGImages</folder><filename>{escape(filename)}</filename>",
             f"<size><width>{size}</width><height>{size}</height><depth>3</depth></size>"]
    for name, (xmin, ymin, xmax, ymax) in objects:
        parts.append(f"<object><name>{name}</name><difficult>0</difficult><bndbox>"
                     f"<xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax>"
                     f"<ymax>{ymax}</ymax></bndbox></object>")
    parts.append("</annotation>\n")
    return "".join(parts)


def _draw(draw, name: str, box, shade) -> None:
    left, top, right, bottom = box[0], box[1], box[2] - 1, box[3] - 1
    if name == "square":
        draw.rectangle((left, top, right, bottom), fill=shade)
    elif name == "circle":
        draw.ellipse((left, top, right, bottom), fill=shade)
    else:  # an upright triangle that touches all four sides of its box
        draw.polygon([((left + right) / 2, top), (right, bottom), (left, bottom)], fill=shade)


def polygon(name: str, box) -> list[float]:
    """The shape in BOX as a COCO polygon [x1, y1, x2, y2, ...] in pixel-edge coordinates (a
    circle as a 32-gon)."""
    left, top, right, bottom = box
    if name == "square":
        return [left, top, right, top, right, bottom, left, bottom]
    if name == "triangle":
        return [(left + right) / 2, top, right, bottom, left, bottom]
    angles = np.linspace(0, 2 * np.pi, CIRCLE_VERTICES, endpoint=False)
    radius, x, y = (right - left) / 2, (left + right) / 2, (top + bottom) / 2
    return [float(v) for a in angles for v in (x + radius * np.cos(a), y + radius * np.sin(a))]


def rasterize(points: list[float], size: int) -> np.ndarray:
    """The polygon's mask as pycocotools (and so `convert coco --masks`) rasterizes it."""
    from pycocotools import mask as mask_utils

    return mask_utils.decode(mask_utils.frPyObjects([points], size, size))[:, :, 0]


def make_image(rng, size: int, min_side: int, max_side: int, max_objects: int,
               shapes=CLASSES, masks: bool = False):
    """(image, [(name, box)]), or with MASKS [(name, box, polygon, mask)]: each shape painted
    exactly where its polygon's mask is, so that the mask is the truth of the image."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(_background(rng, size))
    draw = ImageDraw.Draw(image)
    pixels = np.asarray(image).copy() if masks else None
    objects, taken = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        name = shapes[int(rng.integers(0, len(shapes)))]
        side = int(rng.integers(min_side, max_side + 1))
        for _attempt in range(20):
            x0, y0 = (int(v) for v in rng.integers(0, size - side, 2))
            box = (x0, y0, x0 + side, y0 + side)
            if all(box[2] <= t[0] or box[0] >= t[2] or box[3] <= t[1] or box[1] >= t[3]
                   for t in taken):
                break
        else:
            continue
        shade = tuple(int(c) for c in np.clip(np.array(COLOURS[name]) + rng.integers(-25, 26, 3),
                                              0, 255))
        taken.append(box)
        if masks:
            points = polygon(name, box)
            mask = rasterize(points, size)
            pixels[mask == 1] = shade
            objects.append((name, box, points, mask))
        else:
            _draw(draw, name, box, shade)
            objects.append((name, box))
    return (Image.fromarray(pixels) if masks else image), objects


def corners(name: str, box) -> list | None:
    """The keypoints of the shape in BOX as COCO's [x1, y1, 2, ...] (all visible, pixel-edge
    coordinates), or None for a shape without keypoints."""
    if name not in KEYPOINTS:
        return None
    vertices = polygon(name, box)
    return [value for index in range(0, len(vertices), 2)
            for value in (vertices[index], vertices[index + 1], 2)]


def write_demo_dataset(output, images: int = 450, size: int = 128, seed: int = 0,
                       min_side: int = 24, max_side: int = 56, max_objects: int = 3,
                       shapes=CLASSES, masks: bool = False, keypoints: bool = False) -> Path:
    """Write OUTPUT/JPEGImages/*.jpg and OUTPUT/Annotations/*.xml; return OUTPUT. SHAPES: the
    classes drawn, each with equal chance (the default's random stream is the same as ever).
    MASKS: COCO JSON with each shape's polygon instead (OUTPUT/annotations.json), the shapes
    painted exactly inside their polygons' masks. KEYPOINTS: COCO JSON with each square's
    and triangle's corners as keypoints (corners())."""
    output = Path(output)
    unknown = [name for name in shapes if name not in SHAPES]
    if unknown or not shapes or len(set(shapes)) != len(shapes):
        raise InputError(f"--shapes {','.join(shapes)}: give distinct shapes out of "
                         f"{', '.join(SHAPES)}")
    if not 1 <= min_side <= max_side < size <= MAX_SIZE:
        raise InputError(f"size {size}: the demo images' side must be in "
                         f"{max_side + 1}..{MAX_SIZE} pixels (shapes are {min_side}-{max_side} px)")
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: exists and is not a folder")
    rng = np.random.default_rng(seed)
    coco = {"images": [], "annotations": [],
            "categories": [_category(i + 1, name, keypoints) for i, name in enumerate(shapes)]}
    for index in range(images):
        image, objects = make_image(rng, size, min_side, max_side, max_objects, tuple(shapes),
                                    masks)
        name = f"shapes_{index:05d}"
        jpeg = io.BytesIO()
        image.save(jpeg, "JPEG", quality=92)
        atomic_write_bytes(output / "JPEGImages" / f"{name}.jpg", jpeg.getvalue())
        if masks or keypoints:
            _add_coco(coco, index + 1, f"JPEGImages/{name}.jpg", size, objects, list(shapes),
                      keypoints)
        else:
            atomic_write_text(output / "Annotations" / f"{name}.xml",
                              _annotation(f"{name}.jpg", size, objects))
    if masks or keypoints:
        atomic_write_text(output / "annotations.json", json.dumps(coco))
    return output


def _category(category_id: int, name: str, keypoints: bool) -> dict:
    if not keypoints or name not in KEYPOINTS:
        return {"id": category_id, "name": name}
    names, skeleton = KEYPOINTS[name]
    return {"id": category_id, "name": name, "keypoints": list(names), "skeleton": skeleton}


def _add_coco(coco: dict, image_id: int, file_name: str, size: int, objects, shapes,
              keypoints: bool) -> None:
    """OBJECTS as make_image gives them: (name, box), or with masks (name, box, polygon,
    mask)."""
    coco["images"].append({"id": image_id, "file_name": file_name, "width": size,
                           "height": size})
    for name, box, *painted in objects:
        left, top, right, bottom = box
        annotation = {"id": len(coco["annotations"]) + 1, "image_id": image_id,
                      "category_id": shapes.index(name) + 1, "iscrowd": 0,
                      "bbox": [left, top, right - left, bottom - top],
                      "area": (right - left) * (bottom - top)}
        if painted:
            points, mask = painted
            annotation.update(area=int(mask.sum()), segmentation=[points])
        points = corners(name, box) if keypoints else None
        if points is not None:
            annotation.update(keypoints=points, num_keypoints=len(points) // 3)
        coco["annotations"].append(annotation)
