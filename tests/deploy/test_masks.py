"""Instance segmentation end to end (issue 15): the light Mask R-CNN (ResNet50) trains 2 steps on
`demo-data --masks` records and evaluates with mask metrics; `predict` writes JSON Lines whose
compressed RLE masks pycocotools decodes and evaluates, streams with flat memory and resumes a
killed run; `verify` passes on golden masks recorded from the model and names the one replaced.
One mask model for the module, trained by odwrap's own commands in one child process."""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import STARTING_ENV, run_odwrap, run_python, tensorflow_lines
from tests.tfdata import write_family_spec

pytestmark = [pytest.mark.tf, pytest.mark.slow]

ZOO = "faster_rcnn_resnet50_v1_640x640_coco17_tpu-8"

# What `model.pretrained: ZOO` pulls, made here without a download: a tarball in the zoo's layout
# (pipeline.config, checkpoint/ckpt-0) of a tiny Faster R-CNN ResNet50 V1 whose weights are
# random but whose batch norms hold the statistics of the shapes images, as a pretrained
# backbone's do. A backbone of random weights whose frozen batch norms keep their initial
# statistics passes pixel-scale features (std about 28) to the heads: their box deltas are in
# the tens, boxes collapse to lines and, after 2 steps, most seeds detect nothing (CI: five of
# five; training from scratch recovers only after tens of steps, benchmarks/bench_masks.py).
# Calibrated, the heads start on normalized features: about 55 detections an image, scores
# 0.6-0.9, masks over 10-20 % of their boxes, whatever the seed.
CALIBRATED_ZOO_MODEL = """
import glob
import tarfile
from pathlib import Path
import numpy as np
import odwrap
from odwrap.odapi import compat
compat.apply()
import tensorflow as tf
from object_detection.builders import model_builder
from object_detection.utils import config_util
from odwrap.deploy.sources import iterate
from odwrap.zoo import find
zoo = find(ZOO)
top = Path(work) / "made" / zoo.top_folder
odwrap.generate(faster_spec, top)
config = config_util.get_configs_from_pipeline_file(str(top / "pipeline.config"))["model"]
config.faster_rcnn.feature_extractor.batch_norm_trainable = True
tf.keras.backend.set_learning_phase(True)
model = model_builder.build(config, is_training=True)
images = [source.read() for source in iterate(glob.glob(f"{work}/records/*.tfrecord"))]
inputs, shapes = model.preprocess(tf.constant(np.stack(images), tf.float32))
model.provide_groundtruth(  # the second stage's crops are sampled around a box per image
    groundtruth_boxes_list=[tf.constant([[0.25, 0.25, 0.75, 0.75]])] * len(images),
    groundtruth_classes_list=[tf.constant([[1.0, 0.0]])] * len(images))
model.predict(inputs, shapes)  # builds the backbone
norms = [layer for extractor in (model._feature_extractor_for_proposal_features,
                                 model._feature_extractor_for_box_classifier_features)
         for layer in extractor.submodules if hasattr(layer, "moving_variance")]
for norm in norms:
    norm.momentum = 0.0  # the next batch's statistics replace the initial ones
model.predict(inputs, shapes)
print("CALIBRATED", len(norms), flush=True)
checkpoint = tf.train.Checkpoint(model=model)
checkpoint.save_counter  # a saved checkpoint has it
checkpoint.write(str(top / "checkpoint" / "ckpt-0"))
tarball = Path(work) / "mirror" / zoo.url_path
tarball.parent.mkdir(parents=True)
with tarfile.open(tarball, "w:gz") as tar:
    tar.add(top, arcname=zoo.top_folder)
tf.keras.backend.set_learning_phase(False)
"""

FLOW = f"""
import os
import sys
work, faster_spec, spec = sys.argv[1:4]
ZOO = {ZOO!r}
{CALIBRATED_ZOO_MODEL}
os.environ.update(ODWRAP_CACHE=f"{{work}}/cache", ODWRAP_ZOO_URL=Path(f"{{work}}/mirror").as_uri())
from odwrap import cli
for name, *argv in (("train", "train", spec, "--model-dir", f"{{work}}/model", "--seed", "2"),
                    ("eval", "eval", f"{{work}}/model"),
                    ("export", "export", f"{{work}}/model", "--format", "saved_model",
                     "-o", f"{{work}}/export")):
    print(f"== {{name}}", flush=True)
    print(f"== {{name}} rc={{cli.main(argv)}}", flush=True)
from odwrap.deploy.runtime import load_detector
detector = load_detector(f"{{work}}/export/saved_model")
found = [len(detector.detect(source.read()).scores)
         for source in iterate(glob.glob(f"{{work}}/records/*.tfrecord"))]
print("DETECTIONS", min(found))
"""


@pytest.fixture(scope="module")
def mask_model(tmp_path_factory):
    """(work folder, flow stdout): demo-data --masks (8 images of 128), convert --masks, then
    train 2 steps of mask_rcnn_resnet50_v1 at 128 with `pretrained:` the Faster R-CNN ResNet50
    zoo model (a calibrated stand-in from a file:// mirror), eval and export, in one child
    process."""
    import odwrap

    work = tmp_path_factory.mktemp("mask_model")
    shapes = odwrap.demo_data(work / "shapes", images=8, size=128, masks=True)
    report = odwrap.convert("coco", shapes / "annotations.json", work / "records", masks=True)
    assert report.images == 8 and report.problems == {}
    record = next((work / "records").glob("*.tfrecord"))
    (work / "faster").mkdir()
    faster = write_family_spec(work / "faster", "faster_rcnn_resnet50_v1", 128,
                               "  proposals: 32\n", steps=2, train=record)
    spec = write_family_spec(work, "mask_rcnn_resnet50_v1", 128,
                             f"  proposals: 32\n  mask_size: 14\n  pretrained: {ZOO}\n",
                             steps=2, train=record)
    result = run_python(["-c", FLOW, str(work), str(faster), str(spec)], timeout=1200)
    assert result.returncode == 0 and "== export rc=0" in result.stdout, \
        result.stdout[-3000:] + result.stderr[-3000:]
    assert "CALIBRATED 53" in result.stdout  # ResNet50's batch norms, both stages
    assert int(result.stdout.split("DETECTIONS")[-1]) > 0, result.stdout[-3000:]
    return work, result.stdout


def test_mask_model_trains_and_evaluates_with_mask_metrics(mask_model):
    work, stdout = mask_model
    assert "== train rc=0" in stdout and "trained steps 0 -> 2" in stdout
    # model.pretrained of mask_rcnn_resnet50_v1 names a Faster R-CNN zoo model: train pulls it
    # and restores the feature extractor; the RPN, box and mask heads train anew.
    assert f"zoo model {ZOO} is not cached; pulling it" in stdout
    report = re.search(r"fine-tune checkpoint: restored the (.+?) \((\d+) of (\d+) trainable "
                       r"variables\); not restored: the RPN, box regression head, class head "
                       r"and mask head\.", stdout)
    assert report and "backbone" in report.group(1), stdout[-3000:]
    assert 0 < int(report.group(2)) < int(report.group(3))
    assert "coco_mask_metrics" in (work / "model" / "pipeline.config").read_text()
    written = json.loads((work / "model" / "metrics.json").read_text())
    metrics = written["metrics"]
    assert -1.0 <= metrics["DetectionMasks_Precision/mAP"] <= 1.0
    assert -1.0 <= metrics["DetectionBoxes_Precision/mAP"] <= 1.0
    # Per class by mask overlap too (issue 26), from the OD API mask evaluator's own lists: the
    # classes' mean is its mask mAP.
    aps = [c["AP"] for c in written["per_class_masks"].values() if c["AP"] >= 0]
    assert aps and sum(aps) / len(aps) == pytest.approx(metrics["DetectionMasks_Precision/mAP"],
                                                        abs=1e-6)
    assert "with 14x14 masks on one image_tensor input" in stdout


def predict(work, out, *extra):
    return run_odwrap("predict", work / "export" / "saved_model", *extra, "-o", out,
                      "--threshold", 0, "--jsonl", timeout=900)


def test_predict_writes_rle_masks_that_pycocotools_decodes_and_evaluates(mask_model, tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    work, _ = mask_model
    records = sorted((work / "records").glob("*.tfrecord"))
    result = predict(work, tmp_path / "pred", *records)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predicted 8 image(s);" in result.stdout and "with masks" in result.stdout
    lines = [json.loads(line) for line in
             (tmp_path / "pred" / "detections.jsonl").read_text().splitlines()]
    assert lines and [line["id"] for line in lines] == list(range(1, len(lines) + 1))
    from pycocotools import mask as coco_mask
    for line in lines:
        decoded = coco_mask.decode({"size": line["segmentation"]["size"],
                                    "counts": line["segmentation"]["counts"].encode()})
        assert decoded.shape == (128, 128)
        x, y, w, h = line["bbox"]
        rows, cols = np.nonzero(decoded)
        if len(rows):  # pasted inside its box (a pixel of rounding either side)
            assert y - 1 <= rows.min() and rows.max() <= y + h + 1
            assert x - 1 <= cols.min() and cols.max() <= x + w + 1
            assert 0.5 < line["mask_mean_score"] <= 1.0
        if w >= 2 and h >= 2:  # the bbox is rounded to 0.01 px: tiny boxes' areas are not
            assert line["mask_area_fraction"] == pytest.approx(decoded.sum() / (w * h),
                                                               rel=0.02, abs=0.01)
    images = [json.loads(line) for line in
              (tmp_path / "pred" / "images.jsonl").read_text().splitlines()]
    assert len(images) == 8 and {(i["width"], i["height"]) for i in images} == {(128, 128)}
    assert sum(i["detections"] for i in images) == len(lines)
    assert len(list((tmp_path / "pred").glob("*.annotated.png"))) == 8

    # pycocotools evaluates the masks against the demo's polygons (ids by file name)
    truth = COCO(str(work / "shapes" / "annotations.json"))
    ids = {Path(image["file_name"]).name: image["id"] for image in truth.dataset["images"]}
    for line in lines:
        line["image_id"] = ids[Path(line["filename"]).name]
    evaluation = COCOeval(truth, truth.loadRes(lines), "segm")
    evaluation.evaluate()
    evaluation.accumulate()
    assert len(evaluation.evalImgs) > 0 and evaluation.eval["precision"].size > 0


def test_a_killed_predict_resumes_where_it_stopped(mask_model, tmp_path):
    work, _ = mask_model
    images = sorted((work / "shapes").rglob("*.jpg"))
    assert len(images) == 8
    whole = predict(work, tmp_path / "whole", *images)
    assert whole.returncode == 0, whole.stderr[-3000:]

    out = tmp_path / "cut"
    # A fresh `python -m odwrap predict` from the user's environment: what it shows until it is
    # killed holds no TensorFlow C++ line (issue 25), though it imported TensorFlow and loaded
    # the SavedModel.
    shown = tmp_path / "shown.txt"
    with open(shown, "wb") as terminal:
        child = subprocess.Popen([sys.executable, "-m", "odwrap", "predict",
                                  str(work / "export" / "saved_model"), *map(str, images), "-o",
                                  str(out), "--threshold", "0", "--jsonl"],
                                 env=STARTING_ENV, stdout=terminal, stderr=terminal)
    log = out / "images.jsonl.part"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and child.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = log.read_text().count("\n")
    assert 3 <= done < 8, "the run ended before it could be cut"
    assert tensorflow_lines(shown.read_text(errors="replace")) == []
    with open(out / "detections.jsonl.part", "a") as part:  # a line cut short by the kill
        part.write('{"image_id": 9, "filename": "half')

    resumed = predict(work, out, *images)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"predicted {8 - done} image(s) after the {done} of the interrupted run" \
        in resumed.stdout
    assert (out / "detections.jsonl").read_text() == \
        (tmp_path / "whole" / "detections.jsonl").read_text()
    assert not list(out.glob("*.part"))

    swapped = run_odwrap("predict", work / "export" / "saved_model", images[1], "-o", out,
                         "--threshold", 0.5)  # a finished run is replaced, not resumed
    assert swapped.returncode == 0, swapped.stderr[-3000:]
    assert "predicted 1 image(s);" in swapped.stdout


def test_verify_passes_on_recorded_golden_masks_and_names_a_replaced_one(mask_model, tmp_path):
    work, _ = mask_model
    images = sorted((work / "shapes").rglob("*.jpg"))[:3]
    golden = tmp_path / "golden"
    # The README's order, `odwrap verify MODEL --record-golden DIR IMAGES...`: the images after
    # the option (issue 25: argparse took them as the model's neighbours and stopped with
    # "unrecognized arguments").
    recorded = run_odwrap("verify", "--threshold", 0, work / "export" / "saved_model",
                          "--record-golden", golden, *images, timeout=900)
    assert recorded.returncode == 0, recorded.stderr[-3000:]
    masks = sorted(golden.glob("*/*.png"))
    masks = [path for path in masks if path.name != "image.png"]
    assert masks, recorded.stdout
    assert {path.parent.name for path in golden.glob("*/image.png")} == {p.stem for p in images}

    first = masks[0]
    np.save(first.with_suffix(".npy"), np.asarray(Image.open(first)) > 0)  # .npy reads too
    first.unlink()
    passed = run_odwrap("verify", work / "export" / "saved_model", "--golden", golden,
                        "--threshold", 0, timeout=900)
    assert passed.returncode == 0, passed.stdout + passed.stderr[-3000:]
    assert passed.stdout.count(": OK (IoU ") == len(masks)  # 1.00 but for a rounding
    assert f"{first.parent.name}/{first.stem}.npy: OK" in passed.stdout

    replaced = masks[-1]
    other = np.zeros((128, 128), np.uint8)
    yy, xx = np.mgrid[:128, :128]
    other[(yy - 8) ** 2 + (xx - 8) ** 2 < 25] = 255  # a small disc in a corner
    Image.fromarray(other).save(replaced)
    failed = run_odwrap("verify", work / "export" / "saved_model", "--golden", golden,
                        "--threshold", 0, "--out-qual", tmp_path / "qual", timeout=900)
    assert failed.returncode == 1, failed.stderr[-3000:]
    name = f"{replaced.parent.name}/{replaced.name}"
    missing = [line for line in failed.stdout.splitlines() if line.startswith(name)]
    assert len(missing) == 1 and ": missing (" in missing[0], failed.stdout
    assert failed.stdout.count(": OK (") == len(masks) - 1
    assert len(list((tmp_path / "qual").glob("expected_*.png"))) == len(masks)
    assert len(list((tmp_path / "qual").glob("actual_*.png"))) == len(masks)


def test_predict_memory_stays_flat_over_thousands_of_images(tflite_export, tmp_path):
    """Peak RSS of predict over 200 and 2000 small images (10 detections each): the run keeps
    no per-image results, so ten times the images adds almost nothing."""
    model, _ = tflite_export("none")
    rng = np.random.default_rng(0)
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(2000):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(
            folder / f"{index:05d}.png")
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted(folder.iterdir())[:200]:
        (few / path.name).write_bytes(path.read_bytes())
    peak = {}
    for name, source in (("few", few), ("many", folder)):
        out = tmp_path / f"out-{name}"
        result = run_python(["-c", "import resource, sys\nfrom odwrap import cli\n"
                             "code = cli.main(sys.argv[1:])\n"
                             "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
                             "sys.exit(code)",
                             "predict", str(model), str(source), "-o", str(out),
                             "--threshold", "0", "--jsonl", "--no-annotate"], timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        peak[name] = int(result.stdout.split("PEAK")[-1]) / 1024  # MiB
        lines = (out / "detections.jsonl").read_text().count("\n")
        assert lines == 10 * len(list(source.iterdir()))
    assert peak["many"] - peak["few"] < 4, peak  # MiB, for 18,000 more detections


def test_a_golden_mask_of_another_class_or_size_is_one_line(mask_model, tmp_path):
    work, _ = mask_model
    place = tmp_path / "golden" / "one"
    place.mkdir(parents=True)
    image = sorted((work / "shapes").rglob("*.jpg"))[0]
    Image.open(image).save(place / "image.png")
    np.save(place / "square.npy", np.ones((64, 64), bool))
    (place / "belt.png").write_bytes((place / "image.png").read_bytes())
    result = run_odwrap("verify", work / "export" / "saved_model", "--golden", tmp_path / "golden")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr[-3000:]
    assert result.stderr == (f"odwrap: error: {place / 'belt.png'}: class 'belt' is none of the "
                             "model's (circle, square); name the file CLASS.png or CLASS.N.png\n")
    (place / "belt.png").unlink()
    result = run_odwrap("verify", work / "export" / "saved_model", "--golden", tmp_path / "golden")
    assert result.returncode == 2 and result.stderr == (
        f"odwrap: error: {place / 'square.npy'}: a 64x64 mask for a 128x128 image (masks are "
        "[height, width])\n")
