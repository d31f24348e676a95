"""Conversion workers that die: a crash, a segfault, an exit or SIGKILL fails the run at once
with the shard and the image the worker was on, never a hang; results come in task order."""

import ctypes
import faulthandler
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from odwrap.data import workers
from odwrap.errors import InputError, RunError
from tests import datasets
from tests.conftest import ROOT, STARTING_ENV


@dataclass
class Task:
    path: Path
    images: list


def tasks(count=6, per_task=3):
    return [Task(Path(f"/out/data-{i:05d}-of-{count:05d}.tfrecord"),
                 [f"img{i}_{j}.jpg" for j in range(per_task)]) for i in range(count)]


def doomed(fate):
    """A write function that meets FATE on image img3_1.jpg and otherwise returns its task's
    images."""
    def write(task, on_sample):
        for image in task.images:
            on_sample(image)
            if image == "img3_1.jpg":
                fate()
            time.sleep(0.01)
        return list(task.images)
    return write


def _segfault():
    faulthandler.disable()  # pytest's would print the worker's stack
    ctypes.string_at(0)


def _raise_input_error():
    raise InputError("img3_1.jpg: image corrupt (--strict)")


def _raise_bug():
    raise ValueError("a bug")


@pytest.mark.parametrize("fate, how", [
    (lambda: os.kill(os.getpid(), signal.SIGKILL), "was killed by SIGKILL"),
    (_segfault, "was killed by SIGSEGV"),
    (lambda: os._exit(3), "exited with code 3"),
    (_raise_bug, "failed (ValueError: a bug)"),
], ids=["sigkill", "segfault", "exit", "exception"])
@pytest.mark.parametrize("count", [2, 3])
def test_a_dying_worker_fails_the_run_naming_shard_and_image(fate, how, count):
    start = time.monotonic()
    with pytest.raises(RunError) as raised:
        workers.run_in_workers(tasks(), doomed(fate), count, lambda done: None)
    assert str(raised.value) == f"/out/data-00003-of-00006.tfrecord: the worker writing it " \
                                f"{how} on image img3_1.jpg; the shards already complete are " \
                                "kept, rerun to resume"
    assert time.monotonic() - start < 20


def test_an_odwrap_error_in_a_worker_comes_back_as_it_was():
    with pytest.raises(InputError, match=r"^img3_1\.jpg: image corrupt \(--strict\)$"):
        workers.run_in_workers(tasks(), doomed(_raise_input_error), 2, lambda done: None)


@pytest.mark.parametrize("count", [1, 2, 4, 9])
def test_results_come_in_task_order_and_progress_counts_every_image(count):
    seen = []
    write = doomed(lambda: None)
    run = workers.run_in_process if count == 1 else \
        lambda *args: workers.run_in_workers(*args[:2], count, args[2])
    results = run(tasks(), write, seen.append)
    assert results == [task.images for task in tasks()]
    assert seen[-1] == 18 and seen == sorted(seen)


def slow_dataset(root: Path, images: int) -> Path:
    """A VOC dataset of BMP images, which convert re-encodes (tens of ms each)."""
    from PIL import Image

    source = datasets.voc(root, images=images)
    for jpeg in (source / "JPEGImages").glob("*.jpg"):
        Image.open(jpeg).resize((512, 512)).save(jpeg.with_suffix(".bmp"))
        jpeg.unlink()
    for xml in (source / "Annotations").glob("*.xml"):
        xml.write_text(xml.read_text().replace(".jpg", ".bmp"))
    return source


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
def test_a_worker_killed_from_outside_is_one_line_and_a_rerun_completes(tmp_path):
    root = slow_dataset(tmp_path / "voc", images=24)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "odwrap", "convert", "voc", str(root), "-o", str(out),
            "--workers", "2", "--shards", "4"]
    process = subprocess.Popen(argv, cwd=ROOT, env=STARTING_ENV, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(out.glob(".*.tfrecord.*.tmp")):
        time.sleep(0.005)
    time.sleep(0.1)
    victims = children(process.pid)
    assert victims, "no worker to kill"
    os.kill(victims[0], signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert err.count("\n") == 1
    assert re.fullmatch(rf"odwrap: error: {re.escape(str(out))}/data-0000\d-of-00004\.tfrecord: "
                        r"the worker writing it was killed by SIGKILL on image "
                        r"JPEGImages/shapes_000\d\d\.bmp; the shards already complete are kept, "
                        r"rerun to resume", err.strip()), err
    assert not list(out.glob(".*.tmp"))
    rerun = subprocess.run(argv, cwd=ROOT, env=STARTING_ENV, capture_output=True, text=True,
                           timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(out.glob("data-*.tfrecord"))) == 4
