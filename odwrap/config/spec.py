"""The YAML spec: load, merge with the defaults, apply --set overrides, validate.

Precedence: --set KEY=VALUE over the spec file over odwrap/defaults.yaml. Every error names the
file, the line where it can be found, and the field.
"""

import copy
import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml
from msgspec import Meta

from odwrap.config.architectures import ARCHITECTURES, OPTIONAL_MODEL_KEYS
from odwrap.config import keypoints, spec_errors
from odwrap.config.yamlread import load_yaml
from odwrap.odapi import exports
from odwrap.errors import InputError, shown
from odwrap.fsutil import MiB, read_text

SPEC_LIMIT = 1 * MiB  # a spec is a few hundred bytes; PyYAML reads about 0.5 MB/s
SET_LIMIT = 64 * 1024  # characters of one --set value
INT32_MAX = 2**31 - 1  # the OD API's int32 proto fields (total_steps, warmup_steps, batch_size)
MAX_SIDE = 4096  # input sides; the official samples use 300-1536
MAX_CHANNELS = 4096
MAX_BATCH = 65536
MAX_DETECTIONS = 10_000  # the LVIS samples keep 300
MAX_RATE = 100.0  # learning rates; the samples' peak is 0.08 at batch 64-512
MAX_MASK_SIDE = 512  # Mask R-CNN mask sides; the sample's are 33


def Int(low: int, high: int):  # noqa: N802 (a type)
    """An int in LOW..HIGH (bool is no int: msgspec's strict mode refuses it)."""
    return Annotated[int, Meta(ge=low, le=high)]


def Float(low: float, high: float, low_open: bool = False):  # noqa: N802 (a type)
    """A finite number in [LOW, HIGH] (or (LOW, HIGH]); NaN fails both bounds."""
    return Annotated[float, Meta(gt=low, le=high) if low_open else Meta(ge=low, le=high)]


Side = Int(32, MAX_SIDE)
Pair = Annotated[list[Side], Meta(min_length=2, max_length=2)]
Fraction = Float(0.0, 1.0)
Steps = Int(1, INT32_MAX)
MaskSide = Int(1, MAX_MASK_SIDE)

METRICS_SETS = (
    "coco_detection_metrics", "coco_mask_metrics", "coco_keypoint_metrics",
    "pascal_voc_detection_metrics", "weighted_pascal_voc_detection_metrics",
    "pascal_voc_instance_segmentation_metrics", "oid_V2_detection_metrics",
    "open_images_V2_detection_metrics", "oid_challenge_detection_metrics",
    "lvis_mask_metrics", "precision_at_recall_detection_metrics",
)


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class ModelSpec(_Section):
    architecture: str | None
    image_size: Side | Pair | None
    num_classes: Int(1, 100_000) | None
    depth_multiplier: Float(0.0, 4.0, low_open=True) | None
    min_depth: Int(1, MAX_CHANNELS) | None
    fpn_levels: Annotated[list[Int(2, 8)], Meta(min_length=2, max_length=2)] | None
    fpn_depth: Int(1, MAX_CHANNELS) | None
    predictor_depth: Int(1, MAX_CHANNELS) | None
    predictor_layers: Int(0, 16) | None
    pad_to_multiple: Int(1, MAX_SIDE) | None
    score_threshold: Fraction | None
    iou_threshold: Fraction | None
    max_detections: Int(1, MAX_DETECTIONS) | None
    proposals: Int(1, MAX_DETECTIONS) | None
    mask_size: MaskSide | Annotated[list[MaskSide], Meta(min_length=2, max_length=2)] | None
    pretrained: str | None
    resizer: Literal["fixed", "keep_aspect"] | None
    keypoints: dict[Any, Any] | None  # checked field by field in odwrap.config.keypoints


class DataSpec(_Section):
    label_map: str | None
    classes: list[str] | None
    train: str | list[str] | None
    eval: str | list[str] | None


class TrainSpec(_Section):
    device: Literal["cpu", "gpu", "tpu"]
    num_devices: Int(1, 4096) | None
    batch_size: Int(1, MAX_BATCH) | None
    steps: Steps | None
    learning_rate: Float(0.0, MAX_RATE, low_open=True) | None
    warmup_learning_rate: Float(0.0, MAX_RATE) | None
    warmup_steps: Int(0, INT32_MAX) | None
    schedule: Literal["cosine", "constant", "step"] | None
    optimizer: Literal["momentum", "adam"] | None
    momentum: Fraction
    augmentations: list[str | dict[str, dict[str, Any] | None]] | None
    fine_tune_checkpoint: str | None
    fine_tune_checkpoint_type: Literal["classification", "detection", "full", "fine_tune"] | None
    use_bfloat16: bool | None
    max_boxes: Int(1, MAX_DETECTIONS) | None
    xla: Literal["auto"] | bool
    mixed_precision: bool


class EvalSpec(_Section):
    metrics: list[Literal[METRICS_SETS]] | None  # type: ignore[valid-type]
    num_examples: Steps | None
    batch_size: Int(1, MAX_BATCH)


class QuantizationSpec(_Section):
    enabled: bool
    delay: Int(0, INT32_MAX)
    weight_bits: Int(2, 16)
    activation_bits: Int(2, 16)


class ExportSpec(_Section):
    targets: list[Literal[exports.FORMATS]]  # type: ignore[valid-type]
    batch_size: Int(1, MAX_BATCH)


class Spec(_Section):
    model: ModelSpec
    data: DataSpec
    train: TrainSpec
    eval: EvalSpec
    quantization: QuantizationSpec
    export: ExportSpec


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where it came from (relative paths are relative to `base_dir`)."""

    spec: Spec
    source: str
    base_dir: Path


def semantic_errors(spec: Spec) -> list[tuple[tuple, str]]:
    """(field path, message) for what types alone cannot say."""
    errors = []
    arch = spec.model.architecture
    if arch is None:
        errors.append((("model", "architecture"),
                       f"is required; one of: {', '.join(ARCHITECTURES)}"))
    elif arch not in ARCHITECTURES:
        errors.append((("model", "architecture"),
                       f"unknown architecture '{shown(arch)}'{_suggest(arch, ARCHITECTURES)}; "
                       f"one of: {', '.join(ARCHITECTURES)}"))
    else:
        errors += _architecture_errors(spec, ARCHITECTURES[arch])
    errors += keypoints.parse(spec.model.keypoints, spec.data.classes)[1]
    if spec.model.fpn_levels is not None:
        low, high = spec.model.fpn_levels
        if low > high:
            errors.append((("model", "fpn_levels"),
                           f"min level {low} is above max level {high}"))
    classes = spec.data.classes
    if classes is not None:
        if not classes:
            errors.append((("data", "classes"), "lists no class"))
        seen = set()
        for index, name in enumerate(classes):
            if not name.strip():
                errors.append((("data", "classes", index), "is an empty class name"))
            elif name in seen:
                errors.append((("data", "classes", index), f"names class '{shown(name)}' twice"))
            seen.add(name)
    if spec.data.label_map is not None and classes is not None:
        errors.append((("data",), "give either label_map or classes, not both"))
    return errors


def _architecture_errors(spec: Spec, arch) -> list[tuple[tuple, str]]:
    """Keys the architecture does not take, and values its sample's resizer or schedule cannot."""
    errors = []
    for key in OPTIONAL_MODEL_KEYS:
        if getattr(spec.model, key) is not None and key not in arch.keys:
            takes = ", ".join(sorted(arch.keys)) or "none of the optional model keys"
            errors.append((("model", key), f"{arch.name} does not take it (it takes {takes}; "
                           "see defaults.yaml)"))
    sample = arch.sample(spec.model.image_size)
    size = spec.model.image_size
    resizer = spec.model.resizer or sample.model.resizer
    if isinstance(size, list) and resizer == "keep_aspect" and size[0] > size[1]:
        errors.append((("model", "image_size"),
                       f"{arch.name} keeps the aspect ratio: [{size[0]}, {size[1]}] is [shorter "
                       "side, longer side at most], and the first is above the second"))
    schedule = spec.train.schedule or sample.training.schedule
    if schedule == "step":
        for key in ("warmup_learning_rate", "warmup_steps"):
            if getattr(spec.train, key) is not None:
                errors.append((("train", key), "the step schedule has no warmup (use "
                               "train.schedule: cosine for one)"))
    if spec.model.pretrained is not None:
        from odwrap.config.pretrained import spec_errors

        errors += spec_errors(spec, arch)
    if spec.model.keypoints is not None and not arch.keypoint_samples:
        takers = [name for name, other in ARCHITECTURES.items() if other.keypoint_samples]
        errors.append((("model", "keypoints"), f"{arch.name} has no keypoint sample config; "
                       f"architectures with one: {', '.join(takers)}"))
    return errors


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f", did you mean '{close[0]}'?" if close else ""


def defaults() -> dict:
    text = resources.files("odwrap.config").joinpath("defaults.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


# Keys a spec no longer takes, and where their job went.
MOVED = {"export.quantize": "--quantize", "export.max_detections": "--max-detections"}


def _merge(base: dict, override: dict, where: str, prefix: str = "") -> dict:
    """Deep-merge `override` onto `base`; a key that `base` lacks is an error."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        path = f"{prefix}{key}"
        if path in MOVED:
            raise InputError(f"{where}: '{path}' is not a spec key: it is chosen when exporting "
                             f"(odwrap export DIR --format tflite {MOVED[path]} ...), as one "
                             "trained model is often exported more than one way")
        if not isinstance(key, str) or key not in base:
            raise InputError(f"{where}: unknown key '{shown(path)}'{_suggest(str(key), base)}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise InputError(f"{where}: '{shown(path)}' must be a mapping of keys, not "
                                 f"{type(value).__name__}")
            merged[key] = _merge(base[key], value, where, f"{path}.")
        else:
            merged[key] = value
    return merged


def parse_overrides(items) -> dict:
    """['train.batch_size=8', ...] -> nested dict; values are read as YAML, never evaluated."""
    nested: dict = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {shown(item)}: expected KEY=VALUE, e.g. train.batch_size=8")
        where = f"--set {shown(key.strip())}"
        if len(raw) > SET_LIMIT:
            raise InputError(f"{where}: the value is {len(raw)} characters, over odwrap's limit "
                             f"of {SET_LIMIT} for a --set value")
        value = load_yaml(raw, where, lines=False) if raw.strip() else None
        parts = key.strip().split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"--set {shown(item)}: '{shown(part)}' is set to a value and a "
                                 "mapping")
        node[parts[-1]] = value
    return nested


def load_spec(path, overrides=None) -> LoadedSpec:
    """Read, merge and validate a spec file; raise InputError naming the file, line and field."""
    path = Path(path)
    text = read_text(path, "file", limit=SPEC_LIMIT, limit_for="a spec")
    raw = load_yaml(text, str(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(f"{path}: a spec is a mapping of sections (model, data, train, ...), "
                         f"not {type(raw).__name__}")
    base = defaults()
    merged = _merge(base, raw, str(path))
    override_tree = parse_overrides(overrides)
    merged = _merge(merged, override_tree, "--set")
    lines = spec_errors.key_lines(text)
    overridden = spec_errors.flatten_keys(override_tree)
    try:
        spec = msgspec.convert(merged, Spec, strict=True)
    except msgspec.ValidationError as exc:
        raise spec_errors.one_line(exc, Spec, merged, str(path), lines, overridden) from None
    errors = semantic_errors(spec)
    if errors:
        loc, message = errors[0]
        raise spec_errors.field_error(loc, message,
                                      spec_errors.where(loc, str(path), lines, overridden))
    return LoadedSpec(spec=spec, source=str(path), base_dir=path.resolve().parent)
