"""Generated configs against the official TF2 sample configs, field by field on parsed protos.

The expected values are the samples' (tensorflow/models research/object_detection/configs/tf2),
written out here independently of odwrap's own architecture table: a dict of what a family's
samples share and one of what differs per member. Left out of the comparison: input and label
map paths, the checkpoint path, and the TF1-only sync_replicas, replicas_to_aggregate and
startup_delay_steps. Also left out, per sample:
- SSD samples that do not write eval_config.batch_size: odwrap writes the proto's 1;
- centernet_resnet50_v2: its sample's Google-internal input readers (ordinary TFRecord readers
  here);
- mask_rcnn_inception_resnet_v2: its include_metrics_per_category: true, which needs per-category
  stats that pycocotools' COCOeval does not compute (eval raises; check ODW026).
The ids ending in -derived have no sample config (see odwrap/config/architectures/*.py): they pin
the derivation, not a sample:
- centernet-resnet50-v1-fpn: the _kpts sample without its keypoint task, keypoint flip
  permutation, num_keypoints and keypoint evaluation (visualizations, keypoint metrics);
- centernet-mobilenet-v2-fpn: an unofficial copy of the _kpts zoo tarball's config without the
  keypoint parts and filenames_shuffle_buffer_size, max_box_predictions 100 (the copy's 20 is for
  one class) and use_separable_conv written out;
- faster-rcnn-inception-resnet-v2: the ResNet TPU sample of the size with the
  Inception-ResNet-V2 parts of the Mask R-CNN sample (type, initial_crop_size 17, maxpool 1);
- mask-rcnn-resnet50-v1: the Mask R-CNN sample at the size with the ResNet50 V1 parts of the
  Faster R-CNN ResNet50 V1 samples (type, initial_crop_size 14, maxpool 2).
"""

import pytest

from odwrap.config.loader import render_spec
from odwrap.config.spec import load_spec
from tests.protoflat import flatten

SSD = "model.ssd."
FE = SSD + "feature_extractor."
WSP = SSD + "box_predictor.weight_shared_convolutional_box_predictor."
COSINE = "train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate."
CROP = "train_config.data_augmentation_options[1].random_crop_image."


def _hyperparams(prefix, l2, initializer, stddev):
    return {
        prefix + "activation": "RELU_6",
        prefix + "regularizer.l2_regularizer.weight": l2,
        prefix + f"initializer.{initializer}.stddev": stddev,
        prefix + f"initializer.{initializer}.mean": 0.0,
        prefix + "batch_norm.scale": True,
        prefix + "batch_norm.decay": 0.997,
        prefix + "batch_norm.epsilon": 0.001,
    }


COMMON = {
    SSD + "inplace_batchnorm_update": True,
    SSD + "freeze_batchnorm": False,
    SSD + "num_classes": 90,
    SSD + "box_coder.faster_rcnn_box_coder.y_scale": 10.0,
    SSD + "box_coder.faster_rcnn_box_coder.x_scale": 10.0,
    SSD + "box_coder.faster_rcnn_box_coder.height_scale": 5.0,
    SSD + "box_coder.faster_rcnn_box_coder.width_scale": 5.0,
    SSD + "matcher.argmax_matcher.matched_threshold": 0.5,
    SSD + "matcher.argmax_matcher.unmatched_threshold": 0.5,
    SSD + "matcher.argmax_matcher.ignore_thresholds": False,
    SSD + "matcher.argmax_matcher.negatives_lower_than_unmatched": True,
    SSD + "matcher.argmax_matcher.force_match_for_each_row": True,
    SSD + "matcher.argmax_matcher.use_matmul_gather": True,
    SSD + "similarity_calculator.iou_similarity": {},
    SSD + "encode_background_as_zeros": True,
    FE + "min_depth": 16,
    FE + "depth_multiplier": 1.0,
    FE + "override_base_feature_extractor_hyperparams": True,
    SSD + "loss.classification_loss.weighted_sigmoid_focal.gamma": 2.0,
    SSD + "loss.classification_weight": 1.0,
    SSD + "loss.localization_weight": 1.0,
    SSD + "normalize_loss_by_num_matches": True,
    SSD + "normalize_loc_loss_by_codesize": True,
    SSD + "post_processing.batch_non_max_suppression.score_threshold": 1e-8,
    SSD + "post_processing.batch_non_max_suppression.iou_threshold": 0.6,
    SSD + "post_processing.batch_non_max_suppression.max_detections_per_class": 100,
    SSD + "post_processing.batch_non_max_suppression.max_total_detections": 100,
    SSD + "post_processing.score_converter": "SIGMOID",
    "train_config.fine_tune_checkpoint_version": "V2",
    "train_config.fine_tune_checkpoint_type": "classification",
    "train_config.data_augmentation_options[0].random_horizontal_flip": {},
    "train_config.optimizer.momentum_optimizer.momentum_optimizer_value": 0.9,
    "train_config.optimizer.use_moving_average": False,
    "train_config.max_number_of_boxes": 100,
    "train_config.unpad_groundtruth_tensors": False,
    "eval_config.metrics_set": ["coco_detection_metrics"],
    "eval_config.use_moving_averages": False,
    "eval_config.batch_size": 1,
    "eval_input_reader[0].shuffle": False,
    "eval_input_reader[0].num_epochs": 1,
}

FPN_COMMON = {
    **COMMON,
    SSD + "anchor_generator.multiscale_anchor_generator.min_level": 3,
    SSD + "anchor_generator.multiscale_anchor_generator.max_level": 7,
    SSD + "anchor_generator.multiscale_anchor_generator.anchor_scale": 4.0,
    SSD + "anchor_generator.multiscale_anchor_generator.aspect_ratios": [1.0, 2.0, 0.5],
    SSD + "anchor_generator.multiscale_anchor_generator.scales_per_octave": 2,
    WSP + "class_prediction_bias_init": -4.6,
    WSP + "num_layers_before_predictor": 4,
    WSP + "kernel_size": 3,
    FE + "fpn.min_level": 3,
    FE + "fpn.max_level": 7,
    SSD + "loss.classification_loss.weighted_sigmoid_focal.alpha": 0.25,
    SSD + "loss.localization_loss.weighted_smooth_l1": {},
    CROP + "min_object_covered": 0.0,
    CROP + "min_aspect_ratio": 0.75,
    CROP + "max_aspect_ratio": 3.0,
    CROP + "min_area": 0.75,
    CROP + "max_area": 1.0,
    CROP + "overlap_thresh": 0.0,
}


def _size(height):
    return {SSD + "image_resizer.fixed_shape_resizer.height": height,
            SSD + "image_resizer.fixed_shape_resizer.width": height}


def _schedule(base, warmup_lr, warmup_steps, steps):
    return {COSINE + "learning_rate_base": base, COSINE + "total_steps": steps,
            COSINE + "warmup_learning_rate": warmup_lr, COSINE + "warmup_steps": warmup_steps,
            "train_config.num_steps": steps}


def fpnlite(height):
    return {
        **FPN_COMMON, **_size(height),
        FE + "type": "ssd_mobilenet_v2_fpn_keras",
        FE + "use_depthwise": True,
        FE + "fpn.additional_layer_depth": 128,
        **_hyperparams(FE + "conv_hyperparams.", 0.00004, "random_normal_initializer", 0.01),
        WSP + "depth": 128,
        WSP + "share_prediction_tower": True,
        WSP + "use_depthwise": True,
        **_hyperparams(WSP + "conv_hyperparams.", 0.00004, "random_normal_initializer", 0.01),
        "train_config.batch_size": 128,
        **_schedule(0.08, 0.026666, 1000, 50000),
    }


def mobilenet_v1_fpn():
    return {
        **FPN_COMMON, **_size(640),
        FE + "type": "ssd_mobilenet_v1_fpn_keras",
        **_hyperparams(FE + "conv_hyperparams.", 0.00004, "random_normal_initializer", 0.01),
        WSP + "depth": 256,
        **_hyperparams(WSP + "conv_hyperparams.", 0.00004, "random_normal_initializer", 0.01),
        "train_config.batch_size": 64,
        **_schedule(0.04, 0.013333, 2000, 25000),
    }


def retinanet(depth, height):
    return {
        **FPN_COMMON, **_size(height),
        FE + "type": f"ssd_resnet{depth}_v1_fpn_keras",
        **_hyperparams(FE + "conv_hyperparams.", 0.0004, "truncated_normal_initializer", 0.03),
        WSP + "depth": 256,
        **_hyperparams(WSP + "conv_hyperparams.", 0.0004, "random_normal_initializer", 0.01),
        "train_config.batch_size": 64,
        "train_config.use_bfloat16": True,
        **_schedule(0.04, 0.013333, 2000, 25000 if height == 640 else 100000),
    }


def mobilenet_v2_classic():
    cbp = SSD + "box_predictor.convolutional_box_predictor."
    anchors = SSD + "anchor_generator.ssd_anchor_generator."
    expected = {
        **COMMON, **_size(300),
        anchors + "num_layers": 6,
        anchors + "min_scale": 0.2,
        anchors + "max_scale": 0.95,
        anchors + "aspect_ratios": [1.0, 2.0, 0.5, 3.0, 0.3333],
        cbp + "min_depth": 0,
        cbp + "max_depth": 0,
        cbp + "num_layers_before_predictor": 0,
        cbp + "use_dropout": False,
        cbp + "dropout_keep_probability": 0.8,
        cbp + "kernel_size": 1,
        cbp + "box_code_size": 4,
        cbp + "apply_sigmoid_to_scores": False,
        cbp + "class_prediction_bias_init": -4.6,
        FE + "type": "ssd_mobilenet_v2_keras",
        SSD + "loss.classification_loss.weighted_sigmoid_focal.alpha": 0.75,
        SSD + "loss.localization_loss.weighted_smooth_l1.delta": 1.0,
        "train_config.data_augmentation_options[1].ssd_random_crop": {},
        "train_config.batch_size": 512,
        **_schedule(0.8, 0.13333, 2000, 50000),
    }
    for prefix, initializer, stddev in ((FE, "truncated_normal_initializer", 0.03),
                                        (cbp, "random_normal_initializer", 0.01)):
        expected.update(_hyperparams(prefix + "conv_hyperparams.", 0.00004, initializer, stddev))
        expected[prefix + "conv_hyperparams.batch_norm.decay"] = 0.97
        expected[prefix + "conv_hyperparams.batch_norm.train"] = True
        expected[prefix + "conv_hyperparams.batch_norm.center"] = True
    return expected


def _momentum(base, warmup_lr, warmup_steps, steps):
    return {"train_config.optimizer.momentum_optimizer.momentum_optimizer_value": 0.9,
            **_schedule(base, warmup_lr, warmup_steps, steps)}


def _augmentations(*steps):
    """{data_augmentation_options[i].step.field: value} of (step, {field: value}) pairs."""
    out = {}
    for index, (name, fields) in enumerate(steps):
        prefix = f"train_config.data_augmentation_options[{index}].{name}"
        out.update({f"{prefix}.{key}": value for key, value in fields.items()} or {prefix: {}})
    return out


def _keep_aspect(prefix, low, high):
    resizer = prefix + "image_resizer.keep_aspect_ratio_resizer."
    return {resizer + "min_dimension": low, resizer + "max_dimension": high,
            resizer + "pad_to_max_dimension": True}


def _fixed(prefix, height, width):
    resizer = prefix + "image_resizer.fixed_shape_resizer."
    return {resizer + "height": height, resizer + "width": width}


TRAIN_EVAL = {
    "train_config.fine_tune_checkpoint_version": "V2",
    "train_config.fine_tune_checkpoint_type": "classification",
    "train_config.optimizer.use_moving_average": False,
    "eval_config.metrics_set": ["coco_detection_metrics"],
    "eval_config.use_moving_averages": False,
    "eval_config.batch_size": 1,
    "eval_input_reader[0].shuffle": False,
    "eval_input_reader[0].num_epochs": 1,
}
# The TPU samples pad the ground truth to a static shape.
PADDED = {"train_config.max_number_of_boxes": 100, "train_config.unpad_groundtruth_tensors": False}
FLIP = ("random_horizontal_flip", {})
COLOR = (("random_adjust_hue", {}), ("random_adjust_contrast", {}),
         ("random_adjust_saturation", {}))
SQUARE_CROP = ("random_square_crop_by_scale", {"scale_min": 0.6, "scale_max": 1.3})


# EfficientDet D0-D7 (ssd_efficientdet_dN_SxS_coco17_tpu-8|32).

def efficientdet(level):
    side, backbone, iterations, filters, layers = {
        0: (512, 0, 3, 64, 3), 1: (640, 1, 4, 88, 3), 2: (768, 2, 5, 112, 3),
        3: (896, 3, 6, 160, 4), 4: (1024, 4, 7, 224, 4), 5: (1280, 5, 7, 288, 4),
        6: (1408, 6, 8, 384, 5), 7: (1536, 6, 8, 384, 5)}[level]
    anchors = SSD + "anchor_generator.multiscale_anchor_generator."
    expected = {
        **{key: value for key, value in COMMON.items()
           if not key.startswith((FE, SSD + "post_processing", "train_config.data_aug"))},
        SSD + "add_background_class": False,
        anchors + "min_level": 3,
        anchors + "max_level": 7,
        anchors + "anchor_scale": 4.0,
        anchors + "aspect_ratios": [1.0, 2.0, 0.5],
        anchors + "scales_per_octave": 3,
        **_keep_aspect(SSD, side, side),
        WSP + "depth": filters,
        WSP + "class_prediction_bias_init": -4.6,
        WSP + "num_layers_before_predictor": layers,
        WSP + "kernel_size": 3,
        WSP + "use_depthwise": True,
        FE + "type": f"ssd_efficientnet-b{backbone}_bifpn_keras",
        FE + "bifpn.min_level": 3,
        FE + "bifpn.max_level": 7,
        FE + "bifpn.num_iterations": iterations,
        FE + "bifpn.num_filters": filters,
        SSD + "loss.classification_loss.weighted_sigmoid_focal.alpha": 0.25,
        SSD + "loss.classification_loss.weighted_sigmoid_focal.gamma": 1.5,
        SSD + "loss.localization_loss.weighted_smooth_l1": {},
        SSD + "post_processing.batch_non_max_suppression.score_threshold": 1e-8,
        SSD + "post_processing.batch_non_max_suppression.iou_threshold": 0.5,
        SSD + "post_processing.batch_non_max_suppression.max_detections_per_class": 100,
        SSD + "post_processing.batch_non_max_suppression.max_total_detections": 100,
        SSD + "post_processing.score_converter": "SIGMOID",
        "train_config.batch_size": 128,
        "train_config.use_bfloat16": True,
        **_augmentations(FLIP, ("random_scale_crop_and_pad_to_square",
                                {"output_size": side, "scale_min": 0.1, "scale_max": 2.0})),
        **_momentum(0.08, 0.001, 2500, 300000),
    }
    if level >= 6:
        expected[FE + "bifpn.combine_method"] = "sum"
    for prefix, initializer, stddev in ((FE, "truncated_normal_initializer", 0.03),
                                        (WSP, "random_normal_initializer", 0.01)):
        expected.update(_hyperparams(prefix + "conv_hyperparams.", 0.00004, initializer, stddev))
        expected[prefix + "conv_hyperparams.activation"] = "SWISH"
        expected[prefix + "conv_hyperparams.batch_norm.decay"] = 0.99
        expected[prefix + "conv_hyperparams.force_use_bias"] = True
    return side, expected


# CenterNet, boxes only (centernet_*_512x512|1024x1024_coco17_tpu-8|32).

CN = "model.center_net."
ADAM = "train_config.optimizer.adam_optimizer."
CENTER_NET_COMMON = {
    **TRAIN_EVAL, **PADDED,
    CN + "num_classes": 90,
    CN + "object_detection_task.task_loss_weight": 1.0,
    CN + "object_detection_task.offset_loss_weight": 1.0,
    CN + "object_detection_task.scale_loss_weight": 0.1,
    CN + "object_detection_task.localization_loss.l1_localization_loss": {},
    CN + "object_center_params.object_center_loss_weight": 1.0,
    CN + "object_center_params.min_box_overlap_iou": 0.7,
    CN + "object_center_params.max_box_predictions": 100,
    CN + "object_center_params.classification_loss.penalty_reduced_logistic_focal_loss.alpha": 2.0,
    CN + "object_center_params.classification_loss.penalty_reduced_logistic_focal_loss.beta": 4.0,
    "train_config.batch_size": 128,
    ADAM + "epsilon": 1e-7,
}
CROP = ("random_crop_image", {"min_aspect_ratio": 0.5, "max_aspect_ratio": 1.7,
                              "random_coef": 0.25})
PAD = ("random_absolute_pad_image", {"max_height_padding": 200, "max_width_padding": 200,
                                     "pad_color": [0.0, 0.0, 0.0]})
BRIGHTNESS = ("random_adjust_brightness", {})
HOURGLASS = {CN + "feature_extractor.type": "hourglass_104",
             CN + "feature_extractor.bgr_ordering": True,
             CN + "feature_extractor.channel_means": [104.01362025, 114.03422265, 119.9165958],
             CN + "feature_extractor.channel_stds": [73.6027665, 69.89082075, 70.9150767],
             "train_config.fine_tune_checkpoint_type": "detection"}


def _adam_cosine(base, warmup_lr, warmup_steps, steps):
    cosine = ADAM + "learning_rate.cosine_decay_learning_rate."
    return {cosine + "learning_rate_base": base, cosine + "total_steps": steps,
            cosine + "warmup_learning_rate": warmup_lr, cosine + "warmup_steps": warmup_steps,
            "train_config.num_steps": steps}


MANUAL_STEPS = {
    ADAM + "learning_rate.manual_step_learning_rate.initial_learning_rate": 1e-3,
    ADAM + "learning_rate.manual_step_learning_rate.schedule[0].step": 90000,
    ADAM + "learning_rate.manual_step_learning_rate.schedule[0].learning_rate": 1e-4,
    ADAM + "learning_rate.manual_step_learning_rate.schedule[1].step": 120000,
    ADAM + "learning_rate.manual_step_learning_rate.schedule[1].learning_rate": 1e-5,
    "train_config.num_steps": 140000,
}
CROP_AND_PAD = _augmentations(FLIP, CROP, *COLOR, BRIGHTNESS, PAD)


def center_net(backbone, side=512):
    expected = {**CENTER_NET_COMMON, **_keep_aspect(CN, side, side)}
    if backbone == "hourglass104" and side == 512:
        return {**expected, **HOURGLASS, **CROP_AND_PAD, **MANUAL_STEPS}
    if backbone == "hourglass104":
        return {**expected, **HOURGLASS, **_adam_cosine(1e-3, 2.5e-4, 5000, 50000),
                **_augmentations(FLIP, *COLOR, BRIGHTNESS, SQUARE_CROP)}
    if backbone == "resnet101_v1_fpn":
        return {**expected, CN + "feature_extractor.type": "resnet_v1_101_fpn", **CROP_AND_PAD,
                **MANUAL_STEPS}
    if backbone == "mobilenet_v2_fpn":  # derived, see the module docstring
        return {**expected, CN + "feature_extractor.type": "mobilenet_v2_fpn_sep_conv",
                CN + "feature_extractor.use_separable_conv": True, CN + "use_depthwise": True,
                "train_config.batch_size": 512, ADAM + "epsilon": None,
                **_adam_cosine(5e-3, 1e-4, 5000, 300000),
                **_augmentations(FLIP, ("random_patch_gaussian", {}), CROP, *COLOR,
                                 BRIGHTNESS, PAD)}
    types = {"resnet50_v2": "resnet_v2_50", "resnet50_v1_fpn": "resnet_v1_50_fpn"}
    return {**expected, CN + "feature_extractor.type": types[backbone], **CROP_AND_PAD,
            **_adam_cosine(1e-3, 2.5e-4, 5000, 250000)}


# Faster R-CNN and Mask R-CNN (faster_rcnn_*, mask_rcnn_*).

FR = "model.faster_rcnn."
MRP = FR + "second_stage_box_predictor.mask_rcnn_box_predictor."
NMS2 = FR + "second_stage_post_processing.batch_non_max_suppression."
FASTER_RCNN_COMMON = {
    **TRAIN_EVAL,
    FR + "num_classes": 90,
    FR + "first_stage_box_predictor_conv_hyperparams.op": "CONV",
    FR + "first_stage_box_predictor_conv_hyperparams.regularizer.l2_regularizer.weight": 0.0,
    FR + "first_stage_box_predictor_conv_hyperparams.initializer.truncated_normal_initializer"
         ".stddev": 0.01,
    FR + "first_stage_nms_score_threshold": 0.0,
    FR + "first_stage_nms_iou_threshold": 0.7,
    FR + "first_stage_max_proposals": 300,
    FR + "first_stage_localization_loss_weight": 2.0,
    FR + "first_stage_objectness_loss_weight": 1.0,
    FR + "initial_crop_size": 14,
    FR + "maxpool_kernel_size": 2,
    FR + "maxpool_stride": 2,
    MRP + "use_dropout": False,
    MRP + "dropout_keep_probability": 1.0,
    MRP + "fc_hyperparams.op": "FC",
    MRP + "fc_hyperparams.regularizer.l2_regularizer.weight": 0.0,
    MRP + "fc_hyperparams.initializer.variance_scaling_initializer.factor": 1.0,
    MRP + "fc_hyperparams.initializer.variance_scaling_initializer.uniform": True,
    MRP + "fc_hyperparams.initializer.variance_scaling_initializer.mode": "FAN_AVG",
    NMS2 + "score_threshold": 0.0,
    NMS2 + "iou_threshold": 0.6,
    NMS2 + "max_detections_per_class": 100,
    FR + "second_stage_post_processing.score_converter": "SOFTMAX",
    FR + "second_stage_localization_loss_weight": 2.0,
    FR + "second_stage_classification_loss_weight": 1.0,
}
GRID = {FR + "first_stage_anchor_generator.grid_anchor_generator.scales": [0.25, 0.5, 1.0, 2.0],
        FR + "first_stage_anchor_generator.grid_anchor_generator.aspect_ratios": [0.5, 1.0, 2.0],
        FR + "first_stage_anchor_generator.grid_anchor_generator.height_stride": 16,
        FR + "first_stage_anchor_generator.grid_anchor_generator.width_stride": 16}
TPU_SAMPLE = {
    **PADDED,
    FR + "feature_extractor.batch_norm_trainable": True,
    NMS2 + "max_total_detections": 300,
    FR + "use_static_shapes": True,
    FR + "use_matmul_crop_and_resize": True,
    FR + "clip_anchors_to_image": True,
    FR + "use_static_balanced_label_sampler": True,
    FR + "use_matmul_gather_in_matcher": True,
    "train_config.batch_size": 64,
    "train_config.use_bfloat16": True,
}
GPU_SAMPLE = {NMS2 + "max_total_detections": 100, "train_config.batch_size": 16,
              "train_config.gradient_clipping_by_norm": 10.0}
IRV2 = {FR + "feature_extractor.type": "faster_rcnn_inception_resnet_v2_keras",
        FR + "initial_crop_size": 17, FR + "maxpool_kernel_size": 1, FR + "maxpool_stride": 1}


def faster_rcnn(backbone, size):
    """ResNet{50,101,152} V1 at 640, 1024 and (800, 1333); inception_resnet_v2 (derived)."""
    expected = {**FASTER_RCNN_COMMON, **GRID,
                FR + "feature_extractor.type": f"faster_rcnn_{backbone}_keras"}
    if size == (800, 1333):
        return {**expected, **GPU_SAMPLE, **_keep_aspect(FR, 800, 1333),
                **_augmentations(FLIP, *COLOR, SQUARE_CROP),
                **_momentum(0.01, 0.0, 5000, 200000)}
    expected.update({**TPU_SAMPLE, MRP + "share_box_across_classes": True})
    if backbone == "inception_resnet_v2":
        expected.update(IRV2)
    if size == 640:
        return {**expected, **_keep_aspect(FR, 640, 640), **_augmentations(FLIP),
                **_momentum(0.04, 0.013333, 2000, 25000)}
    return {**expected, **_fixed(FR, 1024, 1024), **_augmentations(FLIP, *COLOR, SQUARE_CROP),
            **_momentum(0.04, 0.013333, 2000, 100000)}


def faster_rcnn_fpn():
    anchors = FR + "first_stage_anchor_generator.multiscale_anchor_generator."
    return {
        **FASTER_RCNN_COMMON, **TPU_SAMPLE, **_keep_aspect(FR, 640, 640),
        FR + "feature_extractor.type": "faster_rcnn_resnet50_fpn_keras",
        FR + "feature_extractor.fpn.min_level": 2,
        FR + "feature_extractor.fpn.max_level": 6,
        **_hyperparams(FR + "feature_extractor.conv_hyperparams.", 0.0004,
                       "truncated_normal_initializer", 0.03),
        FR + "feature_extractor.override_base_feature_extractor_hyperparams": True,
        anchors + "min_level": 2,
        anchors + "max_level": 6,
        anchors + "anchor_scale": 4.0,
        anchors + "aspect_ratios": [1.0, 2.0, 0.5],
        anchors + "scales_per_octave": 2,
        anchors + "normalize_coordinates": False,
        **_augmentations(FLIP),
        **_momentum(0.04, 0.013333, 2000, 25000),
    }


def mask_rcnn(backbone="inception_resnet_v2", size=1024):
    """The Inception-ResNet-V2 1024 sample; resnet50_v1 (derived): its ResNet50 V1 parts."""
    masks = {"load_instance_masks": True, "mask_type": "PNG_MASKS"}
    parts = IRV2 if backbone == "inception_resnet_v2" else \
        {FR + "feature_extractor.type": "faster_rcnn_resnet50_keras"}
    return {
        **FASTER_RCNN_COMMON, **GRID, **GPU_SAMPLE, **parts, **_fixed(FR, size, size),
        FR + "number_of_stages": 3,
        MRP + "mask_height": 33,
        MRP + "mask_width": 33,
        MRP + "mask_prediction_conv_depth": 0,
        MRP + "mask_prediction_num_conv_layers": 4,
        MRP + "conv_hyperparams.op": "CONV",
        MRP + "conv_hyperparams.regularizer.l2_regularizer.weight": 0.0,
        MRP + "conv_hyperparams.initializer.truncated_normal_initializer.stddev": 0.01,
        MRP + "predict_instance_masks": True,
        FR + "second_stage_mask_prediction_loss_weight": 4.0,
        FR + "resize_masks": False,
        **_augmentations(FLIP),
        **_momentum(0.008, 0.0, 5000, 200000),
        **{f"train_input_reader.{key}": value for key, value in masks.items()},
        **{f"eval_input_reader[0].{key}": value for key, value in masks.items()},
        "eval_config.metrics_set": ["coco_detection_metrics", "coco_mask_metrics"],
        "eval_config.eval_instance_masks": True,
        "eval_config.include_metrics_per_category": None,  # the sample's true: left out
    }


def _param(architecture, size, expected, name):
    return pytest.param(architecture, size, {k: v for k, v in expected.items() if v is not None},
                        id=name)


SAMPLES = [
    pytest.param("ssd_mobilenet_v2_fpnlite", 320, fpnlite(320), id="fpnlite-320"),
    pytest.param("ssd_mobilenet_v2_fpnlite", 640, fpnlite(640), id="fpnlite-640"),
    pytest.param("ssd_mobilenet_v1_fpn", 640, mobilenet_v1_fpn(), id="mobilenet-v1-fpn-640"),
    *[pytest.param(f"retinanet_resnet{depth}", height, retinanet(depth, height),
                   id=f"retinanet-resnet{depth}-{height}")
      for depth in (50, 101, 152) for height in (640, 1024)],
    pytest.param("ssd_mobilenet_v2", 300, mobilenet_v2_classic(), id="ssd-mobilenet-v2-300"),
    *[_param(f"efficientdet_d{level}", *efficientdet(level), f"efficientdet-d{level}")
      for level in range(8)],
    _param("centernet_hourglass104", 512, center_net("hourglass104"), "centernet-hourglass104-512"),
    _param("centernet_hourglass104", 1024, center_net("hourglass104", 1024),
           "centernet-hourglass104-1024"),
    _param("centernet_resnet101_v1_fpn", 512, center_net("resnet101_v1_fpn"),
           "centernet-resnet101-v1-fpn-512"),
    _param("centernet_resnet50_v2", 512, center_net("resnet50_v2"), "centernet-resnet50-v2-512"),
    _param("centernet_resnet50_v1_fpn", 512, center_net("resnet50_v1_fpn"),
           "centernet-resnet50-v1-fpn-512-derived"),
    _param("centernet_mobilenet_v2_fpn", 512, center_net("mobilenet_v2_fpn"),
           "centernet-mobilenet-v2-fpn-512-derived"),
    *[_param(f"faster_rcnn_resnet{depth}_v1", size, faster_rcnn(f"resnet{depth}", size),
             f"faster-rcnn-resnet{depth}-{size if size != (800, 1333) else '800x1333'}")
      for depth in (50, 101, 152) for size in (640, 1024, (800, 1333))],
    _param("faster_rcnn_resnet50_v1_fpn", 640, faster_rcnn_fpn(), "faster-rcnn-resnet50-fpn-640"),
    *[_param("faster_rcnn_inception_resnet_v2", size, faster_rcnn("inception_resnet_v2", size),
             f"faster-rcnn-inception-resnet-v2-{size}-derived") for size in (640, 1024)],
    _param("mask_rcnn_inception_resnet_v2", 1024, mask_rcnn(),
           "mask-rcnn-inception-resnet-v2-1024"),
    *[_param("mask_rcnn_resnet50_v1", size, mask_rcnn("resnet50_v1", size),
             f"mask-rcnn-resnet50-v1-{size}-derived") for size in (640, 1024)],
]

IGNORED = ("train_input_reader.label_map_path", "train_input_reader.tf_record_input_reader",
           "eval_input_reader[0].label_map_path", "eval_input_reader[0].tf_record_input_reader")


@pytest.mark.parametrize("architecture, size, expected", SAMPLES)
def test_generated_config_matches_the_official_sample(tmp_path, architecture, size, expected):
    spec = tmp_path / "spec.yaml"
    side = list(size) if isinstance(size, tuple) else size
    spec.write_text(
        f"model: {{architecture: {architecture}, image_size: {side}}}\n"
        "data: {label_map: coco, train: t.tfrecord, eval: e.tfrecord}\n"
        "train:\n"
        "  device: tpu\n"
        "  fine_tune_checkpoint: ckpt/ckpt-1\n"
        f"  fine_tune_checkpoint_type: {expected['train_config.fine_tune_checkpoint_type']}\n")
    config = render_spec(load_spec(spec)).config
    actual = {key: value for key, value in flatten(config).items()
              if not key.startswith(IGNORED) and key != "train_config.fine_tune_checkpoint"}
    assert sorted(set(actual) - set(expected)) == [], "fields the sample does not have"
    assert sorted(set(expected) - set(actual)) == [], "sample fields missing"
    for key, value in expected.items():
        numeric = isinstance(value, float) or (
            isinstance(value, list) and all(isinstance(item, float) for item in value))
        assert actual[key] == (pytest.approx(value, rel=1e-6) if numeric else value), key
