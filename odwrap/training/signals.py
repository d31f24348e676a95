"""SIGINT and SIGTERM during `train`: at once while starting, with a checkpoint once training
runs."""

import signal

from odwrap.errors import Interrupted


class Signals:
    """SIGINT and SIGTERM: during start-up they stop the run at once (nothing has been written
    yet); once training runs, they are noted and the loop saves a checkpoint and stops."""

    def __init__(self):
        self.received = None
        self.deferred = False
        self._previous = {}

    def __enter__(self):
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def reinstall(self) -> None:
        """Take SIGINT and SIGTERM back: a MultiWorkerMirroredStrategy starts TensorFlow's
        preemption notifier, whose C++ handler takes SIGTERM from Python's, unseen by
        `signal.getsignal`."""
        for number in self._previous:
            signal.signal(number, self._handle)

    def __exit__(self, *exc_info):
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _handle(self, number, _frame):
        if not self.deferred:
            raise Interrupted(f"stopped by {signal.Signals(number).name} while starting; "
                              "nothing was written", number)
        self.received = number
