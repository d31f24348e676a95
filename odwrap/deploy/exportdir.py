"""The layout of an export folder, owned by one type (as ModelDir owns a model folder's):

    DIR/saved_model/                 the SavedModel (export --format saved_model)
    DIR/model_fp32.tflite            one .tflite per quantization: fp32, fp16, dynamic, int8
    DIR/model_fp32.json              each one's sidecar: input, quantization, preprocessing
    DIR/model_int8_edgetpu.tflite    edgetpu_compiler's output, when it is on PATH
    DIR/model_fp32.onnx              the ONNX model of each quantization: fp32, int8
    DIR/model_fp32.xml, .bin         the OpenVINO IR of each quantization: fp32, fp16, int8
    DIR/labels.txt                   a class name a line: line i (from 0) is class index i
    DIR/keypoints.json               a keypoint model's points and skeleton per class
    DIR/pipeline.config              the training config: `eval --model` finds its data there
    DIR/README.txt                   what each .tflite takes and returns, and how to run it
    MODEL.metrics.json               `eval --model`'s metrics, beside the model it measured
                                     (model_fp32.onnx.metrics.json for ONNX and OpenVINO)
    DIR/benchmark.json, benchmark.md `odwrap benchmark`'s table (its -o folder)
    DIR/.odwrap-export-*/            a running export's staging folders

Export writes it; the bundle, predict and `eval --model` read it.
"""

from pathlib import Path

from odwrap.deploy.keypoint_layout import KEYPOINTS_FILE
from odwrap.odapi.pipeline import CONFIG_NAME

# A labels.txt line for a class id the label map leaves unused (the TFLite convention).
UNNAMED_CLASS = "???"
# The .tflite file name part of each quantization mode (odapi.exports.QUANTIZE).
TFLITE_NAMES = {"none": "fp32", "fp16": "fp16", "dynamic": "dynamic", "int8": "int8"}


class ExportDir:
    """A folder that `odwrap export` writes."""

    LABELS = "labels.txt"  # also the name of the label file packed into each .tflite
    KEYPOINTS_NAME = KEYPOINTS_FILE  # a keypoint model's, packed into its .tflite too
    README = "README.txt"
    THRESHOLD = "threshold.json"  # the best-F1 score threshold of the model's evaluation
    SAVED_MODEL = "saved_model"
    STAGING_PREFIX = ".odwrap-export-"

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ExportDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    saved_model = property(lambda self: self.path / self.SAVED_MODEL)
    labels = property(lambda self: self.path / self.LABELS)
    keypoints = property(lambda self: self.path / KEYPOINTS_FILE)
    config = property(lambda self: self.path / CONFIG_NAME)
    readme = property(lambda self: self.path / self.README)
    threshold = property(lambda self: self.path / self.THRESHOLD)

    def tflite(self, quantize: str) -> Path:
        """The .tflite of a quantization mode: model_fp32.tflite for 'none'."""
        return self.path / f"model_{TFLITE_NAMES[quantize]}.tflite"

    def onnx(self, quantize: str) -> Path:
        """The ONNX model of a quantization mode: model_fp32.onnx for 'none'."""
        return self.path / f"model_{TFLITE_NAMES[quantize]}.onnx"

    def openvino(self, quantize: str) -> Path:
        """The OpenVINO IR's .xml of a quantization mode (its weights: the .bin beside it)."""
        return self.path / f"model_{TFLITE_NAMES[quantize]}.xml"

    @staticmethod
    def weights(xml: Path) -> Path:
        """The .bin that holds the weights of an OpenVINO IR's .xml."""
        return Path(xml).with_suffix(".bin")

    def tflite_models(self) -> list[Path]:
        return sorted(self.path.glob("*.tflite"))

    def staging(self) -> list[Path]:
        return sorted(self.path.glob(self.STAGING_PREFIX + "*"))

    @staticmethod
    def sidecar(model: Path) -> Path:
        """MODEL.json beside a .tflite."""
        return Path(model).with_suffix(".json")

    @staticmethod
    def compiled(model: Path, folder: Path | None = None) -> Path:
        """The Edge TPU compiler's name for MODEL (in FOLDER, by default MODEL's)."""
        model = Path(model)
        return (folder or model.parent) / f"{model.stem}_edgetpu.tflite"

    @staticmethod
    def metrics(model: Path) -> Path:
        """MODEL.metrics.json beside a .tflite; saved_model.metrics.json beside a SavedModel;
        model_fp32.onnx.metrics.json beside an ONNX or OpenVINO model (its stem is the .tflite's
        of the same quantization)."""
        model = Path(model)
        if model.is_dir() or model.suffix in (".onnx", ".xml"):
            return model.parent / f"{model.name}.metrics.json"
        return model.with_suffix(".metrics.json")

    @staticmethod
    def fp32_of(model: Path) -> Path:
        """The fp32 model of MODEL's format beside it (model_fp32 with MODEL's suffix)."""
        model = Path(model)
        return model.with_name(f"model_{TFLITE_NAMES['none']}{model.suffix}")

    @staticmethod
    def analysis(model: Path) -> Path:
        """The folder of MODEL's evaluation plots, beside its metrics (MODEL.analysis/)."""
        metrics = ExportDir.metrics(model)
        return metrics.with_name(metrics.name.removesuffix(".metrics.json") + ".analysis")

    @classmethod
    def holding(cls, model: Path) -> "ExportDir":
        """The export folder a model file or SavedModel folder is in."""
        model = Path(model)
        folder = model if model.is_dir() else model.parent
        if (folder / "saved_model.pb").exists():
            folder = folder.parent
        return cls(folder)

    def around(self) -> list["ExportDir"]:
        """This folder, then the one above (a model folder's export/ sits in the model folder):
        where a model's labels and config are looked for."""
        return [self, ExportDir(self.path.parent)]
