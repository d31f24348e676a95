"""A model of the Edge TPU compiler's rules, each with its source, applied to a TFLite op list;
and the compiler's own log, read so that the two can be compared.

An op maps to the Edge TPU when every rule passes. The compiler makes one Edge TPU segment: an op
also runs on the CPU when it consumes a tensor computed on the CPU, so everything downstream of
the first unmapped op stays there (by dataflow, not by list position: TFLite's execution order
can put a DEQUANTIZE before ops that do not depend on it, and those stay on the Edge TPU).
Plain data in, plain data out: no numpy, no TensorFlow.
"""

import re
from dataclasses import dataclass, field

MODELS_INTRO = "coral.ai/docs/edgetpu/models-intro (supported operations)"
REQUIREMENTS = "coral.ai/docs/edgetpu/models-intro (model requirements)"
COMPILER_DOC = "coral.ai/docs/edgetpu/compiler"
POST_PROCESS = "TFLite_Detection_PostProcess"
# Builtin ops the compiler maps, with the lowest Edge TPU runtime version that runs them
# (MODELS_INTRO's table; 1 where it says "All").
SUPPORTED = {
    "ADD": 1, "AVERAGE_POOL_2D": 1, "CONCATENATION": 1, "CONV_2D": 1, "DEPTHWISE_CONV_2D": 1,
    "EXPAND_DIMS": 13, "FULLY_CONNECTED": 1, "L2_NORMALIZATION": 1, "LOGISTIC": 1, "LSTM": 14,
    "MAXIMUM": 1, "MAX_POOL_2D": 1, "MEAN": 1, "MINIMUM": 1, "MUL": 1, "PACK": 13, "PAD": 1,
    "PRELU": 13, "QUANTIZE": 13, "REDUCE_MAX": 14, "REDUCE_MIN": 14, "RELU": 1, "RELU6": 1,
    "RELU_N1_TO_1": 1, "RESHAPE": 1, "RESIZE_BILINEAR": 1, "RESIZE_NEAREST_NEIGHBOR": 1,
    "RSQRT": 14, "SLICE": 1, "SOFTMAX": 1, "SPACE_TO_DEPTH": 1, "SPLIT": 1,
    "SQUARED_DIFFERENCE": 14, "SQUEEZE": 1, "STRIDED_SLICE": 1, "SUB": 1, "SUM": 14, "TANH": 1,
    "TRANSPOSE": 14, "TRANSPOSE_CONV": 13,
}
# TFLite op versions the compiler refuses ("Operation version not supported"): resizes with
# half-pixel centers or aligned corners are version 3 and up.
MAX_VERSION = {"RESIZE_NEAREST_NEIGHBOR": 2, "RESIZE_BILINEAR": 2}
EIGHT_BIT = frozenset({"INT8", "UINT8"})
CONSTANT_TYPES = EIGHT_BIT | {"INT32"}  # weights, biases and shape operands


@dataclass(frozen=True)
class Tensor:
    dtype: str  # the TFLite type name: INT8, UINT8, INT32, FLOAT32, ...
    shape: tuple
    signature: tuple = ()  # shape_signature; -1 marks a dimension known only at run time
    constant: bool = False  # its data is in the model (weights, shapes)


@dataclass(frozen=True)
class Op:
    index: int
    name: str  # the builtin name, or a custom op's code
    inputs: tuple = ()
    outputs: tuple = ()
    version: int = 1
    custom: bool = False


@dataclass
class OpVerdict:
    index: int
    name: str
    integer: bool
    mapped: bool
    reason: str
    source: str = ""
    version: int = 1
    after: int | None = None  # the CPU op whose output it consumes, when that is the reason


@dataclass(frozen=True)
class Rule:
    name: str
    source: str
    check: object  # (op, tensors) -> why the op cannot map, or None


def _activations(op: Op, tensors: dict):
    return [tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0 and not tensors[i].constant]


def _custom(op, tensors):
    if op.custom:
        return ("custom op: the compiler maps builtin ops only"
                + (" (the SSD post-processing: always on the CPU)" if op.name == POST_PROCESS
                   else ""))
    return None


def _supported(op, tensors):
    return None if op.name in SUPPORTED else "not an Edge TPU operation"


def _version(op, tensors):
    limit = MAX_VERSION.get(op.name)
    if limit is not None and op.version > limit:
        return (f"op version {op.version} (half-pixel centers or aligned corners): "
                "'Operation version not supported'")
    return None


def _integer(op, tensors):
    for index in (*op.inputs, *op.outputs):
        tensor = tensors.get(index) if index >= 0 else None
        allowed = CONSTANT_TYPES if tensor is not None and tensor.constant else EIGHT_BIT
        if tensor is not None and tensor.dtype not in allowed:
            return f"{tensor.dtype} tensor: the Edge TPU runs 8-bit integer ops only"
    return None


def _rank(op, tensors):
    for tensor in _activations(op, tensors):
        if len(tensor.shape) > 4:
            return f"rank-{len(tensor.shape)} tensor: 'Tensor has unsupported rank'"
        if any(size > 1 for size in tensor.shape[:-3]):
            return (f"tensor {list(tensor.shape)}: only the 3 innermost dimensions may exceed 1 "
                    "(batch 1)")
    return None


def _static(op, tensors):
    for tensor in _activations(op, tensors):
        if any(size < 0 for size in tensor.signature):
            return f"dynamic shape {list(tensor.signature)}: sizes must be fixed at compile time"
    return None


RULES = (
    Rule("custom op", MODELS_INTRO, _custom),
    Rule("supported op", MODELS_INTRO, _supported),
    Rule("op version", "google-coral/edgetpu #206, #420; tensorflow/tensorflow #42024", _version),
    Rule("8-bit tensors", REQUIREMENTS + "; google-coral/edgetpu #708", _integer),
    Rule("rank", "google-coral/edgetpu #708 (rank 5/6 RESHAPE), #30 (batch > 1); "
                 + REQUIREMENTS, _rank),
    Rule("static shapes", REQUIREMENTS, _static),
)
DATAFLOW = Rule("one segment", COMPILER_DOC + "; google-coral/edgetpu #30, #461", None)


def partition(ops: list[Op], tensors: dict) -> list[OpVerdict]:
    """One verdict per op in execution order: Edge TPU or CPU, the rule that decided and its
    source. An op whose input a CPU op produced runs on the CPU too."""
    on_cpu: dict = {}  # tensor index -> the CPU op that produced it
    verdicts = []
    for op in ops:
        integer = _integer(op, tensors) is None
        producer = None
        failed = next(((rule, why) for rule in RULES
                       if (why := rule.check(op, tensors)) is not None), None)
        if failed is None:
            producer = next((on_cpu[i] for i in op.inputs if i in on_cpu), None)
            if producer is not None:
                failed = (DATAFLOW, "consumes a tensor computed on the CPU")
        if failed is None:
            verdicts.append(OpVerdict(op.index, op.name, integer, True, "Edge TPU", "",
                                      op.version))
            continue
        rule, why = failed
        for output in op.outputs:
            on_cpu[output] = op
        verdicts.append(OpVerdict(op.index, op.name, integer, False, why, rule.source,
                                  op.version, producer.index if rule is DATAFLOW else None))
    return verdicts


def unexpected_cpu_ops(ops: list[Op], verdicts: list[OpVerdict]) -> list[OpVerdict]:
    """The CPU ops other than the post-processing and the DEQUANTIZE ops that feed it."""
    post_inputs = {i for op in ops if op.name == POST_PROCESS for i in op.inputs}
    feeds_post = {op.index for op in ops
                  if op.name == "DEQUANTIZE" and set(op.outputs) <= post_inputs}
    return [v for v in verdicts if not v.mapped and v.name != POST_PROCESS
            and v.index not in feeds_post]


def runtime_needed(verdicts: list[OpVerdict]) -> int:
    """The lowest Edge TPU runtime version that runs every mapped op."""
    return max((SUPPORTED.get(v.name, 1) for v in verdicts if v.mapped), default=1)


@dataclass
class CompilerLog:
    """What `edgetpu_compiler -s` printed: its version, op counts and per-op status table."""
    version: str | None = None
    on_tpu: int | None = None
    on_cpu: int | None = None
    subgraphs: int | None = None
    rows: list = field(default_factory=list)  # (op, count, status)

    def mapped(self) -> dict:
        counts: dict = {}
        for name, count, status in self.rows:
            if status.startswith("Mapped to Edge TPU"):
                counts[name] = counts.get(name, 0) + count
        return counts


ROW = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s+(\d+)\s+(\S.*?)\s*$")


def parse_compiler_log(text: str) -> CompilerLog:
    """Read the summary and the 'Operator  Count  Status' table of the compiler's output; of a
    segment search's several tries, the last."""
    log = CompilerLog()
    in_table = False
    for line in text.splitlines():
        if match := re.match(r"\s*Edge TPU Compiler version (\S+)", line):
            log.version = match.group(1)
        elif match := re.match(r"\s*Number of operations that will run on Edge TPU: (\d+)", line):
            log.on_tpu = int(match.group(1))
        elif match := re.match(r"\s*Number of operations that will run on CPU: (\d+)", line):
            log.on_cpu = int(match.group(1))
        elif match := re.match(r"\s*Number of Edge TPU subgraphs: (\d+)", line):
            log.subgraphs = int(match.group(1))
        elif re.match(r"\s*Operator\s+Count\s+Status\s*$", line):
            in_table, log.rows = True, []  # segment search (-d) prints a table per try
        elif in_table and (match := ROW.match(line.strip())):
            log.rows.append((match.group(1), int(match.group(2)), match.group(3)))
        elif in_table and line.strip() and not ROW.match(line.strip()):
            in_table = False
    return log


def disagreements(verdicts: list[OpVerdict], log: CompilerLog) -> list[str]:
    """Where the report and the compiler's log differ: the totals and each op's mapped count."""
    if log.on_tpu is None:
        return ["the compiler's output has no op counts to compare with"]
    mapped = sum(v.mapped for v in verdicts)
    lines = []
    if (mapped, len(verdicts) - mapped) != (log.on_tpu, log.on_cpu):
        lines.append(f"ops on the Edge TPU / CPU: the report says {mapped} / "
                     f"{len(verdicts) - mapped}, the compiler {log.on_tpu} / {log.on_cpu}")
    ours: dict = {}
    for verdict in verdicts:
        if verdict.mapped:
            ours[verdict.name] = ours.get(verdict.name, 0) + 1
    theirs = log.mapped()
    for name in sorted(set(ours) | set(theirs)):
        if ours.get(name, 0) != theirs.get(name, 0):
            why = "; ".join(sorted({status for op, _, status in log.rows
                                    if op == name and not status.startswith("Mapped")}))
            lines.append(f"{name} on the Edge TPU: the report says {ours.get(name, 0)}, the "
                         f"compiler {theirs.get(name, 0)}" + (f" ({why})" if why else ""))
    return lines
