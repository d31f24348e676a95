"""The library's one error boundary for runs inside TensorFlow and the OD API: an exception that
is not odwrap's own becomes a RunError with one line that names the likely field or file, and
the whole traceback goes to a log file whose path the line gives. API and CLI users get the same
text; the CLI only prints it and picks the exit code.
"""

import functools
import inspect
import os
import time
import traceback
from pathlib import Path

from odwrap.errors import OdwrapError, RunError
from odwrap.fsutil import atomic_write_text, log_dir
from odwrap.odapi import logs

# The commands (and API jobs) that run TensorFlow or the OD API: the only ones whose failures
# are not odwrap's own errors, and the ones whose TensorFlow logging the CLI turns down.
TENSORFLOW_COMMANDS = frozenset({"train", "eval", "export", "predict", "verify", "profile",
                                 "batch-size", "benchmark"})


def log_path(command: str) -> Path:
    """A new log file's path for a run of COMMAND, in odwrap's log folder."""
    return log_dir() / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def write_log(command: str, exc: BaseException) -> Path:
    """The traceback of EXC at the top of the run's output log (what was kept off the terminal
    follows it), or of a new log file; its path."""
    path = logs.current_output_log() or log_path(command)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(traceback.format_exception(exc))
    if path.exists():
        text += "\n--- the run's output kept off the terminal ---\n" + path.read_text(
            encoding="utf-8", errors="replace")
    atomic_write_text(path, text)
    return path


def _first_line(exc: BaseException) -> str:
    """The line of EXC's message that says what went wrong: a tf.function error puts it last,
    after 'in user code:' and the trace of the graph."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    line = lines[-1] if lines[0] == "in user code:" else lines[0]
    name = f"{type(exc).__name__}: "
    return (line[len(name):] if line.startswith(name) else line)[:240]


def _batch_size(model_dir) -> int | None:
    from odwrap.training.modeldir import ModelDir

    try:
        return ModelDir(model_dir).config.train_config.batch_size if model_dir else None
    except Exception:  # the folder's config is what failed to read: no batch size to name
        return None


def explain(command: str, exc: BaseException, model_dir=None) -> str:
    """One line saying what failed and, for the known causes, which field or file to look at;
    MODEL_DIR: the model folder a train run writes (its batch size is named on out of memory)."""
    name, text = type(exc).__name__, str(exc)
    if name == "ResourceExhaustedError" or "OOM when allocating" in text:
        batch = _batch_size(model_dir) if command == "train" else None
        at = f" at batch size {batch} (train_config.batch_size)" if batch else ""
        return (f"{command} ran out of memory{at}: lower the batch size (and the learning "
                "rate with it), or the input size")
    if "Did not find any input files matching the glob pattern" in text:
        return (f"{command}: no TFRecords match an input_path of the config "
                f"({_first_line(exc)}): create them (odwrap convert) or fix the path")
    if ("incompatible tensor with shape" in text or "when attempting to restore" in text
            or "Shapes" in text and "are incompatible" in text and "checkpoint" in text.lower()):
        return (f"{command}: the checkpoint does not fit the model ({_first_line(exc)}): it was "
                "trained with another config (num_classes, feature extractor or input size); "
                "use the config it was trained with, or a new --model-dir")
    if command == "train" and ("XLA" in text or "jit_compile" in text) and \
            ("compile" in text.lower() or "unsupported" in text.lower()):
        return (f"train could not compile the training step with XLA ({_first_line(exc)}): "
                "set train.xla: false in the spec, or odwrap train --xla false")
    return f"{command} failed inside TensorFlow or the OD API: {name}: {_first_line(exc)}"


class TensorFlowFailure(RunError):
    """A run that failed inside TensorFlow or the OD API: `log` holds the traceback, `__cause__`
    is the original exception."""

    def __init__(self, message: str, log: Path):
        super().__init__(message)
        self.log = log


def failure(command: str, exc: BaseException, model_dir=None) -> TensorFlowFailure:
    """EXC as the one-line error of COMMAND, its traceback written to a log file."""
    log = write_log(command, exc)
    return TensorFlowFailure(f"{explain(command, exc, model_dir)} (traceback in {log})", log)


def boundary(command: str):
    """Decorate an API job that runs COMMAND's TensorFlow work: what fails inside it that is not
    an OdwrapError (or an interrupt) is raised as a TensorFlowFailure. A generator's failures
    are caught as it is iterated. A `model_dir` argument is named in an out-of-memory line."""
    if command not in TENSORFLOW_COMMANDS:
        raise ValueError(f"{command} is not in TENSORFLOW_COMMANDS")

    def wrap(function):
        signature = inspect.signature(function)

        def model_dir(args, kwargs):
            try:
                return signature.bind_partial(*args, **kwargs).arguments.get("model_dir")
            except TypeError:
                return None

        if inspect.isgeneratorfunction(function):
            @functools.wraps(function)
            def generate(*args, **kwargs):
                try:
                    yield from function(*args, **kwargs)
                except OdwrapError:
                    raise
                except Exception as exc:
                    raise failure(command, exc, model_dir(args, kwargs)) from exc
            return generate

        @functools.wraps(function)
        def run(*args, **kwargs):
            try:
                return function(*args, **kwargs)
            except OdwrapError:
                raise
            except Exception as exc:
                raise failure(command, exc, model_dir(args, kwargs)) from exc
        return run
    return wrap
