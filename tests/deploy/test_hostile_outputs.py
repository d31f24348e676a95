"""Hostile paths and images around export, predict and labelmap (issue 12): one line, exit 2,
nothing left behind; no TensorFlow needed (the refusals come before it)."""

import struct
import zlib

import pytest

import odwrap
from odwrap import cli
from odwrap.deploy.runtime import load_rgb
from odwrap.errors import InputError
from tests.conftest import run_odwrap

SPEC = """\
model:
  architecture: ssd_mobilenet_v2_fpnlite
  image_size: 320
data:
  classes: [cat, dog]
"""


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR says WIDTHxHEIGHT, with one empty IDAT: Pillow's decompression-bomb
    check runs on the header, before any pixel is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def test_a_20000_square_png_is_one_error_naming_the_image(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(png_header(20000, 20000))
    with pytest.raises(InputError, match=r"huge.png: cannot read the image \(Image size "
                                         r"\(400000000 pixels\) exceeds limit"):
        load_rgb(path)


@pytest.fixture
def model_dir(tmp_path):
    """A model folder that passes every check before the export runs: a generated
    pipeline.config and a checkpoint index (export never gets to read it here)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    folder = tmp_path / "model"
    odwrap.generate(spec, folder)
    (folder / "ckpt-1.index").write_bytes(b"")
    return folder


def test_export_to_an_existing_file_is_refused(model_dir, tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    with pytest.raises(InputError, match=f"{target}: exists and is not a folder"):
        odwrap.export(model_dir, "tflite", target, weights="trained")
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("options, message", [
    pytest.param({"input_type": "int8"}, "--input-type applies to --quantize int8",
                 id="input-type-without-int8"),
    pytest.param({"quantize": "int8", "input_type": "float"}, "--input-type float: uint8 or int8",
                 id="bad-input-type"),
])
def test_export_argument_errors_leave_no_export_folder(model_dir, options, message):
    with pytest.raises(InputError, match=message):
        odwrap.export(model_dir, "tflite", weights="trained", **options)
    assert not (model_dir / "export").exists()


def test_export_argument_errors_keep_an_existing_output_folder(model_dir, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    with pytest.raises(InputError):
        odwrap.export(model_dir, "tflite", out, weights="trained", input_type="int8")
    assert out.is_dir()


@pytest.mark.parametrize("output, message", [
    pytest.param(lambda tmp: tmp, "is a folder; give the label map's file name", id="folder"),
    pytest.param(lambda tmp: tmp / "file" / "map.pbtxt", "cannot write the label map: "
                 "{tmp}/file is not a folder", id="under-a-file"),
    pytest.param(lambda tmp: "/proc/map.pbtxt", "/proc/map.pbtxt: cannot write the label map",
                 id="read-only"),
])
def test_labelmap_to_a_path_that_cannot_be_a_file(tmp_path, capsys, output, message):
    (tmp_path / "file").write_text("keep me")
    before = sorted(tmp_path.iterdir())
    code = cli.main(["labelmap", "--classes", "a,b", "-o", str(output(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2
    assert message.format(tmp=tmp_path) in err and err.count("\n") == 1
    assert sorted(tmp_path.iterdir()) == before and (tmp_path / "file").read_text() == "keep me"


def test_labelmap_to_a_folder_end_to_end(tmp_path):
    result = run_odwrap("labelmap", "--classes", "a,b", "-o", tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"odwrap: error: {tmp_path}: is a folder; give the label map's "
                             "file name\n")


@pytest.mark.tf
def test_an_export_removes_what_a_killed_export_left_in_its_folder(model_dir):
    # A kill -9 mid-export leaves its staging folder; the next export into the folder, which
    # holds the folder's lock, removes it (here before refusing the unreadable checkpoint).
    stale = model_dir / "export" / ".odwrap-export-k1ll3d"
    (stale / "saved_model").mkdir(parents=True)
    (stale / "saved_model" / "saved_model.pb").write_bytes(b"half")
    with pytest.raises(InputError, match="the checkpoint cannot be read"):
        odwrap.export(model_dir, "saved_model", weights="trained")
    assert list((model_dir / "export").iterdir()) == []
