"""The model block's template values, one function per meta-architecture (MODEL_VALUES).

Each gets the spec's model section, the sample's model part (odwrap.config.architectures), the
resizer context.py chose and the notes list, and returns what its template (ssd.j2,
faster_rcnn.j2, center_net.j2) prints. Spec keys an architecture does not take never get here:
spec.semantic_errors refuses them.
"""

from odwrap.config.architectures import CenterNetModel, FasterRcnnModel, Hyperparams, SsdModel
from odwrap.config.proto_text import proto_value

SSD_LEVELS = (3, 7)
DEFAULT_SECOND_STAGE_BATCH = 64  # faster_rcnn.proto's second_stage_batch_size


def hyperparams(hp: Hyperparams) -> dict:
    return {"activation": hp.activation, "l2": proto_value(hp.l2),
            "initializer": hp.initializer, "stddev": proto_value(hp.stddev),
            "bn_decay": proto_value(hp.bn_decay), "bn_epsilon": proto_value(hp.bn_epsilon),
            "bn_explicit_train_center": hp.bn_explicit_train_center,
            "force_use_bias": hp.force_use_bias}


def _first(*values):
    """The first value that is not None (a spec's value, else the sample's)."""
    return next(value for value in values if value is not None)


def _efficientdet_padding(spec_model, levels, resizer, notes) -> int:
    """EfficientDet's BiFPN resamples by exactly 2 up to its top level: pad odd sizes to
    2^max_level, unless the spec says what to pad to."""
    stride = 2 ** levels[1]
    if spec_model.pad_to_multiple is not None:
        return spec_model.pad_to_multiple
    if resizer["side"] % stride == 0:
        return 1
    notes.append(f"input padded to a multiple of {stride} (pad_to_multiple: {stride}): the BiFPN "
                 f"needs 2^{levels[1]}, and {resizer['side']} is not one")
    return stride


def ssd_values(spec_model, model: SsdModel, resizer: dict, notes: list) -> dict:
    levels = tuple(spec_model.fpn_levels or SSD_LEVELS)
    weight_shared = model.fpn or model.bifpn is not None
    pad = (_efficientdet_padding(spec_model, levels, resizer, notes) if model.bifpn
           else _first(spec_model.pad_to_multiple, 1))
    fpn_depth = _first(spec_model.fpn_depth, model.fpn_depth, 0)
    bifpn = None
    if model.bifpn is not None:
        bifpn = {"min_level": levels[0], "max_level": levels[1],
                 "num_iterations": model.bifpn.num_iterations,
                 "num_filters": _first(spec_model.fpn_depth, model.bifpn.num_filters),
                 "combine_method": None if model.bifpn.combine_method is None
                 else proto_value(model.bifpn.combine_method)}
    return {
        "add_background_class": model.add_background_class,
        "resizer": resizer,
        "anchors": {"multiscale": weight_shared, "min_level": levels[0],
                    "max_level": levels[1], "scales_per_octave": model.scales_per_octave},
        "feature_extractor": {
            "type": proto_value(model.feature_extractor),
            "use_depthwise": model.lite,
            "fpn": {"min_level": levels[0], "max_level": levels[1], "depth": fpn_depth}
            if model.fpn else None,
            "bifpn": bifpn,
            "depth_fields": {"min_depth": _first(spec_model.min_depth, 16),
                             "depth_multiplier": proto_value(
                                 float(_first(spec_model.depth_multiplier, 1.0)))}
            if model.extractor_depth_fields else None,
            "pad_to_multiple": pad,
            "hyperparams": hyperparams(model.extractor_hyperparams),
        },
        "box_predictor": {
            "weight_shared": weight_shared,
            "depth": _first(spec_model.predictor_depth, model.predictor_depth),
            "layers": _first(spec_model.predictor_layers, model.predictor_layers),
            "share_tower": model.lite,
            "depthwise": model.lite or model.predictor_depthwise,
            "hyperparams": hyperparams(model.predictor_hyperparams),
        },
        "loss": {"alpha": proto_value(model.focal_alpha), "gamma": proto_value(model.focal_gamma),
                 "smooth_l1_delta": None if model.smooth_l1_delta is None
                 else proto_value(model.smooth_l1_delta)},
        "nms": {"score_threshold": proto_value(_first(spec_model.score_threshold, 1e-8)),
                "iou_threshold": proto_value(_first(spec_model.iou_threshold,
                                                    model.iou_threshold)),
                "per_class": _first(spec_model.max_detections, 100),
                "total": _first(spec_model.max_detections, 100)},
    }


def faster_rcnn_values(spec_model, model: FasterRcnnModel, resizer: dict, notes: list) -> dict:
    proposals = _first(spec_model.proposals, model.proposals)
    second_stage_batch = None
    if proposals < DEFAULT_SECOND_STAGE_BATCH:  # training refuses a batch above the proposals
        second_stage_batch = proposals
        notes.append(f"second_stage_batch_size set to the {proposals} proposals (its default of "
                     f"{DEFAULT_SECOND_STAGE_BATCH} may not exceed first_stage_max_proposals)")
    levels = tuple(spec_model.fpn_levels or model.fpn_levels or ())
    mask = model.mask
    mask_size = spec_model.mask_size if spec_model.mask_size is not None else \
        (mask.size if mask else None)
    mask_height, mask_width = (mask_size, mask_size) if isinstance(mask_size, int) else \
        (mask_size or (None, None))
    return {
        "resizer": resizer,
        "feature_extractor": {
            "type": proto_value(model.feature_extractor),
            "batch_norm_trainable": model.batch_norm_trainable,
            "fpn": {"min_level": levels[0], "max_level": levels[1],
                    "depth": spec_model.fpn_depth} if model.fpn_levels else None,
            "hyperparams": hyperparams(model.extractor_hyperparams)
            if model.extractor_hyperparams else None,
        },
        "proposals": proposals,
        "second_stage_batch_size": second_stage_batch,
        "initial_crop_size": model.initial_crop_size,
        "maxpool": model.maxpool,
        "share_box_across_classes": model.share_box_across_classes,
        "tpu_switches": model.tpu_switches,
        "nms": {"score_threshold": proto_value(_first(spec_model.score_threshold, 0.0)),
                "iou_threshold": proto_value(_first(spec_model.iou_threshold, 0.6)),
                "per_class": _first(spec_model.max_detections, model.max_detections_per_class),
                "total": _first(spec_model.max_detections, model.max_total_detections)},
        "mask": None if mask is None else {
            "height": mask_height, "width": mask_width, "conv_depth": mask.conv_depth,
            "conv_layers": mask.conv_layers, "loss_weight": proto_value(mask.loss_weight),
            "number_of_stages": mask.number_of_stages, "resize_masks": mask.resize_masks},
    }


def _floats(values) -> str | None:
    """A repeated float field as proto text, or None when empty."""
    return "[" + ", ".join(proto_value(float(v)) for v in values) + "]" if values else None


def center_net_values(spec_model, model: CenterNetModel, resizer: dict, notes: list) -> dict:
    multiplier = spec_model.depth_multiplier
    return {
        "resizer": resizer,
        "feature_extractor": {
            "type": proto_value(model.feature_extractor),
            "bgr_ordering": model.bgr_ordering,
            "channel_means": _floats(model.channel_means),
            "channel_stds": _floats(model.channel_stds),
            "depth_multiplier": None if multiplier is None else proto_value(float(multiplier)),
            "use_separable_conv": model.use_separable_conv,
        },
        "use_depthwise": model.use_depthwise,
        "max_box_predictions": _first(spec_model.max_detections, 100),
    }


MODEL_VALUES = {"ssd": ssd_values, "faster_rcnn": faster_rcnn_values,
                "center_net": center_net_values}
