"""Progress as a person sees it: bars on a terminal, plain lines elsewhere, at most one every
30 s (none for a shorter task), and the last of a task that printed any."""

import io

from odwrap import report


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_progress_lines_start_then_every_30_s_then_the_end(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(report.time, "monotonic", clock)
    stream = io.StringIO()
    lines = report.ProgressLines(every=30, stream=stream)
    with report.use(lines), report.tracking("train", 1500, "step") as tracker:
        for second, step in ((10, 100), (20, 200), (31, 300), (45, 400), (62, 500)):
            clock.now = 1000.0 + second
            tracker.update(step, loss=0.81234, learning_rate=0.08)
        clock.now = 1000.0 + 70
        tracker.update(600, loss=0.5, learning_rate=0.04)
    assert stream.getvalue().splitlines() == [  # the first rate from step 100 (at 10 s) on
        "train: step 300 of 1,500 (20%), loss 0.8123, lr 0.08, 9.5 step/s, ETA 2m06s",
        "train: step 500 of 1,500 (33%), loss 0.8123, lr 0.08, 6.5 step/s, ETA 2m35s",
        "train: step 600 of 1,500 (40%), loss 0.5000, lr 0.04, 12 step/s, ETA 1m12s",
    ]


def test_progress_lines_of_bytes_and_of_a_task_without_a_total(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(report.time, "monotonic", clock)
    stream = io.StringIO()
    with report.use(report.ProgressLines(every=30, stream=stream)):
        with report.tracking("zoo pull ssd", 50_000_000, "B") as tracker:
            clock.now += 40
            tracker.update(20_000_000)
            clock.now += 10
            tracker.update(50_000_000)
        with report.tracking("merge: partitioning", None, "row") as tracker:
            clock.now += 35
            tracker.update(120_000)
        with report.tracking("trim", None, "row") as tracker:  # under 30 s: no line
            clock.now += 29
            tracker.update(5_000)
    assert stream.getvalue().splitlines() == [
        "zoo pull ssd: 20.0 of 50.0 MB (40%), 0.5 MB/s, ETA 1m00s",
        "zoo pull ssd: 50.0 of 50.0 MB (100%), 3.0 MB/s, done in 50s",
        "merge: partitioning: 120,000 rows, 3,429 row/s",
    ]


def test_the_cli_draws_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    from odwrap import cli

    assert cli.main(["demo-data", str(tmp_path / "demo"), "--images", "3"]) == 0
    assert isinstance(cli._reporter(False), report.ProgressLines)  # capsys: not a terminal


def test_a_script_hears_nothing_and_a_notebook_gets_bars(monkeypatch):
    assert type(report.current()) is report.Reporter  # a script: silent
    kernel = type("Shell", (), {"kernel": object()})()
    ipython = type("IPython", (), {"get_ipython": staticmethod(lambda: kernel)})
    monkeypatch.setitem(__import__("sys").modules, "IPython", ipython)
    current = report.current()
    assert isinstance(current, report.ProgressBars) and current.auto
    with report.use(report.Reporter()) as mine:
        assert report.current() is mine  # a Reporter the caller installs wins


def test_the_first_line_of_a_training_leaves_the_traced_first_step_out(monkeypatch):
    """The demo printed "step 1 of 1,500 (0%), ..., 0.013 step/s, ETA 32h36m": the first step
    includes TensorFlow tracing the graph (77 s); the next ones take 0.4 s."""
    clock = Clock()
    monkeypatch.setattr(report.time, "monotonic", clock)
    stream = io.StringIO()
    with report.use(report.ProgressLines(every=30, stream=stream)), \
            report.tracking("train", 1500, "step") as tracker:
        clock.now += 77
        tracker.update(1)
        clock.now += 30
        tracker.update(76)
    assert stream.getvalue().splitlines() == [
        "train: step 1 of 1,500 (0%)",
        "train: step 76 of 1,500 (5%), 2.5 step/s, ETA 9m30s",  # 1424 steps at 2.5 a second
    ]
