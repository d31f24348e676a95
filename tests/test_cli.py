import pytest

from odwrap import cli
from tests.conftest import run_odwrap


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "doctor" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    pytest.param([], id="no-command"),
    pytest.param(["frobnicate"], id="unknown-command"),
    pytest.param(["doctor", "--nope"], id="unknown-option"),
])
def test_usage_errors_exit_2_with_one_line(argv, capsys):
    code = cli.main(argv)
    assert code == 2
    err = capsys.readouterr().err
    if argv:
        assert err.startswith("odwrap: error: ") and err.count("\n") == 1


def test_python_dash_m_runs_the_cli():
    result = run_odwrap("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("odwrap ")


def test_unknown_command_has_no_traceback():
    result = run_odwrap("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice: 'frobnicate'" in result.stderr


@pytest.mark.parametrize("argv, message", [
    pytest.param(["eval"], "give MODEL_DIR (a checkpoint) or --model", id="nothing"),
    pytest.param(["eval", "--model", "m.tflite", "--watch"], "--watch applies to checkpoints",
                 id="model-watch"),
    pytest.param(["eval", "DIR", "--max-images", "3"], "--max-images applies to --model",
                 id="max-images-without-model"),
])
def test_eval_usage_errors(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path):
    """`odwrap ... | head`: the pipe closes before odwrap writes."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-m", "odwrap", "labelmap", "--classes", "a,b",
                              "-o", str(tmp_path / "map.pbtxt")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=60) == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


@pytest.mark.tf
def test_out_of_memory_names_the_batch_size(tmp_path):
    import tensorflow as tf

    from odwrap import failures

    (tmp_path / "pipeline.config").write_text("train_config { batch_size: 48 }")
    exc = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape")
    line = failures.explain("train", exc, tmp_path)
    assert line.startswith("train ran out of memory at batch size 48 (train_config.batch_size)")


def test_a_tf_function_error_is_summed_up_by_its_last_line():
    from odwrap import failures

    exc = ValueError("in user code:\n\n    File \"x.py\", line 1, in f  *\n        g()\n\n"
                     "    ValueError: Received incompatible tensor with shape (1, 18) when "
                     "attempting to restore variable with shape (1, 24)")
    line = failures.explain("train", exc, None)
    assert line.startswith("train: the checkpoint does not fit the model (Received "
                           "incompatible tensor with shape (1, 18)")


FLAG_RANGES = [
    pytest.param(["train", "s.yaml", "--model-dir", "{tmp}/model", "--steps", "-5"],
                 "odwrap train: argument --steps: -5 is not in 1..2147483647", id="steps"),
    pytest.param(["train", "s.yaml", "--model-dir", "{tmp}/model", "--steps", "1e3"],
                 "argument --steps: '1e3' is not an integer in 1..2147483647", id="steps-float"),
    pytest.param(["train", "s.yaml", "--model-dir", "{tmp}/model", "--checkpoint-every", "0"],
                 "argument --checkpoint-every: 0 is not in 1..2147483647", id="checkpoint-every"),
    pytest.param(["train", "s.yaml", "--model-dir", "{tmp}/model", "--steps-per-loop", "0"],
                 "argument --steps-per-loop: 0 is not in 1..2147483647", id="steps-per-loop"),
    pytest.param(["train", "s.yaml", "--model-dir", "{tmp}/model", "--batch-norm-batches", "-1"],
                 "argument --batch-norm-batches: -1 is not in 0..100000", id="batch-norm-batches"),
    pytest.param(["convert", "voc", "src", "-o", "{tmp}/out", "--shards", "0"],
                 "odwrap convert: argument --shards: 0 is not in 1..99999", id="shards"),
    pytest.param(["convert", "voc", "src", "-o", "{tmp}/out", "--workers", "0"],
                 "argument --workers: 0 is not in 1..1024", id="workers"),
    pytest.param(["convert", "voc", "src", "-o", "{tmp}/out", "--seed", "-1"],
                 "argument --seed: -1 is not in 0..4294967295", id="convert-seed"),
    pytest.param(["demo-data", "{tmp}/out", "--images", "-5"],
                 "odwrap demo-data: argument --images: -5 is not in 1..100000", id="images"),
    pytest.param(["demo-data", "{tmp}/out", "--size", "8"],
                 "argument --size: 8 is not in 57..2048", id="size-small"),
    pytest.param(["demo-data", "{tmp}/out", "--size", "100000"],
                 "argument --size: 100000 is not in 57..2048", id="size-huge"),
    pytest.param(["predict", "m.tflite", "a.png", "-o", "{tmp}/out", "--threshold", "2"],
                 "odwrap predict: argument --threshold: 2 is not in [0, 1]", id="threshold"),
    pytest.param(["predict", "m.tflite", "a.png", "-o", "{tmp}/out", "--threshold", "nan"],
                 "argument --threshold: nan is not in [0, 1]", id="threshold-nan"),
    pytest.param(["predict", "m.tflite", "a.png", "-o", "{tmp}/out", "--threads", "0"],
                 "argument --threads: 0 is not in 1..1024", id="threads"),
    pytest.param(["verify", "m", "--golden", "{tmp}/g", "--iou", "0"],
                 "odwrap verify: argument --iou: 0 is not in (0, 1]", id="iou-zero"),
    pytest.param(["eval", "{tmp}/out", "--watch", "--timeout", "inf"],
                 "odwrap eval: argument --timeout: inf is not in (0, 604800]", id="timeout-inf"),
    pytest.param(["eval", "--model", "{tmp}/out", "--max-images", "0"],
                 "argument --max-images: 0 is not in 1..2147483647", id="max-images"),
    pytest.param(["export", "{tmp}/out", "--format", "tflite", "--representative", "0"],
                 "argument --representative: 0 is not in 1..100000", id="representative"),
    pytest.param(["export", "{tmp}/out", "--format", "tflite", "--max-detections", "-1"],
                 "argument --max-detections: -1 is not in 1..10000", id="max-detections"),
    pytest.param(["check", "{tmp}/out", "--num-devices", "0"],
                 "odwrap check: argument --num-devices: 0 is not in 1..4096", id="num-devices"),
    pytest.param(["stats", "{tmp}/out", "--input-size", "320x100000"],
                 "argument --input-size: '320x100000' is not SIZE or HEIGHTxWIDTH, each side in "
                 "1..4096", id="input-size"),
]


@pytest.mark.parametrize("argv, message", FLAG_RANGES)
def test_numeric_flags_out_of_range_exit_2_before_anything_is_written(tmp_path, capsys, argv,
                                                                      message):
    code = cli.main([arg.format(tmp=tmp_path) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("odwrap: error: odwrap ") and err.endswith(f"{message}\n")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_every_numeric_flag_has_a_range():
    """A bare type=int or type=float takes -5, 0, nan and inf; every number goes through
    types.int_in or types.number_in (or a parser of its own, like --input-size)."""
    from odwrap.cli.parser import build_parser

    bare = []
    for sub in build_parser()._subparsers._group_actions[0].choices.values():
        for action in sub._actions:
            if action.type in (int, float):
                bare.append(f"{sub.prog} {'/'.join(action.option_strings)}")
    assert bare == []


def test_train_with_negative_steps_end_to_end_writes_nothing(tmp_path):
    result = run_odwrap("train", tmp_path / "spec.yaml", "--model-dir", tmp_path / "model",
                        "--steps", "-5")
    assert result.returncode == 2
    assert result.stderr == ("odwrap: error: odwrap train: argument --steps: -5 is not in "
                             "1..2147483647\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, message", [
    pytest.param(["predict", "m.tflite", "{tmp}/nothing*.png", "-o", "{tmp}/out"],
                 "{tmp}/nothing*.png: no file matches this pattern", id="glob"),
    pytest.param(["predict", "m.tflite", "{tmp}/absent.png", "-o", "{tmp}/out"],
                 "{tmp}/absent.png: no such file or folder", id="absent"),
    pytest.param(["predict", "m.tflite", "{tmp}/empty", "-o", "{tmp}/out"],
                 "no images in {tmp}/empty", id="empty-folder"),
    pytest.param(["verify", "m", "--golden", "{tmp}/absent"],
                 "--golden {tmp}/absent: no such folder", id="golden-absent"),
    pytest.param(["verify", "m", "--golden", "{tmp}/empty"],
                 "--golden {tmp}/empty: no image folders (record one with --record-golden)",
                 id="golden-empty"),
    pytest.param(["verify", "m", "--golden", "{tmp}/golden"],
                 "{tmp}/golden/a: no image.png (a golden image folder holds the image and its "
                 "masks)", id="golden-no-image"),
    pytest.param(["verify", "m", "{tmp}/x.png", "--golden", "{tmp}/golden"],
                 "--golden: takes no images (the golden folder holds them)", id="golden-images"),
    pytest.param(["verify", "m", "--record-golden", "{tmp}/new"],
                 "--record-golden: name the images to record the masks of", id="record-none"),
])
def test_predict_and_verify_inputs_are_refused_before_a_model_loads(tmp_path, capsys, argv,
                                                                     message):
    """The model 'm' does not exist: each refusal comes before it would be read."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "golden" / "a").mkdir(parents=True)
    (tmp_path / "golden" / "a" / "square.png").write_bytes(b"")
    code = cli.main([arg.format(tmp=tmp_path) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2 and err == f"odwrap: error: {message.format(tmp=tmp_path)}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "golden"]


REFUSE_BEFORE_TENSORFLOW = """
import json, sys
from odwrap import cli
codes = [cli.main(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps({"codes": codes, "tensorflow": "tensorflow" in sys.modules,
                  "object_detection": "object_detection" in sys.modules}))
"""


def test_tensorflow_commands_refuse_bad_input_before_importing_tensorflow(tmp_path):
    """Bad input to every TensorFlow command is one line and exit 2 without TensorFlow or the OD
    API imported (a fresh process: the refusal costs no TensorFlow start-up)."""
    import json

    from odwrap.failures import TENSORFLOW_COMMANDS
    from tests.conftest import run_python

    missing = tmp_path / "missing"
    bad = {"train": ["train", f"{missing}.yaml", "--model-dir", tmp_path / "m"],
           "eval": ["eval", missing], "export": ["export", missing, "--format", "tflite"],
           "predict": ["predict", f"{missing}.tflite", f"{missing}.jpg"],
           "verify": ["verify", missing, "--golden", missing],
           "profile": ["profile", f"{missing}.yaml"],
           "batch-size": ["batch-size", f"{missing}.yaml"],
           "benchmark": ["benchmark", missing, "--formats", "onnx"]}
    assert set(bad) == TENSORFLOW_COMMANDS
    result = run_python(["-c", REFUSE_BEFORE_TENSORFLOW,
                         json.dumps([[str(a) for a in argv] for argv in bad.values()])])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"codes": [2] * len(bad), "tensorflow": False,
                                         "object_detection": False}
    assert len(result.stderr.splitlines()) == len(bad), result.stderr


# Options that are the CLI's own: how it shows things, or a mode that picks the API function.
CLI_ONLY = {("train", "verbose"), ("eval", "verbose"), ("export", "verbose"),
            ("benchmark", "verbose"),
            ("check", "json"), ("eval", "watch"), ("merge", "join")}
MINIMAL = {"generate": ["s.yaml", "-o", "out"], "check": ["c.config"],
           "train": ["s.yaml", "--model-dir", "m"], "eval": ["m"], "plot": ["m"],
           "export": ["m", "--format", "tflite"], "predict": ["m.tflite", "i.jpg"],
           "verify": ["m", "--golden", "g"], "convert": ["voc", "src", "-o", "out"],
           "labelmap": ["voc", "src", "-o", "map.pbtxt"], "stats": ["r.tfrecord"],
           "demo-data": ["out"], "merge": ["out.json", "a.json"],
           "trim": ["in.json", "-o", "out.json"], "profile": ["s.yaml"],
           "batch-size": ["s.yaml"], "zoo list": [], "zoo pull": ["name"], "doctor": [],
           "benchmark": ["m"]}


def test_every_option_is_an_api_parameter_with_the_api_default():
    """Each option of each command stands for a parameter of the command's API function (or is
    one of the few the CLI keeps for itself), and a command line that leaves it out gets the
    API's default: the CLI has no ability and no default of its own."""
    import argparse
    from pathlib import Path

    from odwrap.cli.options import api_parameter, command_parsers
    from odwrap.cli.parser import build_parser

    parser = build_parser()
    subs = command_parsers(parser)
    assert set(subs) == set(MINIMAL)
    unknown, different = [], []
    for command, sub in subs.items():
        parsed = parser.parse_args(command.split() + MINIMAL[command])
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            parameter = api_parameter(command, action.dest)
            if parameter is None:
                if (command, action.dest) not in CLI_ONLY:
                    unknown.append(f"{command} {action.option_strings or action.dest}")
                continue
            given = not action.option_strings or set(action.option_strings) & set(
                MINIMAL[command])
            if parameter.default is parameter.empty or given:
                continue  # an argument given above
            value, default = getattr(parsed, action.dest), parameter.default
            if isinstance(value, Path) and isinstance(default, str):
                value = str(value)
            if isinstance(value, list) and isinstance(default, tuple):
                value = tuple(value)
            if value != default:
                different.append(f"{command} {action.dest}: parser {value!r}, API {default!r}")
    assert unknown == [] and different == []


def test_nothing_reaches_the_terminal_after_odwraps_last_line(tmp_path):
    """A thread that prints on the way out (gRPC's C++ logging after a cluster worker's
    "stopped by SIGTERM" line, when its peer has gone) is not shown after odwrap's line."""
    from tests.conftest import run_python

    late = tmp_path / "late.yaml"
    code = f"""
import os, sys, threading, time
from odwrap import cli
def late():
    time.sleep(1.0)
    os.write(2, b"LATE C++ LINE\\n")
threading.Thread(target=late).start()
sys.argv = ["odwrap", "check", {str(late)!r}]
cli.entrypoint()
"""
    ran = run_python(code)
    assert ran.returncode == 2
    assert ran.stderr == f"odwrap: error: {late}: no such file\n"
