"""Evaluating an exported model (TFLite, SavedModel, ONNX or OpenVINO): COCO metrics on the eval
TFRecords, with the OD API's CocoDetectionEvaluator, the evaluator behind the COCO metrics that
`odwrap eval` reports for a checkpoint.

The eval data come from `--records`, else from the pipeline.config given, else from the one that
export wrote beside the model (or the model directory above it). At most eval_config.num_examples
images are used, as for a checkpoint.
"""

import io
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from odwrap import report
from odwrap.deploy.exportdir import ExportDir
from odwrap.errors import InputError
from odwrap.deploy.keypoint_eval import KeypointEvaluation
from odwrap.evaluation import keypoints as keypoint_files
from odwrap.evaluation.insight import Insight, against, insight
from odwrap.evaluation.worst import picture
from odwrap.fsutil import MiB, atomic_write_text, read_text
from odwrap.odapi import compat, evaluators, facts, labelmap, logs
from odwrap.odapi.pipeline import read_pipeline
from odwrap.odapi.tfexample import decode_example, read_records

BOX_KEYS = ("image/object/bbox/ymin", "image/object/bbox/xmin", "image/object/bbox/ymax",
            "image/object/bbox/xmax")


@dataclass
class ModelEvalResult:
    model: str
    runtime: str
    images: int
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0
    milliseconds: float = 0.0  # median inference time per image
    p90_milliseconds: float = 0.0  # the 90th percentile of it
    insight: Insight | None = None  # per class, threshold, confusion matrix, plots
    against_fp32: dict = field(default_factory=dict)  # a quantized model's classes (insight)


def find_config(model: Path) -> Path | None:
    """The pipeline.config beside the model (export writes one), or in the folder above."""
    for place in ExportDir.holding(model).around():
        if place.config.is_file():
            return place.config
    return None


def eval_source(model: Path, records=None, config=None):
    """(TFRecord files, image limit, {id: name}) for the evaluation."""
    if config is None and records is None:
        config = find_config(model)
        if config is None:
            raise InputError(f"{model}: no pipeline.config beside it or above it; give "
                             "--config or --records")
    if isinstance(config, (str, Path)):
        config = read_pipeline(config)
    limit, names = 0, {}
    if config is not None:
        limit = config.eval_config.num_examples
        names = labelmap.names(facts.label_map_path(config))
    if records is None:
        records = facts.eval_patterns(config)
        if not records:
            raise InputError("the pipeline.config has no eval_input_reader TFRecords; give "
                             "--records")
    patterns = [records] if isinstance(records, (str, Path)) else list(records)
    files = facts.match_files(patterns)
    if not files:
        raise InputError(f"no TFRecord files match {', '.join(map(str, patterns))}")
    return files, limit, names


def _ground_truth(features: dict, height: int, width: int, names: dict):
    """Absolute [ymin, xmin, ymax, xmax] boxes, 1-based classes and crowd flags of one example."""
    boxes = np.array([features.get(key, []) for key in BOX_KEYS], np.float32).T.reshape(-1, 4)
    boxes *= np.array([height, width, height, width], np.float32)
    classes = features.get("image/object/class/label", [])
    if not classes and features.get("image/object/class/text"):
        ids = {name: index for index, name in names.items()}
        classes = [ids.get(text.decode("utf-8"), 0)
                   for text in features["image/object/class/text"]]
    classes = np.array(classes, np.int64)
    if len(classes) != len(boxes):
        raise InputError(f"an example has {len(boxes)} boxes but {len(classes)} class labels")
    crowd = np.array(features.get("image/object/is_crowd", [0] * len(boxes)), np.int64)
    keep = classes > 0
    return boxes[keep], classes[keep], crowd[keep] if len(crowd) == len(keep) else None, keep


def _evaluate_one(path, record, names, detector, fields, ground_truth, detections, times,
                  keypoints):
    """One eval example: its ground truth and the model's detections, appended (and given to
    KEYPOINTS, a KeypointEvaluation); FIELDS: the OD API's standard_fields module."""
    from odwrap.deploy.runtime import load_rgb

    inputs, outputs = fields.InputDataFields, fields.DetectionResultFields
    features = decode_example(record)
    if not features.get("image/encoded"):
        raise InputError(f"{path}: an example has no image/encoded")
    pixels = load_rgb(io.BytesIO(features["image/encoded"][0]),
                      f"{path}: an example's image/encoded", oriented=False)
    height, width = pixels.shape[:2]
    scale = np.array([height, width, height, width], np.float32)
    boxes, classes, crowd, keep = _ground_truth(features, height, width, names)
    found = detector.detect(pixels)
    times.append(found.milliseconds)
    ground_truth.append({inputs.groundtruth_boxes: boxes,
                         inputs.groundtruth_classes: classes,
                         **({inputs.groundtruth_is_crowd: crowd}
                            if crowd is not None else {})})
    detections.append({
        outputs.detection_boxes: np.asarray(found.boxes, np.float32).reshape(-1, 4) * scale,
        outputs.detection_scores: np.asarray(found.scores, np.float32),
        outputs.detection_classes: np.asarray(found.classes, np.int64)})
    area = np.array(features.get("image/object/area", []), np.float32)
    try:
        keypoints.add(len(times) - 1, features, keep, {
            **ground_truth[-1], **({inputs.groundtruth_area: area[keep]}
                                   if len(area) == len(keep) else {})}, detections[-1],
            found.keypoints, height, width)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def evaluate_model(model, records=None, config=None, max_images=None, runtime="auto",
                   threads=2, detector=None) -> ModelEvalResult:
    """COCO metrics of MODEL on the eval TFRecords; `config` is a path or a parsed config."""
    from odwrap.deploy.runtime import load_detector

    model = Path(model)
    if detector is None and not model.exists():
        raise InputError(f"{model}: no such model")
    if max_images is not None and max_images < 1:
        raise InputError(f"--max-images {max_images}: must be at least 1")
    config = _config_of(model, records, config)  # parsed once, for eval_source too
    files, limit, names = eval_source(model, records, config)
    limit = max_images or limit
    keypoints = KeypointEvaluation(config)
    detector = detector or load_detector(model, runtime=runtime, threads=threads)
    if not names:  # no pipeline.config: the labels the model carries in its metadata
        names = dict(enumerate(getattr(detector, "labels", []), start=1))
    standard_fields = compat.load("object_detection.core.standard_fields")
    coco_evaluation = compat.load("object_detection.metrics.coco_evaluation")
    inputs = standard_fields.InputDataFields
    started = time.perf_counter()
    ground_truth, detections, times = [], [], []
    examples = ((path, record) for path in files for record in read_records(path))
    with report.tracking("eval", limit or None, "image") as progress:
        for path, record in itertools.islice(examples, limit or None):
            _evaluate_one(path, record, names, detector, standard_fields, ground_truth,
                          detections, times, keypoints)
            progress.advance()
    seen = sorted({int(c) for truth in ground_truth for c in truth[inputs.groundtruth_classes]})
    ids = sorted(set(names) | set(seen))
    if not times or not ids:
        raise InputError(f"{', '.join(files)}: no labelled images to evaluate on")
    evaluator = coco_evaluation.CocoDetectionEvaluator(
        [{"id": i, "name": names.get(i, str(i))} for i in ids])
    for index, (truth, found) in enumerate(zip(ground_truth, detections)):
        evaluator.add_single_ground_truth_image_info(index, truth)
        evaluator.add_single_detected_image_info(index, found)
    with logs.captured_prints():  # pycocotools prints its own summary
        metrics = evaluator.evaluate()
    metrics = {key: float(value) for key, value in metrics.items()}
    with logs.captured_prints():
        point_metrics, point_lists = keypoints.metrics()
    metrics.update(point_metrics)
    result = ModelEvalResult(model=str(model), runtime=detector.runtime, images=len(times),
                           metrics=metrics, seconds=time.perf_counter() - started,
                           milliseconds=float(np.median(times)),
                           p90_milliseconds=float(np.percentile(times, 90)),
                           insight=insight(*evaluators.coco_lists(evaluator),
                                           ExportDir.analysis(model), metrics,
                                           f"{model.name} ({detector.runtime})",
                                           lambda ids: _pictures(files, limit, ids)))
    result.against_fp32 = against(_fp32_aps(model), result.insight)
    keypoint_files.write(point_lists, ExportDir.analysis(model),
                         facts.label_map_path(config) if point_lists else "",
                         dict(enumerate(keypoints.source_ids)))
    return result


def _config_of(model: Path, records, config):
    """The parsed config of the evaluation (as eval_source finds it), or None."""
    if config is None and records is None:
        config = find_config(model)
    return read_pipeline(config) if isinstance(config, (str, Path)) else config


def _fp32_aps(model: Path) -> dict:
    """{class: AP} of the fp32 model beside a quantized MODEL (.tflite, .onnx or OpenVINO .xml)
    of the same format, from its evaluation's metrics file; {} when MODEL is not quantized or
    the fp32 one was not evaluated."""
    fp32 = ExportDir.fp32_of(model)
    path = ExportDir.metrics(fp32)
    if model.suffix not in (".tflite", ".onnx", ".xml") or model.resolve() == fp32.resolve() \
            or not path.is_file():
        return {}
    try:
        per_class = json.loads(read_text(path, "metrics file", limit=64 * MiB))["per_class"]
        return {name: float(values["AP"]) for name, values in per_class.items()}
    except (InputError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def _pictures(files, limit, ids) -> list:
    """(id, caption, RGB pixels) of the evaluated images of IDS (their positions)."""
    wanted = {int(index) for index in ids}
    examples = (record for path in files for record in read_records(path))
    found = []
    for index, record in enumerate(itertools.islice(examples, limit or None)):
        seen = picture(decode_example(record), f"image {index + 1}") if index in wanted \
            else None
        if seen is not None:
            found.append((index, *seen))
    return found


def metrics_path(model: Path) -> Path:
    """Where `eval --model` writes MODEL's metrics (ExportDir.metrics)."""
    return ExportDir.metrics(model)


def write_metrics(result: ModelEvalResult) -> Path:
    record = {"model": result.model, "runtime": result.runtime, "images": result.images,
              "median_ms": round(result.milliseconds, 3),
              "p90_ms": round(result.p90_milliseconds, 3), "metrics": result.metrics,
              **(result.insight.as_json() if result.insight else {}),
              **({"per_class_against_fp32": result.against_fp32} if result.against_fp32 else {})}
    return atomic_write_text(metrics_path(Path(result.model)),
                             json.dumps(record, indent=1, sort_keys=True))
