"""TFLite for SSD models: the OD API's TFLite graph export (adds TFLite_Detection_PostProcess),
then the TFLite converter, optionally quantized after training.

int8 is full-integer: a representative dataset of eval images, integer kernels only, uint8 or
int8 input; the post-processing op keeps its float outputs.
"""

import json
from pathlib import Path

from odwrap import report
from odwrap.deploy import preprocessing
from odwrap.deploy.export import INT8_INPUTS, QUANTIZE, UPSAMPLING, metadata
from odwrap.deploy.export.common import finish, remove, write_model
from odwrap.deploy.export.fpn import export_graph
from odwrap.deploy.runtime import preprocess, resize
from odwrap.errors import InputError, RunError
from odwrap.fsutil import atomic_write_text
from odwrap.odapi import facts
from odwrap.odapi.logs import captured_output

SUFFIX = {"none": "fp32", "fp16": "fp16", "dynamic": "dynamic", "int8": "int8"}


def convert(job, quantize="none", input_type=None, representative=100, max_detections=10,
            upsampling="native"):
    """(TFLite bytes, sidecar info) of the trained model, its FPN upsampling by UPSAMPLING."""
    if upsampling not in UPSAMPLING:
        raise InputError(f"--upsampling {upsampling}: one of {', '.join(UPSAMPLING)}")
    if quantize not in QUANTIZE:
        raise InputError(f"--quantize {quantize}: one of {', '.join(QUANTIZE)}")
    if input_type is not None and quantize != "int8":
        raise InputError("--input-type applies to --quantize int8 (uint8 or int8 input)")
    input_type = input_type or "uint8"
    if input_type not in INT8_INPUTS:
        raise InputError(f"--input-type {input_type}: uint8 or int8 for an int8 model")
    if representative < 1 or max_detections < 1:
        raise InputError("--representative and --max-detections must be at least 1")
    import tensorflow as tf

    height, width = job.input_size
    extractor = facts.model_config(job.config).feature_extractor.type
    kind = preprocessing.kind_of(extractor)
    normalization = preprocessing.KINDS[kind]
    staging = job.temporary()
    try:
        with captured_output(not report.verbose()):
            export_graph(job, staging, max_detections, upsampling)
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
                    yield [preprocess(resize(image, height, width), normalization)[None]]

            converter.representative_dataset = dataset
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8 if input_type == "uint8" else tf.int8
        try:
            with captured_output(not report.verbose()):
                data = converter.convert()
        except Exception as exc:  # the converter's errors are many and untyped
            raise RunError(f"the TFLite converter failed on the model: "
                             f"{str(exc).strip().splitlines()[0][:300]} (--verbose shows "
                             "its log)") from None
    finally:
        remove(staging)
    model_type = "float32" if quantize != "int8" else input_type
    data = metadata.with_metadata(data, describe(job, extractor, quantize, model_type))
    info = {"preprocess": kind, "input_size": [height, width], "quantize": quantize,
            "input_type": input_type if quantize == "int8" else "float32",
            "max_detections": max_detections, "labels": "labels.txt", "upsampling": upsampling}
    return data, info


def describe(job, extractor: str, quantize: str, input_type: str):
    """The metadata of the model: names and version from the model directory and checkpoint."""
    height, width = job.input_size
    labels = job.label_lines()
    step = job.folder.checkpoint_steps()[-1]
    shown = ", ".join(labels[:8]) + (f" and {len(labels) - 8} more" if len(labels) > 8 else "")
    return metadata.DetectorDescription(
        name=f"{job.model_dir.resolve().name} ({extractor}, {height}x{width}, {SUFFIX[quantize]})",
        version=f"checkpoint {step} ({job.weights} weights)",
        description=(f"SSD object detector ({extractor}) for {len(labels)} classes: {shown}. "
                     f"Input: RGB {height}x{width} {input_type}; weights {SUFFIX[quantize]}. "
                     "Outputs: the boxes, classes, scores and count of "
                     "TFLite_Detection_PostProcess. Exported by odwrap."),
        normalization=preprocessing.KINDS[preprocessing.kind_of(extractor)],
        labels=labels, input_type=input_type, input_size=(height, width), author="odwrap")


COLUMNS = (("mAP", "DetectionBoxes_Precision/mAP"),
           ("mAP@.50", "DetectionBoxes_Precision/mAP@.50IOU"),
           ("mAP@.75", "DetectionBoxes_Precision/mAP@.75IOU"))


def compare_with_fp32(job, quantized: Path, quantize: str, max_detections=10,
                      upsampling="native"):
    """Export the fp32 model (the same upsampling) beside the quantized one, evaluate both on
    the same eval images and report (table lines, compare.json)."""
    from odwrap.deploy.evaluate import evaluate_model

    data, info = convert(job, "none", None, 1, max_detections, upsampling)
    fp32 = write_model(Path(job.output) / "model_fp32.tflite", data, info)
    results = [evaluate_model(path, config=job.config) for path in (fp32, quantized)]
    base, other = (result.metrics for result in results)
    difference = {key: other[key] - base[key] for key in base if key in other}
    lines = [f"accuracy on {results[0].images} eval image(s), COCO metrics "
             f"({results[0].runtime}):",
             f"  {'model':24}" + "".join(f"{name:>9}" for name, _ in COLUMNS) + "  median ms"]
    for path, result in zip((fp32, quantized), results):
        lines.append(f"  {path.name:24}" +
                     "".join(f"{result.metrics.get(key, -1):9.4f}" for _, key in COLUMNS) +
                     f"  {result.milliseconds:9.1f}")
    label = SUFFIX[quantize]
    mean_ap = COLUMNS[0][1]
    relative = difference[mean_ap] / base[mean_ap] * 100 if base[mean_ap] > 0 else float("nan")
    lines.append(f"  {label} - fp32: " + ", ".join(f"{name} {difference[key]:+.4f}"
                                                  for name, key in COLUMNS) +
                 f" ({relative:+.1f} % of the fp32 mAP)")
    record = {"images": results[0].images, "runtime": results[0].runtime,
              "fp32": {"model": str(fp32), "median_ms": results[0].milliseconds,
                       "metrics": base},
              label: {"model": str(quantized), "median_ms": results[1].milliseconds,
                      "metrics": other},
              "difference": difference}
    path = atomic_write_text(Path(job.output) / "compare.json",
                             json.dumps(record, indent=1, sort_keys=True))
    return lines, [fp32, path]


def check_compare(job, quantize: str, compare: bool) -> None:
    """Refuse --compare before any conversion when it cannot run."""
    from odwrap.deploy.evaluate import eval_source

    if not compare:
        return
    if quantize == "none":
        raise InputError("--compare compares a quantized model with fp32; give --quantize "
                         "fp16, dynamic or int8")
    eval_source(job.model_dir, config=job.config)  # raises when there is no eval data


def write_tflite(job, quantize, input_type, representative, max_detections, compare,
                 upsampling="native"):
    """Convert and write the model, its sidecar and labels.txt, and compare with fp32 when
    asked: (model path, notes, files written beside it)."""
    check_compare(job, quantize, compare)
    data, info = convert(job, quantize, input_type, representative, max_detections, upsampling)
    path = write_model(Path(job.output) / f"model_{SUFFIX[quantize]}.tflite", data, info)
    notes, files = [], [job.write_labels(job.output), path.with_suffix(".json")]
    if compare:
        notes, compared = compare_with_fp32(job, path, quantize, max_detections, upsampling)
        files += compared
    return path, notes, files


def export(job, quantize="none", input_type=None, representative=100, max_detections=10,
           compare=False, upsampling="native"):
    path, notes, files = write_tflite(job, quantize, input_type, representative,
                                      max_detections, compare, upsampling)
    return finish(job, "tflite", path, notes=notes, files=files)
