"""TFLite for SSD models: the OD API's TFLite graph export (adds TFLite_Detection_PostProcess),
then the TFLite converter, optionally quantized after training.

int8 is full-integer: a representative dataset of eval images, integer kernels only, uint8 or
int8 input; the post-processing op keeps its float outputs.
"""

from pathlib import Path

from odwrap import compat
from odwrap.errors import InputError
from odwrap.exporters.common import finish, remove, write_model
from odwrap.runtime import preprocess, preprocess_kind, resize

QUANTIZE = ("none", "fp16", "dynamic", "int8")
SUFFIX = {"none": "fp32", "fp16": "fp16", "dynamic": "dynamic", "int8": "int8"}


def convert(job, quantize="none", input_type=None, representative=100, max_detections=10):
    """(TFLite bytes, sidecar info) of the trained model."""
    if quantize not in QUANTIZE:
        raise InputError(f"--quantize {quantize}: one of {', '.join(QUANTIZE)}")
    if input_type is not None and quantize != "int8":
        raise InputError("--input-type applies to --quantize int8 (uint8 or int8 input)")
    input_type = input_type or "uint8"
    if input_type not in ("uint8", "int8"):
        raise InputError(f"--input-type {input_type}: uint8 or int8 for an int8 model")
    if representative < 1 or max_detections < 1:
        raise InputError("--representative and --max-detections must be at least 1")
    graph = compat.load("object_detection.export_tflite_graph_lib_tf2")
    import tensorflow as tf

    height, width = job.input_size
    kind = preprocess_kind(job.config.model.ssd.feature_extractor.type)
    staging = job.temporary()
    try:
        graph.export_tflite_model(job.config, str(job.model_dir), str(staging), max_detections,
                                  False)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(staging / "saved_model"))
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "fp16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            images = list(job.eval_images(representative))
            if not images:
                raise InputError("int8 needs representative images: the config's eval (or "
                                 "train) TFRecords hold none")

            def dataset():
                for image in images:
                    yield [preprocess(resize(image, height, width), kind)[None]]

            converter.representative_dataset = dataset
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8 if input_type == "uint8" else tf.int8
        try:
            data = converter.convert()
        except Exception as exc:  # the converter's errors are many and untyped
            raise InputError(f"the TFLite converter refused the model: "
                             f"{str(exc).strip().splitlines()[0][:300]}") from None
    finally:
        remove(staging)
    info = {"preprocess": kind, "input_size": [height, width], "quantize": quantize,
            "input_type": input_type if quantize == "int8" else "float32",
            "max_detections": max_detections, "labels": "labels.txt"}
    return data, info


def export(job, quantize="none", input_type=None, representative=100, max_detections=10):
    data, info = convert(job, quantize, input_type, representative, max_detections)
    path = write_model(Path(job.output) / f"model_{SUFFIX[quantize]}.tflite", data, info)
    labels = job.write_labels(job.output)
    return finish(job, "tflite", path, files=[labels, path.with_suffix(".json")])
