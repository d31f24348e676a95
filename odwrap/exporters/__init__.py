"""Export formats: one module each, behind one table used to validate options and dispatch.

Every export prints its time, size and path and verifies its output by loading it and running
one inference (`common.finish`).
"""

from dataclasses import dataclass

from odwrap.errors import InputError
from odwrap.exporters import edgetpu, saved_model, tflite


@dataclass(frozen=True)
class Format:
    name: str
    run: object
    options: frozenset  # the options this format takes; others are refused
    summary: str


FORMATS = {fmt.name: fmt for fmt in (
    Format("saved_model", saved_model.export, frozenset({"input_type"}),
           "TF SavedModel through the OD API exporter"),
    Format("tflite", tflite.export,
           frozenset({"quantize", "input_type", "representative", "max_detections", "compare"}),
           "TFLite through the OD API's TFLite graph export and the TFLite converter"),
    Format("edgetpu", edgetpu.export,
           frozenset({"input_type", "representative", "max_detections", "compare"}),
           "full-integer TFLite, its Edge TPU op report, and edgetpu_compiler when on PATH"),
)}


def export(model_dir, fmt: str, output=None, verbose=False, **options):
    """Run one export; options that the format does not take (and are set) are refused."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format '{fmt}'; one of: {', '.join(FORMATS)}")
    given = {key: value for key, value in options.items() if value is not None}
    refused = sorted(set(given) - FORMATS[fmt].options)
    if refused:
        flags = ", ".join("--" + key.replace("_", "-") for key in refused)
        raise InputError(f"--format {fmt} does not take {flags}")
    from odwrap.exporters.common import ExportJob

    return FORMATS[fmt].run(ExportJob.open(model_dir, fmt, output, verbose), **given)
