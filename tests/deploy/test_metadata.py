"""The metadata odwrap writes: the normalization of each SSD family is what the installed OD
API's `preprocess` computes; a compiled copy of a model gets the metadata back; the exported
model alone tells `predict` its labels and preprocessing; the bundle's README.txt snippet runs.
What other programs read from the metadata is tested in test_consumers.py."""

import subprocess
import sys

import numpy as np
import pytest

from odwrap.deploy import modelinfo, preprocessing
from tests.conftest import run_odwrap

pytestmark = [pytest.mark.tf]


@pytest.mark.parametrize("module, name, kind", [
    ("ssd_mobilenet_v1_keras_feature_extractor", "SSDMobileNetV1KerasFeatureExtractor",
     "mobilenet"),
    ("ssd_mobilenet_v2_fpn_keras_feature_extractor", "SSDMobileNetV2FpnKerasFeatureExtractor",
     "mobilenet"),
    ("ssd_resnet_v1_fpn_keras_feature_extractor", "SSDResNet50V1FpnKerasFeatureExtractor",
     "resnet"),
    ("ssd_efficientnet_bifpn_feature_extractor", "SSDEfficientNetB0BiFPNKerasFeatureExtractor",
     "efficientnet"),
])
def test_normalization_is_the_od_api_preprocess(module, name, kind):
    from odwrap.odapi import compat

    extractor = getattr(compat.load(f"object_detection.models.{module}"), name)
    tf = compat.import_tensorflow()
    pixels = np.random.default_rng(0).integers(0, 256, (1, 4, 5, 3)).astype(np.float32)
    theirs = extractor.preprocess(None, tf.constant(pixels)).numpy()  # uses no state
    mean, std = preprocessing.KINDS[kind].per_channel()
    np.testing.assert_allclose((pixels - np.float32(mean)) / np.float32(std), theirs,
                               rtol=1e-5, atol=1e-4)


def test_feature_extractor_types_name_their_family():
    assert preprocessing.kind_of("ssd_mobilenet_v2_fpn_keras") == "mobilenet"
    assert preprocessing.kind_of("ssd_resnet101_v1_fpn_keras") == "resnet"
    assert preprocessing.kind_of("ssd_efficientnet-b3_bifpn_keras") == "efficientnet"
    with pytest.raises(preprocessing.InputError, match="no known input normalization"):
        preprocessing.kind_of("ssd_inception_v2")


def strip_metadata(data: bytes) -> bytes:
    """The model re-serialized without its metadata entry and packed files, as edgetpu_compiler
    writes its output."""
    import flatbuffers

    schema = modelinfo.schema()
    tree = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    tree.metadata = [entry for entry in tree.metadata if entry.name != b"TFLITE_METADATA"]
    builder = flatbuffers.Builder(len(data))
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.slow
def test_a_compiled_copy_gets_the_metadata_back(tflite_export, tmp_path):
    from odwrap.deploy.export.metadata import copy_metadata

    model, _ = tflite_export("int8")
    compiled = tmp_path / "model_int8_edgetpu.tflite"
    compiled.write_bytes(strip_metadata(model.read_bytes()))
    assert modelinfo.read_info(compiled.read_bytes()) is None
    copy_metadata(model, compiled)
    again, original = (modelinfo.read_info(path.read_bytes()) for path in (compiled, model))
    assert again == original and again.labels == ["square", "circle"]
    assert modelinfo.associated_files(compiled.read_bytes()) == {"labels.txt": b"square\ncircle\n"}


@pytest.mark.slow
def test_the_model_alone_describes_itself(tflite_export, tmp_path):
    """No sidecar, no labels.txt: predict reads the labels and the normalization from the
    model, and finds what it finds beside them."""
    from PIL import Image

    model, _ = tflite_export("none")
    alone = tmp_path / "alone" / model.name
    alone.parent.mkdir()
    alone.write_bytes(model.read_bytes())
    info = modelinfo.read_info(alone.read_bytes())
    assert info.normalization == preprocessing.Normalization((127.5,) * 3, (127.5,) * 3)
    assert info.output_names == ["score", "location", "number of detections", "category"]
    image = tmp_path / "shape.png"
    pixels = np.full((64, 64, 3), 40, np.uint8)
    pixels[10:40, 20:50] = (220, 30, 30)
    Image.fromarray(pixels).save(image)
    found = {}
    for name, path in (("alone", alone), ("beside", model)):
        result = run_odwrap("predict", path, image, "-o", tmp_path / name, "--threshold", 0)
        assert result.returncode == 0, result.stderr[-3000:]
        found[name] = (tmp_path / name / "detections.json").read_text()
    assert found["alone"] == found["beside"]


@pytest.mark.slow
def test_the_readme_snippet_runs_on_a_raspberry_pi_runtime(tflite_export, tmp_path):
    """The LiteRT lines of README.txt, run as they are (ai-edge-litert, as on a Pi), print one
    line per detection with its label."""
    from PIL import Image

    model, _ = tflite_export("int8")
    text = (model.parent / "README.txt").read_text()
    assert "model_int8.tflite: input 1x64x64x3 uint8" in text
    assert "0: score" in text and "3: category" in text and "labels.txt" in text
    start = text.index("Raspberry Pi")
    snippet = [line[4:] for line in text[start:].splitlines()[1:]]
    snippet = "\n".join(snippet[:snippet.index("")])
    (tmp_path / "labels.txt").write_text("square\ncircle\n")
    (tmp_path / model.name).write_bytes(model.read_bytes())
    Image.fromarray(np.full((48, 80, 3), 90, np.uint8)).save(tmp_path / "photo.jpg")
    run = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = run.stdout.strip().splitlines()
    assert len(printed) == 10 and all(line.split()[0] in ("square", "circle")
                                      for line in printed)


@pytest.mark.slow
def test_a_damaged_model_is_one_line(tflite_export, tmp_path):
    model, _ = tflite_export("int8")
    data = model.read_bytes()
    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(data[:len(data) // 2])  # the identifier stays, offsets lead outside
    image = tmp_path / "image.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    result = run_odwrap("predict", damaged, image, "-o", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.startswith(f"odwrap: error: {damaged}: ") and \
        result.stderr.count("\n") == 1, result.stderr
