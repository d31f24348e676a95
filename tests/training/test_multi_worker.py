"""Several workers (issue 29): two `odwrap train` processes on loopback ports train one model
with MultiWorkerMirroredStrategy. The chief alone writes the folder; both stop at exactly the
requested step; a rerun resumes; a signal to one worker stops both at the same step with a
checkpoint; a killed worker makes the other end with one line naming it. And TF_CONFIG and
--worker-hosts are refused in one line, before TensorFlow, when they say no cluster."""

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from odwrap.errors import InputError
from odwrap.training import cluster
from tests.conftest import ROOT, STARTING_ENV, run_odwrap
from tests.tfdata import TINY_SPEC, write_shapes_tfrecord
from tests.training.test_train import checkpoint_steps

WAIT = 300  # seconds a two-worker run of a few steps may take on a loaded 2-core machine


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("localhost", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


@pytest.fixture(scope="module")
def sharded_spec(tmp_path_factory):
    """The tiny spec over two shards: each of two workers reads one."""
    folder = tmp_path_factory.mktemp("multi_worker")
    for index in range(2):
        write_shapes_tfrecord(folder / f"train-{index}.tfrecord", count=4, seed=index)
    spec = folder / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(size=64, train=folder / "train-*.tfrecord", steps=2))
    return spec


class Workers:
    """Two `odwrap train` processes of one cluster, each with a temporary folder of its own (so
    that what a worker leaves there is seen)."""

    def __init__(self, tmp_path, spec, model_dir, *flags):
        hosts = ",".join(f"localhost:{port}" for port in free_ports(2))
        self.scratch = [tmp_path / f"tmp-{index}" for index in range(2)]
        self.processes = []
        for index, scratch in enumerate(self.scratch):
            scratch.mkdir(exist_ok=True)
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "odwrap", "train", str(spec), "--model-dir",
                 str(model_dir), "--worker-hosts", hosts, "--task-index", str(index), *flags],
                cwd=ROOT, env={**STARTING_ENV, "TMPDIR": str(scratch)},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        self.hosts = hosts.split(",")

    def wait(self, timeout=WAIT) -> list[tuple[int, str, str]]:
        results = []
        for process in self.processes:
            out, err = process.communicate(timeout=timeout)
            results.append((process.returncode, out, err))
        return results

    def left_behind(self) -> list:
        """What the workers left in their temporary folders, odwrap's log folder aside."""
        return [path.name for scratch in self.scratch for path in scratch.iterdir()
                if path.name != "odwrap"]

    def kill(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


def wait_for_checkpoint(model_dir, after: int, workers: Workers) -> int:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        steps = checkpoint_steps(model_dir)
        if steps and steps[-1] > after:
            return steps[-1]
        assert all(process.poll() is None for process in workers.processes), workers.wait()
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint after step {after} in {WAIT} s")


def test_two_workers_train_resume_and_stop_together(tmp_path, sharded_spec):
    model_dir = tmp_path / "model"
    workers = Workers(tmp_path, sharded_spec, model_dir, "--steps", "2",
                      "--checkpoint-every", "1")
    try:
        results = workers.wait()
    finally:
        workers.kill()
    for code, out, err in results:
        assert code == 0, err[-3000:]
        assert "trained steps 0 -> 2" in out and f"checkpoint {model_dir}/ckpt-2" in out
        assert "in use by" not in err
    # The chief's files only: no second config, summaries of one writer, no worker's save.
    assert checkpoint_steps(model_dir) == [1, 2]
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        ["checkpoint", "ckpt-1.index", "ckpt-1.data-00000-of-00001", "ckpt-2.index",
         "ckpt-2.data-00000-of-00001", "label_map.pbtxt", "pipeline.config", "train"])
    assert len(list((model_dir / "train").iterdir())) == 1
    assert workers.left_behind() == []  # the worker's scratch checkpoints are removed
    first = (model_dir / "ckpt-2.index").stat().st_mtime_ns

    # A rerun with more steps resumes at 2; SIGTERM to worker 1 stops both at one step.
    workers = Workers(tmp_path, sharded_spec, model_dir, "--steps", "100000",
                      "--checkpoint-every", "1", "--steps-per-loop", "1")
    try:
        wait_for_checkpoint(model_dir, 3, workers)
        workers.processes[1].send_signal(signal.SIGTERM)
        (chief, _, chief_err), (other, _, other_err) = workers.wait()
    finally:
        workers.kill()
    assert (chief, other) == (143, 143), chief_err[-3000:] + other_err[-3000:]
    step = checkpoint_steps(model_dir)[-1]
    assert other_err.endswith(f"odwrap: stopped by SIGTERM at step {step}; checkpoint "
                              f"{model_dir}/ckpt-{step} saved; rerun every worker to resume\n")
    assert chief_err.endswith("odwrap: stopped with the cluster (another worker was stopped by a "
                              f"signal) at step {step}; checkpoint {model_dir}/ckpt-{step} saved; "
                              "rerun every worker to resume\n")
    assert (model_dir / "ckpt-2.index").stat().st_mtime_ns == first  # resumed, not redone
    assert workers.left_behind() == []


def test_a_killed_worker_stops_the_other_with_one_line(tmp_path, sharded_spec):
    model_dir = tmp_path / "model"
    workers = Workers(tmp_path, sharded_spec, model_dir, "--steps", "100000",
                      "--checkpoint-every", "1", "--steps-per-loop", "1")
    try:
        wait_for_checkpoint(model_dir, 1, workers)
        workers.processes[1].kill()
        started = time.monotonic()
        _, err = workers.processes[0].communicate(timeout=120)
        answered = time.monotonic() - started
    finally:
        workers.kill()
    assert workers.processes[0].returncode == 1, err[-3000:]
    line = err.splitlines()[-1]
    assert line.startswith(f"odwrap: error: worker 0 ({workers.hosts[0]}): worker 1 "
                           f"({workers.hosts[1]}) stopped answering near step "), err[-3000:]
    kept = checkpoint_steps(model_dir)[-1]
    assert f"the latest checkpoint is {model_dir}/ckpt-{kept}: start every worker again" in line
    assert "E0000" not in err and "Socket closed" not in err  # the collectives' C++ lines: log
    assert answered < 60, answered  # TensorFlow's own health check: about 90 s


@pytest.mark.parametrize("text, message", [
    ("{", "TF_CONFIG: not JSON"),
    ("[1]", "TF_CONFIG: must be a JSON object with 'cluster' and 'task'"),
    ('{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker"}}',
     "TF_CONFIG: cluster job 'ps': odwrap trains with MultiWorkerMirroredStrategy"),
    ('{"cluster": {"worker": ["a:1", "a"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster.worker: 'a' is not 'host:port'"),
    ('{"cluster": {"worker": ["a:1", "a:70000"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster.worker: 'a:70000' is not 'host:port'"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}',
     "TF_CONFIG: cluster.worker: a host:port is given twice"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}}',
     "TF_CONFIG: 'task' must say this process's {'type', 'index'}"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}',
     "TF_CONFIG: task.type 'chief' is not a job of the cluster (worker)"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
     "TF_CONFIG: task.index 2: the cluster has 2 worker task(s), from 0"),
    ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": true}}',
     "TF_CONFIG: task.index true: the cluster has 2 worker task(s), from 0"),
])
def test_a_tf_config_that_says_no_cluster_is_one_line(text, message):
    with pytest.raises(InputError) as refused:
        cluster.parse(text)
    assert str(refused.value).startswith(message), str(refused.value)


def test_the_chief_and_the_peers_are_named_as_tensorflow_names_them():
    found = cluster.parse(json.dumps({"cluster": {"chief": ["c:1"], "worker": ["a:1", "b:2"]},
                                      "task": {"type": "worker", "index": 0}}))
    assert not found.chief and found.size == 3 and found.every() == ["c:1", "a:1", "b:2"]
    assert found.peer("aborted: /job:worker/replica:0/task:0 and /job:worker/replica:0/task:1 "
                      "is down") == "worker 1 (b:2)"  # itself is not the peer
    assert found.peer("Connection reset by peer") == "a worker of the cluster"
    assert cluster.parse('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}') is None
    assert cluster.parse("") is None
    pair = cluster.from_options(("a:1", "b:1"), 1, environ={})
    assert not pair.chief and pair.peer("Socket closed") == "worker 0 (a:1)"
    assert cluster.from_options(("a:1", "b:1"), 0, environ={}).chief


@pytest.mark.parametrize("flags, environ, message", [
    (["--worker-hosts", "localhost:1"], {},
     "--worker-hosts: one host is no cluster; leave it out to train alone"),
    (["--task-index", "1"], {}, "--task-index needs --worker-hosts"),
    (["--worker-hosts", "localhost:1,localhost:2"], {},
     "--worker-hosts needs --task-index (this process's place in the list)"),
    (["--worker-hosts", "localhost:1,localhost:2", "--task-index", "2"], {},
     "--worker-hosts: task.index 2: the cluster has 2 worker task(s), from 0"),
    (["--worker-hosts", "localhost:1,localhost:2", "--task-index", "0"],
     {"TF_CONFIG": '{"cluster": {}}'}, "--worker-hosts: TF_CONFIG is set too"),
    ([], {"TF_CONFIG": "{"}, "TF_CONFIG: not JSON"),
])
def test_cluster_options_are_refused_before_tensorflow(tmp_path, sharded_spec, flags, environ,
                                                       message):
    result = run_odwrap("train", sharded_spec, "--model-dir", tmp_path / "model", *flags,
                        env=environ)
    assert result.returncode == 2 and result.stderr.startswith(f"odwrap: error: {message}")
    assert result.stderr.count("\n") == 1 and not (tmp_path / "model").exists()


def test_fewer_shards_than_workers_is_refused_naming_the_field(tmp_path):
    write_shapes_tfrecord(tmp_path / "train.tfrecord", count=2)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(size=64, train=tmp_path / "train.tfrecord", steps=2))
    result = run_odwrap("train", spec, "--model-dir", tmp_path / "model", "--worker-hosts",
                        "localhost:1,localhost:2", "--task-index", "1")
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "odwrap: error: train_input_reader.tf_record_input_reader.input_path: 1 file(s) for 2 "
        "workers, which each read a share of the files: write at least one shard per worker "
        "(odwrap convert --shards N)\n")
