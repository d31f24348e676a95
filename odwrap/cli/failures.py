"""A run that fails inside TensorFlow or the OD API: one line on the terminal that names the
likely field or file, exit code 1, and the whole traceback in a log file whose path the line
gives (`--verbose` prints it on the terminal as well)."""

import os
import time
import traceback
from pathlib import Path

from odwrap.fsutil import log_dir

# The commands that run TensorFlow or the OD API; the others fail only with odwrap's own errors.
RUN_COMMANDS = frozenset({"train", "eval", "export", "predict", "verify", "profile",
                          "batch-size"})


def write_log(command: str, exc: BaseException) -> Path:
    """The traceback of EXC in a new log file; its path."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
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


def _batch_size(args) -> int | None:
    from odwrap.training.modeldir import ModelDir

    model_dir = getattr(args, "model_dir", None)
    try:
        return ModelDir(model_dir).config.train_config.batch_size if model_dir else None
    except Exception:  # the folder's config is what failed to read: no batch size to name
        return None


def explain(command: str, exc: BaseException, args) -> str:
    """One line saying what failed and, for the known causes, which field or file to look at."""
    name, text = type(exc).__name__, str(exc)
    if name == "ResourceExhaustedError" or "OOM when allocating" in text:
        batch = _batch_size(args) if command == "train" else None
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
    return f"{command} failed inside TensorFlow or the OD API: {name}: {_first_line(exc)}"
