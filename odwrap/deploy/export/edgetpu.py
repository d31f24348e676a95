"""Edge TPU: the full-integer TFLite model, a report of which ops the Edge TPU compiler can
map, and edgetpu_compiler itself when it is on PATH (odwrap never installs it).

The compiler maps ops in execution order up to the first one it cannot map; that op and all
after it run on the CPU. TFLite_Detection_PostProcess always runs on the CPU.
"""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odwrap.deploy.export.common import finish
from odwrap.deploy.export.metadata import copy_metadata
from odwrap.deploy.export.tflite import write_tflite
from odwrap.deploy.runtime import interpreter_class
from odwrap.fsutil import atomic_write_text

# TFLite builtin ops the Edge TPU compiler maps (coral.ai "supported operations").
EDGETPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS",
    "FULLY_CONNECTED", "L2_NORMALIZATION", "LOGISTIC", "LSTM", "MAXIMUM", "MAX_POOL_2D",
    "MEAN", "MINIMUM", "MUL", "PAD", "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "RELU",
    "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RSQRT",
    "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQUARED_DIFFERENCE", "SQUEEZE",
    "STRIDED_SLICE", "SUB", "SUM", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
})
# Documented as supported, yet the compiler stops at it in the OD API's FPN models, whose
# top-down upsampling packs tensors (google-coral/edgetpu #210).
STOPS_IN_PRACTICE = {"PACK": "mapping stops at PACK in FPN models (google-coral/edgetpu #210); "
                             "the FPN's nearest-neighbour upsampling emits it"}
INTEGER = (np.int8, np.uint8, np.int16, np.int32)
# Where an int8 SSD meets the float world: its input QUANTIZE, the DEQUANTIZEs before
# post-processing, and the float post-processing op itself.
BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE", "TFLite_Detection_PostProcess"})
INSTALL_HINT = ("edgetpu_compiler is not on PATH; it is an x86-64 Debian package "
                "(edgetpu-compiler) from Coral's own apt repository, see "
                "coral.ai/docs/edgetpu/compiler. The op report is the result for now")


@dataclass
class OpVerdict:
    index: int
    name: str
    integer: bool
    mapped: bool
    reason: str


def plain_interpreter(model_path: Path):
    """An interpreter whose op list is the model's own: no delegate rewrites it."""
    name, interpreter_cls = interpreter_class("auto")
    if name == "ai-edge-litert":
        from ai_edge_litert.interpreter import OpResolverType
    elif name == "tflite-runtime":
        from tflite_runtime.interpreter import OpResolverType
    else:
        from odwrap.odapi import compat

        OpResolverType = compat.import_tensorflow().lite.experimental.OpResolverType
    interpreter = interpreter_cls(
        model_path=str(model_path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


def op_report(model_path: Path) -> list[OpVerdict]:
    """One verdict per op in execution order, as the Edge TPU compiler would map them."""
    interpreter = plain_interpreter(model_path)
    dtypes = {detail["index"]: detail["dtype"] for detail in interpreter.get_tensor_details()}
    verdicts, stopped = [], None
    for op in interpreter._get_ops_details():  # the only op listing the runtimes offer
        name = op["op_name"]
        tensors = [i for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0]
        integer = all(dtypes.get(i) in INTEGER for i in tensors)
        if name == "TFLite_Detection_PostProcess":
            mapped, reason = False, "custom post-processing op: always on the CPU"
        elif stopped is not None:
            mapped, reason = False, f"after the first unmapped op (#{stopped})"
        elif name in STOPS_IN_PRACTICE:
            mapped, reason = False, STOPS_IN_PRACTICE[name]
        elif name not in EDGETPU_OPS:
            mapped, reason = False, "not an Edge TPU op"
        elif not integer:
            mapped, reason = False, "float tensors: the Edge TPU runs 8-bit integer ops only"
        else:
            mapped, reason = True, "Edge TPU"
        if not mapped and stopped is None:
            stopped = op["index"]
        verdicts.append(OpVerdict(op["index"], name, integer, mapped, reason))
    return verdicts


def format_report(verdicts: list[OpVerdict], model: Path) -> str:
    mapped = [v for v in verdicts if v.mapped]
    lines = [f"Edge TPU op report for {model}",
             f"{len(mapped)} of {len(verdicts)} ops map to the Edge TPU; the rest run on the CPU"]
    first = next((v for v in verdicts if not v.mapped), None)
    if first is not None:
        lines.append(f"first unmapped op: #{first.index} {first.name} ({first.reason})")
    groups: dict = {}
    for verdict in verdicts:
        key = (verdict.name, "Edge TPU" if verdict.mapped else "CPU", verdict.reason)
        groups[key] = groups.get(key, 0) + 1
    lines.append(f"{'op':30} {'count':>5}  {'runs on':8}  why")
    for (name, where, reason), count in sorted(groups.items(), key=lambda item: item[0][1]):
        lines.append(f"{name:30} {count:5}  {where:8}  {reason}")
    floats = sorted({v.name for v in verdicts if not v.integer and v.name not in BOUNDARY_OPS})
    lines.append("all compute ops are integer (DEQUANTIZE feeds the float post-processing op)"
                 if not floats else
                 f"float tensors in {', '.join(floats)}: the model is not fully quantized")
    return "\n".join(lines)


def export(job, input_type=None, representative=100, max_detections=10, compare=False):
    model, compared, files = write_tflite(job, "int8", input_type, representative,
                                          max_detections, compare)
    text = format_report(op_report(model), model)
    files.append(atomic_write_text(job.output / "edgetpu_report.txt", text + "\n"))
    notes = [text, *compared]
    compiler = shutil.which("edgetpu_compiler")
    target = model
    if compiler is None:
        notes.append(INSTALL_HINT)
    else:
        run = subprocess.run([compiler, "-s", "-o", str(job.output), str(model)],
                             capture_output=True, text=True)
        notes.append(run.stdout.strip() or run.stderr.strip())
        compiled = job.output / "model_int8_edgetpu.tflite"
        if run.returncode == 0 and compiled.exists():
            target = copy_metadata(model, compiled)  # the compiler drops the metadata
    result = finish(job, "edgetpu", model, notes=notes, files=files)
    result.path = target
    return result
