"""Running odwrap's ONNX models with ONNX Runtime and its OpenVINO IRs with OpenVINO's runtime,
behind the `detect(image) -> Detections` of odwrap.deploy.runtime.

Both take what the OD API's SavedModel takes, uint8 RGB [1, H, W, 3] of any size (resizing and
normalization are in the graph), and return its four detection outputs (OUTPUTS), classes as
label map ids. Labels come from the model's own metadata (ONNX metadata_props, OpenVINO
rt_info), written by odwrap's export.
"""

import copy
import importlib.metadata
import time
from pathlib import Path

import numpy as np

from odwrap.deploy.detections import Detections
from odwrap.errors import InputError, StackError

# The detection outputs of every ONNX and OpenVINO export, in their order in the model.
OUTPUTS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")
# Then the detector's output before the non-maximum suppression, for a deployment that runs
# its own (TensorRT's EfficientNMS): every anchor's decoded box [1, A, 4] and scores
# [1, A, classes + 1] (column 0: background).
RAW_OUTPUTS = ("raw_detection_boxes", "raw_detection_scores")
LABELS_KEY = "odwrap.labels"
# OpenVINO's CPU plugin computes in bf16 on CPUs with AVX512-BF16 or AMX unless asked for f32:
# odwrap asks f32, so that an fp32 IR gives the SavedModel's detections (docs/export.md).
PRECISION = "f32"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _detections(found: dict, elapsed: float):
    count = int(np.asarray(found["num_detections"]).reshape(-1)[0])
    return Detections(boxes=np.asarray(found["detection_boxes"])[0][:count],
                      classes=np.asarray(found["detection_classes"])[0][:count].astype(int),
                      scores=np.asarray(found["detection_scores"])[0][:count],
                      milliseconds=elapsed)


def _checked(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model")
    return path


class ONNXDetector:
    def __init__(self, path, threads: int = 2):
        self.path = _checked(path)
        try:
            import onnxruntime
        except ImportError:
            raise StackError("a .onnx model needs onnxruntime, which this Python does not "
                             "have (scripts/setup.sh installs it)") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own untyped errors on a bad file
            why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc)
            raise InputError(f"{path}: not an ONNX model ONNX Runtime can run ({why})") \
                from None
        names = [output.name for output in self.session.get_outputs()]
        missing = [name for name in OUTPUTS if name not in names]
        inputs = self.session.get_inputs()
        if missing or len(inputs) != 1 or inputs[0].type != "tensor(uint8)":
            raise InputError(f"{path}: not an odwrap detection model (it needs one uint8 "
                             f"image input and the outputs {', '.join(OUTPUTS)})")
        self.input = inputs[0].name
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.labels = metadata[LABELS_KEY].split("\n") if metadata.get(LABELS_KEY) else []
        self.runtime = f"onnxruntime {_version('onnxruntime')} (CPU)"

    def replica(self) -> "ONNXDetector":
        return self  # an InferenceSession may run from several threads at once

    def detect(self, image: np.ndarray):
        start = time.perf_counter()
        values = self.session.run(list(OUTPUTS), {self.input: image[None]})
        elapsed = (time.perf_counter() - start) * 1000
        return _detections(dict(zip(OUTPUTS, values)), elapsed)


class OpenVINODetector:
    def __init__(self, path, threads: int = 2):
        self.path = _checked(path)
        try:
            import openvino
        except ImportError:
            raise StackError("an OpenVINO .xml model needs openvino, which this Python does "
                             "not have (scripts/setup.sh installs it)") from None
        if not self.path.with_suffix(".bin").is_file():
            raise InputError(f"{path}: its weights, {self.path.with_suffix('.bin').name}, are "
                             "not beside it")
        core = openvino.Core()
        try:
            model = core.read_model(str(self.path))
            self.compiled = core.compile_model(model, "CPU", {
                "INFERENCE_PRECISION_HINT": PRECISION, "INFERENCE_NUM_THREADS": threads})
        except RuntimeError as exc:
            why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "no reason"
            raise InputError(f"{path}: not an OpenVINO IR OpenVINO can run ({why})") from None
        ports = {name: port for port in self.compiled.outputs for name in port.names}
        missing = [name for name in OUTPUTS if name not in ports]
        if missing or len(self.compiled.inputs) != 1:
            raise InputError(f"{path}: not an odwrap detection model (it needs one image "
                             f"input and the outputs {', '.join(OUTPUTS)})")
        self.ports = [ports[name] for name in OUTPUTS]
        self.request = self.compiled.create_infer_request()
        labels = model.get_rt_info(["odwrap", "labels"]).astype(str) \
            if model.has_rt_info(["odwrap", "labels"]) else ""
        self.labels = labels.split("\n") if labels else []
        self.runtime = f"openvino {_version('openvino')} (CPU, {PRECISION})"

    def replica(self) -> "OpenVINODetector":
        """The same compiled model with an infer request of its own (one serves one thread)."""
        twin = copy.copy(self)
        twin.request = self.compiled.create_infer_request()
        return twin

    def detect(self, image: np.ndarray):
        start = time.perf_counter()
        results = self.request.infer([image[None]])
        elapsed = (time.perf_counter() - start) * 1000
        return _detections({name: results[port] for name, port in zip(OUTPUTS, self.ports)},
                           elapsed)
