"""The TFLite exports of the shared tiny model, every quantize mode from one export, and one Edge
TPU export, made once per test run (whichever xdist worker asks first) and shared by the export,
metadata and consumer tests."""

import pytest

from tests.conftest import Ran, built_once, run_odwrap

SUFFIX = {"none": "fp32", "fp16": "fp16", "dynamic": "dynamic", "int8": "int8"}


@pytest.fixture(scope="session")
def tflite_export(tiny_model, tmp_path_factory):
    """tflite_export(quantize, max_detections=10) -> (model path, export stdout): every quantize
    mode comes from one `export --quantize all` per max_detections (with --compare for 10),
    made once."""

    def export(quantize, max_detections=10):
        def build(out):
            result = run_odwrap("export", tiny_model.model_dir, "--format", "tflite",
                                "--quantize", "all", "--representative", 4,
                                "--max-detections", max_detections, "-o", out,
                                *(["--compare"] if max_detections == 10 else []))
            assert result.returncode == 0, result.stderr[-3000:]
            return result.stdout

        out, stdout = built_once(tmp_path_factory, f"tflite_all_max{max_detections}", build)
        return out / f"model_{SUFFIX[quantize]}.tflite", stdout
    return export


@pytest.fixture(scope="session")
def int8_export(tmp_path_factory, tiny_model):
    """One Edge TPU export with --compare: the int8 model, its report, fp32 beside it."""

    def build(out):
        result = run_odwrap("export", tiny_model.model_dir, "--format", "edgetpu",
                            "--representative", 4, "--compare", "-o", out)
        assert result.returncode == 0, result.stderr[-3000:]
        return [result.returncode, result.stdout, result.stderr]

    out, made = built_once(tmp_path_factory, "edgetpu", build)
    return out, Ran(*made)


# What the shared benchmark of the tiny model exports and times: one model of each format the
# ONNX and OpenVINO tests need, with the SavedModel they are compared with, made once.
BENCHMARK_FORMATS = "saved_model,tflite:fp32,tflite:int8,onnx,openvino:fp32,openvino:int8"


@pytest.fixture(scope="session")
def benchmarked(tiny_model, tmp_path_factory):
    """(folder, Ran) of `odwrap benchmark` of the tiny model (BENCHMARK_FORMATS) into one
    folder: the exports (saved_model/, model_*.tflite, model_*.onnx, model_*.xml) and the
    table, made once per test run."""

    def build(out):
        result = run_odwrap("benchmark", tiny_model.model_dir, "-o", out, "--formats",
                            BENCHMARK_FORMATS, "--representative", 4)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return [result.returncode, result.stdout, result.stderr]

    out, made = built_once(tmp_path_factory, "benchmark", build)
    return out, Ran(*made)
