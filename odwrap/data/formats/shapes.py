"""The shapes that labelling tools draw (polygons, circles, ellipses, rotated boxes) as boxes
in pixels and COCO polygons, for the LabelMe and CVAT readers. Every coordinate goes through
dataset.coordinate; a polygon needs 3 points."""

import math

from odwrap.data import dataset
from odwrap.data.dataset import BadValue

ELLIPSE_SIDES = 64  # a circle or an ellipse as a mask: a polygon of this many corners
MAX_POINTS = 100_000  # one shape; the masks' outline limit (segmentations) comes after


def point(x, y, what: str) -> tuple[float, float]:
    return dataset.coordinate(x, f"{what} x"), dataset.coordinate(y, f"{what} y")


def polygon(points: list, what: str) -> list[tuple[float, float]]:
    """POINTS, checked to be 3 or more; a BadValue (bad_mask) otherwise."""
    if not 3 <= len(points) <= MAX_POINTS:
        raise BadValue("bad_mask", f"{what}: a polygon of {len(points)} point(s); it needs 3 "
                                   f"to {MAX_POINTS}")
    return points


def bounds(points) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of POINTS."""
    xs, ys = [x for x, _ in points], [y for _, y in points]
    return min(xs), min(ys), max(xs), max(ys)


def coco(points) -> list[list[float]]:
    """POINTS as a COCO segmentation: one polygon [x1, y1, x2, y2, ...]."""
    return [[value for pair in points for value in pair]]


def rectangle(xmin, ymin, xmax, ymax, degrees: float = 0.0) -> list[tuple[float, float]]:
    """The corners of a box turned DEGREES clockwise (on the screen: y points down) about its
    centre, as CVAT turns them."""
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    return [_turned(cx, cy, dx, dy, degrees) for dx, dy in (
        (xmin - cx, ymin - cy), (xmax - cx, ymin - cy), (xmax - cx, ymax - cy),
        (xmin - cx, ymax - cy))]


def ellipse(cx, cy, rx, ry, degrees: float = 0.0) -> tuple[tuple, list]:
    """(The box around an ellipse of radii RX, RY turned DEGREES clockwise, the ellipse as a
    polygon of ELLIPSE_SIDES corners on it)."""
    angle = math.radians(degrees)
    half_width = math.hypot(rx * math.cos(angle), ry * math.sin(angle))
    half_height = math.hypot(rx * math.sin(angle), ry * math.cos(angle))
    box = (cx - half_width, cy - half_height, cx + half_width, cy + half_height)
    steps = (2 * math.pi * k / ELLIPSE_SIDES for k in range(ELLIPSE_SIDES))
    corners = [_turned(cx, cy, rx * math.cos(t), ry * math.sin(t), degrees) for t in steps]
    return box, corners


def _turned(cx, cy, dx, dy, degrees: float) -> tuple[float, float]:
    if not degrees:
        return cx + dx, cy + dy
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return cx + dx * cos - dy * sin, cy + dx * sin + dy * cos
