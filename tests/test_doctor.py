import subprocess
import sys

import pytest

from odwrap import doctor
from odwrap.odapi import hook
from tests.conftest import ROOT, run_odwrap, running_stack

HEALTHY = {
    "tf221": {"tensorflow": "2.21.0", "protobuf": "7.36.2", "numpy": "2.4.6",
              "object_detection": "2.8.0.post1"},
    "tf215": {"tensorflow": "2.15.1", "protobuf": "3.20.3", "numpy": "1.26.4",
              "object_detection": "2.8.0.post1"},
}


@pytest.mark.parametrize("stack, python", [("tf221", (3, 13)), ("tf221", (3, 10)),
                                           ("tf215", (3, 11))])
def test_pinned_versions_have_no_problems(stack, python):
    assert doctor.stack_of(HEALTHY[stack]).name == stack
    assert doctor.version_problems(python, HEALTHY[stack]) == []


@pytest.mark.parametrize("stack, python, changes, expected", [
    pytest.param("tf215", (3, 12), {}, "Python 3.12 is running; the tf215", id="py3.12-tf215"),
    pytest.param("tf221", (3, 14), {}, "Python 3.14 is running; the tf221", id="py3.14-tf221"),
    pytest.param("tf215", (3, 10), {}, "Python 3.10 is running; the tf215", id="py3.10-tf215"),
    pytest.param("tf221", (3, 11), {"tensorflow": "2.17.1"},
                 "TensorFlow 2.17.1 is installed; odwrap runs the OD API on TensorFlow 2.21",
                 id="tf-2.17"),
    pytest.param("tf221", (3, 11), {"tensorflow": None}, "TensorFlow is not installed",
                 id="no-tf"),
    pytest.param("tf215", (3, 11), {"protobuf": "5.29.3"}, "protobuf 5.29.3 is installed",
                 id="tf215-protobuf-5"),
    pytest.param("tf215", (3, 11), {"numpy": "2.0.1"}, "numpy 2.0.1 is installed",
                 id="tf215-numpy-2"),
    pytest.param("tf221", (3, 11), {"object_detection": None}, "the OD API", id="no-odapi"),
])
def test_each_bad_version_is_one_problem(stack, python, changes, expected):
    problems = doctor.version_problems(python, {**HEALTHY[stack], **changes})
    assert len(problems) == 1, problems
    assert expected in problems[0]


@pytest.mark.tf
@pytest.mark.smoke
def test_doctor_reports_this_stack_healthy():
    result = run_odwrap("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stack healthy" in result.stdout
    stack = next(stack for stack in doctor.STACKS if stack.name == running_stack())
    assert f"stack              {stack.describe()}" in result.stdout
    # The fixes each stack needs (README, Compatibility fixes); the others are not needed.
    needed = {"tf221": ["legacy_keras", "protobuf_generated_code", "estimator_modekeys",
                        "tensorflow_io_rgb_to_lab"],
              "tf215": []}[stack.name] + ["tf_slim_control_flow", "pillow_getsize",
                                          "numpy_aliases", "keras_resnet_builder",
                                          "center_net_keypoint_eval"]
    for name in needed:
        assert f"compat fix         {name}: applied" in result.stdout
    assert result.stdout.count(": not needed") == 9 - len(needed)
    assert "edgetpu_compiler" in result.stdout
    # Issue 31: scripts/setup.sh made every program of the venv fix the OD API on import.
    assert f"OD API on import   fixed in any program of this Python ({hook.pth_path()})" in \
        result.stdout


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
def test_protobuf_4_on_the_tf215_stack_goes_through_the_import_hook(tmp_path):
    # TF 2.15 allows protobuf 4, which refuses the OD API's generated protos; odwrap rebuilds them.
    if running_stack() != "tf215":
        pytest.skip("the tf215 stack's case: tf221 runs protobuf 7 already")
    shadow = tmp_path / "shadow"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(shadow), "protobuf==4.25.3"], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.skip(f"cannot fetch protobuf 4 from the registry: {install.stderr[-300:]}")
    result = run_odwrap("doctor", env={"PYTHONPATH": str(shadow)})
    assert "protobuf           4.25.3" in result.stdout
    assert "compat fix         protobuf_generated_code: applied" in result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


def test_doctor_names_the_consumers_venv_and_its_versions(tmp_path, monkeypatch):
    from odwrap import doctor

    site = tmp_path / "consumers" / "lib" / "python3.11" / "site-packages"
    (site / "tflite_support-0.4.4.dist-info").mkdir(parents=True)
    (site / "mediapipe-0.10.9.dist-info").mkdir()
    monkeypatch.setenv("ODWRAP_CONSUMERS_VENV", str(tmp_path / "consumers"))
    assert doctor.consumers_venv() == (f"{tmp_path / 'consumers'} "
                                       "(tflite-support 0.4.4, mediapipe 0.10.9)")
    monkeypatch.setenv("ODWRAP_CONSUMERS_VENV", str(tmp_path / "none"))
    assert doctor.consumers_venv() is None
    report = doctor.Report(python="3.11", versions={})
    assert "consumers venv     none (scripts/setup-consumers.sh makes it)" in \
        doctor.format_report(report)


def test_doctor_names_where_the_beam_runner_runs(tmp_path, monkeypatch):
    from odwrap import doctor

    site = tmp_path / "beam" / "lib" / "python3.11" / "site-packages"
    (site / "apache_beam-2.77.0.dist-info").mkdir(parents=True)
    (tmp_path / "beam" / "bin").mkdir()
    monkeypatch.setenv("ODWRAP_BEAM_PYTHON", str(tmp_path / "beam" / "bin" / "python"))
    assert doctor.beam_runner() == f"{tmp_path / 'beam'} (apache-beam 2.77.0)"
    monkeypatch.setenv("ODWRAP_BEAM_PYTHON", str(tmp_path / "none" / "bin" / "python"))
    assert doctor.beam_runner() is None
    report = doctor.Report(python="3.11", versions={})
    assert "beam runner        none (scripts/setup-beam.sh makes .venv-beam)" in \
        doctor.format_report(report)


def test_doctor_names_each_model_runtime_and_its_version():
    """Each runtime that runs an exported model, by what it runs; the ONNX/OpenVINO converters
    that are missing in a line of their own (no problem: the other formats still export)."""
    from odwrap import doctor

    versions = {**HEALTHY["tf221"], "ai-edge-litert": "2.3.0", "onnxruntime": "1.32.0",
                "openvino": "2026.4.1"}
    text = doctor.format_report(doctor.Report(python="3.11", versions=versions))
    assert ("model runtimes     ai-edge-litert 2.3.0 (.tflite); onnxruntime 1.32.0 (.onnx); "
            "openvino 2026.4.1 (OpenVINO .xml); tensorflow 2.21.0 (SavedModel, tf.lite)") in text
    assert ("onnx/openvino      export --format onnx|openvino needs tf2onnx, onnx, nncf "
            "(scripts/setup.sh installs them on the tf221 stack)") in text
    installed = {**versions, "tf2onnx": "1.17.0", "onnx": "1.23.2", "nncf": "3.4.0"}
    assert "onnx/openvino" not in doctor.format_report(
        doctor.Report(python="3.11", versions=installed))
    assert doctor.version_problems((3, 11), versions) == []
