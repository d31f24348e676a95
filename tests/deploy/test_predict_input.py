"""`predict`'s bad input refused in one line, exit 2, before the model loads (issue 30): FIFOs
and devices never opened (a FIFO without a writer would block forever), --labels read with a
limit and named, --output a file. No model is loaded: the refusals come first; a killed run's
record and image log are read back (predict._resume) without one."""

import json
import os

import pytest
from PIL import Image

from odwrap import cli
from odwrap.errors import InputError


def predict(capsys, *argv):
    code = cli.main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "image.png"
    Image.new("RGB", (8, 8)).save(path)
    return path


def test_a_fifo_given_as_an_image_is_refused_without_opening_it(tmp_path, capsys):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    code, _, err = predict(capsys, tmp_path / "model.tflite", fifo, "-o", tmp_path / "out")
    assert code == 2 and f"{fifo}: not a regular file (a FIFO, a socket or a device)" in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make, message", [
    (lambda path: os.mkfifo(path), "cannot read the labels file: not a regular file"),
    (lambda path: path.write_bytes(b"square\n\xffcircle\n"),
     "cannot read the labels file: not UTF-8 text (byte 7)"),
    (lambda path: None, "no such labels file"),
    (lambda path: path.mkdir(), "cannot read the labels file: a folder"),
    (lambda path: path.write_text("square\ncircle\nsquare\n"), "name 'square' has ids 1 and 3"),
    (lambda path: path.write_text("square\n\ncircle\n"), "item with id 2 has no name"),
    (lambda path: path.write_text(""), "has no item"),
])
def test_a_bad_labels_file_is_refused_naming_it(tmp_path, capsys, image, make, message):
    labels = tmp_path / "labels.txt"
    make(labels)
    code, _, err = predict(capsys, tmp_path / "model.tflite", image, "--labels", labels,
                           "-o", tmp_path / "out")
    assert code == 2 and f"{labels}: {message}" in err and err.count("\n") == 1, err


def test_labels_of_unused_ids_may_repeat_as_export_writes_them(tmp_path):
    from odwrap.deploy.model_files import read_labels

    labels = tmp_path / "labels.txt"
    labels.write_text("square\n???\ncircle\n???\n")
    assert read_labels(labels) == {1: "square", 2: "???", 3: "circle", 4: "???"}


def test_labels_from_a_device_are_refused_not_read_until_memory_runs_out(tmp_path, capsys,
                                                                         image):
    code, _, err = predict(capsys, tmp_path / "model.tflite", image, "--labels", "/dev/zero",
                           "-o", tmp_path / "out")
    assert code == 2 and "/dev/zero: cannot read the labels file: not a regular file" in err


def test_an_output_that_is_a_file_is_refused(tmp_path, capsys, image):
    taken = tmp_path / "taken"
    taken.write_text("kept")
    code, _, err = predict(capsys, tmp_path / "model.tflite", image, "-o", taken)
    assert code == 2 and f"{taken}: is a file; --output names a folder" in err, err
    assert taken.read_text() == "kept"


NESTED = "[" * 200_000 + "]" * 200_000  # 400 kB: past json's recursion limit
RUN = {"model": "/models/m.tflite", "threshold": 0.5, "runtime": "ai-edge-litert"}
FIRST = '{"image_id": 1, "filename": "a.jpg", "detections": 1}\n'


def _interrupted(folder, record: str, log: str):
    """FOLDER as a killed run left it: its run record, image log and one detection line."""
    folder.mkdir(exist_ok=True)
    (folder / "predict.run.json").write_text(record)
    (folder / "images.jsonl.part").write_text(log)
    (folder / "detections.jsonl.part").write_text('{"id": 1}\n')
    return folder


def test_a_run_record_of_nested_brackets_is_bad_input_naming_it(tmp_path):
    """Issue 30: a predict.run.json of nested brackets raised RecursionError, which `except
    ValueError` missed: 'failed inside TensorFlow', exit 1. _resume, what predict calls once the
    model is loaded, is called here without one."""
    from odwrap.deploy import predict as stage

    out = _interrupted(tmp_path / "out", NESTED, FIRST)
    with pytest.raises(InputError) as refused:
        stage._resume(out, RUN, restart=False)
    assert str(refused.value).startswith(f"{out}: holds an interrupted run with another model, "
                                         "threshold, runtime")
    assert f"({out / 'predict.run.json'}); pass --restart" in str(refused.value)


@pytest.mark.parametrize("line", [NESTED, '{"detections": -1}', '{"detections": 1.5}',
                                  '{"detections": true}', "[1]"], ids=[
    "nested", "negative", "fraction", "bool", "list"])
def test_an_image_log_line_not_of_the_log_ends_it(tmp_path, line):
    """The same brackets as a line of images.jsonl.part: the log ends before them, as it ends
    before any line that is not one of its own (a killed run's half-written tail). A count
    that is no count of detections ends it too (the fuzz test found -1: the run resumed with
    -1 detections, its ids from 0)."""
    from odwrap.deploy import predict as stage

    out = _interrupted(tmp_path / "out", json.dumps(RUN), FIRST + line + "\n" + FIRST)
    assert stage._resume(out, RUN, restart=False) == (1, 1)
    assert (out / "images.jsonl.part").read_text() == FIRST


def _saved(array, fmt):
    import io

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    buffer.seek(0)
    return buffer


def test_a_16_bit_png_keeps_its_picture_not_all_white():
    """Issue 30, case 9: Pillow's convert('RGB') clipped a 16-bit PNG to white."""
    import numpy as np

    from odwrap.deploy.runtime import load_rgb

    wide = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    image = load_rgb(_saved(wide, "PNG"))
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert np.abs(image[..., 0].astype(int) - np.rint(wide / 257)).max() <= 1
    assert (image[..., 0] == image[..., 2]).all()


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-3.0, 40.0)])
def test_a_float_tiff_is_scaled_by_its_range_not_all_black(low, high):
    import numpy as np

    from odwrap.deploy.runtime import load_rgb

    values = np.linspace(low, high, 64 * 64, dtype=np.float32).reshape(64, 64)
    image = load_rgb(_saved(values, "TIFF"))
    assert image[0, 0, 0] == 0 and image[-1, -1, 0] == 255
    assert abs(int(image[32, 0, 0]) - 128) <= 2  # the middle of the range


def test_a_float_tiff_with_nan_is_refused_naming_it():
    import numpy as np

    from odwrap.deploy.runtime import load_rgb
    from odwrap.errors import InputError

    values = np.zeros((8, 8), np.float32)
    values[3, 3] = np.nan
    with pytest.raises(InputError, match="x.tif: cannot read the image .NaN or infinite"):
        load_rgb(_saved(values, "TIFF"), name="x.tif")
