"""Instance masks in convert --masks: a mask annotated on another size of the image scales with
its box (polygons as the boxes, RLE resampled to the nearest pixel), a mask stays on the pixels
the record stores when an EXIF photo is turned, and every box has exactly one mask (its box
where it has none). Inputs are written by hand here; masks are read back from the PNGs in the
records and compared with what the test works out."""

import io
import json
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from odwrap import cli
from tests import exifphotos as photos
from tests.recordcheck import records_by_filename

# A triangle annotated on a 32x24 copy of a 64x48 image: (4, 4), (28, 4), (4, 20); its box
# (4, 4)-(28, 20). On the image: (8, 8), (56, 8), (8, 40), box (8, 8)-(56, 40).
HALF = (32, 24)
IMAGE = (64, 48)
TRIANGLE = [(4, 4), (28, 4), (4, 20)]
SCALED_BOX = (8, 8, 56, 40)
INSIDE = [(12, 12), (40, 11), (12, 34), (30, 20)]  # (x, y) inside the scaled triangle only:
OUTSIDE = [(50, 36), (30, 4), (4, 30), (60, 10)]  # (40, 11) and (30, 20) lie outside the
# unscaled one, so a mask left at the annotated size fails.


def convert(*argv):
    return cli.main(["convert", *map(str, argv)])




def counts(out) -> dict:
    report = json.loads((out / "report.json").read_text())
    return {reason: entry["count"] for reason, entry in report["problems"].items()}


def masks(values) -> list:
    """The record's masks as 0/1 arrays, [height, width]."""
    return [np.asarray(Image.open(io.BytesIO(png))) for png in values["image/object/mask"]]


def boxes(values) -> list:
    """The record's boxes in pixels, (xmin, ymin, xmax, ymax)."""
    width, height = values["image/width"][0], values["image/height"][0]
    return [(xmin * width, ymin * height, xmax * width, ymax * height)
            for xmin, ymin, xmax, ymax in zip(*(values[f"image/object/bbox/{key}"]
                                                for key in ("xmin", "ymin", "xmax", "ymax")))]


def mask_box(mask) -> tuple:
    """(xmin, ymin, xmax, ymax), max exclusive, of a mask's pixels."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def grey_png(path, size) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 90, 90)).save(path)


def coco(root, images: list, annotations: list, categories=("shape",)):
    """A COCO JSON in ROOT: IMAGES [(file name, annotated (width, height))], ANNOTATIONS dicts
    (image_id the image's position from 1, category_id 1 unless given)."""
    root.mkdir(parents=True, exist_ok=True)
    data = {"images": [{"id": index, "file_name": name, "width": width, "height": height}
                       for index, (name, (width, height)) in enumerate(images, start=1)],
            "annotations": [{"id": index, "category_id": 1, "iscrowd": 0, **annotation}
                            for index, annotation in enumerate(annotations, start=1)],
            "categories": [{"id": index, "name": name}
                           for index, name in enumerate(categories, start=1)]}
    path = root / "instances.json"
    path.write_text(json.dumps(data))
    return path


def half_size_triangle(tmp_path, fmt: str):
    """The triangle annotated on a 32x24 copy of a.png (64x48), in FMT; (source, convert
    options)."""
    root = tmp_path / fmt
    grey_png(root / "a.png", IMAGE)
    flat = [value for point in TRIANGLE for value in point]
    if fmt == "coco":
        return coco(root, [("a.png", HALF)], [
            {"image_id": 1, "bbox": [4, 4, 24, 16], "segmentation": [flat]}]), []
    if fmt == "labelme":
        (root / "a.json").write_text(json.dumps({
            "imagePath": "a.png", "imageWidth": HALF[0], "imageHeight": HALF[1],
            "shapes": [{"label": "shape", "shape_type": "polygon",
                        "points": [list(point) for point in TRIANGLE]}]}))
        return root, []
    points = ";".join(f"{x},{y}" for x, y in TRIANGLE)
    (root / "annotations.xml").write_text(
        f'<annotations><image id="0" name="a.png" width="{HALF[0]}" height="{HALF[1]}">'
        f'<polygon label="shape" points="{points}"/></image></annotations>')
    return root / "annotations.xml", []


@pytest.mark.parametrize("fmt", ["coco", "labelme", "cvat"])
def test_a_polygon_annotated_at_half_size_is_scaled_with_its_box(tmp_path, fmt):
    source, options = half_size_triangle(tmp_path, fmt)
    assert convert(fmt, source, "-o", tmp_path / "out", "--masks", *options) == 0
    (values,) = records_by_filename(tmp_path / "out").values()
    (mask,), (box,) = masks(values), boxes(values)
    assert mask.shape == (IMAGE[1], IMAGE[0])
    assert box == pytest.approx(SCALED_BOX)
    assert all(mask[y, x] == 1 for x, y in INSIDE)
    assert all(mask[y, x] == 0 for x, y in OUTSIDE)
    assert mask.sum() == pytest.approx(48 * 32 / 2, rel=0.08)
    assert mask_box(mask) == pytest.approx(box, abs=1)
    assert values["image/object/mask/weight"] == [1.0]
    assert counts(tmp_path / "out") == {"size_mismatch": 1}


def rle(pixels) -> dict:
    """COCO's uncompressed RLE of a 0/1 array: column-major runs, starting with 0s."""
    flat = np.asarray(pixels, np.uint8).ravel(order="F")
    runs, value, length = [], 0, 0
    for pixel in flat:
        if pixel == value:
            length += 1
        else:
            runs.append(length)
            value, length = pixel, 1
    return {"size": list(pixels.shape), "counts": runs + [length]}


@pytest.mark.parametrize("size", [(64, 48), (48, 36), (16, 12), (40, 40)],
                         ids=["double", "one-and-a-half", "half", "uneven"])
def test_an_rle_of_the_annotated_size_is_resampled_to_the_nearest_pixel(tmp_path, size):
    """A 32x24 RLE (a rectangle and a scatter of pixels) on an image of SIZE: each pixel of the
    record's mask is the annotated pixel under its centre, and the rectangle's box agrees."""
    rng = np.random.default_rng(0)
    annotated = np.zeros((24, 32), np.uint8)
    annotated[6:18, 8:20] = 1
    scatter = (rng.random((24, 32)) < 0.2).astype(np.uint8)
    root = tmp_path / "coco"
    grey_png(root / "a.png", size)
    path = coco(root, [("a.png", HALF)], [
        {"image_id": 1, "bbox": [8, 6, 12, 12], "segmentation": rle(annotated)},
        {"image_id": 1, "bbox": [0, 0, 32, 24], "segmentation": rle(scatter)}])
    assert convert("coco", path, "-o", tmp_path / "out", "--masks") == 0
    values = records_by_filename(tmp_path / "out")["a.png"]
    got = masks(values)
    # Pixel x's centre x + 1/2 lies on annotated pixel floor((x + 1/2) * 32 / width), worked
    # out in fractions (floats put some centres a hair on the wrong side of a border).
    columns = [int(Fraction(2 * x + 1, 2) * 32 / size[0]) for x in range(size[0])]
    rows = [int(Fraction(2 * y + 1, 2) * 24 / size[1]) for y in range(size[1])]
    for mask, expected in zip(got, (annotated, scatter)):
        assert (mask == expected[np.ix_(rows, columns)]).all()
    if size == (64, 48):
        assert (got[1] == scatter.repeat(2, axis=0).repeat(2, axis=1)).all()
    scale_x, scale_y = size[0] / 32, size[1] / 24
    rectangle_box = (8 * scale_x, 6 * scale_y, 20 * scale_x, 18 * scale_y)
    assert boxes(values)[0] == pytest.approx(rectangle_box)
    assert mask_box(got[0]) == pytest.approx(rectangle_box, abs=1)
    assert counts(tmp_path / "out") == {"size_mismatch": 1}


def red_mask(pixels) -> np.ndarray:
    return ((pixels[..., 0] > 160) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80))


@pytest.mark.parametrize("annotation", ["viewed-half-polygon", "viewed-half-rle",
                                        "stored-polygon"])
def test_a_mask_stays_on_the_pixels_the_record_stores_for_an_exif_photo(tmp_path, annotation):
    """A tag 6 photo (stored 64x96, viewed 96x64) with its red rectangle annotated as a mask:
    on a half-size copy of the viewed picture (the record holds the turned pixels, the mask is
    scaled by 2), or on the stored pixels (the record holds them as they are)."""
    xmin, ymin, xmax, ymax = photos.RECT
    if annotation.startswith("viewed"):
        size, (xmin, ymin, xmax, ymax) = (48, 32), (xmin // 2, ymin // 2, xmax // 2, ymax // 2)
    else:
        stored = photos.stored(6)
        size, (xmin, ymin, xmax, ymax) = (64, 96), photos.red_box(stored)
    if annotation.endswith("rle"):
        pixels = np.zeros((size[1], size[0]), np.uint8)
        pixels[ymin:ymax, xmin:xmax] = 1
        segmentation = rle(pixels)
    else:
        segmentation = [[xmin, ymin, xmax, ymin, xmax, ymax, xmin, ymax]]
    root = tmp_path / "coco"
    root.mkdir()
    (root / "a.jpg").write_bytes(photos.photo(6))
    path = coco(root, [("a.jpg", size)], [
        {"image_id": 1, "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
         "segmentation": segmentation}], categories=("red",))
    assert convert("coco", path, "-o", tmp_path / "out", "--masks") == 0
    values = records_by_filename(tmp_path / "out")["a.jpg"]
    with Image.open(io.BytesIO(values["image/encoded"][0])) as image:
        stored_pixels = np.asarray(image.convert("RGB"))  # as TensorFlow decodes: no tag
    (mask,), (box,) = masks(values), boxes(values)
    assert mask.shape == stored_pixels.shape[:2]
    red = red_mask(stored_pixels)
    assert mask_box(mask) == photos.red_box(stored_pixels)
    overlap = (mask.astype(bool) & red).sum()  # JPEG blurs the rectangle's border a little
    assert overlap >= 0.95 * red.sum() and overlap >= 0.95 * mask.sum()
    assert box == pytest.approx(photos.red_box(stored_pixels), abs=1)


def test_every_box_has_one_mask_its_box_where_it_has_none(tmp_path):
    """COCO --masks: an image none of whose annotations has a segmentation (once a record with
    no mask feature, 0 masks for 2 boxes), one with a polygon beside a missing one and a `[]`,
    and one whose polygon has no pixel in the image. Each box gets one mask; a box without a
    usable one gets the filled box, mask weight 0, counted."""
    root = tmp_path / "coco"
    for name in ("none.png", "mixed.png", "outside.png"):
        grey_png(root / name, (40, 30))
    images = [(name, (40, 30)) for name in ("none.png", "mixed.png", "outside.png")]
    path = coco(root, images, [
        {"image_id": 1, "bbox": [2, 3, 10, 8]},
        {"image_id": 1, "bbox": [20, 10, 15, 12]},
        {"image_id": 2, "bbox": [5, 5, 10, 10], "segmentation": [[5, 5, 15, 5, 5, 15]]},
        {"image_id": 2, "bbox": [20, 4, 10, 20]},
        {"image_id": 2, "bbox": [30, 20, 8, 8], "segmentation": []},
        {"image_id": 3, "bbox": [0, 0, 10, 10], "segmentation": [[-30, -20, -5, -20, -5, -2]]},
    ])
    assert convert("coco", path, "-o", tmp_path / "out", "--masks") == 0
    records = records_by_filename(tmp_path / "out")
    filled = {"none.png": [(2, 3, 12, 11), (20, 10, 35, 22)],
              "mixed.png": [None, (20, 4, 30, 24), (30, 20, 38, 28)],
              "outside.png": [(0, 0, 10, 10)]}
    for name, expected in filled.items():
        values = records[name]
        got = masks(values)
        assert len(got) == len(values["image/object/bbox/xmin"]) == len(expected)
        assert values["image/object/mask/weight"] == [0.0 if box else 1.0 for box in expected]
        for mask, box in zip(got, expected):
            if box:  # the filled box: every pixel inside, none outside
                xmin, ymin, xmax, ymax = box
                assert mask_box(mask) == box and mask.sum() == (xmax - xmin) * (ymax - ymin)
    triangle = masks(records["mixed.png"])[0]
    assert triangle[7, 7] == 1 and triangle[13, 13] == 0 and triangle.sum() < 60
    assert counts(tmp_path / "out") == {"box_mask": 5}
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    # The first written: mixed.png (images[1]) comes first by name.
    assert report["problems"]["box_mask"]["example"] == "instances.json: images[1]: shape: " \
                                                        "no segmentation"


def test_without_masks_no_record_has_masks_and_box_formats_get_box_masks(tmp_path):
    """Without --masks no mask is written; with --masks a format without masks (Pascal VOC)
    gets one per box too, each its filled box, all counted."""
    from tests import datasets

    root = datasets.voc(tmp_path / "voc", images=2)
    expected = sum(len(objects) for objects in datasets.voc_boxes(root).values())
    assert convert("voc", root, "-o", tmp_path / "plain") == 0
    assert all("image/object/mask" not in values
               for values in records_by_filename(tmp_path / "plain").values())
    assert convert("voc", root, "-o", tmp_path / "out", "--masks") == 0
    for values in records_by_filename(tmp_path / "out").values():
        for mask, box in zip(masks(values), boxes(values)):
            assert mask_box(mask) == pytest.approx(box, abs=1)
        assert values["image/object/mask/weight"] == [0.0] * len(boxes(values))
    assert counts(tmp_path / "out") == {"box_mask": expected}


def test_strict_fails_on_a_box_without_a_mask(tmp_path, capsys):
    root = tmp_path / "coco"
    grey_png(root / "a.png", (40, 30))
    path = coco(root, [("a.png", (40, 30))], [{"image_id": 1, "bbox": [2, 3, 10, 8]}])
    assert convert("coco", path, "-o", tmp_path / "out", "--masks", "--strict") == 2
    assert capsys.readouterr().err.startswith(
        "odwrap: error: instances.json: images[0]: shape: no segmentation: object with no mask")
