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

    from odwrap.cli import failures

    (tmp_path / "pipeline.config").write_text("train_config { batch_size: 48 }")
    args = type("Args", (), {"model_dir": tmp_path})()
    exc = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape")
    line = failures.explain("train", exc, args)
    assert line.startswith("train ran out of memory at batch size 48 (train_config.batch_size)")


def test_a_tf_function_error_is_summed_up_by_its_last_line():
    from odwrap.cli import failures

    exc = ValueError("in user code:\n\n    File \"x.py\", line 1, in f  *\n        g()\n\n"
                     "    ValueError: Received incompatible tensor with shape (1, 18) when "
                     "attempting to restore variable with shape (1, 24)")
    line = failures.explain("train", exc, None)
    assert line.startswith("train: the checkpoint does not fit the model (Received "
                           "incompatible tensor with shape (1, 18)")
