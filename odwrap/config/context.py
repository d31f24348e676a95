"""Turn a validated spec into the template context: every decision, default and unit lives here.

The templates only print what this module prepares, formatted as proto text (`proto_value`), so
a string from a spec can never break out of its field. The model block's values come from
model_context.py, one function per meta-architecture; the rest (training, evaluation, inputs)
is shared.
"""

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from odwrap.config.architectures import ARCHITECTURES, Sample, Training
from odwrap.config import keypoints
from odwrap.config.architectures.ssd import FPN_CROP
from odwrap.config.model_context import MODEL_VALUES
from odwrap.config.proto_text import message_fields, proto_value
from odwrap.config.spec import LoadedSpec
from odwrap.errors import InputError, shown
from odwrap.odapi import labelmap, protos

__all__ = ["Context", "build_context", "proto_value", "augmentations"]

# The SSD FPN samples' fields of random_crop_image, for a sample without one.
AUGMENTATION_DEFAULTS = dict([FPN_CROP])
# Fields that follow the input size unless the spec gives them (the samples' equal their size).
FOLLOWS_INPUT = {"random_scale_crop_and_pad_to_square": lambda side: {"output_size": side}}


@dataclass
class Context:
    values: dict
    notes: list[str] = field(default_factory=list)
    label_map: object = None  # the StringIntLabelMap read, or made from the spec's classes
    label_map_inline: bool = False  # made from the classes: to be written next to the config


def _is_remote(path: str) -> bool:
    return "://" in path


def resolve_path(value: str, base_dir: Path) -> str:
    if _is_remote(value):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base_dir / path))


def _paths(value, base_dir: Path) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    return [resolve_path(item, base_dir) for item in items]


def augmentations(entries, training: Training, side: int, source: str = "spec",
                  flip_permutation=None) -> list[dict]:
    """The augmentations of the spec, else the sample's; a step that the sample parametrizes
    gets the sample's fields unless the spec gives them (random_crop_image: the SSD FPN samples'
    where the sample has none), random_scale_crop_and_pad_to_square's output_size follows
    the input SIDE, and random_horizontal_flip takes FLIP_PERMUTATION (model.keypoints')."""
    step_fields = protos.preprocessor_pb2().PreprocessingStep.DESCRIPTOR.fields_by_name
    sample_fields = dict(training.augmentations)
    if entries is None:
        entries = [{name: {}} for name, _ in training.augmentations]
    out = []
    for index, entry in enumerate(entries):
        where = f"{source}: train.augmentations[{index}]"
        if isinstance(entry, dict):
            if len(entry) != 1:
                raise InputError(f"{where}: one augmentation per entry, as name: {{field: value}}")
            (name, params), = entry.items()
        else:
            name, params = entry, None
        if name not in step_fields:
            close = difflib.get_close_matches(name, list(step_fields), n=1)
            hint = f", did you mean '{close[0]}'?" if close else ""
            raise InputError(f"{where}: unknown augmentation '{shown(name)}'{hint}")
        keypoint_fields = {"keypoint_flip_permutation": flip_permutation} \
            if flip_permutation is not None and name == "random_horizontal_flip" else {}
        merged = {**sample_fields.get(name, AUGMENTATION_DEFAULTS.get(name, {})),
                  **FOLLOWS_INPUT.get(name, lambda side: {})(side), **keypoint_fields,
                  **(params or {})}
        out.append({"name": name, "fields": message_fields(step_fields[name].message_type,
                                                           merged, f"{where}.{name}")})
    return out


def _learning_rate(spec, training: Training, batch: int, notes: list[str]) -> float:
    if spec.train.learning_rate is not None:
        return spec.train.learning_rate
    if batch == training.batch_size:
        return training.learning_rate
    if training.optimizer == "adam":
        notes.append(f"learning rate {training.learning_rate:g} of the sample kept at batch "
                     f"{batch} (its batch is {training.batch_size}): Adam's step hardly depends "
                     "on the batch size (set train.learning_rate to choose it)")
        return training.learning_rate
    lr = training.learning_rate * batch / training.batch_size
    notes.append(f"learning rate scaled linearly with the batch size: "
                 f"{training.learning_rate:g} x {batch}/{training.batch_size} = {lr:.6g} (set "
                 "train.learning_rate to choose it)")
    return lr


def _rate(value: float) -> str:
    return proto_value(float(f"{value:.6g}"))


def _step_boundaries(sample: Sample, steps: int, lr: float) -> list[dict]:
    """The sample's decays with their steps scaled to STEPS (else x0.1 at 9/14 and x0.01 at
    12/14, the CenterNet samples' shape); a boundary not above the one before is dropped."""
    decays = sample.training.step_decays or ((9, 0.1), (12, 0.01))
    of = sample.steps if sample.training.step_decays else 14
    out, last = [], 0
    for step, factor in decays:
        boundary = max(1, round(step * steps / of))
        if boundary > last:
            out.append({"step": boundary, "rate": _rate(lr * factor)})
            last = boundary
    return out


def _schedule(spec, sample: Sample, steps: int, batch: int, notes: list[str]) -> dict:
    train, training = spec.train, sample.training
    kind = train.schedule or training.schedule
    lr = _learning_rate(spec, training, batch, notes)
    if kind == "step":
        return {"kind": kind, "base": _rate(lr), "steps": _step_boundaries(sample, steps, lr)}
    if train.warmup_learning_rate is None:
        warmup_lr = lr * training.warmup_learning_rate / training.learning_rate
    else:
        warmup_lr = train.warmup_learning_rate
    if train.warmup_steps is None:
        warmup_steps = min(training.warmup_steps, steps // 10)
        if warmup_steps < training.warmup_steps and kind == "cosine":
            notes.append(f"warmup shortened from the sample's {training.warmup_steps} steps to "
                         f"{warmup_steps}, a tenth of {steps} steps")
    else:
        warmup_steps = train.warmup_steps
    return {"kind": kind, "base": _rate(lr), "warmup_lr": _rate(warmup_lr),
            "warmup_steps": warmup_steps, "total_steps": steps}


def _resizer(kind: str, size) -> dict:
    """fixed: height x width; keep_aspect: [shorter side, longer side at most], padded to a
    square of the longer. `side`: the longer side of what the network gets."""
    first, second = (size, size) if isinstance(size, int) else size
    if kind == "fixed":
        return {"kind": kind, "height": first, "width": second, "side": max(first, second)}
    return {"kind": kind, "min": first, "max": second, "side": second}


def _label_map(loaded: LoadedSpec, label_map_out):
    """(label map or None, its path or None, its class count or None)."""
    data, base = loaded.spec.data, loaded.base_dir
    if data.classes is not None:
        path = str(label_map_out) if label_map_out else "label_map.pbtxt"
        return labelmap.from_classes(data.classes), path, len(data.classes)
    if data.label_map is not None:
        path = labelmap.resolve(data.label_map, base)
        if path.is_file():
            label_map = labelmap.read(path)
            return label_map, str(path), labelmap.num_classes(label_map)
        return None, str(path), None
    return None, None, None


def side_size(spec, sample: Sample):
    """The spec's image size, or the architecture's default."""
    return spec.model.image_size if spec.model.image_size is not None else \
        ARCHITECTURES[spec.model.architecture].image_size


def _fine_tune(spec, size, loaded, notes) -> dict:
    """fine_tune_checkpoint and its type: the spec's own, or model.pretrained's zoo checkpoint
    (its place in the zoo cache; train downloads it) with type detection."""
    train = spec.train
    kind = train.fine_tune_checkpoint_type
    if spec.model.pretrained is not None:
        from odwrap.config.pretrained import checkpoint_prefix, other_checkpoint_note, zoo_model

        model = zoo_model(spec.model.pretrained, spec.model.architecture, size,
                          bool(spec.model.keypoints))
        notes.append(f"model.pretrained: starts from the zoo's {model.name} (COCO); odwrap train "
                     f"downloads it when it is not in the zoo cache (odwrap zoo pull "
                     f"{model.name} does it now)")
        other = other_checkpoint_note(spec.model.architecture, kind or "detection")
        notes += [other] if other else []
        return {"fine_tune_checkpoint": proto_value(checkpoint_prefix(model)),
                "fine_tune_checkpoint_type": proto_value(kind or "detection")}
    return {"fine_tune_checkpoint": None if train.fine_tune_checkpoint is None
            else proto_value(resolve_path(train.fine_tune_checkpoint, loaded.base_dir)),
            "fine_tune_checkpoint_type": None if kind is None else proto_value(kind)}


def _train(spec, sample: Sample, batch: int, steps: int, side: int, loaded, notes,
           flip_permutation=None) -> dict:
    train, training = spec.train, sample.training
    bfloat16 = training.use_bfloat16 if train.use_bfloat16 is None else train.use_bfloat16
    if bfloat16 and train.use_bfloat16 is None and train.device != "tpu":
        bfloat16 = False
        notes.append("use_bfloat16 of the sample config left off: it is for TPUs, and "
                     f"train.device is {train.device}")
    optimizer = train.optimizer or training.optimizer
    return {
        "batch_size": batch,
        "num_steps": steps,
        "use_bfloat16": bfloat16,
        **_fine_tune(spec, side_size(spec, sample), loaded, notes),
        "augmentations": augmentations(train.augmentations, training, side, loaded.source,
                                       flip_permutation),
        "optimizer": optimizer,
        "momentum": proto_value(train.momentum),
        "adam_epsilon": proto_value(training.adam_epsilon)
        if optimizer == "adam" and training.adam_epsilon is not None else None,
        "schedule": _schedule(spec, sample, steps, batch, notes),
        "max_boxes": train.max_boxes if train.max_boxes is not None else training.max_boxes,
        "unpad_groundtruth_tensors": None if training.unpad_groundtruth_tensors is None
        else proto_value(training.unpad_groundtruth_tensors),
        "gradient_clipping_by_norm": None if training.gradient_clipping_by_norm is None
        else proto_value(training.gradient_clipping_by_norm),
    }


def build_context(loaded: LoadedSpec, label_map_out: Path | None = None) -> Context:
    """The template context of a spec. `label_map_out`: where an inline label map will go."""
    spec, base = loaded.spec, loaded.base_dir
    arch = ARCHITECTURES[spec.model.architecture]
    notes: list[str] = []
    model, data, train = spec.model, spec.data, spec.train
    size = model.image_size if model.image_size is not None else arch.image_size
    keypoint_classes, _ = keypoints.parse(model.keypoints, data.classes)  # checked by the spec
    sample = arch.sample(size, bool(keypoint_classes))
    if not arch.has_sample(size, bool(keypoint_classes)):
        notes.append(f"{arch.name} has no sample config at {_size_text(size)}: the values of "
                     f"{sample.config} ({arch.name} samples: "
                     f"{arch.sizes_text(bool(keypoint_classes))})")
    if not sample.official:
        notes.append(f"{sample.config} has no official sample config: its values are derived "
                     f"(odwrap/config/architectures/{arch.meta}.py says from what)")

    label_map, label_map_path, map_classes = _label_map(loaded, label_map_out)
    num_classes = model.num_classes if model.num_classes is not None else map_classes
    if num_classes is None:
        if data.label_map is not None:
            raise InputError(f"{loaded.source}: data.label_map: {label_map_path} does not exist "
                             "and model.num_classes is not given")
        raise InputError(f"{loaded.source}: model.num_classes: give it, or data.label_map or "
                         "data.classes to take it from")

    keypoint_values = _keypoints(keypoint_classes, label_map, label_map_path, loaded, notes)
    resizer = _resizer(model.resizer or sample.model.resizer, size)
    masks = getattr(sample.model, "mask", None) is not None
    batch = train.batch_size or sample.training.batch_size
    steps = train.steps or sample.steps
    metrics = spec.eval.metrics or ["coco_detection_metrics", *(["coco_mask_metrics"]
                                                                 if masks else [])]
    values = {
        "meta": arch.meta,
        "num_classes": num_classes,
        "model": MODEL_VALUES[arch.meta](model, sample.model, resizer, notes),
        "train": _train(spec, sample, batch, steps, resizer["side"], loaded, notes,
                        keypoint_values and keypoint_values["flip_permutation"]),
        "masks": masks,
        "keypoints": keypoint_values,
        "label_map_path": None if label_map_path is None else proto_value(label_map_path),
        "train_inputs": [proto_value(p) for p in _paths(data.train, base)],
        "eval_inputs": [proto_value(p) for p in _paths(data.eval, base)],
        "eval": {"metrics": [proto_value(m) for m in metrics],
                 "num_examples": spec.eval.num_examples, "batch_size": spec.eval.batch_size},
        "quantization": msgspec.structs.asdict(spec.quantization)
        if spec.quantization.enabled else None,
    }
    return Context(values=values, notes=notes, label_map=label_map,
                   label_map_inline=data.classes is not None)


def _keypoints(classes: dict, label_map, label_map_path, loaded: LoadedSpec, notes) -> dict | None:
    """The keypoint task's template values (None without model.keypoints). The keypoints go
    into a label map made from data.classes (generate writes it); a label map read from a
    file is left as it is (check ODW030 says when it lacks them)."""
    if not classes:
        return None
    if label_map_path is None:
        raise InputError(f"{loaded.source}: model.keypoints: needs data.classes or "
                         "data.label_map (CenterNet reads each class's keypoints from it)")
    if label_map is not None and loaded.spec.data.classes is None:
        label_map = copy.deepcopy(label_map)
    placed = keypoints.place(classes, label_map, loaded.source, notes)
    return keypoints.template_values(classes, placed, label_map, proto_value(label_map_path))


def _size_text(size) -> str:
    return str(size) if isinstance(size, int) else f"{size[0]}x{size[1]}"
