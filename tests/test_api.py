"""The public Python API, called directly in this process as a notebook would: the data and
config jobs without TensorFlow, then train, evaluate, export and predict on the shared tiny
model, with progress heard through a Reporter."""

import json

import numpy as np
import pytest
from PIL import Image

import odwrap
from odwrap import report


class Recorder(report.Reporter):
    def __init__(self):
        self.progress_seen, self.finished_seen = [], []

    def progress(self, task, done, total, unit, **info):
        self.progress_seen.append((task, done, total, unit))

    def finished(self, task):
        self.finished_seen.append(task)


def test_data_and_config_jobs(tmp_path):
    voc = odwrap.demo_data(tmp_path / "voc", images=12, size=64)
    counts = odwrap.write_label_map(tmp_path / "map.pbtxt", format="voc", source=voc)
    assert set(counts) == {"circle", "square"} and all(count > 0 for count in counts.values())
    heard = Recorder()
    with report.use(heard):
        converted = odwrap.convert("voc", voc, tmp_path / "data", split="train=0.5,val=0.5",
                                   workers=1)
    assert converted.splits["train"]["images"] + converted.splits["val"]["images"] == 12
    assert heard.progress_seen[-1] == ("convert", 12, 12, "img")
    assert heard.finished_seen == ["convert"]
    assert odwrap.stats([tmp_path / "data" / "train-*.tfrecord"]).images == 6

    spec = tmp_path / "spec.yaml"
    spec.write_text("model: {architecture: ssd_mobilenet_v2_fpnlite, image_size: 64}\n"
                    "data: {classes: [circle, square]}\ntrain: {batch_size: 12}\n")
    generated = odwrap.generate(spec, tmp_path / "config",
                                overrides=[f"data.train={tmp_path / 'data' / 'train-*'}"])
    assert [path.name for path in generated.files] == ["label_map.pbtxt", "pipeline.config"]
    assert any("learning rate scaled" in note for note in generated.notes)
    findings = odwrap.check(tmp_path / "config" / "pipeline.config", device="tpu")
    assert [finding.id for finding in findings if finding.severity == "error"] == ["ODW006"]


def test_errors_are_odwrap_errors_with_one_line(tmp_path):
    with pytest.raises(odwrap.InputError, match="no pipeline.config"):
        odwrap.export(tmp_path, "tflite")
    with pytest.raises(odwrap.InputError, match="unknown format 'tensorrt'"):
        odwrap.export(tmp_path, "tensorrt")
    with pytest.raises(odwrap.InputError, match="no such file"):
        odwrap.check(tmp_path / "missing.yaml")


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.smoke
def test_train_evaluate_export_and_predict(tiny_model, tmp_path):
    model_dir = tiny_model.copy(tmp_path / "model")
    heard = Recorder()
    with report.use(heard):
        trained = odwrap.train(tiny_model.spec, model_dir, steps=tiny_model.steps + 1)
    assert (trained.start_step, trained.end_step) == (tiny_model.steps, tiny_model.steps + 1)
    assert trained.checkpoint.endswith(f"ckpt-{tiny_model.steps + 1}")
    assert heard.progress_seen[-1][:3] == ("train", tiny_model.steps + 1, tiny_model.steps + 1)
    assert heard.finished_seen == ["train"]

    evaluated = odwrap.evaluate(model_dir)
    assert evaluated.step == tiny_model.steps + 1
    assert 0.0 <= evaluated.metrics["DetectionBoxes_Precision/mAP"] <= 1.0
    assert json.loads((model_dir / "metrics.json").read_text())["step"] == evaluated.step

    exported = odwrap.export(model_dir, "tflite", tmp_path / "export")
    assert exported.path == tmp_path / "export" / "model_fp32.tflite" and exported.path.exists()
    assert exported.verified.startswith("10 detection(s)")

    image = tmp_path / "shape.png"
    pixels = np.full((80, 96, 3), 40, np.uint8)
    pixels[20:50, 30:60] = (220, 30, 30)
    Image.fromarray(pixels).save(image)
    predicted = odwrap.predict(exported.path, [image], tmp_path / "pred", threshold=0.0)
    assert predicted.runtime == "ai-edge-litert"
    assert predicted.output == tmp_path / "pred" / "detections.json"
    assert (predicted.images, predicted.detections, predicted.masks) == (1, 10, False)
    written = json.loads(predicted.output.read_text())
    assert [line["id"] for line in written] == list(range(1, 11))
    assert {(line["image_id"], line["filename"]) for line in written} == {(1, str(image))}
    assert all("segmentation" not in line for line in written)


def test_demo_data_draws_the_shapes_asked_for(tmp_path):
    import re

    odwrap.demo_data(tmp_path / "three", images=30, size=64,
                     shapes=("square", "circle", "triangle"))
    names = {name for xml in (tmp_path / "three" / "Annotations").glob("*.xml")
             for name in re.findall(r"<name>(\w+)</name>", xml.read_text())}
    assert names == {"square", "circle", "triangle"}
    odwrap.demo_data(tmp_path / "two", images=30, size=64)
    two = {name for xml in (tmp_path / "two" / "Annotations").glob("*.xml")
           for name in re.findall(r"<name>(\w+)</name>", xml.read_text())}
    assert two == {"square", "circle"}
    with pytest.raises(odwrap.InputError, match="hexagon"):
        odwrap.demo_data(tmp_path / "bad", images=1, shapes=("hexagon",))


def test_demo_data_masks_are_the_painted_shapes_for_pycocotools(tmp_path):
    """demo-data --masks: pycocotools reads each polygon back to the mask where the shape was
    painted (its colour inside, the background just outside)."""
    from pycocotools.coco import COCO

    from odwrap.data.demo import COLOURS

    root = odwrap.demo_data(tmp_path / "masks", images=12, size=96,
                            shapes=("square", "circle", "triangle"), masks=True)
    coco = COCO(str(root / "annotations.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    seen = set()
    for ann in coco.loadAnns(coco.getAnnIds()):
        info = coco.loadImgs(ann["image_id"])[0]
        image = np.asarray(Image.open(root / info["file_name"]).convert("RGB")).astype(float)
        mask = coco.annToMask(ann).astype(bool)
        assert mask.sum() == ann["area"] > 0
        left, top, width, height = ann["bbox"]
        rows, cols = np.nonzero(mask)
        assert top <= rows.min() and rows.max() < top + height
        assert left <= cols.min() and cols.max() < left + width
        colour = np.array(COLOURS[names[ann["category_id"]]])
        inside = image[mask].mean(axis=0)
        assert np.abs(inside - colour).max() < 45, (names[ann["category_id"]], inside)
        near, far = dilated(mask, 1), dilated(mask, 3)
        assert np.abs(image[far & ~near].mean(axis=0) - colour).max() > 45  # background
        seen.add(names[ann["category_id"]])
    assert seen == {"square", "circle", "triangle"}
    report = odwrap.convert("coco", root / "annotations.json", tmp_path / "records", masks=True)
    assert report.images == 12 and report.problems == {}


def dilated(mask, steps):
    grown = np.pad(mask, steps)
    out = np.zeros_like(grown)
    for dy in range(-steps, steps + 1):
        for dx in range(-steps, steps + 1):
            out |= np.roll(np.roll(grown, dy, 0), dx, 1)
    return out[steps:-steps, steps:-steps]


@pytest.mark.tf
@pytest.mark.slow
def test_api_and_cli_fail_with_the_same_line(tiny_model, tmp_path, monkeypatch):
    """One error boundary, in the library: a config whose records do not exist, and a checkpoint
    that does not fit the model (a failure inside TensorFlow), give the API caller the
    OdwrapError whose text the CLI prints."""
    from tests.conftest import run_odwrap

    config = (tiny_model.model_dir / "pipeline.config").read_text()
    missing = tmp_path / "missing.config"
    missing.write_text(config.replace(str(tiny_model.folder / "train.tfrecord"),
                                      str(tmp_path / "nothing-*.tfrecord")))
    with pytest.raises(odwrap.InputError) as raised:
        odwrap.train(missing, tmp_path / "never", steps=1)
    cli = run_odwrap("train", missing, "--model-dir", tmp_path / "never", "--steps", 1)
    assert cli.returncode == 2 and cli.stderr == f"odwrap: error: {raised.value}\n"
    assert "no file matches" in str(raised.value) and not (tmp_path / "never").exists()

    monkeypatch.setenv("ODWRAP_LOG_DIR", str(tmp_path / "logs"))
    model_dir = tiny_model.copy(tmp_path / "model")
    spec = tmp_path / "three_classes.yaml"
    spec.write_text(tiny_model.spec.read_text().replace("[square, circle]",
                                                        "[square, circle, star]"))
    with pytest.raises(odwrap.RunError) as raised:
        odwrap.train(spec, model_dir, steps=3, force=True)
    line = str(raised.value)
    assert line.startswith("train: the checkpoint does not fit the model (Received incompatible")
    [log] = (tmp_path / "logs").glob("train-*.log")
    assert line.endswith(f" (traceback in {log})") and raised.value.log == log
    assert log.read_text().startswith("Traceback (most recent call last):")
    assert type(raised.value.__cause__).__name__ != "RunError"  # the original error is kept
    cli = run_odwrap("train", spec, "--model-dir", model_dir, "--steps", 3, "--force")
    assert cli.returncode == 1
    assert cli.stderr.split(" (traceback in ")[0] == "odwrap: error: " + line.split(
        " (traceback in ")[0]
