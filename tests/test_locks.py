"""One writer per folder (odwrap.locks): refused while held, taken over after a kill, and
honoured by convert (train and export: tests/training/test_hostile_runs.py)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from odwrap.errors import InputError
from odwrap.locks import LOCK_NAME, FolderLock
from tests.conftest import ROOT, STARTING_ENV, run_odwrap
from tests.datasets import voc

HOLD = ("import sys, time\nfrom odwrap.locks import FolderLock\n"
        "with FolderLock(sys.argv[1], sys.argv[2]):\n    print('held', flush=True)\n"
        "    time.sleep(600)\n")


def hold(folder, command="odwrap train"):
    """Another process that holds FOLDER's lock until it is killed."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), command], cwd=ROOT,
                               env=STARTING_ENV, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_folder_is_refused_naming_its_holder_and_a_killed_holder_frees_it(tmp_path):
    folder = tmp_path / "model"
    holder = hold(folder)
    try:
        with pytest.raises(InputError) as refused:
            with FolderLock(folder, "odwrap export"):
                pass
        message = str(refused.value)
        assert message.startswith(f"{folder}: in use by 'odwrap train' (pid {holder.pid} on ")
        assert "wait for it to end, or use another folder" in message
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel released the dead holder's lock; its details are still in the file.
    assert json.loads((folder / LOCK_NAME).read_text())["pid"] == holder.pid
    with FolderLock(folder, "odwrap export") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()
    assert list(folder.iterdir()) == []  # the lock file goes with the lock


def test_the_lock_keeps_what_is_in_the_folder(tmp_path):
    folder = tmp_path / "kept"
    folder.mkdir()
    with FolderLock(folder, "odwrap convert"):
        (folder / "report.json").write_text("{}")
    assert [p.name for p in folder.iterdir()] == ["report.json"]
    new = tmp_path / "new"
    with FolderLock(new, "odwrap convert"):
        (new / "a.tfrecord").write_bytes(b"")
    assert [p.name for p in new.iterdir()] == ["a.tfrecord"]
    with FolderLock(tmp_path / "unused" / "deeper", "odwrap convert"):
        pass
    assert not (tmp_path / "unused").exists()  # created by the lock and left empty
    with pytest.raises(InputError, match="exists and is not a folder"):
        with FolderLock(new / "a.tfrecord", "odwrap convert"):
            pass


@pytest.mark.parametrize("kind", ["link", "dangling link", "hard link"])
def test_a_lock_file_that_is_a_link_is_refused_not_written_through(tmp_path, kind):
    """Issue 30: a .odwrap.lock link had the holder's details written into what it named; the
    lock file is only ever a regular file with one name (the decoys are this test's)."""
    decoy = tmp_path / "decoy.json"
    if kind != "dangling link":
        decoy.write_text("decoy")
    folder = tmp_path / "model"
    folder.mkdir()
    if kind == "hard link":
        os.link(decoy, folder / LOCK_NAME)
    else:
        (folder / LOCK_NAME).symlink_to(decoy)
    with pytest.raises(InputError) as refused:
        with FolderLock(folder, "odwrap train"):
            pass
    assert str(refused.value) == (f"{folder / LOCK_NAME}: not odwrap's lock file (a link, a hard "
                                  "link or not a regular file); remove it")
    assert (decoy.read_text() == "decoy") if kind != "dangling link" else not decoy.exists()
    assert os.path.lexists(folder / LOCK_NAME)


def test_two_converts_into_one_folder_the_second_is_refused(tmp_path):
    source = voc(tmp_path / "voc", images=4)
    out = tmp_path / "data"
    holder = hold(out, "odwrap convert")
    try:
        result = run_odwrap("convert", "voc", source, "-o", out, "--split", "train=0.5,val=0.5",
                            "--seed", "3")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{out}: in use by 'odwrap convert' (pid {holder.pid}" in result.stderr
    assert [p.name for p in out.iterdir()] == [LOCK_NAME]  # nothing written beside it
    result = run_odwrap("convert", "voc", source, "-o", out)
    assert result.returncode == 0, result.stderr
    assert LOCK_NAME not in [p.name for p in out.iterdir()]


def test_sigterm_stops_a_command_with_a_message(tmp_path):
    # SIGTERM is an exception in the main process, as SIGINT is: one line, exit 128 + 15.
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom odwrap import cli, report\n"
         "report.message = lambda text: None\n"
         "from odwrap.cli import config\n"
         "config.doctor = lambda args: (print('started', flush=True), time.sleep(60))[1]\n"
         "sys.exit(cli.main(['doctor']))"],
        cwd=ROOT, env=STARTING_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "started"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143
    assert err == "odwrap: stopped by SIGTERM\n"
    assert time.monotonic() - started < 30
