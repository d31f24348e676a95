"""The exported .tflite files as other programs see them: tflite-support's metadata displayer
reads odwrap's metadata back (not odwrap's reader), and the TFLite Task Library's and MediaPipe
Tasks' ObjectDetectors load every quantize mode and find what `odwrap predict` finds.

They run in the consumers venv (scripts/setup-consumers.sh; tflite-support and mediapipe need
protobuf < 4), through tests/deploy/consumer_detect.py in a child process."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from odwrap.deploy import preprocessing
from tests.conftest import run_odwrap, side_venv_python

pytestmark = [pytest.mark.tf, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("consumer_detect.py")
QUANTIZE = ["none", "fp16", "dynamic", "int8"]
# Largest score difference from odwrap's own run: float models compute the same graph; an int8
# model's uint8 input is fed raw by the consumers but quantized from the normalized image by
# odwrap (one step apart at most), and its scores come in steps of 1/256.
SCORE_TOLERANCE = {"none": 1e-3, "fp16": 1e-3, "dynamic": 1e-3, "int8": 3 / 256}


@pytest.fixture(scope="session")
def consumers():
    """The consumers venv's Python; missing, the tests fail under CI and are skipped elsewhere."""
    python = side_venv_python("consumers")

    def run(*argv):
        done = subprocess.run([str(python), str(SCRIPT), *map(str, argv)], capture_output=True,
                              text=True, timeout=600, env={"PATH": os.environ["PATH"]})
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
    return run


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three demo images at the tiny model's input size."""
    import odwrap

    folder = odwrap.demo_data(tmp_path_factory.mktemp("demo"), images=3, size=64)
    return sorted(str(path) for path in Path(folder).rglob("*.jpg"))


def as_consumer_box(bbox, api, width=64, height=64):
    """odwrap's [x, y, w, h] as the consumer reports it: MediaPipe moves a box that starts
    left of or above the image to start at 0, and keeps its size up to the image's."""
    x, y, w, h = bbox
    if api != "mediapipe":
        return x, y, w, h
    return max(x, 0), max(y, 0), min(w, width), min(h, height)


def same(theirs, mine, api, tolerance) -> bool:
    labels = {1: "square", 2: "circle"}
    return (theirs["label"] == labels[mine["category_id"]]
            and max(abs(a - b) for a, b in zip(theirs["bbox"],
                                               as_consumer_box(mine["bbox"], api))) <= 2
            and abs(theirs["score"] - mine["score"]) <= tolerance)


@pytest.mark.parametrize("quantize", QUANTIZE)
def test_metadata_reads_back_with_tflite_support(tflite_export, consumers, quantize):
    model, _ = tflite_export(quantize)
    read = consumers("metadata", model)
    meta = read["metadata"]
    assert meta["min_parser_version"] == read["min_parser_version"] == "1.0.0"
    assert read["packed_files"] == ["labels.txt"] and read["labels"] == "square\ncircle\n"
    assert "checkpoint 2" in meta["version"] and "ssd_mobilenet_v2_fpn_keras" in meta["name"]
    graph = meta["subgraph_metadata"][0]
    image = graph["input_tensor_metadata"][0]
    assert image["content"]["content_properties"] == {"color_space": "RGB",
                                                      "default_size": {"width": 64, "height": 64}}
    options = image["process_units"][0]["options"]
    mean, std = preprocessing.MOBILENET.per_channel()
    assert options == {"mean": list(mean), "std": list(std)}
    # The real order of a TF2 export's outputs (tensorflow/models #10970).
    outputs = graph["output_tensor_metadata"]
    assert [o["name"] for o in outputs] == ["score", "location", "number of detections",
                                           "category"]
    box = outputs[1]["content"]
    # RATIO is the schema's default, which the displayer leaves out.
    assert box["content_properties"] == {"index": [1, 0, 3, 2], "type": "BOUNDARIES"}
    assert box["range"] == {"min": 2, "max": 2}
    assert outputs[3]["associated_files"] == [{
        "name": "labels.txt", "description": "Labels of the category output",
        "type": "TENSOR_VALUE_LABELS"}]


@pytest.mark.parametrize("quantize", QUANTIZE)
def test_the_task_library_finds_what_odwrap_predict_finds(tflite_export, consumers, images,
                                                          tmp_path, quantize):
    model, _ = tflite_export(quantize)
    check_consumer(model, consumers, images, tmp_path, quantize, "task")


@pytest.mark.parametrize("quantize", QUANTIZE)
def test_mediapipe_finds_what_odwrap_predict_finds(tflite_export, consumers, images, tmp_path,
                                                   quantize):
    """On exports with one detection per image: mediapipe 0.10.9 (and 0.10.11) merges boxes
    that become equal once moved into the image, and then crashes at random (SIGSEGV, "free():
    invalid pointer"; also with metadata from tflite-support's own writer). The tiny model is
    trained for 2 steps, so its ten boxes are anchors, many of them far outside the image."""
    model, _ = tflite_export(quantize, max_detections=1)
    check_consumer(model, consumers, images, tmp_path, quantize, "mediapipe", count=1)


@pytest.mark.smoke
def test_the_edgetpu_exports_int8_model_in_the_task_library(int8_export, consumers, images,
                                                            tmp_path):
    """The model beside edgetpu_report.txt; on both stacks (CI's tf215 run is the smoke set)."""
    out, _ = int8_export
    check_consumer(out / "model_int8.tflite", consumers, images, tmp_path, "int8", "task")


def check_consumer(model, consumers, images, tmp_path, quantize, api, count=10):
    """The consumer finds what `odwrap predict` finds on the model alone: the same boxes (as
    the consumer reports them, within 2 px), classes and scores."""
    alone = tmp_path / "alone" / model.name  # no labels.txt or sidecar beside it
    alone.parent.mkdir()
    alone.write_bytes(model.read_bytes())
    found = consumers(api, alone, *images)
    predicted = run_odwrap("predict", alone, *images, "-o", tmp_path / "pred", "--threshold", 0,
                           "--jsonl")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    lines = (tmp_path / "pred" / "detections.jsonl").read_text().splitlines()
    ours = {}
    for line in lines:
        detection = json.loads(line)
        ours.setdefault(detection["filename"], []).append(detection)
    tolerance = SCORE_TOLERANCE[quantize] + 1e-4  # predict rounds scores to 4 digits
    for path in images:
        theirs, mine = found[path], ours[path]
        assert len(mine) == count and len(theirs) == count
        for other in theirs:
            assert any(same(other, item, api, tolerance) for item in mine), \
                f"{api}: {other} is none of odwrap's {mine}"
        for item in mine:
            assert any(same(other, item, api, tolerance) for other in theirs), \
                f"{api} misses odwrap's {item}: {theirs}"
