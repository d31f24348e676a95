import subprocess
import sys

import pytest

from odwrap import doctor
from tests.conftest import ROOT, run_odwrap

HEALTHY = {"tensorflow": "2.15.1", "protobuf": "3.20.3", "numpy": "1.26.4",
           "object_detection": "2.8.0.post1"}


def test_pinned_versions_have_no_problems():
    assert doctor.version_problems((3, 11), HEALTHY) == []


@pytest.mark.parametrize("python, changes, expected", [
    pytest.param((3, 12), {}, "Python 3.12 is running", id="python-3.12"),
    pytest.param((3, 11), {"tensorflow": "2.16.1"}, "TensorFlow 2.16.1 is installed",
                 id="tf-2.16"),
    pytest.param((3, 11), {"tensorflow": None}, "TensorFlow is not installed", id="no-tf"),
    pytest.param((3, 11), {"protobuf": "4.25.3"}, "protobuf 4.25.3 is installed",
                 id="protobuf-4"),
    pytest.param((3, 11), {"numpy": "2.0.1"}, "numpy 2.0.1 is installed", id="numpy-2"),
    pytest.param((3, 11), {"object_detection": None}, "the OD API", id="no-odapi"),
])
def test_each_bad_version_is_one_problem(python, changes, expected):
    problems = doctor.version_problems(python, {**HEALTHY, **changes})
    assert len(problems) == 1
    assert expected in problems[0]


@pytest.mark.tf
def test_doctor_reports_this_stack_healthy():
    result = run_odwrap("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stack healthy" in result.stdout
    assert "tensorflow         2.15.1" in result.stdout
    assert "compat fix         tf_slim_control_flow: applied" in result.stdout
    assert "edgetpu_compiler" in result.stdout


@pytest.mark.slow
def test_doctor_reports_a_python_without_the_stack(tmp_path):
    # A bare venv: odwrap's own code is importable, nothing of the stack is.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True)
    bare_python = tmp_path / "bare" / "bin" / "python"
    result = subprocess.run([str(bare_python), "-m", "odwrap", "doctor"], cwd=ROOT,
                            capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "problem: TensorFlow is not installed" in result.stdout
    assert "problem: the OD API" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.tf
def test_doctor_reports_protobuf_4(tmp_path):
    shadow = tmp_path / "shadow"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(shadow), "protobuf==4.25.3"], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.skip(f"cannot fetch protobuf 4 from the registry: {install.stderr[-300:]}")
    result = run_odwrap("doctor", env={"PYTHONPATH": str(shadow)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "problem: protobuf 4.25.3 is installed" in result.stdout
    assert "problem: importing the OD API protos fails" in result.stdout
    assert "Traceback" not in result.stderr
