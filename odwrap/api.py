"""The public Python API: one function per job, each returning a typed result.

The CLI is a thin layer over exactly these functions. Importing this module (or `odwrap`) loads
neither numpy nor TensorFlow; each function imports its stage when it runs. Errors are
OdwrapError subclasses (odwrap.errors): InputError for bad input, RunError for a run that failed
(a failure inside TensorFlow or the OD API is one line naming the likely cause, with the
traceback in a log file: odwrap.failures).
Progress and messages go to the Reporter installed with `odwrap.report.use` (none by default).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from odwrap.deploy.runners import predict as _predict
from odwrap.failures import boundary
from odwrap.training.batch_norm import BATCHES as BATCH_NORM_BATCHES

if TYPE_CHECKING:
    from odwrap.config.checks import Finding
    from odwrap.config.generate import Generated
    from odwrap.data.convert import ConvertReport
    from odwrap.data.stats import Stats
    from odwrap.deploy.benchmark import BenchmarkResult
    from odwrap.deploy.exported_eval import ModelEvalResult
    from odwrap.deploy.export.common import ExportResult
    from odwrap.deploy.verify import RecordResult, VerifyResult
    from odwrap.doctor import Report
    from odwrap.results.merge import MergeResult
    from odwrap.results.trim import TrimResult
    from odwrap.training.batch_size import BatchSizeResult
    from odwrap.training.checkpoint_eval import EvalResult
    from odwrap.training.loop import TrainResult
    from odwrap.training.profile import ProfileResult
    from odwrap.zoo.cache import Record
    from odwrap.zoo.catalog import ZooModel


def generate(spec, output, overrides: Sequence[str] = (), force: bool = False) -> Generated:
    """Render a YAML spec into OUTPUT/pipeline.config (and OUTPUT/label_map.pbtxt for inline
    classes), parsed strictly and checked; refuses on check errors unless `force`.
    `overrides`: 'KEY=VALUE' strings, as `--set` (values read as YAML)."""
    from odwrap.config.generate import generate as run

    return run(spec, output, overrides=list(overrides), force=force)


def check(source, overrides: Sequence[str] = (), build: bool = False, device: str | None = None,
          num_devices: int | None = None, targets: Sequence[str] | None = None) -> list[Finding]:
    """Findings for a spec or a pipeline.config, errors first. `device`, `num_devices` and
    `targets` say where it will train and what it will be exported to; `build` also builds the
    model with the OD API and runs it once (imports TensorFlow)."""
    from odwrap.config.checks import check_pipeline
    from odwrap.config.loader import load_config, retarget

    loaded = load_config(source, list(overrides))
    target = retarget(loaded.target, device=device, num_devices=num_devices,
                      export_targets=targets)
    findings = check_pipeline(loaded.config, target)
    if build:
        from odwrap.config.build import build_findings

        findings.extend(build_findings(loaded.config, loaded.target.label_map
                                       if loaded.target.label_map_inline else None))
    return findings


def convert(format: str, source, output, *, split: str | None = None, seed: int = 0,
            workers: int | None = None, shards: int | None = None, keep: Sequence[str] = (),
            drop: Sequence[str] = (), rename: Sequence[str] = (), order: str = "name",
            label_map=None, strict: bool = False, images=None, masks: bool = False,
            crowd: str = "keep", group_of: bool = True, class_names=None,
            runner: str = "local", beam_options: str = "",
            exif: str | None = None, keypoints: bool = False) -> ConvertReport:
    """Annotations (voc, coco, csv, oid, yolo, labelme, cvat, createml) to sharded TFRecords in OUTPUT, with label_map.pbtxt
    and report.json. `split` as 'train=0.8,val=0.2'; `rename` as 'OLD=NEW' strings. `runner`
    'beam' writes the same bytes with an Apache Beam pipeline, on the runner that
    `beam_options` (PipelineOptions arguments) names, the DirectRunner by default. `exif`
    'oriented' or 'raw': the image the boxes of a photo with an EXIF orientation describe where
    the annotated size cannot tell (default: the format's convention, 'oriented').
    `keypoints` (coco, yolo pose, labelme points): every object's keypoints too, the label map
    listing each class's."""
    from odwrap.data import convert as stage
    from odwrap.data.remote import is_url
    from odwrap.locks import FolderLock

    run = stage.convert
    if runner == "beam":
        from odwrap.data import beam

        run = beam.convert
    options = stage.ConvertOptions(
        format=format, source=_path(source), output=_path(output), split=split, seed=seed,
        workers=workers or os.cpu_count() or 1, shards=shards, keep=tuple(keep),
        drop=tuple(drop), rename=tuple(rename), order=order,
        label_map=_path(label_map) if label_map else None, strict=strict,
        read=_read_options(images, masks, crowd, group_of, class_names, keypoints),
        runner=runner,
        beam_options=beam_options, exif=exif)
    if is_url(options.output):  # no lock in a bucket: one run per output is the user's part
        return run(options)
    with FolderLock(options.output, "odwrap convert"):  # one writer per output folder
        return run(options)


def _path(value):
    """A Path, or the URL (gs://...) that convert --runner beam reads or writes, as given."""
    from odwrap.data.remote import is_url

    return value if is_url(value) else Path(value)


def _read_options(images, masks, crowd, group_of, class_names, keypoints=False):
    from odwrap.data.formats import ReadOptions

    return ReadOptions(images=_path(images) if images else None, masks=masks, crowd=crowd,
                       group_of=group_of,
                       class_names=_path(class_names) if class_names else None,
                       keypoints=keypoints)


def write_label_map(output, classes: Sequence[str] | None = None, format: str | None = None,
                    source=None, *, keep: Sequence[str] = (), drop: Sequence[str] = (),
                    rename: Sequence[str] = (), order: str = "name", images=None,
                    crowd: str = "keep", group_of: bool = True, class_names=None,
                    groups: int | None = None, group_ranks: Sequence[int] = ()) -> dict:
    """Write OUTPUT, a label map with ids 1..N, from `classes` or from a dataset's classes
    (FORMAT SOURCE, as for `convert`). Returns {class name: boxes} (0 boxes for `classes`).
    GROUPS (or GROUP_RANKS): instead one label map per group of classes by frequency,
    OUTPUT-1-of-N.pbtxt ..., each numbered 1..k, for `convert --label-map` per group; returns
    {group file: {class name: boxes}}, most frequent group first."""
    from odwrap.errors import InputError
    from odwrap.fsutil import check_output_file
    from odwrap.odapi import labelmap

    if groups is not None and group_ranks:
        raise InputError(f"--groups {groups} --group-ranks {','.join(map(str, group_ranks))}: "
                         "give one (N groups of nearly equal size, or cuts after these ranks)")
    check_output_file(output, "label map")  # before a dataset is read
    if classes:
        label_map = labelmap.from_classes(list(classes))
        problems = labelmap.problems(label_map)
        if problems:
            raise InputError(f"--classes: {problems[0][1]}")
        counts = {}
    else:
        if not (format and source):
            raise InputError("labelmap: give FORMAT SOURCE, or --classes a,b,c")
        from odwrap.data import convert as stage

        label_map, counts = stage.dataset_classes(stage.ConvertOptions(
            format=format, source=Path(source), output=Path(output), keep=tuple(keep),
            drop=tuple(drop), rename=tuple(rename), order=order,
            read=_read_options(images, False, crowd, group_of, class_names)))
    if groups is not None or group_ranks:
        from odwrap.data.classes import frequency_groups, group_path

        if classes:
            raise InputError("--groups: needs a dataset's box counts (FORMAT SOURCE), not "
                             "--classes")
        found = {item.name: counts.get(item.name, 0) for item in label_map.item}
        parts = frequency_groups(found, groups, tuple(group_ranks))
        written = {}
        for index, names in enumerate(parts, start=1):
            path = labelmap.write(labelmap.from_classes(names),
                                  group_path(output, index, len(parts)))
            written[Path(path)] = {name: found[name] for name in names}
        return written
    labelmap.write(label_map, output)
    return {item.name: counts.get(item.name, 0) for item in label_map.item}


def stats(files: Sequence, input_size: tuple[int, int] = (320, 320),
          histogram=None) -> Stats:
    """Images, boxes per class and box sizes at the model's input size of TFRecord files/globs;
    HISTOGRAM: also a PNG of the box sizes and classes there (the result's `histogram`)."""
    from odwrap.data import stats as stage

    result = stage.collect(files, input_size=input_size)
    if histogram is not None:
        result.histogram = stage.save_histogram(result, histogram)
    return result


def demo_data(output, images: int = 450, size: int = 128, seed: int = 0,
              shapes: Sequence[str] = ("square", "circle"), masks: bool = False,
              keypoints: bool = False) -> Path:
    """Write the built-in demo dataset (shapes on noisy backgrounds) as Pascal VOC; SHAPES out
    of square, circle and triangle; MASKS: as COCO JSON with each shape's polygon instead;
    KEYPOINTS: as COCO JSON with the corners of squares and triangles as named keypoints."""
    from odwrap.data.demo import write_demo_dataset

    return write_demo_dataset(output, images=images, size=size, seed=seed, shapes=shapes,
                              masks=masks, keypoints=keypoints)


@boundary("train")
def train(source, model_dir, *, steps: int | None = None, checkpoint_every: int = 1000,
          steps_per_loop: int = 100, force: bool = False, overrides: Sequence[str] = (),
          tpu: str | None = None, seed: int | None = None, worker_hosts: Sequence[str] = (),
          task_index: int | None = None, xla: str | bool | None = None,
          mixed_precision: bool | None = None,
          batch_norm_batches: int = BATCH_NORM_BATCHES) -> TrainResult:
    """Train a spec or a pipeline.config into MODEL_DIR for exactly `steps` steps (default: the
    config's num_steps), resuming from its latest checkpoint. SEED: Python's, numpy's and
    TensorFlow's random seed: the same initial weights each run (parallel CPU kernels and
    input threads still vary the steps a little). WORKER_HOSTS, TASK_INDEX (or TF_CONFIG): one
    of several workers, of which worker 0 alone writes MODEL_DIR (odwrap.training.cluster).
    XLA ('auto', True, False) and MIXED_PRECISION: the spec's train.xla and
    train.mixed_precision for this run (None: the spec's; a pipeline.config's: auto, off).
    BATCH_NORM_BATCHES: a run from scratch has its batch norms' statistics measured on this many
    training batches before each save while their averages are still mostly initial
    (odwrap.training.batch_norm); 0 keeps the averages as trained, as model_main_tf2 does."""
    from odwrap.training import loop

    return loop.train(loop.TrainOptions(
        source=Path(source), model_dir=Path(model_dir), steps=steps,
        checkpoint_every=checkpoint_every, force=force, overrides=list(overrides), tpu=tpu,
        steps_per_loop=steps_per_loop, seed=seed, worker_hosts=tuple(worker_hosts),
        task_index=task_index, xla=xla, mixed_precision=mixed_precision,
        batch_norm_batches=batch_norm_batches))


@boundary("eval")
def evaluate(model_dir, checkpoint: str | None = None, config=None) -> EvalResult:
    """Evaluate MODEL_DIR's latest (or the given) checkpoint once, now, with the config's
    metrics; also writes MODEL_DIR/metrics.json."""
    from odwrap.training.checkpoint_eval import Evaluator

    return Evaluator(model_dir, config_path=config).evaluate(checkpoint)


@boundary("eval")
def watch(model_dir, timeout: float = 900, config=None) -> Iterator[EvalResult]:
    """Evaluate each new checkpoint of MODEL_DIR as training writes it, until the last step or
    `timeout` seconds without a new one."""
    from odwrap.training.checkpoint_eval import Evaluator

    yield from Evaluator(model_dir, config_path=config).watch(timeout=timeout)


@boundary("eval")
def evaluate_export(model, records=None, config=None, max_images: int | None = None,
                    runtime: str = "auto", model_dir=None) -> ModelEvalResult:
    """COCO metrics of an exported .tflite, SavedModel, .onnx or OpenVINO .xml on the eval
    TFRecords (of `records`,
    else of the pipeline.config `config`, else MODEL_DIR's, else the one beside the model);
    also writes MODEL.metrics.json."""
    from odwrap.deploy import exported_eval as stage

    if config is None and model_dir is not None:
        from odwrap.training.modeldir import ModelDir

        config = ModelDir(model_dir).config_path
    result = stage.evaluate_model(model, records=records, config=config,
                                  max_images=max_images, runtime=runtime)
    stage.write_metrics(result)
    return result


def plot(model_dir, output=None) -> Path:
    """A PNG of MODEL_DIR's training losses, learning rate and eval mAP over steps."""
    from odwrap.training.plot import plot as run

    return run(model_dir, output)


@boundary("export")
def export(model_dir, format: str, output=None, *, quantize: str | None = None,
           input_type: str | None = None, representative: int | None = None,
           max_detections: int | None = None, compare: bool = False,
           upsampling: str | None = None, search_delegate: bool = False,
           weights: str | None = None, checkpoint: str = "latest") -> ExportResult:
    """Export MODEL_DIR's latest checkpoint (or, CHECKPOINT 'best', the best one `evaluate`
    kept) as saved_model, tflite, edgetpu, onnx or openvino, verified by one inference. Options
    a format does not take are refused. UPSAMPLING: the FPN's, 'native' (default) or 'reshape'.
    SEARCH_DELEGATE: edgetpu_compiler's segment search. WEIGHTS: 'averages' (the moving
    averages) or 'trained'; by default the averages when training kept them (the result's
    notes say)."""
    from odwrap.deploy.export import export as run

    return run(model_dir, format, output, weights=weights, checkpoint=checkpoint,
               quantize=quantize,
               input_type=input_type,
               representative=representative, max_detections=max_detections,
               compare=True if compare else None, upsampling=upsampling,
               search_delegate=True if search_delegate else None)


@boundary("benchmark")
def benchmark(model_dir, output=None, *, formats: str | Sequence[str] | None = None,
              records=None, max_images: int | None = None, representative: int = 100,
              threads: int = 2, weights: str | None = None,
              checkpoint: str = "latest") -> BenchmarkResult:
    """Export MODEL_DIR's checkpoint to every format this machine can produce (or FORMATS, as
    'saved_model,tflite:int8,onnx') into OUTPUT (default MODEL_DIR/benchmark), evaluate and
    time each: a row per format and quantization, also in OUTPUT/benchmark.json and .md. A
    format that fails is a row with its one-line reason."""
    from odwrap.deploy.benchmark import benchmark as run
    from odwrap.failures import failure

    return run(model_dir, output, formats=formats, records=records, max_images=max_images,
               representative=representative, threads=threads, weights=weights,
               checkpoint=checkpoint, explain=lambda exc: str(failure("benchmark", exc)))


# The stage's own functions, so that an option of predict is written in two places: its line in
# cli/deploy.py and its parameter, with its default, in deploy/predict.py (runners.py: --runner's).
predict = boundary("predict")(_predict)


@boundary("verify")
def record_golden(model, folder, images: Sequence, *, threshold: float = 0.5,
                  labels=None) -> RecordResult:
    """Write a golden-mask folder from a trusted mask model's masks on IMAGES."""
    from odwrap.deploy.verify import record

    return record(model, folder, images, threshold=threshold, labels=labels)


@boundary("verify")
def verify(model, golden, *, iou: float = 0.5, threshold: float = 0.5, out_qual=None,
           labels=None) -> VerifyResult:
    """Check a mask model against a golden folder: each expected mask needs a predicted mask
    of its class with IoU at least IOU."""
    from odwrap.deploy.verify import verify as run

    return run(model, golden, iou=iou, threshold=threshold, out_qual=out_qual, labels=labels)


def merge(output, inputs: Sequence, *, method: str = "soft-nms", decay: str | None = None,
          iou: float | None = None, sigma: float | None = None, floor: float | None = None,
          weights: Sequence[float] | None = None, input_format: str | None = None,
          output_format: str | None = None) -> MergeResult:
    """Merge detection files (COCO results JSON, JSON Lines, Open Images CSV) image by image
    and class by class: METHOD soft-nms (DECAY linear, with IOU, or gaussian, with SIGMA;
    FLOOR), wbf (IOU), or join. An option left None takes the method's default (linear, IoU
    0.5 or 0.55 for wbf, sigma 0.5, floor 0.001); one the method does not use is refused."""
    from odwrap.results.merge import merge as run

    return run(output, inputs, method=method, decay=decay, iou=iou, sigma=sigma, floor=floor,
               weights=list(weights) if weights is not None else None,
               input_format=input_format, output_format=output_format)


def trim(source, output, *, min_score: float = 0.0, max_total: int | None = None,
         input_format: str | None = None, output_format: str | None = None) -> TrimResult:
    """SOURCE's detections scoring at least MIN_SCORE, the MAX_TOTAL best of the whole file,
    into OUTPUT, in passes of constant memory."""
    from odwrap.results.trim import trim as run

    return run(source, output, min_score=min_score, max_total=max_total,
               input_format=input_format, output_format=output_format)


@boundary("profile")
def profile(source, *, overrides: Sequence[str] = (), steps: int = 10, warmup: int = 2,
            trace=None, trace_steps: int = 5) -> ProfileResult:
    """Rates of SOURCE's training on this machine (input pipeline alone, step alone, both) and
    whether it is input-bound; TRACE: a folder for a TensorBoard profiler trace."""
    from odwrap.training.profile import profile as run

    return run(source, overrides, steps=steps, warmup=warmup, trace=trace,
               trace_steps=trace_steps)


@boundary("batch-size")
def batch_size(source, *, overrides: Sequence[str] = (), start: int = 2,
               fraction: float = 0.8) -> BatchSizeResult:
    """The largest training batch of SOURCE that fits this machine's device (GPU: tried; CPU:
    predicted from two tries), with the learning rate scaled for it."""
    from odwrap.training.batch_size import batch_size as run

    return run(source, overrides, start=start, fraction=fraction)


def diagnose(install_hook: bool = False) -> Report:
    """The installed TensorFlow / OD API stack, the compat fixes applied, and its problems.
    INSTALL_HOOK: first make every program of this Python apply the fixes on its first import
    of object_detection (a .pth file in its site-packages, odwrap.odapi.hook)."""
    from odwrap.doctor import diagnose as run

    return run(install_hook=install_hook)


def zoo_models(family: str | None = None) -> list[ZooModel]:
    """The TF2 Detection Zoo's models (all, or one family: ssd, retinanet, efficientdet,
    centernet, faster_rcnn, mask_rcnn, extremenet), in the zoo page's order."""
    from odwrap.zoo.catalog import models

    return models(family)


def zoo_cached() -> dict[str, Record]:
    """The zoo models in the cache, by name: size, SHA-256, URL and date of each tarball (read
    from the records; verified only when pulled)."""
    from odwrap.zoo.cache import cached_models

    return cached_models()


def zoo_pull(name: str, source=None, force: bool = False) -> Path:
    """The extracted folder of zoo model NAME: from the cache when its tarball matches its
    record, else downloaded (ODWRAP_ZOO_URL: a mirror), or imported from the tarball SOURCE.
    FORCE fetches it again."""
    from odwrap.zoo.pull import pull

    return pull(name, source=source, force=force).folder


def zoo_checkpoint(name: str, source=None, force: bool = False) -> Path:
    """The checkpoint prefix of zoo model NAME, FOLDER/checkpoint/ckpt-0, for a
    pipeline.config's fine_tune_checkpoint (with fine_tune_checkpoint_type "detection");
    pulled as `zoo_pull` does when it is not cached."""
    from odwrap.zoo.pull import pull

    return pull(name, source=source, force=force).checkpoint
