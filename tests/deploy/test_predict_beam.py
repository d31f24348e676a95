"""predict --runner beam (issue 29): the local predict's files from Apache Beam's DirectRunner
(two processes), on the shared tiny model's exports.

One run over a few hundred images in several kinds of argument (a folder, a glob, a TFRecord
with and without source ids, names met twice, an unreadable image) is compared with the local
run, row by row and field by field; a run reads the same images from a bucket (the test file
system of convert's Beam tests, fakegs://) with its scratch folder there, as on a cluster; bad
input is refused before any pipeline starts. The pipeline runs in the Beam venv
(scripts/setup-beam.sh): without it these tests fail under CI and are skipped elsewhere.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from odwrap import cli
from odwrap.odapi.tfexample import encode_example, frame_record
from tests.conftest import ROOT

pytestmark = pytest.mark.tf

IMAGES = 300  # in the folder, besides the TFRecord's and the unreadable one
WORKERS = "--beam-options=--direct_num_workers=2"
FAKEGS = "--beam_plugins=tests.data.beam_fakefs"


def _record(path: Path, images: list, source_ids: dict) -> Path:
    """A TFRecord of IMAGES (file paths), image/source_id given for the indexes of SOURCE_IDS."""
    with open(path, "wb") as handle:
        for index, image in enumerate(images):
            features = {"image/encoded": ("bytes", [image.read_bytes()]),
                        "image/filename": ("bytes", [image.name.encode()])}
            if index in source_ids:
                features["image/source_id"] = ("bytes", [source_ids[index].encode()])
            handle.write(frame_record(encode_example(features)))
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """(folder, arguments): IMAGES small images of a few sizes and formats in FOLDER/images
    (one in a subfolder with the name of another), an unreadable one, and a TFRecord of five
    more; the arguments name them as a folder, a glob and a TFRecord."""
    folder = tmp_path_factory.mktemp("predict_beam")
    images = folder / "images"
    (images / "again").mkdir(parents=True)
    rng = np.random.default_rng(29)
    for index in range(IMAGES):
        height, width = (int(v) for v in rng.integers(24, 72, 2))
        pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        pixels[height // 4:height // 2, width // 4:width // 2] = rng.integers(0, 255, 3)
        Image.fromarray(pixels).save(images / f"image{index:04d}.{('png', 'jpg')[index % 2]}")
    shutil.copy(images / "image0007.jpg", images / "again" / "image0007.jpg")
    (images / "broken.png").write_bytes(b"\x89PNG not an image")
    _record(folder / "five.tfrecord", sorted(images.glob("image000[0-4].*")),
            {1: "901", 3: "not a number"})
    return folder, [images, folder / "five.tfrecord", images / "image001?.png"]


def predict(*argv) -> int:
    return cli.main(["predict", *map(str, argv)])


def rows(out: Path, rename=("", "")) -> tuple[list, list]:
    """(the detections sorted by id, the image log without the times), with each file name's
    prefix RENAME[0] read as RENAME[1]."""
    def renamed(entry):
        entry["filename"] = entry["filename"].replace(*rename)
        if "skipped" in entry:
            entry["skipped"] = entry["skipped"].replace(*rename)
        entry.pop("milliseconds", None)
        return entry

    detections = (json.loads((out / "detections.json").read_text())
                  if (out / "detections.json").exists() else
                  [json.loads(line) for line in open(out / "detections.jsonl")])
    log = [renamed(json.loads(line)) for line in open(out / "images.jsonl")]
    return sorted((renamed(entry) for entry in detections), key=lambda d: d["id"]), log


def assert_same_rows(expected: tuple, got: tuple):
    (lines, log), (beam_lines, beam_log) = expected, got
    assert len(beam_lines) == len(lines) and len(beam_log) == len(log)
    for want, have in zip(lines + log, beam_lines + beam_log):
        assert sorted(have) == sorted(want), (want, have)
        for key in want:
            assert have[key] == want[key], (key, want, have)


def test_beam_gives_the_local_runs_rows_and_files(tmp_path, tflite_export, inputs, beam_python,
                                                  capsys):
    model, _ = tflite_export("none")
    _, arguments = inputs
    argv = [model, *arguments, "--threshold", 0]
    assert predict(*argv, "-o", tmp_path / "local") == 0
    local = capsys.readouterr().out
    assert predict(*argv, "-o", tmp_path / "beam", "--runner", "beam", WORKERS) == 0
    out = capsys.readouterr().out
    expected, got = rows(tmp_path / "local"), rows(tmp_path / "beam")
    assert_same_rows(expected, got)
    lines, log = got
    # What the local run numbers: each image by its position (the folder's sorted: again/,
    # broken.png, then the others) unless its record has a numeric source id; the detections
    # from 1 in the order of the images.
    assert [entry["image_id"] for entry in log] == \
        [*range(1, IMAGES + 3), 303, 901, 305, 306, 307, *range(308, 313)]
    assert [line["id"] for line in lines] == list(range(1, len(lines) + 1))
    assert len(lines) == sum(entry.get("detections", 0) for entry in log) > IMAGES
    assert [entry["filename"] for entry in log if "skipped" in entry] == \
        [str(inputs[0] / "images" / "broken.png")]
    assert "predicted 311 image(s)" in out and "skipped 1 of 312" in out
    assert out.splitlines()[-1].split(":")[0] == local.splitlines()[-1].split(":")[0]
    # The annotated images, names met twice numbered as the local run numbers them.
    names = sorted(path.name for path in (tmp_path / "local").glob("*.png"))
    assert names == sorted(path.name for path in (tmp_path / "beam").glob("*.png"))
    assert {"image0007.2.annotated.png", "image0000.2.annotated.png",
            "image0010.2.annotated.png"} <= set(names)
    for name in names[::50]:
        assert (tmp_path / "beam" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    # Nothing of the run's own is left: no scratch folder, no part file.
    assert sorted(path.name for path in (tmp_path / "beam").iterdir()
                  if not path.name.endswith(".png")) == ["detections.json", "images.jsonl"]


def test_images_in_a_bucket_with_the_scratch_folder_there(tmp_path, tflite_export, inputs,
                                                          beam_python):
    """odwrap in the Beam venv itself, reading a folder, a glob and a TFRecord at fakegs://
    URLs, with --temp_location in the bucket too (the model, the plan, the chunks and the
    annotated images go through it, as on a cluster): the local run's rows on the same files."""
    model, _ = tflite_export("none")
    folder, _ = inputs
    bucket = tmp_path / "bucket"
    images = bucket / "data" / "images"
    images.mkdir(parents=True)
    for path in sorted((folder / "images").glob("image00[0-2]?.*")) + \
            [folder / "images" / "broken.png"]:
        shutil.copy(path, images / path.name)
    shutil.copy(folder / "five.tfrecord", bucket / "data" / "five.tfrecord")
    local = [images, bucket / "data" / "five.tfrecord", images / "image001?.png"]
    assert predict(model, *local, "--threshold", 0, "--jsonl", "-o", tmp_path / "local") == 0
    urls = ["fakegs://data/images", "fakegs://data/five.tfrecord",
            "fakegs://data/images/image001?.png"]
    env = dict(os.environ, ODWRAP_FAKEGS_ROOT=str(bucket), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [str(beam_python), "-m", "odwrap", "predict", str(model), *urls, "--threshold", "0",
         "--jsonl", "-o", str(tmp_path / "beam"), "--runner", "beam",
         f"--beam-options={FAKEGS} --direct_num_workers=2 --temp_location=fakegs://tmp"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = rows(tmp_path / "local")
    assert_same_rows(expected, rows(tmp_path / "beam", ("fakegs://", f"{bucket}/")))
    assert len(expected[1]) == 30 + 1 + 5 + 5 and expected[0]
    names = sorted(path.name for path in (tmp_path / "local").glob("*.png"))
    assert names == sorted(path.name for path in (tmp_path / "beam").glob("*.png"))
    assert [path for path in (bucket / "tmp").rglob("*") if path.is_file()] == []


def test_a_saved_model_on_beam_gives_the_local_runs_rows(tmp_path, benchmarked, inputs,
                                                         beam_python, capsys):
    """The SavedModel's handler: TensorFlow in the Beam venv (setup-beam.sh --tensorflow)."""
    has_tf = subprocess.run([str(beam_python), "-c", "import tensorflow"], capture_output=True)
    if has_tf.returncode != 0:
        message = "the Beam venv has no TensorFlow: run scripts/setup-beam.sh --tensorflow"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder, _ = inputs
    model = benchmarked[0] / "saved_model"
    argv = [model, folder / "five.tfrecord", "--threshold", 0.05, "--jsonl", "--no-annotate"]
    assert predict(*argv, "-o", tmp_path / "local") == 0
    assert predict(*argv, "-o", tmp_path / "beam", "--runner", "beam",
                   "--beam-options=--direct_num_workers=1") == 0
    assert "tensorflow: median" in capsys.readouterr().out
    expected = rows(tmp_path / "local")
    assert_same_rows(expected, rows(tmp_path / "beam"))
    assert len(expected[1]) == 5


@pytest.mark.parametrize("extra, code, message", [
    (["--runner", "beam", "--beam-options=--runner=NoSuchRunner"], 2,
     "--beam-options: Unexpected pipeline runner: NoSuchRunner"),
    (["--beam-options=--direct_num_workers=2"], 2, "--beam-options is for --runner beam"),
    (["--runner", "beam", "--labels", "missing.txt"], 2, "missing.txt: no such labels file"),
    (["--runner", "beam", "--classes", "no_such_class"], 2,
     "--classes no_such_class: not a class of the model"),
    (["--runner", "beam", "--format", "yolo"], 2, "is a TFRecord; its images are no files"),
    (["--runner", "beam", "--stride", "2"], 2,
     "--stride: videos and streams are predicted by the local runner"),
    (["--runner", "beam", "rtsp://127.0.0.1:9/live"], 2,
     "rtsp://127.0.0.1:9/live: videos and streams are predicted by the local runner"),
], ids=["options-beam-refuses", "options-without-beam", "labels", "classes", "format",
        "stride", "stream"])
def test_bad_input_is_one_line_before_any_pipeline(tmp_path, tflite_export, inputs,
                                                   beam_python, monkeypatch, capsys, extra,
                                                   code, message):
    monkeypatch.setenv("ODWRAP_LOG_DIR", str(tmp_path / "logs"))
    model, _ = tflite_export("none")
    _, arguments = inputs
    assert predict(model, *arguments, "-o", tmp_path / "out", *extra) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
    assert not list((tmp_path / "logs").glob("predict-beam-*.log"))  # no pipeline failed


def test_bad_models_and_images_are_refused_before_the_beam_venv_starts(tmp_path, tflite_export,
                                                                       inputs, capsys):
    """Refused by the driver, which needs no Beam for them: an ONNX model, a model that is no
    model, an image argument that names nothing, a URL without --runner beam, a folder that
    holds an interrupted local run."""
    model, _ = tflite_export("none")
    folder, arguments = inputs
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer")
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    (interrupted / "images.jsonl.part").write_text("")
    cases = [
        ([tmp_path / "model.onnx", *arguments, "--runner", "beam"],
         "--runner beam runs .tflite and SavedModel exports"),
        ([tmp_path / "broken.tflite", *arguments, "--runner", "beam"],
         "broken.tflite: not a TFLite model"),
        ([model, folder / "missing.jpg", "--runner", "beam"], "missing.jpg: no such file"),
        ([model, "gs://bucket/images"], "gs://bucket/images: URLs are read by predict "
                                        "--runner beam only"),
        ([model, *arguments, "--runner", "beam", "-o", interrupted],
         "holds an interrupted run of predict; resume it without --runner beam"),
    ]
    for argv, message in cases:
        output = [] if "-o" in argv else ["-o", tmp_path / "out"]
        assert predict(*argv, *output) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not (tmp_path / "out").exists()
    assert sorted(path.name for path in interrupted.iterdir()) == ["images.jsonl.part"]
