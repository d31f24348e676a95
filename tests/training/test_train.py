"""odwrap train on a tiny config: exact steps, resume, kill and resume, refused configs."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from odwrap import cli
from tests.conftest import (ROOT, run_odwrap, run_odwrap_in_one_process, run_python,
                            tensorflow_lines)

pytestmark = [pytest.mark.tf, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_spec(tiny_model):
    return tiny_model.spec


def checkpoint_steps(model_dir):
    return sorted(int(p.name[len("ckpt-"):-len(".index")]) for p in model_dir.glob("ckpt-*.index"))


@pytest.mark.smoke
def test_exact_steps_then_resume_then_refuse_another_config(tmp_path, tiny_model, tiny_spec):
    # The shared model: trained from scratch for exactly 2 steps, not rounded up to 100.
    assert checkpoint_steps(tiny_model.model_dir) == [2]
    assert "trained steps 0 -> 2" in tiny_model.train_output
    model_dir = tiny_model.copy(tmp_path / "model")
    assert (model_dir / "pipeline.config").exists() and (model_dir / "label_map.pbtxt").exists()

    # Not a terminal (as under nohup, CI or `2>&1 | cat`): a plain progress line as it starts,
    # then (ODWRAP_PROGRESS_EVERY: every 0 s instead of 30) after each loop of steps.
    result = run_odwrap("train", tiny_spec, "--model-dir", model_dir, "--steps", 4,
                        "--steps-per-loop", 1, env={"ODWRAP_PROGRESS_EVERY": "0"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained steps 2 -> 4" in result.stdout
    assert checkpoint_steps(model_dir) == [2, 4]
    lines = [line for line in result.stderr.splitlines() if line.startswith("train: step ")]
    assert lines[0] == "train: step 2 of 4 (50%)", result.stderr
    assert re.fullmatch(r"train: step 3 of 4 \(75%\), loss \d+\.\d{4}, lr \S+, \S+ step/s, "
                        r"ETA \S+", lines[1]), lines
    assert re.fullmatch(r"train: step 4 of 4 \(100%\), loss .+, done in (\d+m)?\d+s", lines[2]), \
        lines
    assert len(lines) == 3 and result.stderr.count("\n") == 3  # nothing else on the terminal

    result = run_odwrap("train", tiny_spec, "--model-dir", model_dir, "--steps", 7,
                        "--set", "train.batch_size=4")
    assert result.returncode == 2
    assert "was trained with another pipeline.config" in result.stderr
    assert "batch_size: 2" in result.stderr and "batch_size: 4" in result.stderr
    assert "Traceback" not in result.stderr
    assert checkpoint_steps(model_dir) == [2, 4]

    # eval, eval of another checkpoint and plot in one process
    latest, earlier, plotted = run_odwrap_in_one_process(
        ["eval", model_dir], ["eval", model_dir, "--checkpoint", model_dir / "ckpt-2"],
        ["plot", model_dir], env={"ODWRAP_PROGRESS_EVERY": "0"})
    assert latest.returncode == 0, latest.stderr[-3000:]
    assert "DetectionBoxes_Precision/mAP@.50IOU" in latest.stdout
    # One table: pycocotools' own summary goes to the run's log, not the terminal.
    assert "Average Precision  (AP) @[" not in latest.stdout + latest.stderr
    assert latest.stderr.splitlines()[0] == "eval: 0 of 4 batches (0%)", latest.stderr
    assert re.fullmatch(r"eval: 4 of 4 batches \(100%\), .*done in (\d+m)?\d+s",
                        latest.stderr.splitlines()[-1]), latest.stderr
    assert earlier.returncode == 0, earlier.stderr[-3000:]
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert set(metrics["history"]) == {"2", "4"}  # each evaluation by step, the latest on top
    assert metrics["step"] == 2 and metrics["checkpoint"].endswith("ckpt-2")
    assert 0.0 <= metrics["history"]["4"]["DetectionBoxes_Precision/mAP"] <= 1.0
    # Per class (issue 26), from the OD API evaluator's own ground truth and detections: the
    # mean of the classes' AP is the OD API's mAP; the table, the threshold and the plots.
    assert set(metrics["per_class"]) == {"square", "circle"}
    aps = [c["AP"] for c in metrics["per_class"].values() if c["AP"] >= 0]
    assert sum(aps) / len(aps) == pytest.approx(
        metrics["metrics"]["DetectionBoxes_Precision/mAP"], abs=1e-6)
    assert sum(c["ground_truth"] for c in metrics["per_class"].values()) > 0
    assert "per class, worst first:" in latest.stdout and "threshold: " in latest.stdout
    assert metrics["confusion_matrix"]["names"] == ["square", "circle", "background"]
    assert sorted(p.name for p in (model_dir / "analysis").iterdir()) == [
        "confusion_matrix.png", "f1_curves.png", "pr_curves.png", "report.html",
        "worst_images.png"]
    assert earlier.stdout.splitlines()[-1] == f"report: {model_dir / 'analysis' / 'report.html'}"

    assert plotted.returncode == 0, plotted.stderr[-3000:]
    png = (model_dir / "training.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 20000


def test_sigterm_saves_a_checkpoint_and_a_rerun_resumes(tmp_path, tiny_spec):
    model_dir = tmp_path / "model"
    process = subprocess.Popen(
        [sys.executable, "-m", "odwrap", "train", str(tiny_spec), "--model-dir", str(model_dir),
         "--steps", "100000", "--checkpoint-every", "100000"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    events = model_dir / "train"
    while time.time() < deadline and not any(p.stat().st_size > 200 for p in
                                             events.glob("events.*")):
        time.sleep(0.5)
    time.sleep(2)  # some chunks into training
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 143, err[-3000:]  # 128 + SIGTERM
    assert "checkpoint" in err and "rerun to resume" in err
    saved = checkpoint_steps(model_dir)
    assert len(saved) == 1 and 0 < saved[0] < 100000
    result = run_odwrap("train", tiny_spec, "--model-dir", model_dir, "--steps", saved[0] + 2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"trained steps {saved[0]} -> {saved[0] + 2}" in result.stdout


def assert_restored_feature_extractor(stdout):
    """A 'detection' restore of the tiny SSD FPNLite: its feature extractor, not its heads."""
    found = re.search(r"fine-tune checkpoint: restored the backbone and FPN \((\d+) of (\d+) "
                      r"trainable variables\); not restored: the box regression head and class "
                      r"head\. A 'detection' checkpoint", stdout)
    assert found, stdout[-3000:]
    assert 0 < int(found.group(1)) < int(found.group(2))


def test_fine_tune_pulls_a_zoo_checkpoint_and_reports_restored_variables(tmp_path,
                                                                          tiny_model):
    """A config that fine-tunes from a zoo model's place in the zoo cache (as model.pretrained
    writes it): train downloads the model (here from a file:// mirror holding a tarball of the
    tiny model's checkpoint as ckpt-0) and restores it."""
    import tarfile

    from odwrap.zoo import find

    zoo = find("ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8")
    top = tmp_path / "made" / zoo.top_folder
    (top / "checkpoint").mkdir(parents=True)
    for part in tiny_model.model_dir.glob(f"ckpt-{tiny_model.steps}.*"):
        (top / "checkpoint" / part.name.replace(f"ckpt-{tiny_model.steps}", "ckpt-0")) \
            .write_bytes(part.read_bytes())
    (top / "pipeline.config").write_text((tiny_model.model_dir / "pipeline.config").read_text())
    tarball = tmp_path / "mirror" / zoo.url_path
    tarball.parent.mkdir(parents=True)
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(top, arcname=zoo.top_folder)
    env = {"ODWRAP_CACHE": str(tmp_path / "cache"),
           "ODWRAP_ZOO_URL": (tmp_path / "mirror").as_uri()}
    checkpoint = tmp_path / "cache" / "zoo" / zoo.name / "checkpoint" / "ckpt-0"
    result = run_odwrap("train", tiny_model.spec, "--model-dir", tmp_path / "second", "--steps",
                        1, "--set", f"train.fine_tune_checkpoint={checkpoint}",
                        "--set", "train.fine_tune_checkpoint_type=detection", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"zoo model {zoo.name} is not cached; pulling it" in result.stdout
    assert checkpoint.with_suffix(".index").is_file()
    assert_restored_feature_extractor(result.stdout)


def test_legacy_from_detection_checkpoint_fine_tunes_as_a_detection_checkpoint(tmp_path,
                                                                              tiny_model):
    # A TF1-era config: from_detection_checkpoint instead of fine_tune_checkpoint_type.
    checkpoint = tiny_model.model_dir / f"ckpt-{tiny_model.steps}"
    config = (tiny_model.model_dir / "pipeline.config").read_text()
    assert "fine_tune_checkpoint" not in config
    source = tmp_path / "pipeline.config"
    source.write_text(config.replace("train_config {", f'train_config {{\n  fine_tune_checkpoint: '
                                     f'"{checkpoint}"\n  from_detection_checkpoint: true\n'
                                     "  fine_tune_checkpoint_version: V2", 1))
    result = run_odwrap("train", source, "--model-dir", tmp_path / "second", "--steps", 1)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "warning: ODW005 train_config.from_detection_checkpoint" in result.stdout
    assert "fine_tune_checkpoint_type: 'detection'" in result.stdout
    assert_restored_feature_extractor(result.stdout)


def test_train_refuses_a_config_with_check_errors(tmp_path, tiny_spec, capsys):
    code = cli.main(["train", str(tiny_spec), "--model-dir", str(tmp_path / "m"),
                     "--set", "model.image_size=72"])
    assert code == 1
    assert "ODW001" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_eval_and_plot_without_a_trained_model_are_one_line_errors(tmp_path):
    for command in ("eval", "plot"):
        result = run_odwrap(command, tmp_path)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_warnings_are_shown_and_nothing_to_do_says_so(tiny_model, tmp_path):
    model_dir = tiny_model.copy(tmp_path / "model")
    config = tmp_path / "with_warning.config"
    # graph_rewriter quantization: a warning (ODW007), not an error, so training would go on.
    config.write_text((model_dir / "pipeline.config").read_text()
                      + "graph_rewriter { quantization { delay: 1 } }\n")
    result = run_odwrap("train", config, "--model-dir", model_dir, "--steps", 1, "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "warning: ODW007 graph_rewriter.quantization" in result.stdout
    assert (f"nothing to train: {model_dir} is at step 2 already, and training was asked to "
            "reach step 1") in result.stdout
    assert "trained steps" not in result.stdout
    assert checkpoint_steps(model_dir) == [2]


@pytest.mark.parametrize("input_path, message", [
    pytest.param("{folder}/nothing-*.tfrecord",
                 "train_input_reader.tf_record_input_reader.input_path[0]: no file matches",
                 id="no-records-match"),
    pytest.param("", "train_input_reader.tf_record_input_reader.input_path is empty",
                 id="no-records-configured"),
])
def test_training_without_records_is_refused_in_one_line(tiny_model, tmp_path, input_path,
                                                         message):
    config = (tiny_model.model_dir / "pipeline.config").read_text()
    train_reader = config[config.index("train_input_reader"):]
    train_reader = train_reader[:train_reader.index("}\n}") + 3]
    records = input_path.format(folder=tmp_path)
    replaced = train_reader.replace(str(tiny_model.folder / "train.tfrecord"), records)
    if not records:
        replaced = replaced.replace('input_path: ""', "")
    source = tmp_path / "pipeline.config"
    source.write_text(config.replace(train_reader, replaced))
    result = run_odwrap("train", source, "--model-dir", tmp_path / "model", "--steps", 1)
    assert result.returncode == 2, result.stdout + result.stderr[-3000:]
    assert result.stderr.startswith("odwrap: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not (tmp_path / "model").exists()  # refused before anything was written


def test_a_checkpoint_that_does_not_fit_is_one_line_and_a_log(tiny_model, tiny_spec, tmp_path):
    model_dir = tiny_model.copy(tmp_path / "model")
    spec = tmp_path / "three_classes.yaml"
    spec.write_text(tiny_spec.read_text().replace("[square, circle]", "[square, circle, star]"))
    logs = tmp_path / "logs"
    result = run_odwrap("train", spec, "--model-dir", model_dir, "--steps", 3, "--force",
                        env={"ODWRAP_LOG_DIR": str(logs)})
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "the checkpoint does not fit the model (Received incompatible tensor" in result.stderr
    [log] = logs.glob("train-*.log")
    assert f"(traceback in {log})" in result.stderr
    assert log.read_text().startswith("Traceback (most recent call last):")
    assert checkpoint_steps(model_dir) == [2]

    result = run_odwrap("train", spec, "--model-dir", model_dir, "--steps", 3, "--force",
                        "--verbose", env={"ODWRAP_LOG_DIR": str(logs)})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr  # --verbose: inline as well
    assert any(line.startswith("odwrap: error: train: the checkpoint does not fit")
               for line in result.stderr.splitlines())


def test_moving_averages_train_and_are_kept_in_the_checkpoint(tiny_model, tmp_path):
    # The proto's default is use_moving_average: true; hand-written configs often leave it.
    config = (tiny_model.model_dir / "pipeline.config").read_text()
    assert "use_moving_average: false" in config
    source = tmp_path / "pipeline.config"
    source.write_text(config.replace("use_moving_average: false", "use_moving_average: true"))
    model_dir = tmp_path / "model"
    result = run_odwrap("train", source, "--model-dir", model_dir, "--steps", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "trained steps 0 -> 2" in result.stdout

    # Evaluation with eval_config.use_moving_averages runs on the averages, not the weights.
    assert "use_moving_averages: false" in source.read_text()
    source.write_text(source.read_text().replace("use_moving_averages: false",
                                                 "use_moving_averages: true"))
    # In one process: train --force with the new eval_config (nothing left to train), eval
    # (its weights checked: one average per trainable variable, and eval ran on them), then
    # export (its variables checked).
    result = run_python(["-c", EVAL_AND_EXPORT_TAKE_THE_AVERAGES, str(model_dir), str(source)])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "nothing to train" in result.stdout.split("FORCED")[0]
    assert "moving averages weights" in result.stdout
    assert json.loads((model_dir / "metrics.json").read_text())["weights"] == "moving averages"
    assert "AVERAGES EVALUATED" in result.stdout
    # Export takes the averages by default, and says so.
    assert "weights: moving averages" in result.stdout
    assert "AVERAGES EXPORTED" in result.stdout


EVAL_AND_EXPORT_TAKE_THE_AVERAGES = """
import sys
import numpy as np
from odwrap import cli
from odwrap.odapi import compat
compat.apply()
import tensorflow as tf
from odwrap.training.checkpoint_eval import Evaluator
model_dir = sys.argv[1]
assert cli.main(["train", sys.argv[2], "--model-dir", model_dir, "--steps", "2",
                 "--force"]) == 0
print("FORCED", flush=True)
assert cli.main(["eval", model_dir]) == 0
evaluator = Evaluator(model_dir)
result = evaluator.evaluate()  # leaves the weights it evaluated in the model
assert result.weights == "moving averages"
reader = tf.train.load_checkpoint(result.checkpoint)
shapes = reader.get_variable_to_shape_map()
averages = [name for name in shapes if "/average/" in name]
assert len(averages) > 100, len(averages)  # one average per trainable variable
matched = 0
for variable in evaluator.model.trainable_variables:
    value = variable.numpy()
    same_shape = [name for name in averages if shapes[name] == list(value.shape)]
    matched += any(np.array_equal(value, reader.get_tensor(name)) for name in same_shape)
assert matched == len(evaluator.model.trainable_variables), (matched, len(averages))
print("AVERAGES EVALUATED", flush=True)

assert cli.main(["export", model_dir, "--format", "saved_model"]) == 0
names = tf.train.list_variables(result.checkpoint)
averages = [reader.get_tensor(name) for name, _ in names if "/average/" in name]
trained = [reader.get_tensor(name) for name, _ in names
           if name.startswith("model/") and "OPTIMIZER_SLOT" not in name]
exported = tf.train.load_checkpoint(f"{model_dir}/export/saved_model/variables/variables")
values = [exported.get_tensor(name) for name in exported.get_variable_to_shape_map()
          if name != "_CHECKPOINTABLE_OBJECT_GRAPH"]
def found(value, pool):
    return any(v.shape == value.shape and np.array_equal(v, value) for v in pool)
kernels = [value for value in values if value.ndim == 4]  # the convolutions: all trainable
assert kernels and all(found(value, averages) for value in kernels)
assert not all(found(value, trained) for value in kernels)  # training moved some of them
print("AVERAGES EXPORTED")
"""


# Each optimizer of optimizer.proto with one of the other learning-rate schedules (the tiny
# model trains momentum with cosine decay), and gradient clipping without regularization loss.
OPTIMIZERS = {
    "rmsprop-exponential-decay": """rms_prop_optimizer {
      learning_rate { exponential_decay_learning_rate {
        initial_learning_rate: 0.004 decay_steps: 1 decay_factor: 0.95 } }
      momentum_optimizer_value: 0.9 decay: 0.9 epsilon: 1.0 }""",
    "adam-manual-step": """adam_optimizer {
      learning_rate { manual_step_learning_rate {
        initial_learning_rate: 0.001
        schedule { step: 1 learning_rate: 0.0005 } } } }""",
    "momentum-constant-clipped": """momentum_optimizer {
      learning_rate { constant_learning_rate { learning_rate: 0.01 } }
      momentum_optimizer_value: 0.9 }""",
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_and_schedule_trains(tiny_model, tmp_path, name):
    from odwrap import api

    config = (tiny_model.model_dir / "pipeline.config").read_text()
    start = config.index("  optimizer {")
    end = config.index("    use_moving_average: false")
    text = config[:start] + "  optimizer {\n    " + OPTIMIZERS[name] + "\n" + config[end:]
    if name.endswith("clipped"):
        text = text.replace("  num_steps: 2", "  num_steps: 2\n  gradient_clipping_by_norm: 1.0"
                            "\n  add_regularization_loss: false")
    source = tmp_path / "pipeline.config"
    source.write_text(text)
    result = api.train(source, tmp_path / "model", steps=2)
    assert (result.start_step, result.end_step) == (0, 2)
    assert result.losses["Loss/total_loss"] > 0
    kept = (tmp_path / "model" / "pipeline.config").read_text()
    assert OPTIMIZERS[name].split()[0] in kept


SEEDED_TWICE = """
import sys
import numpy as np
from odwrap import cli
spec, work, unseeded = sys.argv[1], sys.argv[2], sys.argv[3]
for name in ("a", "b"):
    print("RC", cli.main(["train", spec, "--model-dir", f"{work}/{name}", "--steps", "1",
                          "--seed", "3"]))
import tensorflow as tf
first, second, third = (tf.train.load_checkpoint(path)
                        for path in (f"{work}/a/ckpt-1", f"{work}/b/ckpt-1", unseeded))
names = [name for name, shape in tf.train.list_variables(f"{work}/a/ckpt-1")
         if name.startswith("model/") and "OPTIMIZER_SLOT" not in name and len(shape) == 4]
def apart(one, other):
    return float(np.median([np.abs(one.get_tensor(n) - other.get_tensor(n)).max()
                            for n in names]))
print("SAME SEED", apart(first, second), "OTHER SEED", apart(first, third), len(names))
"""


def test_a_seed_draws_the_same_initial_weights(tiny_model, tmp_path):
    """--seed 3 twice (one process, two models): the same initial weights (after one step they
    differ only by what the step's nondeterministic CPU kernels and input order change); the
    shared tiny model, an unseeded draw, has other weights."""
    result = run_python(["-c", SEEDED_TWICE, str(tiny_model.spec), str(tmp_path),
                         str(tiny_model.model_dir / f"ckpt-{tiny_model.steps}")])
    assert result.returncode == 0 and result.stdout.count("RC 0") == 2, result.stderr[-3000:]
    same, other, count = re.search(r"SAME SEED (\S+) OTHER SEED (\S+) (\d+)",
                                   result.stdout).groups()
    assert int(count) > 10 and float(same) * 20 < float(other), result.stdout


def write_pinpoint_records(path, source):
    """SOURCE's eval images with every box shrunk to one pixel: no detection overlaps one at
    IoU 0.5, so a model evaluated on them scores an mAP of 0 whatever its weights."""
    from odwrap.odapi.tfexample import decode_example, encode_example, frame_record, read_records

    with open(path, "wb") as out:
        for record in read_records(source):
            features = decode_example(record)
            width = features["image/width"][0]
            for low, high in (("xmin", "xmax"), ("ymin", "ymax")):
                features[f"image/object/bbox/{high}"] = [
                    v + 1 / width for v in features[f"image/object/bbox/{low}"]]
            kinds = {key: ("bytes" if isinstance(values[0], bytes) else
                           "float" if isinstance(values[0], float) else "int")
                     for key, values in features.items() if values}
            out.write(frame_record(encode_example({key: (kinds[key], values)
                                            for key, values in features.items() if values})))


def test_the_best_checkpoint_outlives_max_to_keep_and_exports(tmp_path, tiny_model, tiny_spec):
    """An earlier checkpoint scores higher on purpose (the later one is evaluated on boxes of
    one pixel, mAP 0); export --checkpoint best takes its weights, not the latest's."""
    import numpy as np
    import tensorflow as tf

    model_dir = tiny_model.copy(tmp_path / "model")
    first, = run_odwrap_in_one_process(["eval", model_dir])
    assert first.returncode == 0, first.stderr[-3000:]
    assert "best: step 2 (DetectionBoxes_Precision/mAP " in first.stdout
    trained = run_odwrap("train", tiny_spec, "--model-dir", model_dir, "--steps", 4)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "best checkpoint evaluated so far: step 2 " in trained.stdout
    config = (model_dir / "pipeline.config").read_text()
    records = re.search(r'input_path: "([^"]+)"', config.split("eval_input_reader")[1]).group(1)
    write_pinpoint_records(tmp_path / "pinpoint.tfrecord", records)
    pinpoint = tmp_path / "pinpoint.config"
    pinpoint.write_text(config.replace(records, str(tmp_path / "pinpoint.tfrecord")))
    second = run_odwrap("eval", model_dir, "--config", pinpoint, "--watch", "--timeout", 1)
    assert second.returncode == 0, second.stderr[-3000:]
    assert re.search(r"DetectionBoxes_Precision/mAP\s+0\.0000\n", second.stdout), second.stdout
    assert "best: step 2 " in second.stdout
    # --watch closes naming the best of everything evaluated, then the report.
    *_, best_line, report_line = second.stdout.splitlines()
    assert best_line.startswith("best of all evaluated: step 2 (DetectionBoxes_Precision/mAP ")
    assert report_line == f"report: {model_dir / 'analysis' / 'report.html'}"
    for part in model_dir.glob("ckpt-2.*"):  # as the checkpoint manager's max_to_keep does
        part.unlink()
    exported = run_odwrap("export", model_dir, "--format", "saved_model", "--checkpoint", "best",
                          "-o", tmp_path / "export")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert "checkpoint: step 2, the best evaluated (DetectionBoxes_Precision/mAP" in \
        exported.stdout
    kept = tf.train.load_checkpoint(str(model_dir / "best" / "ckpt-2"))
    latest = tf.train.load_checkpoint(str(model_dir / "ckpt-4"))
    variables = tf.train.load_checkpoint(
        str(tmp_path / "export" / "saved_model" / "variables" / "variables"))
    kernels = [variables.get_tensor(name) for name in variables.get_variable_to_shape_map()
               if name != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    kernels = [value for value in kernels if value.ndim == 4]

    def found(value, reader):
        return any(reader.get_variable_to_shape_map()[name] == list(value.shape)
                   and np.array_equal(reader.get_tensor(name), value)
                   for name in reader.get_variable_to_shape_map() if name.startswith("model/"))

    assert kernels and all(found(value, kept) for value in kernels)
    assert not all(found(value, latest) for value in kernels)


def test_plot_keeps_tensorflow_lines_off_the_terminal(tmp_path, tiny_model):
    """`plot` reads the events through TensorFlow, which printed its C++ start-up lines in the
    demo (plot was not among the commands whose TensorFlow import is made quiet); a fresh
    process, as the user runs it."""
    model_dir = tiny_model.copy(tmp_path / "model")
    result = run_odwrap("plot", model_dir, fresh=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert tensorflow_lines(result.stdout + result.stderr) == [], result.stderr[-3000:]
