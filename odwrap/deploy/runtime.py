"""Running exported detectors: TFLite (ai-edge-litert, tflite-runtime or TensorFlow's
interpreter) and SavedModel, behind one `detect(image) -> Detections` call; ONNX and OpenVINO
models through odwrap.deploy.graph_runtimes, chosen by `load_detector` from the file.

A TFLite SSD from the OD API takes the *preprocessed* image (export_tflite_graph_lib_tf2 calls
model.predict without model.preprocess): odwrap's exports say how to preprocess in their TFLite
Model Metadata (odwrap.deploy.modelinfo), and in a sidecar MODEL.json, read for models exported
before the metadata.
"""

import copy
import json
import time
from pathlib import Path

import numpy as np

from odwrap.deploy import RUNTIMES, modelinfo, preprocessing
from odwrap.deploy.detections import Detections
from odwrap.deploy.exportdir import ExportDir
from odwrap.deploy.preprocessing import Normalization
from odwrap.errors import InputError, StackError
from odwrap.fsutil import read_bytes
from odwrap.odapi.logs import captured_output

MODEL_LIMIT = 2**31  # a FlatBuffer cannot be larger


def preprocess(image: np.ndarray, normalization: Normalization) -> np.ndarray:
    """uint8 RGB [H, W, 3] -> the float input the feature extractor expects."""
    mean, std = normalization.per_channel()
    return (image.astype(np.float32) - np.array(mean, np.float32)) / np.array(std, np.float32)


def load_rgb(source, name=None, *, oriented: bool = True) -> np.ndarray:
    """uint8 RGB [H, W, 3] of an image file or file object; `name` names it in errors.
    ORIENTED: as a viewer shows it, its EXIF orientation applied (an image file); else as
    stored (a TFRecord's image/encoded, whose boxes describe the stored pixels, as
    TensorFlow decodes them): odwrap.data.orientation's rule."""
    from PIL import Image

    from odwrap.data import orientation

    try:
        with Image.open(source) as opened:
            image = orientation.upright(opened) if oriented else opened
            if image.mode in WIDE_MODES:
                return _wide_to_rgb(np.asarray(image, dtype=np.float64), image.mode,
                                    name or source)
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:  # bomb: > 179 Mpixels
        why = str(exc) if name is None else str(exc).replace(repr(source), repr(str(name)))
        raise InputError(f"{name or source}: cannot read the image ({why})") from None


WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})  # what convert() clips


def _wide_to_rgb(pixels: np.ndarray, mode: str, name) -> np.ndarray:
    """A 16-bit, 32-bit or float grey image as uint8 RGB, scaled by its range (Pillow's
    convert('RGB') clips: a 16-bit PNG became all white, a float TIFF in [0, 1] all black):
    integers by the bit depth their largest value needs (8 or 16), floats in [0, 1] by 255,
    anything else from its lowest to its highest value."""
    if not np.isfinite(pixels).all():
        raise InputError(f"{name}: cannot read the image (NaN or infinite pixels)")
    low, high = float(pixels.min(initial=0)), float(pixels.max(initial=0))
    if mode == "F":
        scale_low, scale_high = (0.0, 1.0) if low >= 0 and high <= 1 else (low, high)
    else:
        scale_low = 0.0 if low >= 0 else low
        scale_high = 255.0 if 0 <= low and high <= 255 else \
            65535.0 if 0 <= low and high <= 65535 else high
    span = scale_high - scale_low
    scaled = (pixels - scale_low) * (255.0 / span) if span > 0 else np.zeros_like(pixels)
    grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def interpreter_class(runtime: str = "auto"):
    """(name, Interpreter class) of the first runtime that imports, in RUNTIMES order."""
    if runtime != "auto" and runtime not in RUNTIMES:
        raise InputError(f"unknown runtime '{runtime}'; one of: {', '.join(RUNTIMES)}")
    for name in RUNTIMES if runtime == "auto" else (runtime,):
        try:
            if name == "ai-edge-litert":
                from ai_edge_litert.interpreter import Interpreter
            elif name == "tflite-runtime":
                from tflite_runtime.interpreter import Interpreter
            else:
                from odwrap.odapi import compat

                Interpreter = compat.import_tensorflow().lite.Interpreter
            return name, Interpreter
        except ImportError:
            continue
    if runtime == "tflite-runtime":
        raise StackError("tflite-runtime cannot be imported; it is in the TF 2.15 stack only "
                         "(scripts/setup.sh --stack tf215), since it needs numpy 1")
    raise StackError(f"no TFLite runtime can be imported (tried {runtime})")


class TFLiteDetector:
    def __init__(self, path, runtime: str = "auto", threads: int = 2):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{path}: no such model")
        self.runtime, interpreter_cls = interpreter_class(runtime)
        data = read_bytes(self.path, "model", MODEL_LIMIT)
        roles = modelinfo.output_roles(data, str(path))
        self.info = modelinfo.read_info(data, str(path))
        self.normalization = self.info.normalization if self.info else None
        if self.normalization is None:  # exported before the metadata: the sidecar says
            sidecar = ExportDir.sidecar(self.path)
            info = json.loads(sidecar.read_text()) if sidecar.exists() else {}
            self.normalization = preprocessing.KINDS.get(info.get("preprocess"),
                                                         preprocessing.MOBILENET)
        self.labels = self.info.labels if self.info else []
        self._table = None  # the input of each pixel value, per channel (input_tensor)
        self._make = lambda: interpreter_cls(model_content=data, num_threads=threads)
        try:
            self.interpreter = self._interpreter()
        except (ValueError, RuntimeError) as exc:
            raise InputError(f"{path}: not a TFLite model this runtime can run ({exc})") \
                from None
        self.input = self.interpreter.get_input_details()[0]
        self.height, self.width = (int(v) for v in self.input["shape"][1:3])
        outputs = self.interpreter.get_output_details()
        # Boxes, classes, scores, count: the post-processing op's outputs, wherever the model's
        # output list puts them (TF2 exports: scores, boxes, count, classes).
        by_role = dict(zip(roles, outputs))
        self.outputs = [by_role[role] for role in range(len(roles))]  # 6 with keypoints

    def _interpreter(self):
        with captured_output():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
            interpreter = self._make()
            interpreter.allocate_tensors()
        return interpreter

    def replica(self) -> "TFLiteDetector":
        """A detector of the same model for another thread: an interpreter serves one thread at
        a time (it releases the GIL while it runs, so that replicas run side by side)."""
        twin = copy.copy(self)
        twin.interpreter = self._interpreter()
        return twin

    def input_tensor(self, image: np.ndarray) -> np.ndarray:
        """The model's input [1, H, W, 3] of uint8 RGB IMAGE: resized, normalized and (an int8
        model) quantized. Each channel's result depends on the pixel's value alone, so the
        256 values of each are worked out once and looked up: the same numbers, 8 times faster
        than the arithmetic on every pixel."""
        resized = resize(image, self.height, self.width)
        if resized.dtype != np.uint8 or resized.shape[-1:] != (3,):
            return self._converted(resized)
        if self._table is None:
            levels = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
            self._table = self._converted(levels)[0, 0]  # [256, 3]
        tensor = np.empty((1, *resized.shape), self._table.dtype)
        for channel in range(3):
            np.take(self._table[:, channel], resized[..., channel], out=tensor[0, ..., channel])
        return tensor

    def _converted(self, pixels: np.ndarray) -> np.ndarray:
        values = preprocess(pixels, self.normalization)
        dtype = self.input["dtype"]
        if dtype in (np.uint8, np.int8):
            scale, zero_point = self.input["quantization"]
            limits = np.iinfo(dtype)
            values = np.clip(np.round(values / scale + zero_point), limits.min, limits.max)
        return values.astype(dtype)[None]

    def detect(self, image: np.ndarray) -> Detections:
        self.interpreter.set_tensor(self.input["index"], self.input_tensor(image))
        start = time.perf_counter()
        self.interpreter.invoke()
        elapsed = (time.perf_counter() - start) * 1000
        boxes, classes, scores, count, *points = (self.interpreter.get_tensor(detail["index"])
                                                  for detail in self.outputs)
        count = int(np.squeeze(count))
        return Detections(boxes=boxes[0][:count], classes=classes[0][:count].astype(int) + 1,
                          scores=scores[0][:count], milliseconds=elapsed,
                          keypoints=points[0][0][:count] if points else None,
                          keypoint_scores=points[1][0][:count] if points else None)


class SavedModelDetector:
    def __init__(self, path):
        from odwrap import report
        from odwrap.odapi import compat, logs

        if not report.verbose():  # predict of a SavedModel: TensorFlow's start-up lines dropped
            logs.quiet_tensorflow_import()
        compat.apply()
        import tensorflow as tf

        self.tf, self.runtime, self.path = tf, "tensorflow", Path(path)
        try:
            self.function = tf.saved_model.load(str(path)).signatures["serving_default"]
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a detection SavedModel "
                             f"({str(exc).splitlines()[0]})") from None
        except (tf.errors.OpError, IndexError) as exc:  # IndexError: a truncated data shard
            why = str(exc).strip().splitlines()[0].split("} ")[-1][:200]
            raise InputError(f"{Path(path) / 'variables'}: the SavedModel's variables cannot be "
                             f"read, truncated or corrupt ({why}); export the model again") \
                from None

    def replica(self) -> "SavedModelDetector":
        return self  # a concrete function may be called from several threads at once

    def detect(self, image: np.ndarray) -> Detections:
        tensor = self.tf.constant(image[None], self.tf.uint8)
        start = time.perf_counter()
        output = self.function(input_tensor=tensor)
        elapsed = (time.perf_counter() - start) * 1000
        count = int(output["num_detections"][0])
        masks = output.get("detection_masks")
        points = output.get("detection_keypoints")
        point_scores = output.get("detection_keypoint_scores")
        return Detections(boxes=output["detection_boxes"][0][:count].numpy(),
                          classes=output["detection_classes"][0][:count].numpy().astype(int),
                          scores=output["detection_scores"][0][:count].numpy(),
                          milliseconds=elapsed,
                          masks=None if masks is None else masks[0][:count].numpy(),
                          keypoints=None if points is None else points[0][:count].numpy(),
                          keypoint_scores=None if point_scores is None
                          else point_scores[0][:count].numpy())


def load_detector(path, runtime="auto", threads=2):
    """The detector of a .tflite, a SavedModel folder, a .onnx (ONNX Runtime) or an OpenVINO
    .xml (OpenVINO), chosen from the path; RUNTIME picks among the TFLite runtimes only."""
    path = Path(path)
    if path.suffix in (".onnx", ".xml"):
        from odwrap.deploy import graph_runtimes

        if runtime != "auto":
            raise InputError(f"--runtime {runtime}: picks a TFLite runtime; {path.name} runs "
                             "with " + ("ONNX Runtime" if path.suffix == ".onnx" else "OpenVINO"))
        detector = graph_runtimes.ONNXDetector if path.suffix == ".onnx" else \
            graph_runtimes.OpenVINODetector
        return detector(path, threads=threads)
    if path.is_dir():
        for folder in (path, path / "saved_model"):
            if (folder / "saved_model.pb").exists():
                return SavedModelDetector(folder)
    if path.suffix == ".tflite":
        return TFLiteDetector(path, runtime=runtime, threads=threads)
    raise InputError(f"{path}: not a .tflite, .onnx or OpenVINO .xml model, nor a SavedModel "
                     "folder")
