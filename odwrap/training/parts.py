"""What a fine-tune restored, in model parts: the backbone, the FPN, the RPN, the box regression
head, the class head, ... of each meta-architecture, found by walking the built model's own
attributes (SSD, CenterNet, Faster and Mask R-CNN in object_detection/meta_architectures), so
that the report says "restored the backbone and FPN (176 of 232 trainable variables); not
restored: the box regression head and class head (3 classes instead of 90)".
"""

from dataclasses import dataclass
from pathlib import Path

from odwrap.errors import InputError
from odwrap.odapi import facts

BOX = "box_encodings"  # the OD API's head keys (object_detection/core/box_predictor.py)
CLASS = "class_predictions_with_background"
HEADS = ("box regression head", "class head", "RPN", "mask head", "class heatmap head",
         "box size and offset heads")


def _variables(*objects) -> list:
    """The trainable variables of layers, or of dicts and lists of layers (None skipped)."""
    found = []
    for item in objects:
        if item is None:
            continue
        if isinstance(item, dict):
            found += _variables(*item.values())
        elif isinstance(item, (list, tuple)):
            found += _variables(*item)
        else:
            found += list(getattr(item, "trainable_variables", ()))
    return found


def _backbone(extractor) -> list:
    try:  # a property; CenterNet's raise for extractors without one
        return _variables(getattr(extractor, "classification_backbone", None))
    except (AttributeError, NotImplementedError, ValueError):
        return []


def _ssd(model) -> list:
    extractor, predictor = model._feature_extractor, model._box_predictor
    towers = getattr(predictor, "_base_tower_layers_for_heads", {}) or {}
    heads = getattr(predictor, "_prediction_heads", {}) or {}
    neck = ("BiFPN" if getattr(extractor, "_bifpn_stage", None) is not None else
            "FPN" if getattr(extractor, "_fpn_features_generator", None) is not None else
            "extra feature layers")
    return [("backbone", _backbone(extractor)), (neck, _variables(extractor)),
            ("box regression head", _variables(getattr(predictor, "_box_prediction_head", None),
                                               towers.get(BOX), heads.get(BOX))),
            ("class head", _variables(towers.get(CLASS), heads.get(CLASS))),
            ("prediction layers", _variables(predictor))]


def _center_net(model) -> list:
    extractor, heads = model._feature_extractor, model._prediction_head_dict
    neck = "FPN" if "fpn" in type(extractor).__name__.lower() else "upsampling layers"
    parts = [("backbone", _backbone(extractor)), (neck, _variables(extractor)),
             ("class heatmap head", _variables(heads.get("object_center"))),
             ("box size and offset heads",
              _variables(*(head for key, head in heads.items() if key.startswith("box/"))))]
    return parts + [(f"{key} head", _variables(head)) for key, head in heads.items()]


def _faster_rcnn(model) -> list:
    extractor, second = model._feature_extractor, model._mask_rcnn_box_predictor
    neck = "FPN" if "fpn" in type(extractor).__name__.lower() else "first-stage features"
    return [("backbone", _backbone(extractor)),
            (neck, _variables(model._feature_extractor_for_proposal_features)),
            ("second-stage features",
             _variables(model._feature_extractor_for_box_classifier_features)),
            ("RPN", _variables(model._first_stage_box_predictor_first_conv,
                               model._first_stage_box_predictor)),
            ("box regression head", _variables(second._box_prediction_head)),
            ("class head", _variables(second._class_prediction_head)),
            ("mask head", _variables(getattr(second, "_third_stage_heads", None)))]


def model_parts(model) -> list[tuple[str, list]]:
    """[(part, its trainable variables)] in the model's order, each variable in the first part
    that holds it; what no part holds is 'other layers'."""
    if hasattr(model, "_prediction_head_dict"):
        candidates = _center_net(model)
    elif hasattr(model, "_first_stage_box_predictor"):
        candidates = _faster_rcnn(model)
    elif hasattr(model, "_box_predictor"):
        candidates = _ssd(model)
    else:
        candidates = []
    seen, parts = set(), []
    for name, variables in candidates + [("other layers", list(model.trainable_variables))]:
        mine = [v for v in variables if v.ref() not in seen]
        seen.update(v.ref() for v in mine)
        if mine:
            parts.append((name, mine))
    return parts


def checkpoint_classes(checkpoint: str) -> int | None:
    """num_classes of the pipeline.config beside a checkpoint: a model folder's (DIR/ckpt-N) or
    a zoo model's (MODEL/checkpoint/ckpt-0); None when there is none to read."""
    from odwrap.odapi.pipeline import read_pipeline

    folder = Path(checkpoint).parent
    for candidate in (folder / "pipeline.config", folder.parent / "pipeline.config"):
        if candidate.is_file():
            try:
                return facts.num_classes(read_pipeline(candidate)) or None
            except InputError:
                return None
    return None


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass(frozen=True)
class Restored:
    """What load_fine_tune_checkpoint restored: per part (name, restored, total)."""
    parts: tuple[tuple[str, int, int], ...]
    kind: str  # fine_tune_checkpoint_type
    classes: int  # the model's
    checkpoint_classes: int | None  # the checkpoint's model's, when its config says
    missing: tuple[str, ...]  # the names of the variables not restored

    @property
    def restored(self) -> int:
        return sum(done for _, done, _ in self.parts)

    @property
    def total(self) -> int:
        return sum(total for _, _, total in self.parts)

    def summary(self) -> str:
        full = [name for name, restored, total in self.parts if restored and restored == total]
        if any(0 < restored < total for _, restored, total in self.parts):
            done = _join([f"the {name}" if restored == total else
                          f"part of the {name} ({restored} of {total})"
                          for name, restored, total in self.parts if restored])
        else:
            done = f"the {_join(full)}" if full else ""
        left = [name for name, restored, _ in self.parts if not restored]
        text = (f"restored {done}" if done else "restored nothing") + \
            f" ({self.restored} of {self.total} trainable variables)"
        if left:
            text += f"; not restored: the {_join(left)}"
            other = self.checkpoint_classes
            if any("class" in name for name in left) and other not in (None, self.classes):
                text += f" ({self.classes} classes instead of {other})"
        if self.kind == "detection" and any(name in HEADS for name in left):
            text += (". A 'detection' checkpoint gives the feature extractor only; the heads "
                     "train anew")
        return text


def mark(model) -> dict:
    """Offset every trainable variable by one, a mark that only a restore overwrites (comparing
    values alone would count a variable the checkpoint holds at its initial value, such as an
    unused layer's gamma of 1, as not restored); the values before, by variable."""
    before = {v.ref(): v.numpy().copy() for v in model.trainable_variables}
    for variable in model.trainable_variables:
        variable.assign(before[variable.ref()] + 1)
    return before


def restored(model, before: dict, checkpoint: str, kind: str, classes: int) -> Restored:
    """What the restore after mark() overwrote, per part; the variables it did not overwrite get
    their values from before back."""
    parts, missing = [], []
    for name, variables in model_parts(model):
        untouched = [v for v in variables if (v.numpy() == before[v.ref()] + 1).all()]
        for variable in untouched:
            variable.assign(before[variable.ref()])
        missing += [v.name for v in untouched]
        parts.append((name, len(variables) - len(untouched), len(variables)))
    return Restored(tuple(parts), kind, classes, checkpoint_classes(checkpoint), tuple(missing))
