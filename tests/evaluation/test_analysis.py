"""Per-class metrics against pycocotools' COCOeval itself, the F1-best threshold and the
confusion matrix against cases worked out by hand (issue 26)."""

import contextlib
import io

import numpy as np
import pytest
from pycocotools.cocoeval import COCOeval

from odwrap.evaluation.analysis import analyze, best_threshold, coco_pair
from odwrap.evaluation.confusion import confusion

CATEGORIES = [{"id": 1, "name": "square"}, {"id": 2, "name": "circle"},
              {"id": 4, "name": "triangle"}, {"id": 7, "name": "star"}]


def generated_case(seed=0, images=30):
    """Ground truth of four classes (one crowd box), and detections: most boxes found with some
    jitter, some under another class, some missed, some false, scores drawn at random."""
    rng = np.random.default_rng(seed)
    truth, found = [], []
    for image in range(1, images + 1):
        for _ in range(rng.integers(1, 6)):
            x, y = rng.uniform(0, 400, 2)
            w, h = rng.uniform(10, 120, 2)
            category = int(rng.choice([1, 2, 4]))  # 7 (star) has no ground truth
            truth.append({"id": len(truth) + 1, "image_id": image, "category_id": category,
                          "bbox": [x, y, w, h], "iscrowd": 0})
            if rng.random() < 0.8:
                jitter = rng.normal(0, 6, 4)
                label = category if rng.random() < 0.85 else int(rng.choice([1, 2, 4, 7]))
                found.append({"image_id": image, "category_id": label,
                              "bbox": [x + jitter[0], y + jitter[1], abs(w + jitter[2]) + 1,
                                       abs(h + jitter[3]) + 1], "score": float(rng.random())})
        for _ in range(rng.integers(0, 3)):
            found.append({"image_id": image, "category_id": int(rng.choice([1, 2, 4, 7])),
                          "bbox": [*rng.uniform(0, 400, 2), *rng.uniform(10, 80, 2)],
                          "score": float(rng.random() * 0.6)})
    truth[0]["iscrowd"] = 1
    return {"images": [{"id": i} for i in range(1, images + 1)], "annotations": truth,
            "categories": [dict(c) for c in CATEGORIES]}, found


def coco_stats(groundtruth, detections, category):
    """pycocotools' own summary restricted to one class: AP, AP50, AP75, AR@100."""
    truth, found = coco_pair(groundtruth, detections)
    evaluation = COCOeval(truth, found, "bbox")
    evaluation.params.catIds = [category]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation.stats[[0, 1, 2, 8]]


def test_per_class_metrics_equal_cocoeval_restricted_to_the_class():
    groundtruth, detections = generated_case()
    analysis = analyze(groundtruth, detections)
    assert sorted(c.id for c in analysis.classes) == [1, 2, 4, 7]
    for found in analysis.classes:
        expected = coco_stats(groundtruth, detections, found.id)
        assert np.allclose([found.ap, found.ap50, found.ap75, found.ar100], expected,
                           atol=1e-6), (found.name, expected)
    # Worst first; the class without ground truth (-1, as COCO writes it) last.
    aps = [c.ap for c in analysis.classes]
    assert aps[-1] == -1 and aps[:-1] == sorted(aps[:-1]) and min(aps[:-1]) > 0
    assert analysis.classes[-1].name == "star" and analysis.classes[-1].ground_truth == 0
    # The crowd box counts for nothing: 1 box fewer than the annotations of its class.
    crowd = groundtruth["annotations"][0]["category_id"]
    listed = sum(a["category_id"] == crowd for a in groundtruth["annotations"])
    assert next(c for c in analysis.classes if c.id == crowd).ground_truth == listed - 1


def test_the_f1_best_threshold_of_a_hand_made_list():
    # Sorted: 0.9 hit, 0.8 miss, 0.7 hit, 0.6 hit, 0.3 miss; 4 boxes to find.
    # F1 = 2 TP / (kept + 4): 0.9 -> 2/5, 0.8 -> 2/6, 0.7 -> 4/7, 0.6 -> 6/8, 0.3 -> 6/9.
    best = best_threshold([0.7, 0.3, 0.9, 0.6, 0.8], [True, False, True, True, False], 4)
    assert best.threshold == 0.6 and best.f1 == pytest.approx(0.75)
    assert best.precision == pytest.approx(0.75) and best.recall == pytest.approx(0.75)
    # A threshold keeps every detection of its score: at 0.5 the hit and the miss together.
    tied = best_threshold([0.9, 0.5, 0.5], [True, True, False], 2)
    assert tied.threshold == 0.5 and tied.f1 == pytest.approx(4 / 5)
    # Of equal F1, the higher threshold; nothing detected: no threshold.
    assert best_threshold([0.8, 0.4], [True, False], 1).threshold == 0.8
    assert best_threshold([], [], 3).threshold is None
    assert best_threshold([0.9, 0.4], [False, False], 0).threshold is None  # nothing right


def box(x, y, category, score=None, image=1, crowd=0, size=100):
    row = {"image_id": image, "category_id": category, "bbox": [x, y, size, size]}
    return row if score is None else dict(row, score=score)


def test_the_confusion_matrix_of_a_case_worked_by_hand():
    truth = [box(0, 0, 1), box(200, 0, 2), box(400, 0, 1), box(0, 200, 2),
             dict(box(600, 600, 1), iscrowd=1)]
    detections = [
        box(5, 0, 1, 0.9),      # square found as square
        box(205, 5, 1, 0.8),    # circle taken for a square
        box(200, 0, 2, 0.3),    # circle found, but under the threshold: the circle is confused
        # the square at 400 is missed
        box(5, 200, 2, 0.7),    # circle found
        box(0, 210, 1, 0.6),    # a second box on that circle, as square: false
        box(800, 800, 2, 0.9),  # nothing there: false
        box(605, 600, 2, 0.9),  # on the crowd box: neither false nor found
    ]
    for index, row in enumerate(truth, start=1):
        row["id"] = index
    groundtruth = {"images": [{"id": 1}], "annotations": truth,
                   "categories": [{"id": 1, "name": "square"}, {"id": 2, "name": "circle"}]}
    matrix = confusion(groundtruth, detections, threshold=0.5)
    assert matrix.names == ["square", "circle", "background"]
    #                 predicted: square circle background
    assert matrix.counts == [[1, 0, 1],    # true square: 1 found, 1 missed
                             [1, 1, 0],    # true circle: 1 as square, 1 found
                             [1, 1, 0]]    # background: a false square, a false circle
    assert matrix.normalized()[0] == [0.5, 0.0, 0.5]
    assert matrix.per_image == {1: {"missed": 1, "false": 2, "confused": 1}}
    # Of two boxes on one object, the one of the right class is the match, whatever the IoU.
    same_object = [box(0, 0, 1), dict(box(0, 0, 2, 0.9)), box(8, 8, 1, 0.8)]
    one = confusion({"images": [{"id": 1}], "annotations": [dict(same_object[0], id=1)],
                     "categories": groundtruth["categories"]}, same_object[1:], 0.5)
    assert one.counts == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]


def test_worst_images_rank_by_their_errors():
    groundtruth, detections = generated_case(seed=3, images=12)
    matrix = confusion(groundtruth, detections, threshold=0.5)
    worst = matrix.worst_images(3)
    errors = [sum(matrix.per_image[i].values()) for i in worst]
    assert errors == sorted(errors, reverse=True) and errors[0] == max(
        sum(e.values()) for e in matrix.per_image.values())
    total = np.asarray(matrix.counts)
    assert total[:-1, -1].sum() == sum(e["missed"] for e in matrix.per_image.values())
    assert total[-1, :-1].sum() == sum(e["false"] for e in matrix.per_image.values())


def test_insight_writes_its_plots_json_and_report_and_never_through_a_link(tmp_path):
    import base64
    import json
    import re

    from PIL import Image

    from odwrap.evaluation.insight import insight

    groundtruth, detections = generated_case(seed=1, images=10)
    groundtruth["categories"][0] = {"id": 1, "name": "<script>alert(1)</script>"}
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (tmp_path / "analysis").symlink_to(decoy)
    seen = insight(groundtruth, detections, tmp_path / "analysis",
                   {"DetectionBoxes_Precision/mAP": 0.25}, "model <b>, step 9")
    assert list(decoy.iterdir()) == [] and not (tmp_path / "analysis").is_symlink()
    assert sorted(p.name for p in seen.plots) == ["confusion_matrix.png", "f1_curves.png",
                                                 "pr_curves.png"]
    for path in seen.plots:
        with Image.open(path) as picture:
            assert picture.format == "PNG" and min(picture.size) > 300
    written = json.loads(json.dumps(seen.as_json()))
    assert set(written["per_class"]) == {"<script>alert(1)</script>", "circle", "triangle",
                                         "star"}
    assert written["threshold"]["best_f1_threshold"] == seen.analysis.best.threshold
    assert written["confusion_matrix"]["threshold"] == seen.analysis.best.threshold
    worst = written["worst_images"]
    assert worst and worst[0] == {"image_id": seen.confusion.worst_images(1)[0],
                                  **seen.confusion.per_image[worst[0]["image_id"]]}
    table = seen.table()
    assert table[0] == "per class, worst first:" and table[-1].startswith("threshold: F1 ")
    names = [line.split()[0] for line in table[2:-1]]
    assert names[:-1] == [c.name.split()[0] for c in seen.analysis.classes][:-1]
    assert names[-1] == "star"

    # The report: self-contained (every image inside it, nothing fetched), the data escaped.
    page = seen.report.read_text()
    assert seen.report == tmp_path / "analysis" / "report.html"
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 3 and not re.search(r'(href|url)\(?=?"?(https?:|//)', page)
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:4] == b"\x89PNG"
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "model &lt;b&gt;, step 9" in page and "0.250" in page


def test_the_worst_images_are_drawn_worst_first_with_both_kinds_of_box(tmp_path):
    from PIL import Image

    from odwrap.evaluation.insight import insight

    groundtruth, detections = generated_case(seed=2, images=6)
    asked = []

    def pictures(ids):
        asked.extend(ids)
        return [(image, f"image-{image}.jpg", np.full((480, 640, 3), 30, np.uint8))
                for image in ids if image != ids[-1]]  # the last one cannot be read

    seen = insight(groundtruth, detections, tmp_path, {}, "worst", pictures)
    assert asked == seen.confusion.worst_images(16) and len(asked) > 2
    grid = tmp_path / "worst_images.png"
    assert seen.plots[-1] == grid
    with Image.open(grid) as sheet:
        pixels = np.asarray(sheet.convert("RGB"))
    colors = {tuple(c) for c in pixels.reshape(-1, 3)[::7]}
    assert (40, 200, 60) in colors and (255, 140, 0) in colors  # truth green, found orange
    assert pixels.shape[1] == 4 * 320
    assert seen.report.read_text().count("data:image/png;base64,") == 4
    # Nothing to draw: no grid, and an older one is not left behind.
    insight(groundtruth, detections, tmp_path, {}, "worst", lambda ids: [])
    assert not grid.exists()


def as_masks(groundtruth, detections, size=600):
    """The same case with each box as a mask (COCO RLE), detections without their boxes, as
    the OD API's mask evaluator holds them."""
    from pycocotools import mask

    def rle(box):
        x, y, w, h = box
        encoded = mask.frPyObjects([[x, y, x + w, y, x + w, y + h, x, y + h]], size, size)[0]
        return {"size": encoded["size"], "counts": encoded["counts"].decode()}

    truth = dict(groundtruth, images=[dict(i, height=size, width=size)
                                      for i in groundtruth["images"]],
                 annotations=[dict(a, segmentation=rle(a["bbox"]))
                              for a in groundtruth["annotations"]])
    found = [{key: value for key, value in dict(d, segmentation=rle(d["bbox"])).items()
              if key != "bbox"} for d in detections]
    return truth, found


def test_mask_metrics_per_class_equal_cocoeval_segm(tmp_path):
    from odwrap.evaluation.insight import insight

    groundtruth, detections = as_masks(*generated_case(seed=4, images=12))
    truth, found = coco_pair(groundtruth, detections)
    seen = insight(*generated_case(seed=4, images=12), tmp_path, {}, "masks",
                   masks=(groundtruth, detections))
    for item in seen.masks.classes:
        evaluation = COCOeval(truth, found, "segm")
        evaluation.params.catIds = [item.id]
        with contextlib.redirect_stdout(io.StringIO()):
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        assert np.allclose([item.ap, item.ap50, item.ap75, item.ar100],
                           evaluation.stats[[0, 1, 2, 8]], atol=1e-6), item.name
    assert set(seen.as_json()["per_class_masks"]) == {"square", "circle", "triangle", "star"}
    assert "per class by mask overlap" in "\n".join(seen.table())
    assert "Per class by mask overlap" in seen.report.read_text()
