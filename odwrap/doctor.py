"""`odwrap doctor`: what the installed stack is, and what is wrong with it."""

import platform
import shutil
import sys
from dataclasses import dataclass, field
from importlib import metadata

# What the OD API stack is known to run with (requirements/constraints.txt has the exact pins).
PYTHON = (3, 11)
TENSORFLOW = (2, 15)
PROTOBUF_BELOW = 4  # the OD API's generated *_pb2 files are old-style; protobuf >= 4 refuses them
NUMPY_BELOW = 2

DISTRIBUTIONS = {
    "tensorflow": ("tensorflow-cpu", "tensorflow", "tensorflow-gpu"),
    "protobuf": ("protobuf",),
    "numpy": ("numpy",),
    "object_detection": ("tf-models-research-object-detection", "object-detection"),
    "tf-models-official": ("tf-models-official",),
    "tf-slim": ("tf-slim",),
    "pillow": ("pillow",),
    "ai-edge-litert": ("ai-edge-litert",),
    "tflite-runtime": ("tflite-runtime",),
}


@dataclass
class Report:
    python: str
    versions: dict[str, str | None]
    compat: dict[str, str] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    edgetpu_compiler: str | None = None
    problems: list[str] = field(default_factory=list)


def installed_version(names) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _major_minor(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def version_problems(python: tuple[int, int], versions: dict[str, str | None]) -> list[str]:
    """The problems that the versions alone show, one line each."""
    problems = []
    if python != PYTHON:
        problems.append(f"Python {python[0]}.{python[1]} is running; the stack needs Python "
                        f"{PYTHON[0]}.{PYTHON[1]} (run scripts/setup.sh)")
    tf = versions.get("tensorflow")
    if tf is None:
        problems.append("TensorFlow is not installed (run scripts/setup.sh)")
    elif _major_minor(tf) != TENSORFLOW:
        problems.append(f"TensorFlow {tf} is installed; the OD API needs {TENSORFLOW[0]}."
                        f"{TENSORFLOW[1]} (>= 2.16 dropped the estimator that "
                        "object_detection/inputs.py imports)")
    pb = versions.get("protobuf")
    if pb is None:
        problems.append("protobuf is not installed (run scripts/setup.sh)")
    elif _major_minor(pb)[0] >= PROTOBUF_BELOW:
        problems.append(f"protobuf {pb} is installed; the OD API's generated protos need "
                        f"protobuf < {PROTOBUF_BELOW} (pip install protobuf==3.20.3)")
    np_version = versions.get("numpy")
    if np_version is not None and _major_minor(np_version)[0] >= NUMPY_BELOW:
        problems.append(f"numpy {np_version} is installed; TensorFlow 2.15 needs numpy < "
                        f"{NUMPY_BELOW}")
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


def diagnose() -> Report:
    """Look at the stack: versions, then the imports that odwrap needs, in dependency order."""
    versions = {key: installed_version(names) for key, names in DISTRIBUTIONS.items()}
    report = Report(python=platform.python_version(), versions=versions,
                    edgetpu_compiler=shutil.which("edgetpu_compiler"))
    report.problems = version_problems(sys.version_info[:2], versions)

    def protos():
        from object_detection.protos import pipeline_pb2  # noqa: F401  (protobuf only)

    def tensorflow():
        from odwrap.odapi import compat

        tf = compat.import_tensorflow()

        for kind in ("CPU", "GPU", "TPU"):
            report.devices[kind] = len(tf.config.list_physical_devices(kind))

    def odapi():
        from odwrap.odapi import compat

        report.compat = compat.apply()
        compat.load("object_detection.model_lib_v2")
        compat.load("object_detection.exporter_lib_v2")

    steps = [("importing the OD API protos", protos), ("importing TensorFlow", tensorflow),
             ("importing the OD API training and export code", odapi)]
    if versions["object_detection"] is None:
        steps = [step for step in steps if step[1] is tensorflow]
    if versions["tensorflow"] is None:
        steps = [step for step in steps if step[1] is protos]
    for what, func in steps:
        problem = _import_problem(what, func)
        if problem:
            report.problems.append(problem)
    return report


def format_report(report: Report) -> str:
    lines = [f"{'python':18} {report.python}"]
    for key, version in report.versions.items():
        lines.append(f"{key:18} {version or 'not installed'}")
    runtimes = [key for key in ("ai-edge-litert", "tflite-runtime") if report.versions.get(key)]
    if report.versions.get("tensorflow"):
        runtimes.append("tf.lite")
    lines.append(f"{'tflite runtimes':18} {', '.join(runtimes) or 'none'}")
    for name, state in report.compat.items():
        lines.append(f"{'compat fix':18} {name}: {state}")
    if report.devices:
        found = ", ".join(f"{count} {kind}" for kind, count in report.devices.items())
        lines.append(f"{'devices':18} {found}")
    lines.append(f"{'edgetpu_compiler':18} "
                 f"{report.edgetpu_compiler or 'not on PATH (Edge TPU export stops at its report)'}")
    for problem in report.problems:
        lines.append(f"problem: {problem}")
    lines.append("stack healthy" if not report.problems
                 else f"{len(report.problems)} problem(s) found")
    return "\n".join(lines)
