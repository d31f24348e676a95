"""How the library tells its caller what it is doing, without printing.

The library calls `message`, `progress` and `quiet_output` here; a caller installs a Reporter
with `use(reporter)` to render them (the CLI draws progress bars and prints messages). The
default Reporter does nothing, so a notebook or a script hears nothing unless it asks.
"""

import contextlib
import contextvars
from dataclasses import dataclass


class Reporter:
    """What a caller renders. Subclass and override; every method is a no-op here."""

    verbose = False  # show TensorFlow's and the converter's own output instead of hiding it

    def message(self, text: str) -> None:
        """A line worth showing while the work runs (results come back as return values)."""

    def progress(self, task: str, done: int, total: int | None, unit: str, **info) -> None:
        """`done` of `total` units of `task` are done; `info`: figures such as the loss."""

    def finished(self, task: str) -> None:
        """`task` ended (completed or not): no more progress will come for it."""


_CURRENT = contextvars.ContextVar("odwrap_reporter", default=Reporter())


@contextlib.contextmanager
def use(reporter: Reporter):
    """Route the library's reports to `reporter` for the block."""
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        _CURRENT.reset(token)


def current() -> Reporter:
    return _CURRENT.get()


def message(text: str) -> None:
    current().message(text)


def verbose() -> bool:
    return bool(current().verbose)


@dataclass
class Tracker:
    """Progress of one task; `advance` or `update` it, `tracking` finishes it."""

    task: str
    total: int | None
    unit: str
    done: int = 0

    def update(self, done: int, **info) -> None:
        self.done = done
        current().progress(self.task, done, self.total, self.unit, **info)

    def advance(self, count: int = 1, **info) -> None:
        self.update(self.done + count, **info)


@contextlib.contextmanager
def tracking(task: str, total: int | None, unit: str, done: int = 0):
    """A Tracker for the block; its Reporter hears `finished` however the block ends."""
    tracker = Tracker(task, total, unit, done)
    try:
        yield tracker
    finally:
        current().finished(task)
