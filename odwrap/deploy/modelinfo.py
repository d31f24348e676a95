"""What an exported detection .tflite says about itself, read without TensorFlow: which of its
outputs is which, and the TFLite Model Metadata (name, version, input normalization, labels)
that odwrap's export writes (odwrap/deploy/export/metadata.py).

The metadata is a FlatBuffer of tensorflow/tflite-support's `metadata_schema.fbs` (file
identifier "M001") in the model buffer that the model's "TFLITE_METADATA" entry names; its
associated files (labels.txt) are a zip archive appended to the model bytes.
"""

import contextlib
import io
import struct
import zipfile
from dataclasses import dataclass, field

import flatbuffers

from odwrap.deploy.preprocessing import Normalization
from odwrap.errors import InputError

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
POSTPROCESS = "TFLite_Detection_PostProcess"
# The metadata names of TFLite_Detection_PostProcess's outputs 0..3, the names the TFLite Task
# Library and MediaPipe Tasks look the outputs up by.
# A CenterNet keypoint graph has two more: each detection's keypoints and their scores.
OUTPUT_NAMES = ("location", "category", "score", "number of detections", "keypoints",
                "keypoint score")
KEYPOINTS, KEYPOINT_SCORES = 4, 5
# A CenterNet TFLite graph (export_tflite_graph_lib_tf2.CenterNetModule) decodes its detections
# with plain ops; its serving signature names the outputs of its inference_fn, which returns
# them in reverse order, (count, scores, classes, boxes), or with keypoints (keypoint scores,
# keypoints, count, scores, classes, boxes): the role of each signature output, as above.
SIGNATURE_ROLES = {"output_0": 3, "output_1": 2, "output_2": 1, "output_3": 0}
KEYPOINT_SIGNATURE_ROLES = {"output_0": 5, "output_1": 4, "output_2": 3, "output_3": 2,
                            "output_4": 1, "output_5": 0}

# Field slots of metadata_schema.fbs tables (a union takes two: its type, then its value).
MODEL_NAME, MODEL_DESCRIPTION, MODEL_VERSION, MODEL_SUBGRAPHS = 0, 1, 2, 3
SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS = 2, 3
TENSOR_NAME, TENSOR_CONTENT, TENSOR_UNITS, TENSOR_FILES = 0, 3, 4, 6
UNIT_TYPE, UNIT_OPTIONS = 0, 1
NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions.NormalizationOptions
FILE_NAME, FILE_TYPE = 0, 2
DESCRIPTIONS, TENSOR_VALUE_LABELS = 1, 3  # AssociatedFileType
# What reading a FlatBuffer with offsets that lead outside it raises.
BROKEN = (IndexError, ValueError, TypeError, UnicodeDecodeError, OverflowError, struct.error)


def schema():
    """The TFLite model schema's generated Python module, from ai-edge-litert (both stacks),
    else from TensorFlow."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


@dataclass
class ModelInfo:
    name: str = ""
    version: str = ""
    description: str = ""
    normalization: Normalization | None = None
    labels: list = field(default_factory=list)  # line i names class index i (id i + 1)
    keypoints: dict = field(default_factory=dict)  # a keypoint model's {class id: ClassPoints}
    output_names: list = field(default_factory=list)  # in the model's output order


def root_model(data: bytes, where="model"):
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise InputError(f"{where}: not a TFLite model (no TFL3 identifier)")
    return schema().Model.GetRootAs(data, 0)


@contextlib.contextmanager
def damaged(where: str):
    """A FlatBuffer whose offsets lead outside it: one line, not a traceback."""
    try:
        yield
    except BROKEN as exc:
        raise InputError(f"{where}: a damaged TFLite model ({type(exc).__name__}: {exc})") \
            from None


TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8"}


def input_signature(data: bytes, where="model") -> tuple[list[int], str]:
    """(shape, type name) of the main subgraph's first input."""
    model = root_model(data, where)
    with damaged(where):
        graph = model.Subgraphs(0)
        tensor = graph.Tensors(graph.Inputs(0))
        shape = [int(v) for v in tensor.ShapeAsNumpy()]
        return shape, TENSOR_TYPES.get(tensor.Type(), f"type {tensor.Type()}")


def output_roles(data: bytes, where="model") -> list[int]:
    """For each output of the main subgraph, in order, which detection output it is (0 boxes,
    1 classes, 2 scores, 3 count; a CenterNet keypoint graph's also 4 keypoints, 5 keypoint
    scores): those of TFLite_Detection_PostProcess in an SSD, else the serving signature's
    outputs of a CenterNet graph."""
    model = root_model(data, where)
    produced = None
    with damaged(where):
        graph = model.Subgraphs(0)
        for index in range(graph.OperatorsLength()):
            op = graph.Operators(index)
            code = model.OperatorCodes(op.OpcodeIndex()).CustomCode()
            if code is not None and code.decode("utf-8", "replace") == POSTPROCESS:
                produced = [int(i) for i in op.OutputsAsNumpy()]
        outputs = [int(graph.Outputs(i)) for i in range(graph.OutputsLength())]
        if produced is None:
            produced = _signature_outputs(model, graph)
    if produced is None or len(produced) not in (4, 6) or sorted(outputs) != sorted(produced):
        raise InputError(f"{where}: not a detection model (its 4 outputs must be those of "
                         f"{POSTPROCESS}, or a CenterNet graph's boxes, classes, scores and "
                         "count, and its keypoints and their scores)")
    return [produced.index(tensor) for tensor in outputs]


def _signature_outputs(model, graph) -> list[int] | None:
    """The tensors of boxes, classes, scores and count (and keypoints and their scores) of a
    CenterNet graph's signature, when their names and shapes are those CenterNetModule writes;
    else None."""
    if model.SignatureDefsLength() != 1:
        return None
    signature = model.SignatureDefs(0)
    named = {}
    for index in range(signature.OutputsLength()):
        output = signature.Outputs(index)
        named[(output.Name() or b"").decode("utf-8", "replace")] = int(output.TensorIndex())
    roles = next((table for table in (SIGNATURE_ROLES, KEYPOINT_SIGNATURE_ROLES)
                  if set(named) == set(table)), None)
    if roles is None:
        return None
    tensors = [0] * len(roles)
    for name, role in roles.items():
        tensors[role] = named[name]
    shapes = [list(graph.Tensors(tensor).ShapeAsNumpy()) for tensor in tensors]
    boxes, classes, scores, count = shapes[:4]
    if len(boxes) != 3 or boxes[-1] != 4 or classes != boxes[:2] or scores != boxes[:2] \
            or len(count) != 1:
        return None
    if len(shapes) > 4:
        points, point_scores = shapes[KEYPOINTS:]
        if len(points) != 4 or points[:2] != boxes[:2] or points[-1] != 2 \
                or point_scores != points[:3]:
            return None
    return tensors


def metadata_bytes(data: bytes, where="model") -> bytes | None:
    """The metadata FlatBuffer of a .tflite, or None when it has none."""
    model = root_model(data, where)
    with damaged(where):
        for index in range(model.MetadataLength()):
            entry = model.Metadata(index)
            if (entry.Name() or b"").decode("utf-8", "replace") == METADATA_NAME:
                buffer = model.Buffers(entry.Buffer())
                return bytes(buffer.DataAsNumpy()) if buffer.DataLength() else None
    return None


FILE_LIMIT = 8 * 1024 * 1024  # a packed file larger than a label map may be is left out


def associated_files(data: bytes) -> dict[str, bytes]:
    """The files packed after the model as a zip archive (none, or a damaged one: {})."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {item.filename: archive.read(item) for item in archive.infolist()
                    if item.file_size <= FILE_LIMIT}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError):  # RuntimeError: an encrypted entry
        return {}


class _Table:
    """One table of a FlatBuffer, read by field slot."""

    def __init__(self, buf: bytes, pos: int):
        self.table = flatbuffers.table.Table(bytearray(buf), pos)

    def _offset(self, slot: int) -> int:
        return self.table.Offset(4 + 2 * slot)

    def string(self, slot: int) -> str:
        offset = self._offset(slot)
        return self.table.String(offset + self.table.Pos).decode("utf-8") if offset else ""

    def byte(self, slot: int) -> int:
        offset = self._offset(slot)
        return self.table.Get(flatbuffers.number_types.Uint8Flags,
                              offset + self.table.Pos) if offset else 0

    def table_at(self, slot: int):
        offset = self._offset(slot)
        if not offset:
            return None
        return _Table(self.table.Bytes, self.table.Indirect(offset + self.table.Pos))

    def tables(self, slot: int) -> list:
        offset = self._offset(slot)
        if not offset:
            return []
        start, count = self.table.Vector(offset), self.table.VectorLen(offset)
        return [_Table(self.table.Bytes, self.table.Indirect(start + 4 * i))
                for i in range(count)]

    def floats(self, slot: int) -> tuple[float, ...]:
        offset = self._offset(slot)
        if not offset:
            return ()
        start, count = self.table.Vector(offset), self.table.VectorLen(offset)
        return tuple(self.table.Get(flatbuffers.number_types.Float32Flags, start + 4 * i)
                     for i in range(count))


def parse_metadata(buffer: bytes) -> _Table:
    if len(buffer) < 8 or buffer[4:8] != METADATA_IDENTIFIER:
        raise InputError("the model's TFLITE_METADATA is not TFLite Model Metadata "
                         "(no M001 identifier)")
    return _Table(buffer, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buffer, 0))


def _normalization(tensor: _Table) -> Normalization | None:
    for unit in tensor.tables(TENSOR_UNITS):
        if unit.byte(UNIT_TYPE) == NORMALIZATION_OPTIONS:
            options = unit.table_at(UNIT_OPTIONS)
            mean, std = options.floats(0), options.floats(1)
            if mean and std:
                return Normalization(mean, std)
    return None


def read_info(data: bytes, where="model") -> ModelInfo | None:
    """The metadata odwrap (or the TFLite metadata writers) put into a .tflite; None without."""
    buffer = metadata_bytes(data, where)
    if buffer is None:
        return None
    try:
        root = parse_metadata(buffer)
        info = ModelInfo(name=root.string(MODEL_NAME), version=root.string(MODEL_VERSION),
                         description=root.string(MODEL_DESCRIPTION))
        graphs = root.tables(MODEL_SUBGRAPHS)
        if not graphs:
            return info
        inputs, outputs = graphs[0].tables(SUBGRAPH_INPUTS), graphs[0].tables(SUBGRAPH_OUTPUTS)
        info.normalization = _normalization(inputs[0]) if inputs else None
        info.output_names = [tensor.string(TENSOR_NAME) for tensor in outputs]
        label_files = [item.string(FILE_NAME) for tensor in outputs
                       for item in tensor.tables(TENSOR_FILES)
                       if item.byte(FILE_TYPE) == TENSOR_VALUE_LABELS]
    except BROKEN as exc:
        raise InputError(f"{where}: its TFLite Model Metadata cannot be read ({exc})") from None
    keypoints = len(info.output_names) > KEYPOINTS
    packed = associated_files(data) if label_files or keypoints else {}
    if label_files:
        if label_files[0] not in packed:
            raise InputError(f"{where}: its metadata names the label file {label_files[0]}, "
                             "which is not packed into the model")
        info.labels = packed[label_files[0]].decode("utf-8").splitlines()
    if keypoints:
        from odwrap.deploy import keypoint_layout

        name = keypoint_layout.KEYPOINTS_FILE
        if name in packed:
            info.keypoints = keypoint_layout.parse(packed[name], f"{where}: packed {name}")
    return info
