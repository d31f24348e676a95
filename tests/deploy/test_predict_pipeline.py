"""`predict --workers N` (issue 29): the images are read, inferred and drawn on N threads and
written in order, so that the files are those of one worker: the same detection lines and ids,
the same image log but for the measured milliseconds, the same annotated images, a bad image
logged and skipped at its place, and a resumed run finishing as a whole one would. The
pipeline's own order and failures are checked on plain functions."""

import json
import re
import threading

import numpy as np
import pytest
from PIL import Image

from odwrap.deploy import pipeline
from tests.conftest import run_odwrap

MILLISECONDS = re.compile(rb'"milliseconds": [0-9.e-]+')
BAD = 3  # the position (from 0) of the file that is no image


def timeless(log: bytes) -> bytes:
    """An image log with each measured inference time blanked (it differs run to run)."""
    return MILLISECONDS.sub(b'"milliseconds": _', log)


@pytest.fixture(scope="module")
def whole(tflite_export, tmp_path_factory):
    """(model, images, the folder of one worker's run, its runtime name): 8 images of several
    sizes, the 4th not an image."""
    model, _ = tflite_export("none")
    work = tmp_path_factory.mktemp("pipeline")
    rng = np.random.default_rng(29)
    images = []
    for index in range(8):
        path = work / "images" / f"image{index:02d}.jpg"
        path.parent.mkdir(exist_ok=True)
        if index == BAD:
            path.write_bytes(b"not an image at all")
        else:
            size = (48 + 8 * index, 64)
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
        images.append(path)
    out = work / "one"
    result = run_odwrap("predict", model, work / "images", "-o", out, "--jsonl",
                        "--threshold", 0, "--workers", 1)
    assert result.returncode == 0, result.stderr[-3000:]
    runtime = re.search(r"^(\S+): median", result.stdout, re.M).group(1)
    return model, images, out, runtime


@pytest.mark.tf
def test_two_workers_write_the_files_of_one(whole, tmp_path):
    model, images, one, _ = whole
    out = tmp_path / "two"
    result = run_odwrap("predict", model, images[0].parent, "-o", out, "--jsonl",
                        "--threshold", 0, "--workers", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "detections.jsonl").read_bytes() == (one / "detections.jsonl").read_bytes()
    assert timeless((out / "images.jsonl").read_bytes()) == \
        timeless((one / "images.jsonl").read_bytes())
    pngs = sorted(path.name for path in one.glob("*.png"))
    assert pngs == sorted(path.name for path in out.glob("*.png"))
    assert all((out / name).read_bytes() == (one / name).read_bytes() for name in pngs)
    # what one worker wrote is what it should be: the images in order, the bad one skipped at
    # its place, a detection's id counting on over the images
    log = [json.loads(line) for line in (one / "images.jsonl").read_text().splitlines()]
    assert [entry["filename"] for entry in log] == [str(path) for path in images]
    assert [entry["image_id"] for entry in log] == list(range(1, 9))
    assert ["skipped" in entry for entry in log] == [index == BAD for index in range(8)]
    assert [entry.get("height") for entry in log] == \
        [None if index == BAD else 48 + 8 * index for index in range(8)]
    lines = [json.loads(line) for line in (one / "detections.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == list(range(1, len(lines) + 1))
    per_image = [sum(line["image_id"] == entry["image_id"] for line in lines) for entry in log]
    assert per_image == [entry.get("detections", 0) for entry in log] and sum(per_image) > 0
    assert pngs == sorted(f"image{index:02d}.annotated.png" for index in range(8)
                          if index != BAD)
    assert "skipped 1 of 8 image(s)" in result.stdout


@pytest.mark.tf
def test_a_resumed_run_with_two_workers_finishes_as_the_whole_run(whole, tmp_path):
    """The killed run had written the first 5 images (the bad one among them): the resumed run
    predicts the other 3 on two workers, its detection ids going on from the log's count."""
    model, images, one, runtime = whole
    out = tmp_path / "resumed"
    out.mkdir()
    log = (one / "images.jsonl").read_bytes().splitlines(keepends=True)
    done = sum(json.loads(line).get("detections", 0) for line in log[:5])
    lines = (one / "detections.jsonl").read_bytes().splitlines(keepends=True)
    (out / "images.jsonl.part").write_bytes(b"".join(log[:5]))
    (out / "detections.jsonl.part").write_bytes(b"".join(lines[:done]))
    (out / "predict.run.json").write_text(json.dumps(
        {"model": str(model.resolve()), "threshold": 0.0, "runtime": runtime}))
    result = run_odwrap("predict", model, images[0].parent, "-o", out, "--jsonl",
                        "--threshold", 0, "--workers", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predicted 3 image(s) after the 5 of the interrupted run" in result.stdout
    assert (out / "detections.jsonl").read_bytes() == (one / "detections.jsonl").read_bytes()
    assert timeless((out / "images.jsonl").read_bytes()) == \
        timeless((one / "images.jsonl").read_bytes())
    drawn = sorted(path.name for path in out.glob("*.png"))  # this run's images only
    assert drawn == [f"image{index:02d}.annotated.png" for index in (5, 6, 7)]
    assert all((out / name).read_bytes() == (one / name).read_bytes() for name in drawn)


def test_the_pipeline_gives_each_result_in_order_and_reads_boundedly_ahead():
    taken = []

    def items():
        for number in range(40):
            taken.append(number)
            yield number

    seen = []
    for item, result in pipeline.ordered(lambda n: n * n, items(), workers=3):
        seen.append((item, result))
        assert len(taken) - len(seen) <= pipeline.WINDOW_PER_WORKER * 3
    assert seen == [(n, n * n) for n in range(40)]


def test_a_failure_in_a_worker_is_raised_at_its_turn_and_no_thread_is_left():
    before = threading.active_count()

    def square(n):
        if n == 5:
            raise RuntimeError("worker failed on 5")
        return n * n

    seen = []
    results = pipeline.ordered(square, iter(range(1000)), workers=2)
    with pytest.raises(RuntimeError, match="worker failed on 5"):
        for item, result in results:
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]
    assert threading.active_count() == before


def test_a_failing_source_comes_after_the_results_before_it():
    def items():
        yield from range(4)
        raise ValueError("the fifth source cannot be read")

    seen = []
    with pytest.raises(ValueError, match="fifth"):
        for item, _ in pipeline.ordered(lambda n: n, items(), workers=2):
            seen.append(item)
    assert seen == [0, 1, 2, 3]


@pytest.mark.parametrize("workers", ["0", "-1", "65"])
def test_workers_out_of_range_are_refused(workers, tmp_path):
    result = run_odwrap("predict", tmp_path / "model.tflite", tmp_path, "--workers", workers)
    assert result.returncode == 2 and "--workers" in result.stderr, result.stderr


@pytest.mark.tf
@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_the_looked_up_input_is_the_one_worked_out_pixel_by_pixel(tflite_export, quantize):
    """input_tensor looks each pixel's input up in a table of the 256 values per channel: the
    same numbers as normalizing (and quantizing) every pixel, for a float and an int8 model."""
    from odwrap.deploy.runtime import TFLiteDetector, resize

    model, _ = tflite_export(quantize)
    detector = TFLiteDetector(model)
    mean, std = detector.normalization.per_channel()
    scale, zero_point = detector.input["quantization"]
    for shape in [(48, 80, 3), (detector.height, detector.width, 3)]:
        image = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
        pixels = resize(image, detector.height, detector.width).astype(np.float32)
        expected = (pixels - np.array(mean, np.float32)) / np.array(std, np.float32)
        dtype = detector.input["dtype"]
        if quantize == "int8":
            limits = np.iinfo(dtype)
            expected = np.clip(np.round(expected / scale + zero_point), limits.min, limits.max)
        expected = expected.astype(dtype)[None]
        found = detector.input_tensor(image)
        assert found.dtype == expected.dtype and np.array_equal(found, expected)
