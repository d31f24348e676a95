"""Shared test helpers: the venv's Python in a child process, and the one tiny trained model."""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from odwrap.odapi import compat
from tests.worker import Ran, folder_digest  # noqa: F401 (the tests import them from here)

# Child processes start with the environment this one started with, as a user's do; but their
# progress lines (stderr not being a terminal, one every 30 s) come only where a test asks for
# them (ODWRAP_PROGRESS_EVERY=0, tests/test_report.py and the training tests), so that a long
# run's stderr holds just what the test looks at.
# Under pytest-xdist a test process starts from the controller's environment, which conftest
# already changed there (compat sets TF_USE_LEGACY_KERAS): the controller hands its starting
# environment down, so that children start as a user's do whichever process starts them.
_HANDED_DOWN = "ODWRAP_TESTS_STARTING_ENV"
if _HANDED_DOWN in os.environ:
    STARTING_ENV = json.loads(os.environ[_HANDED_DOWN])
else:
    os.environ.setdefault("ODWRAP_PROGRESS_EVERY", "86400")
    STARTING_ENV = dict(os.environ)
    os.environ[_HANDED_DOWN] = json.dumps(STARTING_ENV)
# Tests import TensorFlow in this process too (tests/tfdata.py): the fixes that must come before
# it (Keras 2 on TF >= 2.16, the protobuf import hook) go first, as odwrap's own imports do.
compat.apply(tensorflow=False)

ROOT = Path(__file__).resolve().parent.parent

# The fuzz tests (Hypothesis): a few hundred cases per property in every run (CI's share of the
# time budget), many more with ./scripts/test.sh --fuzz (HYPOTHESIS_PROFILE=fuzz). No deadline:
# two cores shared with TensorFlow make one slow case no bug. Failing cases are kept in
# .hypothesis/ and replayed first. Under CI (CI set) the cases are the same each run: a fresh
# random case that fails on a clean clone blocks a landing without a way to replay it there
# (two did, both real bugs, now regression tests); the random search is a local run's and
# --fuzz's.
settings.register_profile("ci", max_examples=150, deadline=None,
                          derandomize=bool(os.environ.get("CI")),
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def run_python(code_or_args, env=None, timeout=600, cwd=None):
    """Run the venv's Python in a fresh process (TF state and monkeypatches stay there).
    ENV adds to the environment the test run started with (not what compat set here)."""
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    full_env = dict(STARTING_ENV, **(env or {}))
    return subprocess.run([sys.executable, *args], env=full_env, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or ROOT)


# What TensorFlow's C++ logging prints when it loads (TF 2.21: absl's "WARNING: All log messages
# before absl::InitializeLog() is called ...", "I0000 00:00:1796653368.543172 13266 port.cc:153]
# oneDNN custom operations are on ...", cpu_feature_guard's "rebuild TensorFlow with ..."),
# which no odwrap command may show (issue 25). The worker imports TensorFlow before its first
# command, so only a fresh process shows whether a command keeps them off the terminal.
TENSORFLOW_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|oneDNN|cpu_feature_guard|absl::|"
                             r"All log messages before absl|rebuild TensorFlow with")


def tensorflow_lines(text: str) -> list[str]:
    """The lines of TEXT that TensorFlow's C++ logging printed."""
    return [line for line in text.splitlines() if TENSORFLOW_LINE.search(line)]


_WORKER = None  # this test process's odwrap worker (tests/worker.py), started on first use


def _worker():
    global _WORKER
    from tests.worker import Worker

    if _WORKER is None:
        _WORKER = Worker(STARTING_ENV)
    return _WORKER


def pytest_sessionfinish(session):
    if _WORKER is not None:
        _WORKER.stop()


def run_odwrap(*argv, env=None, timeout=600, cwd=None, fresh=False):
    """`odwrap ARGV` as a user runs it: exit code, output and errors (a `Ran`). It runs in the
    session's worker process (tests/worker.py: TensorFlow and the OD API imported once) unless
    FRESH, or ENV sets a variable that odwrap reads at import (then in a new process)."""
    from tests.worker import PER_COMMAND_ENV

    if fresh or any(name not in PER_COMMAND_ENV for name in env or {}):
        return run_python(["-m", "odwrap", *map(str, argv)], env=env, timeout=timeout, cwd=cwd)
    return _worker().run(argv, env=env, cwd=cwd, timeout=timeout)


def run_odwrap_in_one_process(*commands, folder=None, timeout=900, env=None) -> list[Ran]:
    """Each odwrap command of COMMANDS (argument lists) in turn in the session's worker process,
    with its own exit code, output and errors; FOLDER: also a digest of that folder after each
    (`folder_digest` gives the same of one now); ENV: as for run_odwrap, for each."""
    return [_worker().run(command, folder=folder, timeout=timeout, env=env)
            for command in commands]


def running_stack() -> str:
    """The name of the stack the tests run on (tf221 or tf215), from the installed TensorFlow."""
    from odwrap import doctor

    versions = {"tensorflow": doctor.installed_version(doctor.DISTRIBUTIONS["tensorflow"])}
    return doctor.stack_of(versions).name


@pytest.fixture
def odwrap_cli():
    return run_odwrap


def built_once(tmp_path_factory, name: str, build):
    """The folder NAME, filled by BUILD(folder) once per test run, whichever and however many
    pytest-xdist workers ask for it (the others wait for it and reuse it); returns what BUILD
    returned (JSON data), read back by the workers that did not build it."""
    import json

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, which every worker's own folder is in
    folder = base / f"shared-{name}"
    done = base / f"shared-{name}.json"
    with FileLock(f"{folder}.lock"):
        if not done.exists():
            if folder.exists():  # an earlier try failed half-way
                shutil.rmtree(folder)
            folder.mkdir()
            done.write_text(json.dumps(build(folder)))
    return folder, json.loads(done.read_text())


def side_venv_python(name: str) -> Path:
    """The Python of the side venv NAME (beam, consumers, converters: made by
    scripts/setup-NAME.sh in .venv-NAME; ODWRAP_NAME_VENV moves it): the tests that need it
    fail without it under CI and are skipped elsewhere."""
    venv = Path(os.environ.get(f"ODWRAP_{name.upper()}_VENV", ROOT / f".venv-{name}"))
    python = venv / "bin" / "python"
    if not python.exists():
        message = f"no {name} venv at {venv}: run ./scripts/setup-{name}.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


@pytest.fixture(scope="session")
def beam_python() -> Path:
    """The Beam venv's Python (scripts/setup-beam.sh)."""
    return side_venv_python("beam")


@dataclass(frozen=True)
class TinyModel:
    """The one tiny model the whole test run shares: trained once, never changed by a test
    (a test that trains on, evaluates into or re-configures it works on `copy()`)."""

    folder: Path  # spec, train.tfrecord and model/
    spec: Path
    model_dir: Path
    steps: int
    train_output: str  # what `odwrap train` printed

    def copy(self, destination) -> Path:
        shutil.copytree(self.model_dir, destination, ignore=shutil.ignore_patterns("export*"))
        return Path(destination)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> TinyModel:
    """SSD MobileNetV2 FPNLite at 64x64, depth 0.25, trained 2 steps on 6 shapes images (which
    are also its eval data, 4 of them evaluated), by `odwrap train`; once per test run. Its
    batch norms keep the averages as trained (--batch-norm-batches 0): the export and runtime
    tests compare runtimes' top detections, and measured statistics make a 2-step SSD's scores
    near-uniform (0.0112 to 0.0136 on the demo images), ties that runtimes break otherwise.
    tests/training/test_batch_norm.py and the keypoint model measure them."""
    from tests.tfdata import write_tiny_spec

    def build(folder):
        spec = write_tiny_spec(folder, count=6, steps=2)
        result = run_odwrap("train", spec, "--model-dir", folder / "model",
                            "--batch-norm-batches", 0)
        assert result.returncode == 0, result.stderr[-3000:]
        return {"spec": spec.name, "stdout": result.stdout}

    folder, made = built_once(tmp_path_factory, "tiny_model", build)
    return TinyModel(folder=folder, spec=folder / made["spec"], model_dir=folder / "model",
                     steps=2, train_output=made["stdout"])


# The longest test files of a run, longest first (tf221, 2 cores, from --durations: each is one
# xdist worker's, so a long file started last would keep the run waiting on it alone).
LONGEST_FIRST = (
    "tests/training/test_train.py",
    "tests/training/test_families.py",
    "tests/deploy/test_masks.py",
    "tests/training/test_speed_tf.py",
    "tests/deploy/test_keypoints_end_to_end.py",
    "tests/deploy/test_consumers.py",
    "tests/deploy/test_onnx_openvino.py",
    "tests/deploy/test_fpn_export.py",
    "tests/training/test_hostile_runs.py",
    "tests/training/test_diagnostics.py",
    "tests/test_api.py",
    "tests/deploy/test_export.py",
    "tests/results/test_merge_trim.py",
    "tests/config/test_build.py",
    "tests/data/test_beam.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        path = Path(str(item.fspath)).relative_to(ROOT).as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's tests keep their order
