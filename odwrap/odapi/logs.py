"""Keeping TensorFlow's chatter off the terminal unless --verbose asks for it.

Python-side warnings go through the tensorflow and absl loggers: `quiet_logs` turns them down,
and only the CLI calls it (the library never configures global logging). The TFLite
converter's MLIR summaries are printed by C++ straight to file descriptors 1 and 2, so the
library diverts them at that level with `captured_output` unless the caller's Reporter is
verbose; a failing step still raises its own error.
"""

import contextlib
import os
import sys
import tempfile


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
    an import error still raises."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        import importlib.util

        sys.meta_path.remove(self)  # once: the real finders find it
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
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
    file for the block, then drop it; with INTO, append them to that file instead."""
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
