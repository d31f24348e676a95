"""Turn a validated spec into the template context: every decision, default and unit lives here.

The templates only print what this module prepares. Values that go into the proto text are
formatted here too (`proto_value`), so a string from a spec can never break out of its field.
"""

import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from google.protobuf import descriptor as pb_descriptor
from google.protobuf import text_encoding

from odwrap.config.architectures import ARCHITECTURES, Architecture
from odwrap.config.spec import LoadedSpec
from odwrap.errors import InputError, shown
from odwrap.odapi import labelmap, protos

FLOAT32_MAX = 3.4028234663852886e38  # a proto float field's largest finite value
_KINDS = pb_descriptor.FieldDescriptor
INT_RANGES = {_KINDS.TYPE_INT32: (-(2**31), 2**31 - 1), _KINDS.TYPE_SINT32: (-(2**31), 2**31 - 1),
              _KINDS.TYPE_SFIXED32: (-(2**31), 2**31 - 1), _KINDS.TYPE_UINT32: (0, 2**32 - 1),
              _KINDS.TYPE_FIXED32: (0, 2**32 - 1), _KINDS.TYPE_UINT64: (0, 2**64 - 1),
              _KINDS.TYPE_FIXED64: (0, 2**64 - 1)}  # the rest are int64

# The official sample values of the augmentations a sample config parametrizes.
AUGMENTATION_DEFAULTS = {
    "random_crop_image": {"min_object_covered": 0.0, "min_aspect_ratio": 0.75,
                          "max_aspect_ratio": 3.0, "min_area": 0.75, "max_area": 1.0,
                          "overlap_thresh": 0.0},
}


@dataclass
class Context:
    values: dict
    notes: list[str] = field(default_factory=list)
    label_map: object = None  # the StringIntLabelMap read, or made from the spec's classes
    label_map_inline: bool = False  # made from the classes: to be written next to the config


def proto_value(value) -> str:
    """A Python scalar as proto text: strings quoted and escaped, bools lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + text_encoding.CEscape(value, as_utf8=True) + '"'
    raise TypeError(f"no proto text for {type(value).__name__}")


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


def _message_fields(message_type, params: dict, where: str) -> list[dict]:
    """Validate `params` against a proto message type; return render-ready fields."""
    out = []
    for name, value in params.items():
        fd = message_type.fields_by_name.get(name)
        if fd is None:
            close = difflib.get_close_matches(name, list(message_type.fields_by_name), n=1)
            hint = f", did you mean '{close[0]}'?" if close else ""
            raise InputError(f"{where}: '{message_type.name}' has no field '{shown(name)}'{hint}")
        repeated = protos.is_repeated(fd)
        values = value if repeated and isinstance(value, list) else [value]
        if not repeated and isinstance(value, list):
            raise InputError(f"{where}.{name}: takes one value, not a list")
        for item in values:
            out.append(_field(fd, item, f"{where}.{name}"))
    return out


def _field(fd, value, where: str) -> dict:
    kinds = pb_descriptor.FieldDescriptor
    if fd.type == kinds.TYPE_MESSAGE:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping of fields")
        return {"name": fd.name, "children": _message_fields(fd.message_type, value, where)}
    if fd.type == kinds.TYPE_ENUM:
        if value not in fd.enum_type.values_by_name:
            raise InputError(f"{where}: '{shown(value)}' is not one of "
                             f"{', '.join(fd.enum_type.values_by_name)}")
        return {"name": fd.name, "value": value}
    if fd.type == kinds.TYPE_BOOL:
        ok = isinstance(value, bool)
    elif fd.type in (kinds.TYPE_FLOAT, kinds.TYPE_DOUBLE):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        high = FLOAT32_MAX if fd.type == kinds.TYPE_FLOAT else sys.float_info.max
        if ok and not -high <= value <= high:  # NaN fails both
            raise InputError(f"{where}: expected a finite number in [{-high:g}, {high:g}] "
                             f"(got {value!r})")
        value = float(value) if ok else value
    elif fd.type == kinds.TYPE_STRING:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, int) and not isinstance(value, bool)
        low, high = INT_RANGES.get(fd.type, (-(2**63), 2**63 - 1))
        if ok and not low <= value <= high:
            raise InputError(f"{where}: expected int in {low}..{high} (got {value})")
    if not ok:
        raise InputError(f"{where}: {value!r} is not a valid {fd.name} value")
    return {"name": fd.name, "value": proto_value(value)}


def augmentations(entries, arch: Architecture, source: str = "spec") -> list[dict]:
    step_fields = protos.preprocessor_pb2().PreprocessingStep.DESCRIPTOR.fields_by_name
    if entries is None:
        entries = list(arch.augmentations)
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
        merged = {**AUGMENTATION_DEFAULTS.get(name, {}), **(params or {})}
        out.append({"name": name, "fields": _message_fields(step_fields[name].message_type,
                                                            merged, f"{where}.{name}")})
    return out


def _hyperparams(hp, activation="RELU_6") -> dict:
    return {"activation": activation, "l2": proto_value(hp.l2), "initializer": hp.initializer,
            "stddev": proto_value(hp.stddev), "bn_decay": proto_value(hp.bn_decay),
            "bn_epsilon": proto_value(hp.bn_epsilon),
            "bn_explicit_train_center": hp.bn_explicit_train_center}


def _schedule(spec, arch: Architecture, steps: int, batch: int, notes: list[str]) -> dict:
    train = spec.train
    scale = batch / arch.batch_size
    if train.learning_rate is None:
        lr = arch.learning_rate * scale
        if batch != arch.batch_size:
            notes.append(f"learning rate scaled linearly with the batch size: "
                         f"{arch.learning_rate:g} x {batch}/{arch.batch_size} = {lr:.6g} (set "
                         "train.learning_rate to choose it)")
    else:
        lr = train.learning_rate
    if train.warmup_learning_rate is None:
        warmup_lr = lr * arch.warmup_learning_rate / arch.learning_rate
    else:
        warmup_lr = train.warmup_learning_rate
    if train.warmup_steps is None:
        warmup_steps = min(arch.warmup_steps, steps // 10)
        if warmup_steps < arch.warmup_steps and train.schedule == "cosine":
            notes.append(f"warmup shortened from the sample's {arch.warmup_steps} steps to "
                         f"{warmup_steps}, a tenth of {steps} steps")
    else:
        warmup_steps = train.warmup_steps
    return {"kind": train.schedule, "base": proto_value(float(f"{lr:.6g}")),
            "warmup_lr": proto_value(float(f"{warmup_lr:.6g}")), "warmup_steps": warmup_steps,
            "total_steps": steps}


def build_context(loaded: LoadedSpec, label_map_out: Path | None = None) -> Context:
    """The template context of a spec. `label_map_out`: where an inline label map will go."""
    spec, base = loaded.spec, loaded.base_dir
    arch = ARCHITECTURES[spec.model.architecture]
    notes: list[str] = []
    model, data, train = spec.model, spec.data, spec.train

    size = model.image_size if model.image_size is not None else arch.image_size
    height, width = (size, size) if isinstance(size, int) else size

    label_map, map_classes = None, None
    if data.classes is not None:
        label_map = labelmap.from_classes(data.classes)
        label_map_path = str(label_map_out) if label_map_out else "label_map.pbtxt"
        map_classes = len(data.classes)
    elif data.label_map is not None:
        path = labelmap.resolve(data.label_map, base)
        label_map_path = str(path)
        if path.is_file():
            label_map = labelmap.read(path)
            map_classes = labelmap.num_classes(label_map)
    else:
        label_map_path = None
    num_classes = model.num_classes if model.num_classes is not None else map_classes
    if num_classes is None:
        if data.label_map is not None:
            raise InputError(f"{loaded.source}: data.label_map: {label_map_path} does not exist "
                             "and model.num_classes is not given")
        raise InputError(f"{loaded.source}: model.num_classes: give it, or data.label_map or "
                         "data.classes to take it from")

    batch = train.batch_size or arch.batch_size
    steps = train.steps or arch.sample_steps.get(height if height == width else None,
                                                 arch.sample_steps[arch.image_size])
    bfloat16 = arch.use_bfloat16 if train.use_bfloat16 is None else train.use_bfloat16
    if bfloat16 and train.use_bfloat16 is None and train.device != "tpu":
        bfloat16 = False
        notes.append("use_bfloat16 of the sample config left off: it is for TPUs, and "
                     f"train.device is {train.device}")

    min_level, max_level = model.fpn_levels
    values = {
        "num_classes": num_classes,
        "height": height,
        "width": width,
        "fpn": arch.fpn,
        "anchors": {"min_level": min_level, "max_level": max_level},
        "feature_extractor": {
            "type": arch.feature_extractor,
            "use_depthwise": arch.lite,
            "min_depth": model.min_depth,
            "depth_multiplier": proto_value(model.depth_multiplier),
            "pad_to_multiple": model.pad_to_multiple,
            "fpn_min_level": min_level,
            "fpn_max_level": max_level,
            "fpn_depth": model.fpn_depth or arch.fpn_depth,
            "hyperparams": _hyperparams(arch.extractor_hyperparams),
        },
        "box_predictor": {
            "depth": model.predictor_depth if model.predictor_depth is not None
            else arch.predictor_depth,
            "layers": model.predictor_layers if model.predictor_layers is not None
            else arch.predictor_layers,
            "lite": arch.lite,
            "hyperparams": _hyperparams(arch.predictor_hyperparams),
        },
        "loss": {"alpha": proto_value(arch.focal_alpha),
                 "smooth_l1_delta": None if arch.smooth_l1_delta is None
                 else proto_value(arch.smooth_l1_delta)},
        "nms": {"score_threshold": proto_value(model.score_threshold),
                "iou_threshold": proto_value(model.iou_threshold),
                "max_detections": model.max_detections},
        "train": {
            "batch_size": batch,
            "num_steps": steps,
            "use_bfloat16": bfloat16,
            "fine_tune_checkpoint": None if train.fine_tune_checkpoint is None
            else proto_value(resolve_path(train.fine_tune_checkpoint, base)),
            "fine_tune_checkpoint_type": None if train.fine_tune_checkpoint_type is None
            else proto_value(train.fine_tune_checkpoint_type),
            "augmentations": augmentations(train.augmentations, arch, loaded.source),
            "optimizer": train.optimizer,
            "momentum": proto_value(train.momentum),
            "schedule": _schedule(spec, arch, steps, batch, notes),
            "max_boxes": train.max_boxes,
        },
        "label_map_path": None if label_map_path is None else proto_value(label_map_path),
        "train_inputs": [proto_value(p) for p in _paths(data.train, base)],
        "eval_inputs": [proto_value(p) for p in _paths(data.eval, base)],
        "eval": {"metrics": [proto_value(m) for m in spec.eval.metrics],
                 "num_examples": spec.eval.num_examples, "batch_size": spec.eval.batch_size},
        "quantization": msgspec.structs.asdict(spec.quantization)
        if spec.quantization.enabled else None,
    }
    return Context(values=values, notes=notes, label_map=label_map,
                   label_map_inline=data.classes is not None)
