"""TFLite for SSD and CenterNet models: the OD API's TFLite graph export (an SSD gets
TFLite_Detection_PostProcess; a CenterNet graph preprocesses and decodes its detections inside),
then the TFLite converter, optionally quantized after training.

int8 is full-integer: a representative dataset of eval images, integer kernels only, uint8 or
int8 input; the post-processing op keeps its float outputs.
"""

import json
from contextlib import contextmanager
from pathlib import Path

from odwrap import report
from odwrap.deploy import keypoint_layout, preprocessing
from odwrap.deploy.export import INT8_INPUTS, UPSAMPLING, metadata, quantize_modes
from odwrap.deploy.export.common import finish, remove, write_model
from odwrap.deploy.export.fpn import export_graph
from odwrap.deploy.exportdir import TFLITE_NAMES, ExportDir
from odwrap.deploy.runtime import preprocess, resize
from odwrap.errors import InputError, RunError
from odwrap.evaluation.insight import against, against_lines
from odwrap.fsutil import atomic_write_text
from odwrap.odapi import compat, facts
from odwrap.odapi.logs import captured_output



def check_options(modes, input_type, representative, max_detections, upsampling) -> str:
    """Refuse what cannot be exported before any TensorFlow work; the int8 input type."""
    if upsampling not in UPSAMPLING:
        raise InputError(f"--upsampling {upsampling}: one of {', '.join(UPSAMPLING)}")
    if input_type is not None and "int8" not in modes:
        raise InputError("--input-type applies to --quantize int8 (uint8 or int8 input)")
    input_type = input_type or "uint8"
    if input_type not in INT8_INPUTS:
        raise InputError(f"--input-type {input_type}: uint8 or int8 for an int8 model")
    if representative < 1 or max_detections < 1:
        raise InputError("--representative and --max-detections must be at least 1")
    return input_type


@contextmanager
def staged_graph(job, max_detections=10, upsampling="native"):
    """The OD API's TFLite graph of the trained model (its FPN upsampling by UPSAMPLING) as a
    SavedModel folder in the output's staging area, removed afterwards; every quantize mode
    converts from the same one."""
    staging = job.temporary()
    try:
        with captured_output(not report.verbose()), compat.saving_signatures_only():
            if facts.meta_architecture(job.config) == "center_net":
                _center_net_graph(job, staging, max_detections)
            else:
                export_graph(job, staging, max_detections, upsampling)
        yield staging / "saved_model"
    finally:
        remove(staging)


def _center_net_graph(job, staging: Path, max_detections: int) -> None:
    """CenterNetModule's graph of the trained model; a keypoint model's with its keypoints
    and their scores (two more outputs), from the config's keypoint label map."""
    graph = compat.load("object_detection.export_tflite_graph_lib_tf2")
    keypoints = facts.predicts_keypoints(job.config)
    graph.export_tflite_model(job.config, str(job.checkpoint_dir), str(staging), max_detections,
                              False, include_keypoints=keypoints,
                              label_map_path=job.config.model.center_net.keypoint_label_map_path
                              if keypoints else "")
    job.upsampling_note = "upsampling: CenterNet's own (--upsampling applies to SSD FPNs)"


def convert(job, saved_model: Path, quantize="none", input_type="uint8", representative=100,
            max_detections=10, upsampling="native"):
    """(TFLite bytes with metadata, sidecar info) of the graph in SAVED_MODEL, quantized by
    QUANTIZE."""
    import tensorflow as tf

    height, width = job.input_size
    extractor = facts.model_config(job.config).feature_extractor.type
    kind = preprocessing.kind_for(job.config)
    normalization = preprocessing.KINDS[kind]
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        images = list(job.eval_images(representative))
        if not images:
            raise InputError("int8 needs representative images: the config's eval (or "
                             "train) TFRecords hold none")

        def dataset():  # the converter calibrates on each image in turn
            with report.tracking("export: int8 calibration", len(images), "image") as progress:
                for image in images:
                    yield [preprocess(resize(image, height, width), normalization)[None]]
                    progress.advance()

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
    model_type = "float32" if quantize != "int8" else input_type
    data = metadata.with_metadata(data, describe(job, extractor, quantize, model_type, kind))
    info = {"preprocess": kind, "input_size": [height, width], "quantize": quantize,
            "input_type": input_type if quantize == "int8" else "float32",
            "max_detections": max_detections, "labels": ExportDir.LABELS, "upsampling": upsampling}
    return data, info


def describe(job, extractor: str, quantize: str, input_type: str, kind: str):
    """The metadata of the model: names and version from the model directory and checkpoint."""
    height, width = job.input_size
    center_net = kind == "raw"
    decoder = ("CenterNet's own decoding (top centers)" if center_net
               else "TFLite_Detection_PostProcess")
    labels = job.label_lines()
    layout = job.keypoint_layout()
    step = job.step
    shown = ", ".join(labels[:8]) + (f" and {len(labels) - 8} more" if len(labels) > 8 else "")
    return metadata.DetectorDescription(
        name=f"{job.model_dir.resolve().name} ({extractor}, {height}x{width}, {TFLITE_NAMES[quantize]})",
        version=f"checkpoint {step} ({job.weights} weights)",
        description=(f"{'CenterNet' if center_net else 'SSD'} object detector ({extractor}) for "
                     f"{len(labels)} classes: {shown}. Input: RGB {height}x{width} "
                     f"{input_type}{', pixels 0-255 as they are' if center_net else ''}; "
                     f"weights {TFLITE_NAMES[quantize]}. Outputs: the boxes, classes, scores and "
                     f"count of {decoder}{KEYPOINT_OUTPUTS if layout else ''}. Exported by "
                     "odwrap."),
        normalization=preprocessing.KINDS[kind],
        labels=labels, input_type=input_type, input_size=(height, width), author="odwrap",
        keypoints=keypoint_layout.to_json(layout) if layout else b"")


KEYPOINT_OUTPUTS = (", and each detection's keypoints and their scores (which belong to "
                    "which class, and the skeleton: the packed keypoints.json)")

COLUMNS = (("mAP", "DetectionBoxes_Precision/mAP"),
           ("mAP@.50", "DetectionBoxes_Precision/mAP@.50IOU"),
           ("mAP@.75", "DetectionBoxes_Precision/mAP@.75IOU"))


def compare_with_fp32(job, fp32: Path, quantized: list) -> tuple[list, Path]:
    """Evaluate the fp32 model and each quantized one on the same eval images and report
    (table lines, compare.json)."""
    from odwrap.deploy.exported_eval import evaluate_model

    models = [fp32, *quantized]
    results = [evaluate_model(path, config=job.config) for path in models]
    base = results[0].metrics
    mean_ap = COLUMNS[0][1]
    lines = [f"accuracy on {results[0].images} eval image(s), COCO metrics "
             f"({results[0].runtime}):",
             f"  {'model':24}" + "".join(f"{name:>9}" for name, _ in COLUMNS) + "  median ms"]
    for path, result in zip(models, results):
        lines.append(f"  {path.name:24}" +
                     "".join(f"{result.metrics.get(key, -1):9.4f}" for _, key in COLUMNS) +
                     f"  {result.milliseconds:9.1f}")
    record = {"images": results[0].images, "runtime": results[0].runtime,
              "fp32": {"model": str(fp32), "median_ms": results[0].milliseconds,
                       "metrics": base}}
    for path, result in zip(quantized, results[1:]):
        label = path.stem.removeprefix("model_")
        difference = {key: result.metrics[key] - base[key] for key in base
                      if key in result.metrics}
        relative = (difference[mean_ap] / base[mean_ap] * 100 if base[mean_ap] > 0
                    else float("nan"))
        lines.append(f"  {label} - fp32: " + ", ".join(f"{name} {difference[key]:+.4f}"
                                                      for name, key in COLUMNS) +
                     f" ({relative:+.1f} % of the fp32 mAP)")
        record[label] = {"model": str(path), "median_ms": result.milliseconds,
                         "metrics": result.metrics, "difference": difference,
                         "per_class": against(_aps(results[0]), result.insight)}
        lines += against_lines(label, record[label]["per_class"])
    if len(quantized) == 1:  # the layout of one comparison, as before
        record["difference"] = record[label]["difference"]
    path = atomic_write_text(Path(job.output) / "compare.json",
                             json.dumps(record, indent=1, sort_keys=True))
    return lines, path


def _aps(result) -> dict:
    return ({c.name: c.ap for c in result.insight.analysis.classes}
            if result.insight is not None else {})


def check_compare(job, modes, compare: bool) -> None:
    """Refuse --compare before any conversion when it cannot run."""
    from odwrap.deploy.exported_eval import eval_source

    if not compare:
        return
    if modes == ("none",):
        raise InputError("--compare compares a quantized model with fp32; give --quantize "
                         "fp16, dynamic or int8")
    eval_source(job.model_dir, config=job.config)  # raises when there is no eval data


def write_tflite(job, quantize, input_type, representative, max_detections, compare,
                 upsampling="native"):
    """Convert and write one model per quantize mode (QUANTIZE: a mode, a list or "all"), all
    from one TFLite graph export, with their sidecars and labels.txt; with COMPARE, also fp32
    and the accuracy of each against it: (model paths, notes, files written beside them)."""
    modes = quantize_modes(quantize)
    input_type = check_options(modes, input_type, representative, max_detections, upsampling)
    check_compare(job, modes, compare)
    wanted = list(modes)
    if compare and "none" not in wanted:
        wanted.append("none")
    paths = {}
    with staged_graph(job, max_detections, upsampling) as saved_model:
        for mode in wanted:
            data, info = convert(job, saved_model, mode, input_type, representative,
                                 max_detections, upsampling)
            paths[mode] = write_model(job.exports.tflite(mode),
                                      data, info)
    notes, files = [], [job.write_labels()]
    files += [path.with_suffix(".json") for mode, path in paths.items() if mode in modes]
    if compare:
        if "none" not in modes:
            files.append(paths["none"])
        notes, compared = compare_with_fp32(
            job, paths["none"], [paths[mode] for mode in modes if mode != "none"])
        files.append(compared)
    return [paths[mode] for mode in modes], notes, files


def export(job, quantize="none", input_type=None, representative=100, max_detections=10,
           compare=False, upsampling="native"):
    paths, notes, files = write_tflite(job, quantize, input_type, representative,
                                       max_detections, compare, upsampling)
    return finish(job, "tflite", paths, notes=notes, files=files)
