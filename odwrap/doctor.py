"""`odwrap doctor`: what the installed stack is, and what is wrong with it."""

import importlib
import platform
import shutil
import sys
from dataclasses import dataclass, field

from odwrap.odapi import hook
from odwrap.odapi.compat import TENSORFLOW_DISTRIBUTIONS, installed_version, major_minor


@dataclass(frozen=True)
class Stack:
    """A set of packages that odwrap is verified on (requirements/constraints-NAME.txt)."""

    name: str
    tensorflow: tuple[int, int]
    pythons: tuple[tuple[int, int], ...]
    protobuf_below: int | None  # TensorFlow's own bound
    numpy_below: int | None
    setup: str

    def describe(self) -> str:
        pythons = ", ".join(f"{major}.{minor}" for major, minor in self.pythons)
        tf = ".".join(map(str, self.tensorflow))
        return f"{self.name} (TensorFlow {tf}, Python {pythons})"


STACKS = (
    Stack("tf221", (2, 21), ((3, 10), (3, 11), (3, 12), (3, 13)), None, None,
          "scripts/setup.sh"),
    Stack("tf215", (2, 15), ((3, 11),), 5, 2, "scripts/setup.sh --stack tf215"),
)
DEFAULT_STACK = STACKS[0]

DISTRIBUTIONS = {
    "tensorflow": TENSORFLOW_DISTRIBUTIONS,
    "protobuf": ("protobuf",),
    "numpy": ("numpy",),
    "object_detection": ("tf-models-research-object-detection", "object-detection"),
    "tf-models-official": ("tf-models-official",),
    "tf-slim": ("tf-slim",),
    "pillow": ("pillow",),
    "ai-edge-litert": ("ai-edge-litert",),
    "tflite-runtime": ("tflite-runtime",),
    # export --format onnx|openvino and the runtimes that run those models
    "onnxruntime": ("onnxruntime",),
    "openvino": ("openvino",),
    "tf2onnx": ("tf2onnx",),
    "onnx": ("onnx",),
    "nncf": ("nncf",),
}
# Each runtime that runs an exported model, by what it runs.
MODEL_RUNTIMES = (("ai-edge-litert", ".tflite"), ("tflite-runtime", ".tflite"),
                  ("onnxruntime", ".onnx"), ("openvino", "OpenVINO .xml"))


@dataclass
class Report:
    python: str
    versions: dict[str, str | None]
    stack: Stack | None = None
    compat: dict[str, str] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    edgetpu_compiler: str | None = None
    consumers: str | None = None  # the consumers venv (scripts/setup-consumers.sh), what it has
    beam: str | None = None  # where convert --runner beam runs (scripts/setup-beam.sh)
    hook: str | None = None  # the .pth that applies the OD API's fixes on import (odapi/hook.py)
    problems: list[str] = field(default_factory=list)


def stack_of(versions: dict[str, str | None]) -> Stack | None:
    """The stack whose TensorFlow is installed, if any."""
    tf = versions.get("tensorflow")
    return next((stack for stack in STACKS
                 if tf is not None and major_minor(tf) == stack.tensorflow), None)


def version_problems(python: tuple[int, int], versions: dict[str, str | None]) -> list[str]:
    """The problems that the versions alone show, one line each."""
    problems = []
    tf = versions.get("tensorflow")
    stack = stack_of(versions)
    if tf is None:
        problems.append("TensorFlow is not installed (run scripts/setup.sh)")
    elif stack is None:
        known = " or ".join(f"{'.'.join(map(str, s.tensorflow))} ({s.setup})" for s in STACKS)
        problems.append(f"TensorFlow {tf} is installed; odwrap runs the OD API on TensorFlow "
                        f"{known}")
    if stack is not None and python not in stack.pythons:
        problems.append(f"Python {python[0]}.{python[1]} is running; the {stack.describe()} "
                        f"stack needs one of its Pythons (run {stack.setup})")
    pb = versions.get("protobuf")
    if pb is None:
        problems.append("protobuf is not installed (run scripts/setup.sh)")
    elif stack and stack.protobuf_below and major_minor(pb)[0] >= stack.protobuf_below:
        problems.append(f"protobuf {pb} is installed; TensorFlow {tf} needs protobuf < "
                        f"{stack.protobuf_below} (run {stack.setup})")
    np_version = versions.get("numpy")
    if (np_version is not None and stack and stack.numpy_below
            and major_minor(np_version)[0] >= stack.numpy_below):
        problems.append(f"numpy {np_version} is installed; TensorFlow {tf} needs numpy < "
                        f"{stack.numpy_below} (run {stack.setup})")
    if versions.get("object_detection") is None:
        problems.append("the OD API (tf-models-research-object-detection) is not installed "
                        "(run scripts/setup.sh)")
    return problems


def _import_problem(what: str, func) -> str | None:
    try:
        func()
    except Exception as exc:  # doctor reports whatever breaks, it never crashes on it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{what} fails: {type(exc).__name__}: {first}"
    return None


def _venv_versions(venv, names) -> list[str]:
    """'name version' of each of NAMES installed in VENV, read from its dist-info folders (it
    is another venv: nothing of it is imported here)."""
    found = []
    for name in names:
        for info in sorted(venv.glob(f"lib/python3*/site-packages/{name}-*.dist-info")):
            found.append(f"{name.replace('_', '-')} {info.name[len(name) + 1:-10]}")
    return found


def consumers_venv() -> str | None:
    """The consumers venv and the versions in it; None when there is none."""
    import os
    from pathlib import Path

    venv = Path(os.environ.get("ODWRAP_CONSUMERS_VENV") or
                Path(__file__).resolve().parent.parent / ".venv-consumers")
    found = _venv_versions(venv, ("tflite_support", "mediapipe"))
    return f"{venv} ({', '.join(found)})" if found else None


def beam_runner() -> str | None:
    """Where `convert --runner beam` runs its pipeline, and its apache-beam; None: nowhere."""
    from odwrap.data.beamenv import beam_venv

    here = installed_version(("apache-beam",))
    if here:
        return f"this Python (apache-beam {here})"
    venv = beam_venv()
    found = _venv_versions(venv, ("apache_beam",))
    return f"{venv} ({found[0]})" if found else None


def diagnose(install_hook: bool = False) -> Report:
    """Look at the stack: versions, then the imports that odwrap needs, in dependency order.
    INSTALL_HOOK: first write the .pth that fixes the OD API in any program of this Python."""
    if install_hook:
        hook.write_pth()
    versions = {key: installed_version(names) for key, names in DISTRIBUTIONS.items()}
    report = Report(python=platform.python_version(), versions=versions,
                    stack=stack_of(versions), edgetpu_compiler=shutil.which("edgetpu_compiler"),
                    consumers=consumers_venv(), beam=beam_runner(),
                    hook=str(hook.pth_path()) if hook.pth_installed() else None)
    report.problems = version_problems(sys.version_info[:2], versions)

    def protos():
        from odwrap.odapi import protos

        protos.pipeline_pb2()  # protobuf only, through the import hook where it is needed

    def tensorflow():
        from odwrap.odapi import compat
        from odwrap.odapi.logs import captured_output

        with captured_output():  # TensorFlow's C++ start-up lines; an import error still raises
            tf = compat.import_tensorflow()

        for kind in ("CPU", "GPU", "TPU"):
            report.devices[kind] = len(tf.config.list_physical_devices(kind))

    def odapi():
        from odwrap.odapi import compat

        report.compat = compat.apply()
        compat.load("object_detection.model_lib_v2")
        compat.load("object_detection.exporter_lib_v2")

    def runtimes():
        for module in ("onnxruntime", "openvino"):
            if versions.get(module):
                importlib.import_module(module)

    steps = [("importing the OD API protos", protos), ("importing TensorFlow", tensorflow),
             ("importing the OD API training and export code", odapi),
             ("importing ONNX Runtime and OpenVINO", runtimes)]
    if versions["object_detection"] is None:
        steps = [step for step in steps if step[1] is tensorflow]
    if versions["tensorflow"] is None:
        steps = [step for step in steps if step[1] in (protos, runtimes)]
    for what, func in steps:
        problem = _import_problem(what, func)
        if problem:
            report.problems.append(problem)
    return report


def format_report(report: Report) -> str:
    stack = report.stack.describe() if report.stack else "none that odwrap knows"
    default = " (the default)" if report.stack is DEFAULT_STACK else ""
    lines = [f"{'stack':18} {stack}{default}", f"{'python':18} {report.python}"]
    for key, version in report.versions.items():
        lines.append(f"{key:18} {version or 'not installed'}")
    runtimes = [f"{key} {report.versions[key]} ({runs})" for key, runs in MODEL_RUNTIMES
                if report.versions.get(key)]
    if report.versions.get("tensorflow"):
        runtimes.append(f"tensorflow {report.versions['tensorflow']} (SavedModel, tf.lite)")
    lines.append(f"{'model runtimes':18} {'; '.join(runtimes) or 'none'}")
    missing = [key for key in ("tf2onnx", "onnx", "onnxruntime", "openvino", "nncf")
               if not report.versions.get(key)]
    if missing:
        lines.append(f"{'onnx/openvino':18} export --format onnx|openvino needs "
                     f"{', '.join(missing)} (scripts/setup.sh installs them on the tf221 stack)")
    for name, state in report.compat.items():
        state = "applied" if state == "already applied" else state
        lines.append(f"{'compat fix':18} {name}: {state}")
    if report.devices:
        found = ", ".join(f"{count} {kind}" for kind, count in report.devices.items())
        lines.append(f"{'devices':18} {found}")
    lines.append(f"{'edgetpu_compiler':18} "
                 f"{report.edgetpu_compiler or 'not on PATH (Edge TPU export stops at its report)'}")
    lines.append(f"{'consumers venv':18} "
                 f"{report.consumers or 'none (scripts/setup-consumers.sh makes it)'}")
    lines.append(f"{'beam runner':18} "
                 f"{report.beam or 'none (scripts/setup-beam.sh makes .venv-beam)'}")
    lines.append(f"{'OD API on import':18} " + (
        f"fixed in any program of this Python ({report.hook})" if report.hook else
        "fixed in odwrap's commands only (odwrap doctor --install-hook fixes every "
        "`import object_detection` of this Python)"))
    for problem in report.problems:
        lines.append(f"problem: {problem}")
    lines.append("stack healthy" if not report.problems
                 else f"{len(report.problems)} problem(s) found")
    return "\n".join(lines)
