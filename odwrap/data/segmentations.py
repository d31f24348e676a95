"""COCO instance masks: checked in Python, fitted to the image when annotated on another size
of it (fitted()), then drawn by pycocotools as PNG masks.

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


def scaled(segmentation, scale_x: float, scale_y: float):
    """Polygons with each x times SCALE_X and each y times SCALE_Y (as the boxes are scaled);
    anything else as it is (problem() judges it)."""
    if not isinstance(segmentation, list) or not all(
            isinstance(polygon, list) and all(_number(value) for value in polygon)
            for polygon in segmentation):
        return segmentation
    return [[value * (scale_y if index % 2 else scale_x) for index, value in enumerate(polygon)]
            for polygon in segmentation]


def fitted(segmentation, width: int, height: int, scale_x: float, scale_y: float):
    """SEGMENTATION, annotated on an image that its boxes are scaled by (SCALE_X, SCALE_Y) to
    fit, for the WIDTHxHEIGHT image: polygons scaled as the boxes are, a sound RLE of another
    size resampled to the image's (resampled()); anything else as it is (problem() judges)."""
    if isinstance(segmentation, dict):
        return resampled(segmentation, width, height)
    return scaled(segmentation, scale_x, scale_y)


def resampled(rle: dict, width: int, height: int):
    """A sound RLE (problem() None for its own size) as the RLE of a WIDTHxHEIGHT mask, each
    pixel that of the annotated mask under its centre (nearest neighbour: the mask stays 0s
    and 1s, and keeps the annotation's own precision); an RLE that is not sound, or already
    of that size, as it is. Memory follows the image, never the annotated size (up to
    1000000x1000000): the runs are looked up, never decoded."""
    import numpy as np
    from pycocotools import mask as mask_utils

    size = rle.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(_whole(v) and v >= 1
                                                                for v in size)) or \
            list(size) == [height, width] or _rle_problem(rle, size[1], size[0]):
        return rle
    (source_height, source_width), counts = size, rle["counts"]
    if isinstance(counts, str):
        counts = decode_counts(counts)
    ends = np.cumsum(np.asarray(counts, np.int64))  # run i ends before ends[i], column-major
    # The source pixel under each pixel's centre, in whole numbers: floor((x + 1/2) * s / w).
    columns = (2 * np.arange(width, dtype=np.int64) + 1) * source_width // (2 * width)
    rows = (2 * np.arange(height, dtype=np.int64) + 1) * source_height // (2 * height)
    grid = np.empty((height, width), np.uint8, order="F")
    step = max(1, 2 ** 20 // height)  # columns at a time: bounded index arrays
    for start in range(0, width, step):
        index = columns[start:start + step, None] * source_height + rows[None, :]
        grid[:, start:start + step] = (np.searchsorted(ends, index, side="right") % 2).T
    encoded = mask_utils.encode(grid)
    return {"size": [height, width], "counts": encoded["counts"].decode("ascii")}


def box_polygon(xmin: float, ymin: float, xmax: float, ymax: float) -> list[list[float]]:
    """A box as a COCO segmentation: the filled rectangle, as a LabelMe rectangle's mask is."""
    return [[xmin, ymin, xmax, ymin, xmax, ymax, xmin, ymax]]


def pixels(segmentation, width: int, height: int):
    """A checked segmentation (problem() is None) as a HEIGHTxWIDTH uint8 array of 0s and 1s;
    an empty one (no mask) all 0s."""
    import numpy as np
    from pycocotools import mask as mask_utils

    if not segmentation:
        return np.zeros((height, width), np.uint8)
    if isinstance(segmentation, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(np.uint8)


def png_mask(pixels) -> bytes:
    """PIXELS (pixels()) as a PNG mask, as the OD API's decoder reads them."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()
