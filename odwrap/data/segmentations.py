"""COCO instance masks: checked in Python, then drawn by pycocotools as PNG masks.

pycocotools trusts its input: a NaN or huge polygon coordinate makes it segfault or allocate
gigabytes, and RLE counts that do not add up to the image decode to garbage. `problem()` says
what is wrong with a segmentation before pycocotools sees it.
"""

import io

# A polygon's outline (the sum of its edges' longest sides, which pycocotools walks at 5x) may
# go round the image this many times; real outlines are a small multiple of width + height.
MAX_OUTLINE = 100
_COORDINATE_TYPES = (int, float)


def _number(value) -> bool:
    return isinstance(value, _COORDINATE_TYPES) and not isinstance(value, bool)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _polygon_problem(polygon, width: int, height: int) -> str | None:
    if not isinstance(polygon, list) or not all(_number(value) for value in polygon):
        return "a polygon is not a list of numbers"
    if len(polygon) % 2 or len(polygon) < 6:
        return f"a polygon has {len(polygon)} coordinates, not an even number of at least 6"
    xs, ys = polygon[0::2], polygon[1::2]
    # Comparisons, not math.isfinite: NaN fails them, and a 400-digit int cannot be a float.
    if not all(-width <= v <= 2 * width for v in xs) or \
            not all(-height <= v <= 2 * height for v in ys):
        return f"a polygon coordinate is not finite or far outside the {width}x{height} image"
    return None


def _outline(polygon) -> float:
    xs, ys = polygon[0::2], polygon[1::2]
    return sum(max(abs(xs[i] - xs[i - 1]), abs(ys[i] - ys[i - 1])) for i in range(len(xs)))


def decode_counts(text: str) -> list[int] | None:
    """The run lengths of COCO's compressed RLE string, or None when it is malformed."""
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value = shift = 0
        while True:
            if pos >= len(text) or shift > 60:
                return None
            char = ord(text[pos]) - 48
            if not 0 <= char < 64:
                return None
            value |= (char & 0x1F) << shift
            pos += 1
            shift += 5
            if not char & 0x20:
                if char & 0x10:
                    value -= 1 << shift  # sign-extend
                break
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def _rle_problem(rle: dict, width: int, height: int) -> str | None:
    size, counts = rle.get("size"), rle.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(_whole(v) for v in size)):
        return "RLE size is not [height, width]"
    if list(size) != [height, width]:
        return f"RLE size {size} is not the image's [{height}, {width}]"
    if isinstance(counts, str):
        counts = decode_counts(counts)
        if counts is None:
            return "RLE counts string is malformed"
    elif not (isinstance(counts, list) and all(_whole(v) for v in counts)):
        return "RLE counts are neither a string nor a list of whole numbers"
    if any(value < 0 for value in counts) or sum(counts) != height * width:
        return f"RLE counts do not add up to {height}x{width} pixels"
    return None


def problem(segmentation, width: int, height: int) -> str | None:
    """What is wrong with a COCO segmentation for a WIDTHxHEIGHT image, or None. An empty or
    missing one is fine (a blank mask)."""
    if segmentation is None or segmentation == [] or segmentation == {}:
        return None
    if isinstance(segmentation, list):
        for polygon in segmentation:
            found = _polygon_problem(polygon, width, height)
            if found:
                return found
        if sum(_outline(polygon) for polygon in segmentation) > MAX_OUTLINE * (width + height):
            return f"the polygons' outline is over {MAX_OUTLINE} times the image's width + height"
        return None
    if isinstance(segmentation, dict):
        return _rle_problem(segmentation, width, height)
    return "segmentation is neither polygons nor RLE"


def scaled(segmentation, width: int, height: int):
    """Polygons in fractions of the image (YOLO's) in pixels of a WIDTHxHEIGHT image; anything
    else as it is (problem() judges it)."""
    if not isinstance(segmentation, list) or not all(
            isinstance(polygon, list) and all(_number(value) for value in polygon)
            for polygon in segmentation):
        return segmentation
    return [[value * (height if index % 2 else width) for index, value in enumerate(polygon)]
            for polygon in segmentation]


def png_mask(segmentation, width: int, height: int) -> bytes:
    """A checked segmentation (problem() is None) as a WIDTHxHEIGHT PNG of 0s and 1s."""
    import numpy as np
    from PIL import Image
    from pycocotools import mask as mask_utils

    if not segmentation:  # an object without a mask in an image whose others have one
        pixels = np.zeros((height, width), np.uint8)
    else:
        if isinstance(segmentation, list):  # polygons
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation["counts"], list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(segmentation, height, width)
        else:
            rle = segmentation
        pixels = mask_utils.decode(rle).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()
