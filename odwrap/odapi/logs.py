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


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines dropped: TF >= 2.18 logs them through absl
    before any level applies (oneDNN, absl's InitializeLog notice). An import error still raises."""
    from odwrap.odapi import compat

    with captured_output():
        compat.import_tensorflow()


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
