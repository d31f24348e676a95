"""The FPN's upsampling at export: with the native resize, every SSD FPN architecture's int8
model has no op the Edge TPU report rejects before the post-processing; the native and the
reshape builds give the same detections."""

import json

import numpy as np
import pytest

from tests.conftest import run_odwrap

pytestmark = [pytest.mark.tf, pytest.mark.slow]

# Every SSD FPN feature extractor family odwrap renders (config/architectures.py): ResNet 101
# and 152 build the same FPN on the same ResNet V1 blocks as ResNet 50 (the OD API's
# ssd_resnet_v1_fpn_keras_feature_extractor.py differs only in the depth it asks Keras for), and
# cost 2 minutes each here.
FPN_ARCHITECTURES = ["ssd_mobilenet_v1_fpn", "ssd_mobilenet_v2_fpnlite", "retinanet_resnet50"]


@pytest.fixture(scope="module", params=FPN_ARCHITECTURES)
def edgetpu_export(request, tmp_path_factory, int8_export):
    """The architecture's tiny model (64x64, 160x160 for ResNet; depth 0.25, 2 steps; the
    session's shared one and its Edge TPU export for MobileNet V2 FPNLite) exported for the Edge
    TPU with the default upsampling."""
    from tests.tfdata import write_tiny_spec

    if request.param == "ssd_mobilenet_v2_fpnlite":
        return int8_export
    folder = tmp_path_factory.mktemp(request.param)
    # The ResNet FPN extractor refuses images under 129 pixels.
    size = 160 if request.param.startswith("retinanet") else 64
    spec = write_tiny_spec(folder, count=4, size=size, steps=2, architecture=request.param)
    model_dir = folder / "model"
    trained = run_odwrap("train", spec, "--model-dir", model_dir)
    assert trained.returncode == 0, trained.stderr[-3000:]
    result = run_odwrap("export", model_dir, "--format", "edgetpu", "--representative", 4,
                        "-o", folder / "export")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "export", result


def test_the_int8_model_has_no_op_the_report_rejects_before_the_post_processing(edgetpu_export):
    from odwrap.deploy.export.edgetpu import read_graph
    from odwrap.deploy.export.edgetpu_rules import partition, unexpected_cpu_ops

    out, result = edgetpu_export
    ops, tensors = read_graph(out / "model_int8.tflite")
    verdicts = partition(ops, tensors)
    assert [(v.index, v.name, v.reason) for v in unexpected_cpu_ops(ops, verdicts)] == []
    names = [op.name for op in ops]
    assert "RESIZE_NEAREST_NEIGHBOR" in names and "PACK" not in names
    assert "every op before the post-processing maps" in (out / "edgetpu_report.txt").read_text()
    assert "its detections equal the default build's on 4 eval image(s)" in result.stdout
    assert json.loads((out / "model_int8.json").read_text())["upsampling"] == "native"


def test_native_and_reshape_builds_give_equal_detections(tiny_model, tflite_export, tmp_path):
    from odwrap.deploy.export.edgetpu import read_graph
    from odwrap.deploy.runtime import TFLiteDetector

    native, stdout = tflite_export("none")  # the default upsampling
    assert json.loads(native.with_suffix(".json").read_text())["upsampling"] == "native"
    result = run_odwrap("export", tiny_model.model_dir, "--format", "tflite",
                        "--upsampling", "reshape", "-o", tmp_path / "reshape")
    assert result.returncode == 0, result.stderr[-3000:]
    models = {"native": native, "reshape": tmp_path / "reshape" / "model_fp32.tflite"}
    names = {key: {op.name for op in read_graph(path)[0]} for key, path in models.items()}
    assert "RESIZE_NEAREST_NEIGHBOR" in names["native"] - names["reshape"]
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(3)]
    images[0][10:40, 20:50] = (220, 30, 30)
    native, reshape = (TFLiteDetector(models[key]) for key in ("native", "reshape"))
    for image in images:
        mine, theirs = native.detect(image), reshape.detect(image)
        np.testing.assert_array_equal(mine.classes, theirs.classes)
        np.testing.assert_allclose(mine.scores, theirs.scores, atol=1e-5)
        np.testing.assert_allclose(mine.boxes, theirs.boxes, atol=1e-5)
