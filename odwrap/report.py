"""How the library tells its caller what it is doing, without printing.

The library calls `message`, `progress` and `finished` here; a caller installs a Reporter with
`use(reporter)` to render them. Two renderings of progress live here: `ProgressBars` (tqdm
bars) and `ProgressLines` (a plain line at most every 30 s, for logs, pipes and batch jobs).
The CLI picks one by whether stderr is a terminal. Without a Reporter installed, a Jupyter
notebook gets `ProgressBars` through tqdm.auto and a script hears nothing unless it asks.
"""

import contextlib
import contextvars
import io
import os
import sys
import time
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


def _own_stream(stream):
    """A stream on a duplicate of STREAM's file descriptor, so that progress still shows while
    the library diverts descriptors 1 and 2 (the TFLite converter's log); STREAM itself when it
    has no descriptor (a notebook's, pytest's capture)."""
    try:
        stream.flush()
        return os.fdopen(os.dup(stream.fileno()), "w", buffering=1, closefd=True)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return stream


class ProgressBars(Reporter):
    """Progress as tqdm bars on STREAM (stderr by default), one per task; `auto`: tqdm.auto's
    (widgets in a notebook). Messages are not shown unless SHOW_MESSAGES."""

    SMOOTHING = {"train": 0.3}

    def __init__(self, auto: bool = False, show_messages: bool = False, stream=None,
                 verbose: bool = False):
        self.auto, self.show_messages, self.verbose = auto, show_messages, verbose
        self.stream = stream or _own_stream(sys.stderr)  # bound now: a later redirection
        self.out = sys.stdout  # (pycocotools' prints diverted, the converter's) leaves them
        self.bars = {}

    def message(self, text: str) -> None:
        if self.show_messages:
            print(text, file=self.out, flush=True)

    def progress(self, task, done, total, unit, **info) -> None:
        bar = self.bars.get(task)
        if bar is None:
            if self.auto:
                from tqdm.auto import tqdm
            else:
                from tqdm import tqdm

            scaled = {"unit_scale": True, "unit_divisor": 1024} if unit == "B" else {}
            bar = self.bars[task] = tqdm(total=total, initial=done, unit=unit, desc=task,
                                         smoothing=self.SMOOTHING.get(task, 0.1), disable=None,
                                         dynamic_ncols=True, file=self.stream, **scaled)
        bar.update(done - bar.n)
        if "loss" in info:
            loss = info["loss"]
            bar.set_postfix(loss=f"{loss:.4f}" if loss is not None else "-",
                            lr=f"{info.get('learning_rate', 0.0):.3g}")

    def finished(self, task) -> None:
        bar = self.bars.pop(task, None)
        if bar is not None:
            bar.close()


PROGRESS_EVERY_ENV = "ODWRAP_PROGRESS_EVERY"  # seconds between ProgressLines' lines


@dataclass
class _Line:
    started: float
    first_done: int
    printed_at: float | None = None
    printed_done: int | None = None
    warm_at: float | None = None  # when the first step or batch was done (it traced the graph)
    warm_done: int | None = None


# Units whose first item includes TensorFlow tracing the graph (a step of train: 30-60 s where
# the next take 0.4 s): the first line's rate and ETA are measured after it.
WARM_UP_UNITS = ("step", "batch")


class ProgressLines(Reporter):
    """Progress as a plain line on STREAM per task, at most every EVERY seconds
    (ODWRAP_PROGRESS_EVERY, else 30) from its start, and a last one when a task that printed
    any ends: `train: step 300 of 1500 (20%), loss 0.8123, lr 0.08, 4.1 step/s, ETA 4m53s` (the
    rate since the line before; for the first line of steps or batches, since the first one,
    which traced the graph). A task shorter than EVERY prints nothing, so a refusal stays
    one line. Messages on stdout."""

    def __init__(self, every: float | None = None, stream=None, verbose: bool = False):
        if every is None:
            try:
                every = float(os.environ.get(PROGRESS_EVERY_ENV, "30"))
            except ValueError:
                every = 30.0
        self.every, self.verbose = every, verbose
        self.stream = stream or _own_stream(sys.stderr)  # bound now, as ProgressBars' are
        self.out = sys.stdout
        self.lines = {}
        self.last = {}

    def message(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def progress(self, task, done, total, unit, **info) -> None:
        now = time.monotonic()
        line = self.lines.setdefault(task, _Line(started=now, first_done=done))
        if unit in WARM_UP_UNITS and line.warm_at is None and done > line.first_done:
            line.warm_at, line.warm_done = now, done
        self.last[task] = (done, total, unit, info)
        if now - (line.printed_at if line.printed_at is not None else line.started) \
                >= self.every:
            self._print(task, line, now)

    def finished(self, task) -> None:
        line = self.lines.pop(task, None)
        last = self.last.pop(task, None)
        if line is not None and last is not None and line.printed_at is not None \
                and line.printed_done != last[0]:
            self.last[task] = last
            self._print(task, line, time.monotonic())
            del self.last[task]

    def _print(self, task, line: _Line, now: float) -> None:
        done, total, unit, info = self.last[task]
        since, before = (line.printed_at, line.printed_done) if line.printed_at is not None \
            else (line.warm_at, line.warm_done) if line.warm_at is not None \
            else (line.started, line.first_done)
        rate = (done - before) / (now - since) if now > since and done > before else None
        line.printed_at, line.printed_done = now, done
        text = progress_text(done, total, unit, info, rate, now - line.started)
        print(f"{task}: {text}", file=self.stream, flush=True)


def _amount(count: float, unit: str) -> str:
    if unit == "B":
        return f"{count / 1e6:,.1f}"
    return f"{count:,.0f}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_text(done, total, unit, info, rate: float | None, elapsed: float) -> str:
    """'step 300 of 1500 (20%), loss 0.8123, lr 0.08, 4.1 step/s, ETA 4m53s'; at the end
    '..., done in 6m12s'."""
    name = {"B": "MB", "img": "images", "batch": "batches", "try": "tries"}.get(unit, f"{unit}s")
    if unit == "step":
        text = f"step {done:,}" + (f" of {total:,}" if total else "")
    else:
        text = _amount(done, unit) + (f" of {_amount(total, unit)}" if total else "") \
            + f" {name}"
    if total:
        text += f" ({100 * done / total:.0f}%)"
    if info.get("loss") is not None:
        text += f", loss {info['loss']:.4f}"
    if info.get("learning_rate") is not None:
        text += f", lr {info['learning_rate']:.3g}"
    if rate:
        per = " MB/s" if unit == "B" else f" {unit}/s"
        text += f", {_amount(rate, unit) if rate >= 10 or unit == 'B' else f'{rate:.2g}'}{per}"
        if total and done < total:
            text += f", ETA {_duration((total - done) / rate)}"
    if total and done >= total:
        text += f", done in {_duration(elapsed)}"
    return text


def in_notebook() -> bool:
    """Whether this process is a Jupyter (or Colab) kernel."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    return shell is not None and hasattr(shell, "kernel")


_SILENT = Reporter()
_NOTEBOOK = []  # the notebook's ProgressBars, made on first use
_CURRENT = contextvars.ContextVar("odwrap_reporter", default=_SILENT)


@contextlib.contextmanager
def use(reporter: Reporter):
    """Route the library's reports to `reporter` for the block."""
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        _CURRENT.reset(token)


def current() -> Reporter:
    reporter = _CURRENT.get()
    if reporter is _SILENT and in_notebook():
        if not _NOTEBOOK:
            _NOTEBOOK.append(ProgressBars(auto=True))
        return _NOTEBOOK[0]
    return reporter


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
    current().progress(task, done, total, unit)  # it has started (a bar, a first line)
    try:
        yield tracker
    finally:
        current().finished(task)
