"""Keeping TensorFlow's chatter off the terminal unless --verbose asks for it.

Python-side warnings go through the tensorflow and absl loggers: `quiet_logs` turns them down,
and only the CLI calls it (the library never configures global logging). The TFLite
converter's MLIR summaries and TensorFlow's start-up lines are printed by C++ straight to file
descriptors 1 and 2, so the library diverts them at that level with `captured_output`, and
pycocotools' summary (Python prints) with `captured_prints`, unless the caller's Reporter is
verbose; a failing step still raises its own error. What is diverted goes to the run's output
log when the caller names one (`output_log`; the CLI does, in odwrap's log folder), else it is
dropped.
"""

import contextlib
import contextvars
import io
import os
import sys
import tempfile
from pathlib import Path

from odwrap import report

_OUTPUT_LOG = contextvars.ContextVar("odwrap_output_log", default=None)


@contextlib.contextmanager
def output_log(path):
    """Append what the library diverts from the terminal to PATH (created on the first write)
    for the block."""
    token = _OUTPUT_LOG.set(Path(path))
    try:
        yield
    finally:
        _OUTPUT_LOG.reset(token)


def current_output_log() -> Path | None:
    return _OUTPUT_LOG.get()


def _keep(data: bytes) -> None:
    path = _OUTPUT_LOG.get()
    if path is None or not data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log:
        log.write(data)


def keep_traceback(exc: BaseException) -> Path | None:
    """EXC's traceback appended to the run's output log; the log's path, None when the caller
    named none (a library caller has the exception itself)."""
    import traceback

    _keep("".join(traceback.format_exception(exc)).encode())
    return _OUTPUT_LOG.get()


def quiet_logs() -> None:
    """TensorFlow's, absl's and Keras' Python logging down to errors; imports no TensorFlow
    (TensorFlow's logger keeps a level set before its import)."""
    import logging
    import warnings

    from absl import logging as absl_logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    absl_logging.set_verbosity(absl_logging.ERROR)
    warnings.filterwarnings("ignore", module="keras|tf_keras|tensorflow|object_detection")


class _QuietImport:
    """A meta path finder for `tensorflow` alone: its import runs inside `captured_output`, so
    the C++ start-up lines it prints (TF >= 2.18 logs them through absl before any level
    applies: oneDNN, cpu_feature_guard, absl's InitializeLog notice) never reach the terminal;
    an import error still raises. It leaves sys.meta_path once TensorFlow has loaded (a mere
    `find_spec("tensorflow")` leaves it in place)."""

    finding = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self.finding:
            return None
        import importlib.util

        self.finding = True  # the real finders find it
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.finding = False
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


class _QuietLoader:
    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        with captured_output():
            self.loader.exec_module(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ...
        return getattr(self.loader, name)


def quiet_tensorflow_import() -> None:
    """Make this process's first `import tensorflow`, wherever it happens, a quiet one; imports
    nothing itself, so a command still refuses bad input before TensorFlow loads."""
    if "tensorflow" not in sys.modules and not any(
            isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


@contextlib.contextmanager
def captured_output(enabled: bool = True, into=None):
    """Send file descriptors 1 and 2 (this process's output and its children's) to a temporary
    file for the block, then to the run's output log (or nowhere); with INTO, append them to
    that file instead."""
    if not enabled:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with (open(into, "ab") if into is not None else tempfile.TemporaryFile()) as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if into is None:
                sink.seek(0)
                _keep(sink.read())


@contextlib.contextmanager
def captured_prints():
    """Python's prints (sys.stdout) of the block, such as pycocotools' summary, to the run's
    output log (or nowhere), unless the caller's Reporter is verbose. A Reporter writes to the
    streams it was made with, so progress still shows."""
    if report.verbose():
        yield
        return
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        _keep(buffer.getvalue().encode())
