"""TFLite Model Metadata for exported SSD detectors, written by odwrap itself (tflite-support's
writers need protobuf < 4, which the TF 2.21 stack cannot have).

The metadata follows tensorflow/tflite-support's `metadata_schema.fbs`, as the TFLite Task
Library's and MediaPipe Tasks' ObjectDetector read it: the input as an RGB image with the
feature extractor's NormalizationOptions; the four outputs named location, category, score and
number of detections in the model's real output order (TF2 exports order them scores, boxes,
count, classes: tensorflow/models #10970); the boxes as BOUNDARIES in ratios, ordered ymin,
xmin, ymax, xmax; labels.txt as the category output's TENSOR_VALUE_LABELS file. It goes into a
new model buffer named by a "TFLITE_METADATA" entry, and labels.txt into a zip archive appended
to the model bytes, where the metadata populator puts associated files.
"""

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import flatbuffers

from odwrap.deploy import keypoint_layout, modelinfo
from odwrap.deploy.exportdir import ExportDir
from odwrap.deploy.preprocessing import Normalization
from odwrap.errors import RunError
from odwrap.fsutil import atomic_write_bytes

LABELS_FILE = ExportDir.LABELS  # the packed label file, named as the folder's
KEYPOINTS_FILE = keypoint_layout.KEYPOINTS_FILE  # a keypoint model's, named as the folder's
# The oldest metadata parser that reads every field written here (all in schema 1.0.0).
MIN_PARSER_VERSION = "1.0.0"
IMAGE_PROPERTIES, FEATURE_PROPERTIES, BOUNDING_BOX_PROPERTIES = 2, 1, 3  # ContentProperties
RGB = 1  # ColorSpaceType
BOUNDARIES, RATIO = 1, 0  # BoundingBoxType, CoordinateType
# BOUNDARIES' default order is left, top, right, bottom; the post-processing op writes ymin,
# xmin, ymax, xmax: index i says where element i of the default order is.
BOX_INDEX = (1, 0, 3, 2)
OUTPUT_DESCRIPTIONS = (
    "Boxes of the detected objects: ymin, xmin, ymax, xmax as fractions of the image size.",
    "Class index of each detected object (line index + 1 of labels.txt is the label map id).",
    "Score of each detected object, 0 to 1.",
    "How many detections the other outputs hold.",
    "Keypoints of each detected object: [detection, keypoint, (y, x)] as fractions of the image "
    "size; a class's own keypoints are at the label map's keypoint ids, the others zero.",
    "Score of each keypoint of each detected object, 0 to 1.")


@dataclass
class DetectorDescription:
    """What the metadata says about one exported detector."""

    name: str
    version: str
    description: str
    normalization: Normalization
    labels: list  # line i: class index i (label map id i + 1)
    input_type: str = "float32"  # or uint8, int8
    input_size: tuple = (0, 0)  # height, width
    keypoints: bytes = b""  # a keypoint model's keypoints.json (odwrap.deploy.keypoint_layout)
    author: str = ""


def _vector(builder, items, prepend, size=4):
    builder.StartVector(size, len(items), size)
    for item in reversed(items):
        prepend(item)
    return builder.EndVector()


def _offsets(builder, offsets):
    return _vector(builder, offsets, builder.PrependUOffsetTRelative)


def _table(builder, slots: int, fields: dict):
    """A table of `slots` fields; FIELDS maps slot -> ('offset'|'byte'|'uint'|'int', value)."""
    builder.StartObject(slots)
    for slot, (kind, value) in sorted(fields.items()):
        if value is None:
            continue
        if kind == "offset":
            builder.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == "byte":
            builder.PrependInt8Slot(slot, value, 0)
        elif kind == "uint":
            builder.PrependUint32Slot(slot, value, 0)
        else:
            builder.PrependInt32Slot(slot, value, 0)
    return builder.EndObject()


def _content(builder, kind: int, properties, value_range=None):
    return _table(builder, 3, {0: ("byte", kind), 1: ("offset", properties),
                               2: ("offset", value_range)})


def _floats(builder, values):
    return _vector(builder, list(values), builder.PrependFloat32)


def _input_tensor(builder, spec: DetectorDescription):
    height, width = spec.input_size
    size = _table(builder, 2, {0: ("uint", width), 1: ("uint", height)})
    image = _table(builder, 2, {0: ("byte", RGB), 1: ("offset", size)})
    content = _content(builder, IMAGE_PROPERTIES, image)
    mean, std = spec.normalization.per_channel()
    options = _table(builder, 2, {0: ("offset", _floats(builder, mean)),
                                  1: ("offset", _floats(builder, std))})
    unit = _table(builder, 2, {0: ("byte", modelinfo.NORMALIZATION_OPTIONS),
                               1: ("offset", options)})
    # Stats: the range of the tensor's values; a float input holds normalized pixels.
    low, high = ((0.0,), (255.0,)) if spec.input_type != "float32" else spec.normalization.range()
    stats = _table(builder, 2, {0: ("offset", _floats(builder, high)),
                                1: ("offset", _floats(builder, low))})
    name = builder.CreateString("image")
    description = builder.CreateString(
        f"RGB image, {height}x{width}, {spec.input_type}"
        + (", pixel values 0..255 as they are" if spec.input_type == "uint8" else
           "; normalize each pixel as (x - mean) / std" if spec.input_type == "float32" else
           "; quantize the normalized pixel with the tensor's scale and zero point"))
    return _table(builder, 7, {0: ("offset", name), 1: ("offset", description),
                               3: ("offset", content), 4: ("offset", _offsets(builder, [unit])),
                               5: ("offset", stats)})


def _output_tensor(builder, role: int):
    files = None
    if role in (3, modelinfo.KEYPOINTS, modelinfo.KEYPOINT_SCORES):
        content = None
    else:
        value_range = _table(builder, 2, {0: ("int", 2), 1: ("int", 2)})
        if role == 0:
            index = _vector(builder, list(BOX_INDEX), builder.PrependUint32)
            properties = _table(builder, 3, {0: ("offset", index), 1: ("byte", BOUNDARIES),
                                             2: ("byte", RATIO)})
            content = _content(builder, BOUNDING_BOX_PROPERTIES, properties, value_range)
        else:
            content = _content(builder, FEATURE_PROPERTIES, _table(builder, 0, {}), value_range)
        if role == 1:
            label_file = _table(builder, 4, {
                0: ("offset", builder.CreateString(LABELS_FILE)),
                1: ("offset", builder.CreateString("Labels of the category output")),
                2: ("byte", modelinfo.TENSOR_VALUE_LABELS)})
            files = _offsets(builder, [label_file])
    if role == modelinfo.KEYPOINTS:
        layout_file = _table(builder, 4, {
            0: ("offset", builder.CreateString(KEYPOINTS_FILE)),
            1: ("offset", builder.CreateString(
                "Each class's keypoint names, their places in this output, and the skeleton")),
            2: ("byte", modelinfo.DESCRIPTIONS)})
        files = _offsets(builder, [layout_file])
    name = builder.CreateString(modelinfo.OUTPUT_NAMES[role])
    description = builder.CreateString(OUTPUT_DESCRIPTIONS[role])
    return _table(builder, 7, {0: ("offset", name), 1: ("offset", description),
                               3: ("offset", content), 6: ("offset", files)})


def metadata_buffer(spec: DetectorDescription, roles: list[int]) -> bytes:
    """The ModelMetadata FlatBuffer; ROLES: the post-processing output of each model output."""
    builder = flatbuffers.Builder(1024)
    inputs = _offsets(builder, [_input_tensor(builder, spec)])
    outputs = _offsets(builder, [_output_tensor(builder, role) for role in roles])
    subgraph = _table(builder, 4, {2: ("offset", inputs), 3: ("offset", outputs)})
    strings = {slot: ("offset", builder.CreateString(text)) for slot, text in (
        (0, spec.name), (1, spec.description), (2, spec.version), (4, spec.author),
        (7, MIN_PARSER_VERSION)) if text}
    root = _table(builder, 8, {**strings, 3: ("offset", _offsets(builder, [subgraph]))})
    builder.Finish(root, file_identifier=modelinfo.METADATA_IDENTIFIER)
    return bytes(builder.Output())


def attach(model: bytes, metadata: bytes, files: dict[str, bytes]) -> bytes:
    """The model with METADATA in a new buffer named by a TFLITE_METADATA entry (replacing one
    it had) and FILES zipped after it. Whatever followed the FlatBuffer before is dropped."""
    import numpy as np

    schema = modelinfo.schema()
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    tree.buffers = tree.buffers or []
    tree.metadata = [entry for entry in (tree.metadata or [])
                     if entry.name not in (modelinfo.METADATA_NAME,
                                           modelinfo.METADATA_NAME.encode())]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(metadata, np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = modelinfo.METADATA_NAME, len(tree.buffers) - 1
    tree.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + len(metadata) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    packed = io.BytesIO(bytes(builder.Output()))
    with zipfile.ZipFile(packed, "a") as archive:  # stored, not compressed, as readers need
        for name, data in files.items():
            archive.writestr(name, data)
    return packed.getvalue()


def with_metadata(model: bytes, spec: DetectorDescription, where="model") -> bytes:
    """MODEL with the metadata of SPEC and labels.txt packed into it."""
    roles = modelinfo.output_roles(model, where)
    labels = ("\n".join(spec.labels) + "\n").encode("utf-8")
    files = {LABELS_FILE: labels}
    if modelinfo.KEYPOINTS in roles:
        files[KEYPOINTS_FILE] = spec.keypoints
    return attach(model, metadata_buffer(spec, roles), files)


def copy_metadata(source: Path, target: Path) -> Path:
    """Write SOURCE's metadata and packed files into TARGET, a compiled copy of it
    (edgetpu_compiler drops them); refused when TARGET orders its outputs otherwise."""
    source_data, target_data = Path(source).read_bytes(), Path(target).read_bytes()
    buffer = modelinfo.metadata_bytes(source_data, str(source))
    if buffer is None:
        return target
    if modelinfo.output_roles(source_data, str(source)) != \
            modelinfo.output_roles(target_data, str(target)):
        raise RunError(f"{target}: its outputs are ordered unlike {source}'s, whose metadata "
                       "it was to get")
    data = attach(target_data, buffer, modelinfo.associated_files(source_data))
    return atomic_write_bytes(target, data)
