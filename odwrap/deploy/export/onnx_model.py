"""ONNX through tf2onnx from the OD API exporter's SavedModel, so that the model takes what the
SavedModel takes (uint8 RGB [1, H, W, 3], any size: resizing and normalization are inside) and
returns the SavedModel's detections, post-processing (NMS) included. Outputs, in this order:
detection_boxes [1, N, 4] (ymin, xmin, ymax, xmax, 0..1), detection_classes [1, N] (label map
ids, float), detection_scores [1, N], num_detections [1]; then, before the non-maximum
suppression, raw_detection_boxes [1, A, 4] and raw_detection_scores [1, A, classes + 1].
int8: ONNX Runtime's static quantization (QDQ, per channel) of the convolutions, calibrated on
eval images.

Each model carries its labels and that description in its metadata_props, which ONNX Runtime
reads back (odwrap.deploy.graph_runtimes).
"""

from pathlib import Path

from odwrap import report
from odwrap.deploy.export import format_modes
from odwrap.deploy.export.common import finish, remove
from odwrap.deploy.export.saved_model import staged
from odwrap.deploy.graph_runtimes import OUTPUTS, RAW_OUTPUTS
from odwrap.errors import InputError, RunError
from odwrap.fsutil import atomic_write_bytes
from odwrap.odapi import compat
from odwrap.odapi.logs import captured_output

# ONNX Runtime 1.17+, TensorRT 10 and OpenVINO's ONNX front end all read opset 17.
OPSET = 17
INPUT = "input_tensor"


def description(job, quantize: str, outputs) -> dict:
    """What the model is and how to feed it (OUTPUTS: its output names, in order):
    metadata_props of the ONNX model, rt_info of the OpenVINO IR."""
    return {"odwrap.labels": "\n".join(job.label_lines()),
            "odwrap.input": "uint8 RGB [1, H, W, 3], any size (resized and normalized inside)",
            "odwrap.outputs": ", ".join(outputs), "odwrap.quantize": quantize,
            "odwrap.checkpoint": f"{job.step} ({job.weights} weights)",
            "odwrap.classes": "label map ids from 1: line i of odwrap.labels is class i + 1"}


def convert(saved_model: Path):
    """The ONNX ModelProto of an OD API SavedModel's serving signature, its detection outputs
    and the raw ones where it has them (OUTPUTS, then RAW_OUTPUTS); RunError naming the
    TensorFlow ops that tf2onnx could not convert."""
    import tf2onnx
    from tf2onnx import tf_loader

    with captured_output(not report.verbose()):
        graph, inputs, outputs, renamed = tf_loader.from_saved_model(
            str(saved_model), None, None, tag="serve", signatures=["serving_default"],
            return_tensors_to_rename=True)
        by_name = {renamed.get(tensor): tensor for tensor in outputs}
        missing = [name for name in OUTPUTS if name not in by_name]
        wanted = OUTPUTS + tuple(name for name in RAW_OUTPUTS if name in by_name)
        if missing or [renamed.get(tensor) for tensor in inputs] != [INPUT]:
            raise RunError(f"{saved_model}: not an OD API image_tensor SavedModel (no "
                           f"{', '.join(missing) or INPUT})")
        model, _ = tf2onnx.convert.from_graph_def(
            graph, input_names=inputs, output_names=[by_name[name] for name in wanted],
            opset=OPSET, tensors_to_rename=renamed)
    left = sorted(unconverted(model))
    if left:  # tf2onnx keeps an op it cannot convert as it is (continue_on_error)
        raise RunError(f"tf2onnx {tf2onnx.__version__} cannot convert the TensorFlow op(s) "
                       f"{', '.join(left)} of this model to ONNX opset {OPSET}; export "
                       "--format saved_model, tflite or openvino instead")
    return model


def unconverted(model) -> set:
    """The op types of MODEL (subgraphs included) that are not ONNX operators."""
    import onnx

    known = {schema.name for schema in onnx.defs.get_all_schemas_with_history()}
    found, graphs = set(), [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            if node.domain in ("", "ai.onnx") and node.op_type not in known:
                found.add(node.op_type)
            graphs += [attribute.g for attribute in node.attribute if attribute.HasField("g")]
    return found


def names(model) -> list[str]:
    """The output names of an ONNX model, in order."""
    return [output.name for output in model.graph.output]


def with_metadata(model, info: dict):
    del model.metadata_props[:]
    for key, value in info.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "odwrap (tf2onnx)"
    return model


def quantize_int8(job, fp32: Path, scratch: Path, representative: int) -> Path:
    """The int8 model: FP32 statically quantized (QDQ; weights per channel), its activation
    ranges calibrated on REPRESENTATIVE eval images, written in SCRATCH first."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    images = list(job.eval_images(representative))
    if not images:
        raise InputError("int8 needs representative images: the config's eval (or train) "
                         "TFRecords hold none")

    class Images(CalibrationDataReader):
        def __init__(self):
            self.left = iter(images)
            self.progress = progress

        def get_next(self):
            image = next(self.left, None)
            if image is None:
                return None
            self.progress.advance()
            return {INPUT: image[None]}

    written = scratch / "model_int8.onnx"
    with report.tracking("export: int8 calibration", len(images), "image") as progress, \
            captured_output(not report.verbose()):
        quantize_static(str(fp32), str(written), Images(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    model = onnx.load(str(written))
    model = with_metadata(model, description(job, "int8", names(model)))
    return atomic_write_bytes(job.exports.onnx("int8"), model.SerializeToString())


def export(job, quantize="none", representative=100):
    compat.apply()
    modes = format_modes("onnx", quantize)
    if representative < 1:
        raise InputError("--representative must be at least 1")
    with staged(job) as saved_model:
        model = convert(saved_model)
    scratch = job.temporary()  # int8 alone: fp32 is calibrated there, not kept
    try:
        fp32 = job.exports.onnx("none") if "none" in modes else scratch / "model_fp32.onnx"
        paths = {"none": atomic_write_bytes(
            fp32, with_metadata(model, description(job, "none", names(model)))
            .SerializeToString())}
        if "int8" in modes:
            paths["int8"] = quantize_int8(job, fp32, scratch, representative)
    finally:
        remove(scratch)
    return finish(job, "onnx", [paths[mode] for mode in modes], files=[job.write_labels()],
                  notes=[f"ONNX opset {OPSET}: input {INPUT} uint8 [1, H, W, 3] (any size); "
                         f"outputs {', '.join(names(model))}"])
