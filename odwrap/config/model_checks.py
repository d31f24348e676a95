"""The checks that belong to one meta-architecture (or its resizer): sizes its network cannot
take, stage settings its builder refuses, the mask head and the data it needs, and what the
evaluation of a sample config cannot run.

What each check says the OD API does was read in the installed source (tf-models-research-object-
detection 2.8.0.post1): the file is named in the comment above the check. Registered with the same
registry as odwrap.config.checks, which imports this module.
"""

from odwrap.config.findings import ERROR, WARNING, Finding, check
from odwrap.odapi import exports, facts

# models/ssd_*_keras_feature_extractor.py: shape_utils.check_min_image_dim(N, ...), before any
# pad_to_multiple. Longest prefix first.
SSD_MIN_SIDE = (("ssd_efficientnet-", 129), ("ssd_resnet", 129), ("ssd_mobilenet_", 33))
# The stride a CenterNet backbone's input must divide by: models/keras_models/hourglass_network.py
# (a 4x stem and N x2 stages joined by adds after upsampling), 32 for the ResNet and MobileNetV2
# backbones (stride 32, then three x2 upsamplings).
HOURGLASS_STRIDES = {"hourglass_104": 128, "hourglass_52": 128, "hourglass_32": 32,
                     "hourglass_20": 16, "hourglass_10": 8}
CENTER_NET_STRIDE = 32
EFFICIENTNET_TOP_LEVEL = 5  # the highest of ssd_efficientnet_bifpn_feature_extractor's endpoints
# models/center_net_mobilenet_v2*_feature_extractor.py: weights='imagenet' if depth_multiplier
# == 1.0, which tf.keras.applications downloads when the model is built.
IMAGENET_DOWNLOADERS = ("mobilenet_v2", "mobilenet_v2_fpn", "mobilenet_v2_fpn_sep_conv")
VARYING_RESIZERS = ("identity_resizer", "conditional_shape_resizer")


def _resizer_path(config) -> str:
    arch = facts.meta_architecture(config)
    return f"model.{arch}.image_resizer"


def _fits(side: int, stride: int) -> str:
    lower = (side // stride) * stride or stride
    return f"{lower} or {lower + stride}" if lower < side else str(lower)


@check("ODW017", "varying-input-batch")
def _varying_input_batch(config, target):
    # utils/config_util.get_spatial_image_size gives -1 x -1 for these; inputs.py then cannot
    # pad the images of a batch to one shape, and tf.data refuses to batch unequal ones.
    model = facts.model_config(config)
    if model is None or not hasattr(model, "image_resizer"):
        return []
    kind = model.image_resizer.WhichOneof("image_resizer_oneof")
    varying = kind in VARYING_RESIZERS or (
        kind == "keep_aspect_ratio_resizer"
        and not model.image_resizer.keep_aspect_ratio_resizer.pad_to_max_dimension)
    batch = config.train_config.batch_size  # the proto's 32 when train_config leaves it out
    if not varying or batch <= 1 or not config.HasField("train_config"):
        return []
    return [Finding("ODW017", ERROR, f"{_resizer_path(config)}.{kind}",
                    f"the {kind} gives images of varying size, and training batches {batch} of "
                    "them: the OD API cannot pad them to one shape, and batching fails as soon "
                    "as two differ", "set pad_to_max_dimension: true (every official sample "
                    "does), use a fixed_shape_resizer, or train with batch_size: 1")]


@check("ODW018", "min-input-size")
def _min_input_size(config, target):
    if facts.meta_architecture(config) != "ssd":
        return []
    kind = config.model.ssd.feature_extractor.type
    minimum = next((side for prefix, side in SSD_MIN_SIDE if kind.startswith(prefix)), None)
    size = facts.static_input_size(config)
    if minimum is None or size is None or min(size) >= minimum:
        return []
    return [Finding("ODW018", ERROR, _resizer_path(config),
                    f"input {size[0]}x{size[1]} is below the {minimum} pixels {kind} takes "
                    "(it raises 'image size must be >= "
                    f"{minimum} in both height and width')",
                    f"use an input of {minimum} or more (pad_to_multiple does not help: the "
                    "check comes first)")]


@check("ODW019", "bifpn-input-size")
def _bifpn_input_size(config, target):
    # utils/bifpn_utils.py: the BiFPN resamples by exactly 2 between all its levels and adds the
    # maps, so the input must divide by 2^max_level (128 for levels 3-7), or be padded to it.
    if facts.meta_architecture(config) != "ssd":
        return []
    extractor = config.model.ssd.feature_extractor
    size = facts.static_input_size(config)
    if not extractor.HasField("bifpn") or size is None:
        return []
    stride = 2 ** extractor.bifpn.max_level
    pad = extractor.pad_to_multiple
    bad = [side for side in size if side % stride]
    if not bad or (pad and pad % stride == 0):
        return []
    return [Finding("ODW019", ERROR, "model.ssd.feature_extractor",
                    f"input {size[0]}x{size[1]} is not a multiple of {stride} (2^"
                    f"{extractor.bifpn.max_level}, the BiFPN's top level) and pad_to_multiple "
                    f"is {pad or 1}: the BiFPN's adds fail with mismatched shapes",
                    f"set feature_extractor.pad_to_multiple: {stride}, or use a size such as "
                    f"{_fits(bad[0], stride)}")]


@check("ODW020", "centernet-input-stride")
def _center_net_stride(config, target):
    if facts.meta_architecture(config) != "center_net":
        return []
    kind = config.model.center_net.feature_extractor.type
    stride = HOURGLASS_STRIDES.get(kind, CENTER_NET_STRIDE)
    size = facts.static_input_size(config)
    bad = [side for side in (size or ()) if side % stride]
    if not bad:
        return []
    return [Finding("ODW020", ERROR, "model.center_net.image_resizer",
                    f"input {size[0]}x{size[1]} is not a multiple of {stride}, the stride of "
                    f"{kind}: its upsampled features no longer match the skip connections or "
                    "the targets (CenterNet has no pad_to_multiple)",
                    f"use a size such as {_fits(bad[0], stride)}")]


@check("ODW021", "faster-rcnn-stages")
def _faster_rcnn_stages(config, target):
    # builders/model_builder.py (_build_faster_rcnn_model, the Keras extractor builder),
    # meta_architectures/faster_rcnn_meta_arch.py and models/faster_rcnn_resnet_keras_*.py.
    if facts.meta_architecture(config) != "faster_rcnn":
        return []
    frcnn, where, found = config.model.faster_rcnn, "model.faster_rcnn", []

    def error(field, message, hint):
        found.append(Finding("ODW021", ERROR, f"{where}.{field}", message, hint))

    if frcnn.second_stage_batch_size > frcnn.first_stage_max_proposals:
        error("second_stage_batch_size",
              f"second_stage_batch_size {frcnn.second_stage_batch_size} is above "
              f"first_stage_max_proposals {frcnn.first_stage_max_proposals}; training refuses "
              "it ('should be no greater than first_stage_max_proposals')",
              f"set second_stage_batch_size: {frcnn.first_stage_max_proposals} or less (its "
              "default is 64)")
    if not 0.0 <= frcnn.first_stage_nms_iou_threshold <= 1.0:
        error("first_stage_nms_iou_threshold",
              f"first_stage_nms_iou_threshold {frcnn.first_stage_nms_iou_threshold:g} is not in "
              "[0, 1]; the builder refuses it", "the samples use 0.7")
    if not 1 <= frcnn.number_of_stages <= 3:
        error("number_of_stages", f"number_of_stages {frcnn.number_of_stages} is not 1, 2 or 3",
              "2 for Faster R-CNN, 3 for Mask R-CNN")
    if frcnn.inplace_batchnorm_update:
        error("inplace_batchnorm_update", "TF2 Faster R-CNN refuses inplace_batchnorm_update "
              "('inplace batchnorm updates not supported')", "remove it")
    extractor = frcnn.feature_extractor
    stride = extractor.first_stage_features_stride
    plain_resnet = extractor.type.startswith("faster_rcnn_resnet") and "_fpn" not in extractor.type
    allowed = (16,) if plain_resnet else (8, 16)
    if stride not in allowed:
        error("feature_extractor.first_stage_features_stride",
              f"first_stage_features_stride {stride}: {extractor.type} takes "
              f"{' or '.join(map(str, allowed))}", "remove it (the default is 16)")
    return found


@check("ODW022", "mask-head")
def _mask_head(config, target):
    if not facts.predicts_masks(config):
        return []
    frcnn = config.model.faster_rcnn
    predictor = frcnn.second_stage_box_predictor.mask_rcnn_box_predictor
    path = "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor"
    found = []
    if not config.train_input_reader.load_instance_masks:
        # meta_architectures/faster_rcnn_meta_arch.py raises in the loss.
        found.append(Finding("ODW022", ERROR, "train_input_reader.load_instance_masks",
                             "the model predicts masks but the training reader loads none; the "
                             "loss raises 'Groundtruth instance masks not provided'",
                             "set load_instance_masks: true and mask_type: PNG_MASKS (odwrap "
                             "convert --masks writes PNG masks)"))
    # predictors/heads/keras_mask_head.py: upsampling by mask_size // ROI side, an integer.
    roi = frcnn.initial_crop_size // max(frcnn.maxpool_stride, 1)
    sides = (predictor.mask_height, predictor.mask_width)
    if predictor.convolve_then_upsample_masks and roi and any(side % roi for side in sides):
        found.append(Finding("ODW022", ERROR, f"{path}.mask_height",
                             f"convolve_then_upsample_masks upsamples the {roi}x{roi} ROI "
                             f"features by a whole factor, which cannot give {sides[0]}x"
                             f"{sides[1]} masks", f"use a mask size that is a multiple of {roi}, "
                             "or convolve_then_upsample_masks: false"))
    metrics = set(config.eval_config.metrics_set)
    if "coco_mask_metrics" in metrics and config.eval_input_reader and \
            not config.eval_input_reader[0].load_instance_masks:
        found.append(Finding("ODW022", WARNING, "eval_input_reader[0].load_instance_masks",
                             "coco_mask_metrics needs the evaluation records' masks, and the "
                             "evaluation reader loads none",
                             "set load_instance_masks: true and mask_type: PNG_MASKS"))
    return found


@check("ODW023", "scale-crop-output-size")
def _scale_crop_output_size(config, target):
    size = facts.static_input_size(config)
    if size is None:
        return []
    found = []
    for index, step in enumerate(config.train_config.data_augmentation_options):
        if step.WhichOneof("preprocessing_step") != "random_scale_crop_and_pad_to_square":
            continue
        output = step.random_scale_crop_and_pad_to_square.output_size
        if output != max(size):
            found.append(Finding(
                "ODW023", WARNING, f"train_config.data_augmentation_options[{index}]"
                ".random_scale_crop_and_pad_to_square.output_size",
                f"the crops are {output}x{output} (the proto's default is 512) and the model's "
                f"input is {size[0]}x{size[1]}: every image is resized twice, and at another "
                "scale than the samples train on", f"set output_size: {max(size)}"))
    return found


@check("ODW024", "imagenet-download")
def _imagenet_download(config, target):
    if facts.meta_architecture(config) != "center_net":
        return []
    extractor = config.model.center_net.feature_extractor
    if extractor.type not in IMAGENET_DOWNLOADERS or (
            extractor.HasField("depth_multiplier") and extractor.depth_multiplier != 1.0):
        return []
    return [Finding("ODW024", WARNING, "model.center_net.feature_extractor.depth_multiplier",
                    f"{extractor.type} at depth_multiplier 1.0 downloads the ImageNet weights "
                    "of Keras' MobileNetV2 whenever the model is built; without network access "
                    "(and no copy in ~/.keras/models) building fails",
                    "build once with network access, or set a depth_multiplier other than 1.0 "
                    "(then the backbone starts from scratch)")]


@check("ODW025", "tflite-export-resizer")
def _tflite_export_resizer(config, target):
    # export_tflite_graph_lib_tf2.py: SSD and CenterNet raise 'Only fixed_shape_resizer is
    # supported with tflite' (the Edge TPU's own refusal is ODW008).
    if "tflite" not in target.export_targets or facts.fixed_input_size(config) is not None:
        return []
    arch = facts.meta_architecture(config)
    if arch not in exports.ARCHITECTURES["tflite"]:
        return []  # ODW028 refuses the target
    kind = getattr(config.model, arch).image_resizer.WhichOneof("image_resizer_oneof")
    return [Finding("ODW025", ERROR, f"model.{arch}.image_resizer",
                    f"the TFLite export takes only a fixed_shape_resizer, and this one is "
                    f"{kind or 'not set'} (export_tflite_graph_tf2 raises 'Only "
                    "fixed_shape_resizer is supported with tflite')",
                    "export a SavedModel, or train with a fixed_shape_resizer")]


@check("ODW026", "metrics-per-category")
def _metrics_per_category(config, target):
    # metrics/coco_tools.py ComputeMetrics reads COCOeval.category_stats, which Google's own
    # pycocotools computes and the released one does not: every COCO evaluation raises.
    metrics = config.eval_config.metrics_set  # none: coco_detection_metrics
    coco = not metrics or any(metric.startswith("coco_") for metric in metrics)
    if not config.eval_config.include_metrics_per_category or not coco:
        return []
    return [Finding("ODW026", ERROR, "eval_config.include_metrics_per_category",
                    "the COCO evaluators need per-category stats that the released pycocotools "
                    "does not compute: every evaluation raises 'Category stats do not exist' "
                    "(the Mask R-CNN sample config sets it)",
                    "remove it: odwrap eval reports AP, AP@.50, AP@.75 and AR@100 per class "
                    "without it (metrics.json's per_class, and the table)")]


@check("ODW027", "bifpn-top-level")
def _bifpn_top_level(config, target):
    # models/bidirectional_feature_pyramid_generators.py, _create_bifpn_node_config: the first
    # top-down node takes the last level added above the backbone's top (EfficientNet's level 5,
    # ssd_efficientnet_bifpn_feature_extractor.py); with max_level 5 or less there is none, and
    # the builder raises IndexError.
    if facts.meta_architecture(config) != "ssd":
        return []
    extractor = config.model.ssd.feature_extractor
    if not extractor.HasField("bifpn") or extractor.bifpn.max_level > EFFICIENTNET_TOP_LEVEL:
        return []
    return [Finding("ODW027", ERROR, "model.ssd.feature_extractor.bifpn.max_level",
                    f"max_level {extractor.bifpn.max_level}: the OD API's BiFPN needs at least "
                    f"one level above the EfficientNet's top level {EFFICIENTNET_TOP_LEVEL}; "
                    "building it raises IndexError",
                    f"use max_level {EFFICIENTNET_TOP_LEVEL + 1} or more (the samples use 7)")]


@check("ODW028", "export-architecture")
def _export_architecture(config, target):
    arch = facts.meta_architecture(config)
    if arch is None:
        return []
    kind = "Mask R-CNN" if facts.predicts_masks(config) else exports.NAMES.get(arch, arch)
    found = []
    for fmt in dict.fromkeys(target.export_targets):
        refused = exports.refusal(fmt, arch, kind)
        if refused:
            found.append(Finding("ODW028", ERROR, "export.targets",
                                 f"{fmt}: {refused.rsplit('; ', 1)[0]}",
                                 f"{refused.rsplit('; ', 1)[1]} (a target it takes)"))
    return found


@check("ODW031", "tflite-keypoints")
def _tflite_keypoints(config, target):
    found = []
    for fmt in dict.fromkeys(target.export_targets):
        refused = facts.keypoint_refusal(config, fmt)
        if refused:
            found.append(Finding("ODW031", ERROR, "export.targets",
                                 f"{fmt}: {refused.rsplit('; ', 1)[0]}",
                                 refused.rsplit("; ", 1)[1]))
    return found
