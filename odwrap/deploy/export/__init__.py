"""Export formats: one module each, behind one table used to validate options and dispatch.
ONNX and OpenVINO convert the SavedModel and need their converters installed (`requires`).

Every export reports its time, size and path and verifies its output by loading it and running
one inference (`common.finish`). The table and the option values are importable without numpy
or TensorFlow (the CLI builds its choices from them); a format's module loads when it runs.
"""

import importlib
import importlib.util
from dataclasses import dataclass

from odwrap.errors import InputError, StackError
from odwrap.odapi.exports import FORMAT_QUANTIZE, QUANTIZE

SAVED_MODEL_INPUTS = ("image_tensor", "encoded_image_string_tensor", "tf_example")
INT8_INPUTS = ("uint8", "int8")
# The weights to export: the moving averages that training kept, or the trained weights.
WEIGHTS = ("averages", "trained")
# The checkpoint to export: the latest, or the best one evaluated so far (training.best).
CHECKPOINTS = ("latest", "best")
# The FPN's top-down upsampling in a TFLite export (deploy/export/fpn.py); the first is the default.
UPSAMPLING = ("native", "reshape")


def quantize_modes(value) -> tuple:
    """The quantize modes asked for, in the order given: one mode, a comma-separated list or
    a sequence of modes, or "all" for every mode."""
    if value is None:
        return ("none",)
    parts = value.split(",") if isinstance(value, str) else list(value)
    parts = [part.strip() for part in parts if part.strip()]
    if parts == ["all"]:
        return QUANTIZE
    for part in parts:
        if part not in QUANTIZE:
            raise InputError(f"--quantize {part}: one of {', '.join(QUANTIZE)}, a "
                             "comma-separated list of them, or all")
    if not parts:
        raise InputError(f"--quantize: one of {', '.join(QUANTIZE)}, a comma-separated list "
                         "of them, or all")
    return tuple(dict.fromkeys(parts))


def format_modes(fmt: str, value) -> tuple:
    """The quantize modes asked of FMT (as quantize_modes; "all": every mode FMT gives),
    refusing those it does not give (odapi.exports.FORMAT_QUANTIZE)."""
    takes = FORMAT_QUANTIZE[fmt]
    modes = takes if value == "all" else quantize_modes(value)
    refused = [mode for mode in modes if mode not in takes]
    if refused:
        raise InputError(f"--format {fmt} --quantize {refused[0]}: {fmt} gives "
                         f"{', '.join(takes)} (docs/export.md says why)")
    return modes


@dataclass(frozen=True)
class Format:
    name: str
    module: str  # odwrap.deploy.export.<module>.export runs it
    options: frozenset  # the options this format takes; others are refused
    summary: str
    requires: tuple = ()  # (module, its pip distribution) that must be installed

    def missing(self) -> list[str]:
        """The distributions of REQUIRES that cannot be imported, found without importing."""
        return [dist for module, dist in self.requires if importlib.util.find_spec(module) is None]

    def run(self, job, **options):
        return importlib.import_module(f"odwrap.deploy.export.{self.module}").export(job,
                                                                                    **options)


FORMATS = {fmt.name: fmt for fmt in (  # in odapi.exports.FORMATS' order (a test checks)
    Format("saved_model", "saved_model", frozenset({"input_type"}),
           "TF SavedModel through the OD API exporter"),
    Format("tflite", "tflite",
           frozenset({"quantize", "input_type", "representative", "max_detections", "compare",
                      "upsampling"}),
           "TFLite through the OD API's TFLite graph export and the TFLite converter"),
    Format("edgetpu", "edgetpu",
           frozenset({"input_type", "representative", "max_detections", "compare",
                      "upsampling", "search_delegate"}),
           "full-integer TFLite, its Edge TPU op report, and edgetpu_compiler when on PATH"),
    Format("onnx", "onnx_model", frozenset({"quantize", "representative"}),
           "ONNX through tf2onnx from the SavedModel, checked in ONNX Runtime",
           (("tf2onnx", "tf2onnx"), ("onnx", "onnx"), ("onnxruntime", "onnxruntime"))),
    Format("openvino", "openvino_ir", frozenset({"quantize", "representative"}),
           "OpenVINO IR through OpenVINO's TensorFlow front end, int8 through NNCF",
           (("openvino", "openvino"),)),
)}


def export(model_dir, fmt: str, output=None, weights=None, checkpoint="latest", **options):
    """Run one export; options that the format does not take (and are set) are refused.
    WEIGHTS: 'moving averages' or 'trained' (default: the averages when training kept them).
    CHECKPOINT: 'latest' or 'best' (the best one evaluated, training.best)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'; one of: {', '.join(FORMATS)}")
    given = {key: value for key, value in options.items() if value is not None}
    refused = sorted(set(given) - FORMATS[fmt].options)
    if refused:
        flags = ", ".join("--" + key.replace("_", "-") for key in refused)
        raise InputError(f"--format {fmt} does not take {flags}")
    modes = format_modes(fmt, given.get("quantize")) if fmt in ("onnx", "openvino") else ()
    missing = FORMATS[fmt].missing()
    if fmt == "openvino" and "int8" in modes and importlib.util.find_spec("nncf") is None:
        missing.append("nncf")  # OpenVINO's int8 quantizer
    if missing:
        raise StackError(f"--format {fmt} needs {', '.join(missing)}, which this Python "
                         "does not have: scripts/setup.sh installs them on the tf221 stack (the "
                         f"default); elsewhere pip install {' '.join(missing)}")
    from odwrap.deploy.export.common import ExportJob
    from odwrap.locks import FolderLock

    job = ExportJob.open(model_dir, fmt, output, weights=weights, checkpoint=checkpoint)
    try:
        with FolderLock(job.output, f"odwrap export --format {fmt}"):
            job.remove_stale_staging()
            return FORMATS[fmt].run(job, **given)
    finally:
        job.close()
