"""odwrap export and predict from a tiny trained model: every format exports, loads and
detects; int8 is integer end to end; the Edge TPU report; options a format does not take."""

import json
import os
import shutil

import numpy as np
import pytest

from odwrap import cli
from tests.conftest import run_odwrap, running_stack

pytestmark = [pytest.mark.tf, pytest.mark.slow]


@pytest.fixture(scope="module")
def model_dir(tiny_model):
    return tiny_model.model_dir


@pytest.fixture(scope="module")
def image(tmp_path_factory, model_dir):
    from PIL import Image

    path = tmp_path_factory.mktemp("images") / "shape.png"
    pixels = np.full((80, 96, 3), 40, np.uint8)
    pixels[20:50, 30:60] = (220, 30, 30)
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("quantize", ["none", "fp16", "dynamic", "int8"])
def test_tflite_exports_load_and_detect(tflite_export, image, tmp_path, quantize):
    model, stdout = tflite_export(quantize)
    out = model.parent
    assert f"{model.name}: 10 detection(s)" in stdout and str(model) in stdout
    assert (out / "labels.txt").read_text().splitlines() == ["square", "circle"]
    predicted = run_odwrap("predict", model, image, "-o", tmp_path / "pred", "--threshold", 0)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    detections = json.loads((tmp_path / "pred" / "detections.json").read_text())
    assert len(detections) == 10
    assert set(detections[0]) == {"image_id", "filename", "category_id", "bbox", "score", "id"}
    assert all(d["category_id"] in (1, 2) for d in detections)
    assert (tmp_path / "pred" / "shape.annotated.png").read_bytes()[:4] == b"\x89PNG"


def test_several_quantize_modes_come_from_one_export_and_compare_with_fp32(tflite_export):
    model, stdout = tflite_export("int8")
    out = model.parent
    assert sorted(path.name for path in out.glob("*.tflite")) == [
        "model_dynamic.tflite", "model_fp16.tflite", "model_fp32.tflite", "model_int8.tflite"]
    assert stdout.count("- fp32: mAP") == 3 and f"exported tflite to {out} " in stdout
    compared = json.loads((out / "compare.json").read_text())
    fp32 = compared["fp32"]["metrics"]
    for label in ("fp16", "dynamic", "int8"):
        other = compared[label]["metrics"]
        key = "DetectionBoxes_Precision/mAP"
        assert compared[label]["difference"][key] == pytest.approx(other[key] - fp32[key])
    for name in ("fp16", "dynamic", "int8"):
        assert json.loads((out / f"model_{name}.json").read_text())["quantize"] == \
            {"fp16": "fp16", "dynamic": "dynamic", "int8": "int8"}[name]


@pytest.mark.smoke
def test_int8_is_integer_end_to_end_and_the_edgetpu_report(int8_export):
    from odwrap.deploy.export.edgetpu import BOUNDARY_OPS, op_report
    from odwrap.deploy.runtime import TFLiteDetector

    out, result = int8_export
    model = out / "model_int8.tflite"
    assert TFLiteDetector(model).input["dtype"] == np.uint8
    verdicts = op_report(model)
    assert all(v.integer for v in verdicts if v.name not in BOUNDARY_OPS)
    post = [v for v in verdicts if v.name == "TFLite_Detection_PostProcess"]
    assert len(post) == 1 and not post[0].mapped and "always on the CPU" in post[0].reason
    report = (out / "edgetpu_report.txt").read_text()
    assert "TFLite_Detection_PostProcess" in report and "first unmapped op" in report
    assert "edgetpu_compiler is not on PATH" in result.stdout


def test_the_readme_gives_the_threshold_the_export_carries(tflite_export, tmp_path):
    from odwrap.deploy.export.bundle import write_readme

    model, _ = tflite_export("none")
    (tmp_path / model.name).write_bytes(model.read_bytes())
    assert "Score threshold" not in write_readme(tmp_path).read_text()
    (tmp_path / "threshold.json").write_text(json.dumps({"threshold": 0.42, "step": 7}))
    assert write_readme(tmp_path).read_text().endswith(
        "Score threshold: keep detections scoring 0.42 or more: the best F1 of the evaluation "
        "of step 7 (threshold.json; odwrap predict uses it by default).\n")


def test_compare_reports_fp32_and_int8_on_the_same_images(int8_export):
    out, result = int8_export
    compared = json.loads((out / "compare.json").read_text())
    assert compared["images"] == 4  # eval num_examples of the tiny spec
    fp32, int8 = compared["fp32"]["metrics"], compared["int8"]["metrics"]
    key = "DetectionBoxes_Precision/mAP"
    assert compared["difference"][key] == pytest.approx(int8[key] - fp32[key])
    assert compared["fp32"]["model"] == str(out / "model_fp32.tflite")
    assert "int8 - fp32: mAP" in result.stdout and "model_fp32.tflite" in result.stdout
    # Per class (issue 26): each class's AP under both, as each model's own evaluation gave it.
    per_class = compared["int8"]["per_class"]
    assert set(per_class) <= {"square", "circle"} and per_class
    for name, values in per_class.items():
        assert values["difference"] == pytest.approx(values["quantized"] - values["fp32"])
        assert f"    {name}: AP {values['fp32']:.4f} -> {values['quantized']:.4f}" in \
            result.stdout
    assert "  int8 per class, most hurt first:" in result.stdout
    assert "Skipping full serialization" not in result.stdout + result.stderr  # quiet


def test_eval_of_an_exported_model_matches_what_compare_reported(int8_export):
    out, _ = int8_export
    result = run_odwrap("eval", "--model", out / "model_fp32.tflite")
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((out / "model_fp32.metrics.json").read_text())
    compared = json.loads((out / "compare.json").read_text())
    assert written["images"] == 4 and written["metrics"] == compared["fp32"]["metrics"]
    assert "DetectionBoxes_Precision/mAP " in result.stdout
    # The int8 model's classes against the fp32 evaluation beside it, as compare gave them.
    int8 = run_odwrap("eval", "--model", out / "model_int8.tflite")
    assert int8.returncode == 0, int8.stderr[-3000:]
    against = json.loads((out / "model_int8.metrics.json").read_text())["per_class_against_fp32"]
    reported = compared["int8"]["per_class"]
    assert set(against) == set(reported) and against
    for name, values in reported.items():
        assert against[name] == pytest.approx(values), name
    assert "  int8 per class, most hurt first:" in int8.stdout


@pytest.mark.smoke
def test_every_runtime_gives_the_same_int8_detections(int8_export):
    from odwrap.deploy.runtime import RUNTIMES, TFLiteDetector

    # tflite-runtime is in the tf215 stack only (numpy 1, no Python 3.12+ wheels).
    runtimes = [name for name in RUNTIMES
                if name != "tflite-runtime" or running_stack() == "tf215"]
    out, _ = int8_export
    image = np.zeros((64, 64, 3), np.uint8)
    image[10:40, 20:50] = (220, 30, 30)
    found = {runtime: TFLiteDetector(out / "model_int8.tflite", runtime=runtime).detect(image)
             for runtime in runtimes}
    reference = found["ai-edge-litert"]
    for runtime, detections in found.items():
        np.testing.assert_allclose(np.sort(detections.scores), np.sort(reference.scores),
                                   atol=0.02, err_msg=runtime)


@pytest.fixture(scope="module")
def saved_model_export(model_dir, tmp_path_factory):
    """(the export folder, export's Ran) of the tiny model's SavedModel, made once for the
    module; test_saved_model_exports_and_predicts evaluates it there, the others change only a
    copy."""
    out = tmp_path_factory.mktemp("saved_model") / "export"
    return out, run_odwrap("export", model_dir, "--format", "saved_model", "-o", out)


def test_saved_model_exports_and_predicts(saved_model_export, image, tmp_path):
    out, result = saved_model_export
    assert result.returncode == 0, result.stderr[-3000:]
    assert "detection(s) on one image_tensor input" in result.stdout
    # The module's own functions only: no Keras trace of each layer's call (most of an export's
    # time, and only keras.models.load_model reads them, which cannot load a detector).
    graph = (out / "saved_model" / "saved_model.pb").read_bytes()
    assert b"serving_default" in graph and b"call_and_return_conditional_losses" not in graph
    predicted = run_odwrap("predict", out / "saved_model", image, "-o", tmp_path / "pred",
                           "--threshold", 0, "--jsonl")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    lines = [json.loads(line) for line in
             (tmp_path / "pred" / "detections.jsonl").read_text().splitlines()]
    assert lines and [line["id"] for line in lines] == list(range(1, len(lines) + 1))
    assert {line["filename"] for line in lines} == {str(image)}
    assert set(lines[0]) == {"image_id", "filename", "category_id", "bbox", "score", "id"}
    assert (out / "labels.txt").read_text() == "square\ncircle\n"
    evaluated = run_odwrap("eval", "--model", out / "saved_model")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    written = json.loads((out / "saved_model.metrics.json").read_text())
    assert written["images"] == 4 and written["runtime"] == "tensorflow"
    assert -1.0 <= written["metrics"]["DetectionBoxes_Precision/mAP"] <= 1.0
    aps = [c["AP"] for c in written["per_class"].values() if c["AP"] >= 0]
    assert set(written["per_class"]) == {"square", "circle"} and sum(aps) / len(aps) == \
        pytest.approx(written["metrics"]["DetectionBoxes_Precision/mAP"], abs=1e-6)
    assert "per class, worst first:" in evaluated.stdout
    assert {"pr_curves.png", "f1_curves.png", "confusion_matrix.png", "report.html"} <= {
        path.name for path in (out / "saved_model.analysis").iterdir()}

    # Truncated variables (a copy cut short) are bad input naming them, not a TensorFlow failure.
    broken = shutil.copytree(out / "saved_model", tmp_path / "broken")
    data = next((broken / "variables").glob("variables.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    refused = run_odwrap("predict", broken, image, "-o", tmp_path / "refused")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert refused.stderr.startswith(f"odwrap: error: {broken / 'variables'}: the SavedModel's "
                                     "variables cannot be read, truncated or corrupt (")
    assert refused.stderr.count("\n") == 1 and not (tmp_path / "refused").exists()


@pytest.mark.parametrize("make, message", [
    (lambda path: os.mkfifo(path), "cannot read the labels file: not a regular file"),
    (lambda path: path.write_bytes(b"square\n\xffcircle\n"),
     "cannot read the labels file: not UTF-8 text (byte 7)"),
], ids=["fifo", "not-utf8"])
def test_a_bad_labels_file_beside_a_saved_model_is_refused_naming_it(saved_model_export, image,
                                                                     tmp_path, make, message):
    """Issue 30, case 14: predict without --labels reads the labels.txt export wrote beside
    saved_model/; a FIFO there (no writer: a read would block forever) or a file that is not
    UTF-8 is one line naming it, exit 2. On a copy of the export."""
    out, exported = saved_model_export
    assert exported.returncode == 0, exported.stderr[-3000:]
    copy = tmp_path / "export"
    shutil.copytree(out / "saved_model", copy / "saved_model")
    make(copy / "labels.txt")
    result = run_odwrap("predict", copy / "saved_model", image, "-o", tmp_path / "pred",
                        timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]
    assert result.stderr == f"odwrap: error: {copy / 'labels.txt'}: {message}\n"


@pytest.mark.parametrize("argv, message", [
    pytest.param(["--format", "saved_model", "--quantize", "int8"],
                 "--format saved_model does not take --quantize", id="saved-model-quantize"),
    pytest.param(["--format", "edgetpu", "--quantize", "fp16"],
                 "--format edgetpu does not take --quantize", id="edgetpu-quantize"),
    pytest.param(["--format", "tflite", "--input-type", "uint8"],
                 "--input-type applies to --quantize int8", id="input-type-without-int8"),
    pytest.param(["--format", "tflite", "--compare"],
                 "--compare compares a quantized model with fp32", id="compare-without-quantize"),
    pytest.param(["--format", "tflite", "--quantize", "none,fp16", "--input-type", "int8"],
                 "--input-type applies to --quantize int8", id="input-type-modes-without-int8"),
    pytest.param(["--format", "tflite", "--quantize", "fp16,int9"],
                 "'fp16,int9' is not one of none, fp16, dynamic, int8", id="unknown-mode"),
    pytest.param(["--format", "tflite", "--quantize", ","],
                 "',' is not one of none, fp16, dynamic, int8", id="empty-modes"),
    pytest.param(["--format", "saved_model", "--compare"],
                 "--format saved_model does not take --compare", id="saved-model-compare"),
    pytest.param(["--format", "saved_model", "--upsampling", "native"],
                 "--format saved_model does not take --upsampling", id="saved-model-upsampling"),
    pytest.param(["--format", "tflite", "--search-delegate"],
                 "--format tflite does not take --search-delegate", id="tflite-search-delegate"),
])
def test_options_a_format_does_not_take_are_refused(model_dir, capsys, argv, message):
    assert cli.main(["export", str(model_dir), *argv]) == 2
    assert message in capsys.readouterr().err


def test_compare_without_eval_data_is_refused_before_converting(tiny_model, tmp_path, capsys):
    from odwrap.odapi.pipeline import read_pipeline, write_pipeline

    copy = tiny_model.copy(tmp_path / "model")
    config = read_pipeline(copy / "pipeline.config")
    del config.eval_input_reader[:]
    write_pipeline(config, copy / "pipeline.config")
    assert cli.main(["export", str(copy), "--format", "edgetpu", "--compare"]) == 2
    assert "no eval_input_reader TFRecords" in capsys.readouterr().err
    assert not list(copy.glob("export/*.tflite"))


def test_export_without_a_trained_model(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path), "--format", "tflite"]) == 2
    assert "no pipeline.config" in capsys.readouterr().err



def test_averages_are_refused_when_training_kept_none(tiny_model, tmp_path, capsys):
    assert cli.main(["export", str(tiny_model.model_dir), "--format", "saved_model",
                     "--weights", "averages", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "training kept no moving averages" in err and err.count("\n") == 1


def test_predict_skips_an_image_bomb_and_names_it(int8_export, image, tmp_path):
    """A user predicting over a folder wants the other images: the bomb is skipped and named;
    when no image can be read, that is one line and exit 2, and nothing is written."""
    from tests.deploy.test_hostile_outputs import png_header

    out, _ = int8_export
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(20000, 20000))
    result = run_odwrap("predict", out / "model_int8.tflite", bomb, image, "-o", tmp_path / "p")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"skipped {bomb}: cannot read the image (Image size (400000000 pixels)" in result.stdout
    assert "skipped 1 of 2 image(s) that could not be read" in result.stdout
    assert (tmp_path / "p" / "shape.annotated.png").exists()
    only_bomb = run_odwrap("predict", out / "model_int8.tflite", bomb, "-o", tmp_path / "q")
    assert only_bomb.returncode == 2
    assert only_bomb.stderr.startswith(f"odwrap: error: no image could be read (1 tried): {bomb}")
    assert only_bomb.stderr.count("\n") == 1 and not (tmp_path / "q").exists()


def test_predict_max_images_takes_the_first_n(int8_export, image, tmp_path):
    """--max-images N: the first N images of the sources, in their order; the rest untouched."""
    import shutil

    out, _ = int8_export
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        shutil.copy(image, folder / name)
    result = run_odwrap("predict", out / "model_int8.tflite", folder, "-o", tmp_path / "p",
                        "--max-images", 2, "--no-annotate")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "predicted 2 image(s)" in result.stdout
    logged = [json.loads(line)["filename"]
              for line in (tmp_path / "p" / "images.jsonl").read_text().splitlines()]
    assert logged == [str(folder / "a.png"), str(folder / "b.png")]
    refused = run_odwrap("predict", out / "model_int8.tflite", folder, "--max-images", 0)
    assert refused.returncode == 2 and "--max-images: 0 is not in 1..2147483647" in refused.stderr
