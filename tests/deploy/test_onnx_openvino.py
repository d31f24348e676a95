"""ONNX and OpenVINO exports of the shared tiny model, checked in their own runtimes (ONNX
Runtime, OpenVINO's) against the SavedModel's detections on the same images; `predict` and
`eval --model` of them; `odwrap benchmark`'s table; the refusals (an architecture tf2onnx
cannot convert, a quantization a format does not give) in one line, exit 2.

The exports come from one shared `odwrap benchmark` run (tests/deploy/conftest.py), which
exports each format as `odwrap export` does and times each model."""

import json
from pathlib import Path

import pytest

from odwrap import cli
from tests.conftest import run_odwrap

pytestmark = [pytest.mark.tf, pytest.mark.slow]

SIZE = 320  # the scale for box agreement: within 1 px of a 320x320 image


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three demo images at 320x320 (the tiny model resizes them to 64 inside its graph)."""
    import odwrap

    folder = odwrap.demo_data(tmp_path_factory.mktemp("demo"), images=3, size=SIZE)
    return sorted(str(path) for path in Path(folder).rglob("*.jpg"))


def predicted(model, images, out) -> dict:
    """{image: [detections]} of `odwrap predict MODEL` at threshold 0."""
    result = run_odwrap("predict", model, *images, "-o", out, "--threshold", 0, "--jsonl",
                        "--no-annotate")
    assert result.returncode == 0, result.stderr[-3000:]
    found = {}
    for line in (Path(out) / "detections.jsonl").read_text().splitlines():
        detection = json.loads(line)
        found.setdefault(detection["filename"], []).append(detection)
    return found, result.stdout


def same(one, other, score_tolerance) -> bool:
    return (one["category_id"] == other["category_id"]
            and max(abs(a - b) for a, b in zip(one["bbox"], other["bbox"])) <= 1.0
            and abs(one["score"] - other["score"]) <= score_tolerance)


@pytest.mark.parametrize("name, runtime", [("model_fp32.onnx", "onnxruntime"),
                                           ("model_fp32.xml", "openvino")])
def test_the_fp32_exports_give_the_saved_models_detections(benchmarked, images, tmp_path,
                                                           name, runtime):
    """Loaded in its own runtime through `odwrap predict`: every detection of the SavedModel
    (all of them, threshold 0) with the same class, its box within 1 px at 320x320 and its
    score within 2e-4 (predict rounds to 4 digits), and no other."""
    out, _ = benchmarked
    reference, _ = predicted(out / "saved_model", images, tmp_path / "saved_model")
    found, stdout = predicted(out / name, images, tmp_path / name)
    assert f"{runtime} " in stdout
    for image in images:
        theirs, ours = found[image], reference[image]
        assert len(theirs) == len(ours) > 0
        for detection in ours:
            assert any(same(detection, other, 2e-4) for other in theirs), (image, detection)
        for detection in theirs:
            assert any(same(detection, other, 2e-4) for other in ours), (image, detection)


def test_the_exports_carry_their_labels_and_order(benchmarked):
    import onnxruntime
    import openvino

    from odwrap.deploy.graph_runtimes import OUTPUTS

    out, _ = benchmarked
    for name in ("model_fp32.onnx", "model_int8.onnx"):
        session = onnxruntime.InferenceSession(str(out / name))
        assert [o.name for o in session.get_outputs()] == list(OUTPUTS)
        (image,) = session.get_inputs()
        assert image.type == "tensor(uint8)" and image.shape[0] == 1 and image.shape[3] == 3
        meta = session.get_modelmeta().custom_metadata_map
        assert meta["odwrap.labels"] == "square\ncircle"
    quantized = onnxruntime.InferenceSession(str(out / "model_int8.onnx"))
    assert quantized.get_modelmeta().custom_metadata_map["odwrap.quantize"] == "int8"
    model = openvino.Core().read_model(str(out / "model_int8.xml"))
    assert [sorted(o.names)[0] for o in model.outputs] == list(OUTPUTS)
    assert model.get_rt_info(["odwrap", "labels"]).astype(str) == "square\ncircle"
    ops = {op.get_type_name() for op in model.get_ops()}
    assert "FakeQuantize" in ops  # NNCF's int8 quantization, run as int8 by the CPU plugin
    assert (out / "model_int8.bin").stat().st_size < (out / "model_fp32.bin").stat().st_size


def test_the_benchmark_table(benchmarked):
    out, ran = benchmarked
    record = json.loads((out / "benchmark.json").read_text())
    rows = {(row["format"], row["quantize"]): row for row in record["rows"]}
    assert list(rows) == [("saved_model", "fp32"), ("tflite", "fp32"), ("tflite", "int8"),
                          ("onnx", "fp32"), ("onnx", "int8"), ("openvino", "fp32"),
                          ("openvino", "int8")]
    assert all(row["status"] == "ok" and row["images"] == 4 for row in rows.values())
    assert record["machine"] and record["threads"] == 2
    runtimes = {key[0]: row["runtime"].split()[0] for key, row in rows.items()}
    assert runtimes == {"saved_model": "tensorflow", "tflite": "ai-edge-litert",
                        "onnx": "onnxruntime", "openvino": "openvino"}
    for row in rows.values():
        assert row["size_mb"] > 0 and 0 < row["median_ms"] <= row["p90_ms"]
        assert Path(row["model"]).exists()
    # The ONNX and OpenVINO fp32 models compute the SavedModel's graph: the same mAP.
    saved = rows["saved_model", "fp32"]["map"]
    assert rows["onnx", "fp32"]["map"] == pytest.approx(saved, abs=1e-3)
    assert rows["openvino", "fp32"]["map"] == pytest.approx(saved, abs=1e-3)
    table = (out / "benchmark.md").read_text()
    assert table.startswith(f"Machine: {record['machine']}; 2 inference thread(s); 4 eval")
    assert "| onnx int8 | ok |" in table and "| openvino fp32 | ok |" in table
    assert "| format | status | size (MB) | mAP | mAP@.50 | median ms | p90 ms | runtime |" \
        in ran.stdout


def test_eval_of_the_int8_exports_against_their_fp32(benchmarked, tmp_path):
    out, _ = benchmarked
    for suffix in ("onnx", "xml"):
        fp32 = run_odwrap("eval", "--model", out / f"model_fp32.{suffix}")
        assert fp32.returncode == 0, fp32.stderr[-3000:]
        int8 = run_odwrap("eval", "--model", out / f"model_int8.{suffix}")
        assert int8.returncode == 0, int8.stderr[-3000:]
        written = json.loads((out / f"model_int8.{suffix}.metrics.json").read_text())
        assert written["images"] == 4 and written["p90_ms"] >= written["median_ms"] > 0
        assert written["runtime"].startswith("onnxruntime" if suffix == "onnx" else "openvino")
        assert set(written["per_class_against_fp32"]) <= {"square", "circle"}
        assert "int8 per class, most hurt first:" in int8.stdout


def test_a_failing_format_is_a_row_with_its_reason(tiny_model, tmp_path):
    """Every export refused (the tiny model kept no moving averages): each row says why, the
    table is still written, and the exit code is 1."""
    out = tmp_path / "bench"
    result = run_odwrap("benchmark", tiny_model.model_dir, "-o", out, "--formats",
                        "saved_model,onnx:int8", "--weights", "averages")
    assert result.returncode == 1, result.stderr[-3000:]
    rows = json.loads((out / "benchmark.json").read_text())["rows"]
    assert [(row["format"], row["quantize"]) for row in rows] == [("saved_model", "fp32"),
                                                                   ("onnx", "int8")]
    assert all(row["status"].startswith("failed: export: ") and
               "training kept no moving averages" in row["status"] for row in rows)
    assert "| onnx int8 | failed: export: " in result.stdout


@pytest.mark.parametrize("argv, message", [
    pytest.param(["export", "--format", "onnx", "--quantize", "fp16"],
                 "--format onnx --quantize fp16: onnx gives none, int8", id="onnx-fp16"),
    pytest.param(["export", "--format", "openvino", "--quantize", "dynamic"],
                 "--format openvino --quantize dynamic: openvino gives none, fp16, int8",
                 id="openvino-dynamic"),
    pytest.param(["export", "--format", "onnx", "--max-detections", "5"],
                 "--format onnx does not take --max-detections", id="onnx-max-detections"),
    pytest.param(["benchmark", "--formats", "onnx:fp16"], "--formats onnx:fp16: onnx gives "
                 "fp32, int8", id="benchmark-mode"),
    pytest.param(["benchmark", "--formats", "edgetpu"], "--formats edgetpu: one of "
                 "saved_model, tflite, onnx, openvino", id="benchmark-edgetpu"),
])
def test_options_are_refused_in_one_line(tiny_model, tmp_path, capsys, argv, message):
    command, *rest = argv
    code = cli.main([command, str(tiny_model.model_dir), *rest, "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()
