"""Edge TPU: the full-integer TFLite model, a report of which ops the Edge TPU compiler maps
(the rules and their sources are in `edgetpu_rules.py`), and edgetpu_compiler itself when it is
on PATH (odwrap never installs it), whose op counts are compared with the report's.
"""

import shutil
import subprocess
from pathlib import Path

from odwrap.deploy.export.common import finish
from odwrap.deploy.export.edgetpu_rules import (
    DATAFLOW, RULES, Op, OpVerdict, Tensor, disagreements, parse_compiler_log, partition,
    runtime_needed, unexpected_cpu_ops)
from odwrap.deploy.export.metadata import copy_metadata
from odwrap.deploy.export.tflite import write_tflite
from odwrap.deploy.exportdir import ExportDir
from odwrap.errors import RunError
from odwrap.fsutil import atomic_write_text

# Where an int8 SSD meets the float world: its input QUANTIZE, the DEQUANTIZEs before
# post-processing, and the float post-processing op itself.
BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE", "TFLite_Detection_PostProcess"})
INSTALL_HINT = ("edgetpu_compiler is not on PATH; it is an x86-64 Debian package "
                "(edgetpu-compiler) from Coral's own apt repository, see "
                "coral.ai/docs/edgetpu/compiler. The op report is the result for now")
COMPILER_TIMEOUT_S = 600  # the compiler stops itself after 180 s by default


def _schema():
    """The TFLite flatbuffer schema's Python bindings, from the runtime or TensorFlow."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def read_graph(model_path: Path) -> tuple[list[Op], dict]:
    """The main subgraph's ops in execution order and its tensors, read from the file."""
    schema = _schema()
    try:
        model = schema.Model.GetRootAsModel(Path(model_path).read_bytes(), 0)
        graph = model.Subgraphs(0)
    except Exception as exc:  # a flatbuffer that is not a model fails in many ways
        raise RunError(f"{model_path}: not a TFLite model ({exc})") from None
    operators = {value: name for name, value in vars(schema.BuiltinOperator).items()
                 if name.isupper()}
    types = {value: name for name, value in vars(schema.TensorType).items() if name.isupper()}
    codes = []
    for index in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = code.CustomCode()
        name = custom.decode() if custom else operators.get(builtin, f"BUILTIN_{builtin}")
        codes.append((name, code.Version(), bool(custom)))
    tensors = {}
    for index in range(graph.TensorsLength()):
        tensor = graph.Tensors(index)
        buffer = model.Buffers(tensor.Buffer()) if tensor.Buffer() > 0 else None
        constant = buffer is not None and (buffer.DataLength() > 0 or buffer.Size() > 0)
        tensors[index] = Tensor(
            dtype=types.get(tensor.Type(), str(tensor.Type())),
            shape=tuple(int(size) for size in tensor.ShapeAsNumpy())
            if tensor.ShapeLength() else (),
            signature=tuple(int(size) for size in tensor.ShapeSignatureAsNumpy())
            if tensor.ShapeSignatureLength() else (),
            constant=constant)
    ops = []
    for index in range(graph.OperatorsLength()):
        operator = graph.Operators(index)
        name, version, custom = codes[operator.OpcodeIndex()]
        ops.append(Op(index, name,
                      tuple(int(i) for i in operator.InputsAsNumpy())
                      if operator.InputsLength() else (),
                      tuple(int(i) for i in operator.OutputsAsNumpy())
                      if operator.OutputsLength() else (),
                      version, custom))
    return ops, tensors


def op_report(model_path: Path) -> list[OpVerdict]:
    """One verdict per op in execution order, as the Edge TPU compiler would map them."""
    return partition(*read_graph(model_path))


def format_report(verdicts: list[OpVerdict], model: Path, ops=None) -> str:
    mapped = [v for v in verdicts if v.mapped]
    lines = [f"Edge TPU op report for {model}",
             f"{len(mapped)} of {len(verdicts)} ops map to the Edge TPU; the rest run on the "
             f"CPU (Edge TPU runtime {runtime_needed(verdicts)} or later)"]
    first = next((v for v in verdicts if not v.mapped), None)
    if first is not None:
        lines.append(f"first unmapped op: #{first.index} {first.name} ({first.reason})")
    if ops is not None:
        others = unexpected_cpu_ops(ops, verdicts)
        lines.append("every op before the post-processing maps (only the DEQUANTIZE ops that "
                     "feed it and the post-processing op run on the CPU)" if not others else
                     f"{len(others)} op(s) before the post-processing run on the CPU")
    groups: dict = {}
    for verdict in verdicts:
        key = (verdict.name, "Edge TPU" if verdict.mapped else "CPU", verdict.reason)
        groups[key] = groups.get(key, 0) + 1
    lines.append(f"{'op':32} {'count':>5}  {'runs on':8}  why")
    for (name, where, reason), count in sorted(groups.items(), key=lambda item: item[0][1]):
        lines.append(f"{name:32} {count:5}  {where:8}  {reason}")
    floats = sorted({v.name for v in verdicts if not v.integer and v.name not in BOUNDARY_OPS})
    lines.append("all compute ops are integer (DEQUANTIZE feeds the float post-processing op)"
                 if not floats else
                 f"float tensors in {', '.join(floats)}: the model is not fully quantized")
    lines.append("rules (an op maps when all pass) and their sources:")
    for rule in (*RULES, DATAFLOW):
        lines.append(f"  {rule.name}: {rule.source}")
    return "\n".join(lines)


def run_compiler(compiler: str, model: Path, output: Path, search_delegate: bool):
    """(compiled model or None, notes) of `edgetpu_compiler -s` on MODEL."""
    command = [compiler, "-s", "-o", str(output)] + (["-d"] if search_delegate else [])
    try:
        run = subprocess.run([*command, str(model)], capture_output=True, text=True,
                             timeout=COMPILER_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, [f"edgetpu_compiler did not run: {exc}"]
    text = (run.stdout or "") + (run.stderr or "")
    compiled = ExportDir.compiled(model, output)
    if run.returncode != 0 or not compiled.exists():
        last = text.strip().splitlines()[-1:] or ["no output"]
        return None, [f"edgetpu_compiler failed (exit {run.returncode}): {last[0]}"]
    return compiled, [text.strip()]


def export(job, input_type=None, representative=100, max_detections=10, compare=False,
           upsampling="native", search_delegate=False):
    (model,), compared, files = write_tflite(job, "int8", input_type, representative,
                                             max_detections, compare, upsampling)
    ops, tensors = read_graph(model)
    verdicts = partition(ops, tensors)
    text = format_report(verdicts, model, ops)
    files.append(atomic_write_text(job.output / "edgetpu_report.txt", text + "\n"))
    notes = [text, *compared]
    compiler = shutil.which("edgetpu_compiler")
    target = model
    if compiler is None:
        notes.append(INSTALL_HINT)
    else:
        compiled, said = run_compiler(compiler, model, job.output, search_delegate)
        notes += said
        if compiled is not None:
            target = copy_metadata(model, compiled)  # the compiler drops the metadata
            differ = disagreements(verdicts, parse_compiler_log(said[0]))
            notes.append("the compiler agrees with the report" if not differ else
                         "where the report and the compiler disagree:\n  " + "\n  ".join(differ))
    result = finish(job, "edgetpu", model, notes=notes, files=files)
    result.path = target
    return result
