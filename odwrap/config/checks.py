"""Semantic checks of a TrainEvalPipelineConfig: what the OD API accepts but training regrets.

Each check is a function registered with an id and a name; it gets the config and the Target
(what the config will run on) and returns Findings. The checks of one meta-architecture are in
model_checks.py. Nothing here imports TensorFlow.
"""

import difflib
from dataclasses import replace
from pathlib import Path

from odwrap.config import keypoint_checks  # noqa: F401 (registers ODW030)
from odwrap.config import model_checks  # noqa: F401 (registers the per-architecture checks)
from odwrap.config import number_checks  # noqa: F401 (registers the checks of any number)
from odwrap.config import speed_checks  # noqa: F401 (registers ODW033-034)
from odwrap.config.findings import ERROR, REGISTRY, WARNING, Finding, Target, check
from odwrap.config.pretrained import zoo_model_of_checkpoint
from odwrap.errors import InputError
from odwrap.fsutil import bounded_glob
from odwrap.odapi import extractors, facts, labelmap

# The finding types live in findings.py; imported here by the modules that run the checks.
__all__ = ["ERROR", "WARNING", "Finding", "Target", "REGISTRY", "check", "check_pipeline"]

FPN_TOP_DOWN_MAX_LEVEL = 5
# The official samples use 64-512 images a step, across 8 TPU cores (tensorflow/models #8487).
SINGLE_DEVICE_BATCH_LIMIT = 64


def _ssd(config):
    return config.model.ssd if config.model.WhichOneof("model") == "ssd" else None


def _is_local(path: str) -> bool:
    return bool(path) and "://" not in path


def _matches(pattern: str) -> list[str]:
    return bounded_glob(pattern)  # a NUL in the path matches nothing


def _label_map(config, target):
    """The config's label map, or None when it cannot be read (other checks say why)."""
    if target.label_map is not None:
        return target.label_map
    path = config.train_input_reader.label_map_path
    if not _is_local(path) or not Path(path).is_file():
        return None
    try:
        return labelmap.read(path)
    except InputError:
        return None


@check("ODW016", "no-model")
def _no_model(config, target):
    # An empty file parses into an empty TrainEvalPipelineConfig; nothing else would say so.
    if config.model.WhichOneof("model") is not None:
        return []
    what = "the config is empty" if not config.ByteSize() else "the config has no model"
    return [Finding("ODW016", ERROR, "model",
                    f"{what} (no ssd {{ ... }} or other model block); the OD API's "
                    "model_builder fails with 'Unknown meta architecture'",
                    "write the model block, or render a whole config from a spec: odwrap "
                    "generate")]


@check("ODW001", "fpn-input-size")
def _fpn_input_size(config, target):
    ssd = _ssd(config)
    if ssd is None or not ssd.feature_extractor.HasField("fpn"):
        return []
    # Levels above 5 come from stride-2 convolutions, not the top-down adds (both the MobileNet
    # and the ResNet Keras FPNs cap the backbone at level 5), so 2^min(max_level, 5) must divide.
    max_level = min(ssd.feature_extractor.fpn.max_level, FPN_TOP_DOWN_MAX_LEVEL)
    stride = 2 ** max_level
    pad = ssd.feature_extractor.pad_to_multiple
    size = facts.static_input_size(config)
    if size is None or (pad and pad % stride == 0):
        return []
    bad = [side for side in size if side % stride]
    if not bad:
        return []
    height, width = size
    lower = (bad[0] // stride) * stride or stride
    fit = f"{lower} or {lower + stride}" if lower < bad[0] else str(lower)
    return [Finding("ODW001", ERROR, "model.ssd.image_resizer",
                    f"input {height}x{width} is not divisible by {stride} (2^{max_level}, the top "
                    "level of the FPN's top-down path); its add fails with 'Dimensions must be "
                    "equal'",
                    f"use a size such as {fit}, or set feature_extractor.pad_to_multiple: "
                    f"{stride}")]


@check("ODW002", "num-classes")
def _num_classes(config, target):
    label_map = _label_map(config, target)
    arch = config.model.WhichOneof("model")
    if label_map is None or arch is None or not label_map.item:
        return []
    declared = getattr(config.model, arch).num_classes
    needed = labelmap.num_classes(label_map)
    if declared == needed:
        return []
    return [Finding("ODW002", ERROR, f"model.{arch}.num_classes",
                    f"num_classes is {declared} but the label map's highest id is {needed}",
                    f"set num_classes: {needed}, or fix the label map")]


@check("ODW003", "label-map")
def _label_map_items(config, target):
    label_map = _label_map(config, target)
    if label_map is None:
        return []
    where = "train_input_reader.label_map_path"
    hints = {ERROR: "give every class a unique name and an id of 1 or more",
             WARNING: "number the ids 1..N, unless they must match a dataset's ids"}
    # The shipped COCO map keeps COCO's own ids (80 classes, 1..90) on purpose.
    keeps_dataset_ids = labelmap.same_items(label_map, labelmap.read_builtin("coco"))
    return [Finding("ODW003", severity, where, f"label map {message}", hints[severity])
            for severity, message in labelmap.problems(label_map)
            if severity == ERROR or not keeps_dataset_ids]


@check("ODW004", "missing-path")
def _missing_paths(config, target):
    if not target.checked_paths:
        return []
    found = []
    readers = [("train_input_reader", config.train_input_reader)] + [
        (f"eval_input_reader[{index}]", reader)
        for index, reader in enumerate(config.eval_input_reader)]
    for reader, message in readers:
        if not message.ByteSize():
            continue
        map_path = message.label_map_path
        if not target.label_map_inline and _is_local(map_path) and not Path(map_path).is_file():
            found.append(Finding("ODW004", ERROR, f"{reader}.label_map_path",
                                 f"label map {map_path} does not exist",
                                 "point label_map_path at an existing label_map.pbtxt"))
        for index, pattern in enumerate(message.tf_record_input_reader.input_path):
            if _is_local(pattern) and not _matches(pattern):
                found.append(Finding("ODW004", WARNING,
                                     f"{reader}.tf_record_input_reader.input_path[{index}]",
                                     f"no file matches {pattern}",
                                     "create the TFRecords first (odwrap convert) or fix the "
                                     "path"))
    if config.model.WhichOneof("model") == "center_net":
        keypoints = config.model.center_net.keypoint_label_map_path
        inline = target.label_map_inline and keypoints == facts.label_map_path(config)
        if _is_local(keypoints) and not inline and not Path(keypoints).is_file():
            found.append(Finding("ODW004", ERROR, "model.center_net.keypoint_label_map_path",
                                 f"keypoint label map {keypoints} does not exist (the OD API "
                                 "reads it when it builds the model)",
                                 "point it at the label map that lists the keypoints"))
    checkpoint = config.train_config.fine_tune_checkpoint
    zoo = zoo_model_of_checkpoint(checkpoint) if _is_local(checkpoint) else None
    if zoo is not None and not _matches(checkpoint + ".index"):
        found.append(Finding("ODW004", WARNING, "train_config.fine_tune_checkpoint",
                             f"zoo model {zoo.name} is not in the zoo cache yet ({checkpoint}); "
                             "odwrap train downloads it first",
                             f"odwrap zoo pull {zoo.name} fetches it now (see odwrap zoo for "
                             "offline machines)"))
    elif _is_local(checkpoint) and not _matches(checkpoint + ".index"):
        found.append(Finding("ODW004", ERROR, "train_config.fine_tune_checkpoint",
                             f"no checkpoint at {checkpoint} ({checkpoint}.index is missing)",
                             "give the checkpoint prefix, e.g. .../checkpoint/ckpt-0"))
    return found


@check("ODW005", "fine-tune-type")
def _fine_tune_type(config, target):
    train = config.train_config
    path = "train_config.fine_tune_checkpoint_type"
    if train.load_all_detection_checkpoint_vars:
        return [Finding("ODW005", ERROR, "train_config.load_all_detection_checkpoint_vars",
                        "TF2 training refuses load_all_detection_checkpoint_vars (model_lib_v2 "
                        "raises on it)", "remove it; fine_tune_checkpoint_type: 'detection' "
                        "restores a detector's variables")]
    legacy = train.HasField("from_detection_checkpoint") and not train.fine_tune_checkpoint_type
    if legacy and train.fine_tune_checkpoint:
        kind = facts.fine_tune_checkpoint_type(config)
        return [Finding("ODW005", WARNING, "train_config.from_detection_checkpoint",
                        f"from_detection_checkpoint is the legacy field; it means "
                        f"fine_tune_checkpoint_type: '{kind}', which training uses",
                        f"write fine_tune_checkpoint_type: \"{kind}\" instead")]
    if train.fine_tune_checkpoint and not train.fine_tune_checkpoint_type:
        return [Finding("ODW005", ERROR, path,
                        "fine_tune_checkpoint is set without fine_tune_checkpoint_type; the OD "
                        "API then restores nothing useful (tensorflow/models #8892)",
                        "'classification' for a backbone checkpoint, 'detection' for a whole "
                        "detector from the model zoo")]
    if train.fine_tune_checkpoint_type and not train.fine_tune_checkpoint:
        return [Finding("ODW005", WARNING, path,
                        f"fine_tune_checkpoint_type '{train.fine_tune_checkpoint_type}' without "
                        "a fine_tune_checkpoint: training starts from scratch",
                        "set fine_tune_checkpoint or remove the type")]
    versions = train.DESCRIPTOR.fields_by_name["fine_tune_checkpoint_version"].enum_type
    if train.fine_tune_checkpoint and train.fine_tune_checkpoint_version != \
            versions.values_by_name["V2"].number:
        return [Finding("ODW005", ERROR, "train_config.fine_tune_checkpoint_version",
                        "TF2 training restores only V2 (object-based) checkpoints, and "
                        "fine_tune_checkpoint_version is V1 (the proto's default); "
                        "load_fine_tune_checkpoint refuses it",
                        "set fine_tune_checkpoint_version: V2 (every TF2 zoo checkpoint is V2)")]
    if train.fine_tune_checkpoint_type == "fine_tune" and train.fine_tune_checkpoint:
        # CenterNetMetaArch.restore_from_objects raises on it; SSD and Faster R-CNN never took it.
        arch = facts.meta_architecture(config)
        why = ("CenterNet no longer supports it and restores nothing ('\"fine_tune\" is no "
               "longer supported for CenterNet')" if arch == "center_net" else
               "the installed OD API's restore_from_objects refuses it ('Not supported "
               "fine_tune_checkpoint_type')")
        return [Finding("ODW005", ERROR, path, f"fine_tune_checkpoint_type 'fine_tune': {why}",
                        "use 'detection' (the same for a whole detector), 'classification' "
                        "for a backbone or 'full'")]
    if train.fine_tune_checkpoint_type not in ("", "classification", "detection", "full",
                                               "fine_tune"):
        return [Finding("ODW005", ERROR, path,
                        f"unknown fine_tune_checkpoint_type '{train.fine_tune_checkpoint_type}'",
                        "use classification or detection")]
    return []


@check("ODW006", "tpu-batch")
def _tpu_batch(config, target):
    batch = config.train_config.batch_size
    if target.device != "tpu" or batch % target.num_devices == 0:
        return []
    return [Finding("ODW006", ERROR, "train_config.batch_size",
                    f"batch size {batch} does not divide across {target.num_devices} TPU cores",
                    f"use a multiple of {target.num_devices}")]


@check("ODW007", "graph-rewriter-ignored")
def _graph_rewriter(config, target):
    if not config.graph_rewriter.HasField("quantization"):
        return []
    return [Finding("ODW007", WARNING, "graph_rewriter.quantization",
                    "TF2 training (model_lib_v2) ignores graph_rewriter quantization; only the "
                    "TF1 paths read it",
                    "remove it and quantize at export: odwrap export --format tflite "
                    "--quantize int8")]


@check("ODW008", "edgetpu-export")
def _edgetpu(config, target):
    if "edgetpu" not in target.export_targets:
        return []
    found = []
    if facts.fixed_input_size(config) is None:
        found.append(Finding("ODW008", ERROR, "model.ssd.image_resizer",
                             "the Edge TPU needs shapes fixed at compile time, and the resizer "
                             "is not a fixed_shape_resizer",
                             "use fixed_shape_resizer (odwrap specs always do)"))
    if target.export_batch_size != 1:
        found.append(Finding("ODW008", ERROR, "export.batch_size",
                             f"the Edge TPU runs batch 1, the export asks for "
                             f"{target.export_batch_size}", "export with batch size 1"))
    if config.train_config.use_bfloat16:
        found.append(Finding("ODW008", WARNING, "train_config.use_bfloat16",
                             "bfloat16 training and int8 export compound their rounding",
                             "check the int8 model's mAP (odwrap export --compare)"))
    return found


@check("ODW009", "batch-size-memory")
def _batch_memory(config, target):
    if target.device == "tpu":
        return []
    per_device = config.train_config.batch_size // max(target.num_devices, 1)
    if per_device < SINGLE_DEVICE_BATCH_LIMIT:
        return []
    return [Finding("ODW009", WARNING, "train_config.batch_size",
                    f"batch size {per_device} per {target.device.upper()} usually runs out of "
                    "memory on one device; the official samples use 64-512 only across 8 TPU "
                    "cores (tensorflow/models #8487)",
                    "odwrap batch-size CONFIG finds the largest batch that fits and its "
                    "learning rate; 8-32 per device is usual (odwrap specs scale the rate)")]


def _cosine(config):
    optimizer = config.train_config.optimizer
    kind = optimizer.WhichOneof("optimizer")
    if kind is None:
        return None
    rate = getattr(optimizer, kind).learning_rate
    if rate.WhichOneof("learning_rate") != "cosine_decay_learning_rate":
        return None
    return kind, rate.cosine_decay_learning_rate


@check("ODW010", "warmup")
def _warmup(config, target):
    found_cosine = _cosine(config)
    if found_cosine is None:
        return []
    kind, cosine = found_cosine
    path = f"train_config.optimizer.{kind}.learning_rate.cosine_decay_learning_rate"
    found = []
    if cosine.warmup_steps > cosine.total_steps:
        found.append(Finding("ODW010", ERROR, f"{path}.warmup_steps",
                             f"warmup of {cosine.warmup_steps} steps is longer than the "
                             f"{cosine.total_steps} total steps; the OD API refuses it",
                             "shorten warmup_steps (a tenth of the steps is typical)"))
    if cosine.warmup_learning_rate > cosine.learning_rate_base:
        found.append(Finding("ODW010", ERROR, f"{path}.warmup_learning_rate",
                             f"warmup learning rate {cosine.warmup_learning_rate:g} is above the "
                             f"base rate {cosine.learning_rate_base:g}; the OD API refuses it",
                             "make warmup_learning_rate at most learning_rate_base"))
    steps = config.train_config.num_steps
    if steps and cosine.total_steps < steps:
        found.append(Finding("ODW010", WARNING, f"{path}.total_steps",
                             f"the schedule ends at step {cosine.total_steps} but training runs "
                             f"{steps}: the learning rate is 0 for the rest",
                             "set total_steps to num_steps"))
    return found


@check("ODW011", "bfloat16-off-tpu")
def _bfloat16(config, target):
    if not config.train_config.use_bfloat16 or target.device == "tpu":
        return []
    return [Finding("ODW011", WARNING, "train_config.use_bfloat16",
                    f"use_bfloat16 is for TPUs; on a {target.device.upper()} it is slow or "
                    "unsupported", "remove use_bfloat16")]


@check("ODW012", "no-training-data")
def _no_training_data(config, target):
    if config.train_input_reader.tf_record_input_reader.input_path:
        return []
    return [Finding("ODW012", WARNING, "train_input_reader.tf_record_input_reader",
                    "no training TFRecords are configured", "set data.train in the spec, or "
                    "input_path in train_input_reader")]


# train_config fields that no TF2 code path reads (model_lib_v2, inputs, the builders) and
# whose setting asks for something training then does not do. The TF1 leftovers that change
# nothing (sync_replicas, replicas_to_aggregate, startup_delay_steps, the input queue sizes;
# 25 of the 47 official TF2 samples keep the first three) pass silently.
IGNORED_IN_TF2 = {
    "freeze_variables": "the listed variables are trained all the same",
    "update_trainable_variables": "every trainable variable is updated all the same",
    "keep_checkpoint_every_n_hours": "checkpoints follow --checkpoint-every (steps)",
    "bias_grad_multiplier": "bias gradients are not scaled",
    "summarize_gradients": "no gradient summaries are written",
}
TF1_LEFTOVERS = ("sync_replicas", "replicas_to_aggregate", "startup_delay_steps",
                 "batch_queue_capacity", "num_batch_queue_threads", "prefetch_queue_capacity")


@check("ODW015", "ignored-in-tf2")
def _ignored_in_tf2(config, target):
    given = {field.name for field, _ in config.train_config.ListFields()}  # set, or non-empty
    return [Finding("ODW015", WARNING, f"train_config.{name}",
                    f"TF2 training ignores {name}: {meaning}", f"remove {name}")
            for name, meaning in IGNORED_IN_TF2.items() if name in given]


@check("ODW014", "moving-averages")
def _moving_averages(config, target):
    if not (config.eval_config.use_moving_averages
            and not config.train_config.optimizer.use_moving_average):
        return []
    return [Finding("ODW014", ERROR, "eval_config.use_moving_averages",
                    "evaluation asks for moving averages that training does not keep "
                    "(train_config.optimizer.use_moving_average is false); the OD API's eval "
                    "fails on it", "unset eval_config.use_moving_averages, or set "
                    "use_moving_average: true in the optimizer")]


@check("ODW013", "feature-extractor-type")
def _extractor_type(config, target):
    arch = config.model.WhichOneof("model")
    known = extractors.known_types()
    if known is None or arch not in known:
        return []
    kind = getattr(config.model, arch).feature_extractor.type
    if kind in known[arch]:
        return []
    close = difflib.get_close_matches(kind, sorted(known[arch]), n=3, cutoff=0.6)
    hint = (f"did you mean {' or '.join(close)}?" if close
            else f"one of: {', '.join(sorted(known[arch]))}")
    what = f"'{kind}' is not" if kind else "no type is set, which is not"
    return [Finding("ODW013", ERROR, f"model.{arch}.feature_extractor.type",
                    f"{what} a feature extractor that the installed OD API builds in TF2 "
                    "(model_builder fails on it)", hint)]


def check_pipeline(config, target: Target = Target()) -> list[Finding]:
    """Every check's findings, errors first, in check order."""
    if target.label_map is None:
        target = replace(target, label_map=_label_map(config, target))  # read it once
    findings = []
    for _, _, func in REGISTRY.checks:
        findings.extend(func(config, target))
    return sorted(findings, key=lambda finding: finding.severity != ERROR)
