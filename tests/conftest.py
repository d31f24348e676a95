"""Shared test helpers: the venv's Python in a child process, and the one tiny trained model."""

import os
import shutil
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from odwrap.odapi import compat

# Child processes start with the environment this one started with, as a user's do.
STARTING_ENV = dict(os.environ)
# Tests import TensorFlow in this process too (tests/tfdata.py): the fixes that must come before
# it (Keras 2 on TF >= 2.16, the protobuf import hook) go first, as odwrap's own imports do.
compat.apply(tensorflow=False)

ROOT = Path(__file__).resolve().parent.parent

# The fuzz tests (Hypothesis): a few hundred cases per property in every run (CI's share of the
# time budget), many more with ./scripts/test.sh --fuzz (HYPOTHESIS_PROFILE=fuzz). No deadline:
# two cores shared with TensorFlow make one slow case no bug. Failing cases are kept in
# .hypothesis/ and replayed first.
settings.register_profile("ci", max_examples=150, deadline=None,
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


def run_odwrap(*argv, env=None, timeout=600, cwd=None):
    return run_python(["-m", "odwrap", *map(str, argv)], env=env, timeout=timeout, cwd=cwd)


ONE_PROCESS = """
import json, sys
from odwrap import cli
from tests.conftest import folder_digest
for command in json.loads(sys.argv[1]):
    code = cli.main([str(arg) for arg in command])
    state = folder_digest(sys.argv[2]) if len(sys.argv) > 2 else ""
    for stream in (sys.stdout, sys.stderr):
        print(f"\\n== odwrap ran rc={code} folder={state}", file=stream, flush=True)
"""


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str
    folder: str  # the digest of the folder after it ran ("" without one)


def run_odwrap_in_one_process(*commands, folder=None, timeout=900) -> list[Ran]:
    """Each odwrap command of COMMANDS (argument lists) in turn through odwrap.cli.main, in one
    child process (TensorFlow starts once), with its own exit code, output and errors; FOLDER:
    also a digest of that folder after each (`folder_digest` gives the same of one now)."""
    import json

    extra = [str(folder)] if folder is not None else []
    result = run_python(["-c", ONE_PROCESS, json.dumps([[str(a) for a in c] for c in commands]),
                         *extra], timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    marker = re.compile(r"\n== odwrap ran rc=(\d+) folder=(\w*)\n")
    outs, errs = marker.split(result.stdout), marker.split(result.stderr)
    assert len(outs) == len(errs) == 3 * len(commands) + 1, result.stderr[-3000:]
    return [Ran(int(errs[3 * i + 1]), outs[3 * i], errs[3 * i], errs[3 * i + 2])
            for i in range(len(commands))]


def folder_digest(folder) -> str:
    """A digest of FOLDER's files, names and bytes (ONE_PROCESS's after each command)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def running_stack() -> str:
    """The name of the stack the tests run on (tf221 or tf215), from the installed TensorFlow."""
    from odwrap import doctor

    versions = {"tensorflow": doctor.installed_version(doctor.DISTRIBUTIONS["tensorflow"])}
    return doctor.stack_of(versions).name


@pytest.fixture
def odwrap_cli():
    return run_odwrap


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
    are also its eval data, 4 of them evaluated), by `odwrap train` in a child process."""
    from tests.tfdata import write_tiny_spec

    folder = tmp_path_factory.mktemp("tiny_model")
    spec = write_tiny_spec(folder, count=6, steps=2)
    result = run_odwrap("train", spec, "--model-dir", folder / "model")
    assert result.returncode == 0, result.stderr[-3000:]
    return TinyModel(folder=folder, spec=spec, model_dir=folder / "model", steps=2,
                     train_output=result.stdout)
