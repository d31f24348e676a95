"""Generated configs against the official TF2 sample configs, field by field on parsed protos.

The expected values are the samples' (tensorflow/models research/object_detection/configs/tf2),
written out here independently of odwrap's own architecture table. Left out of the comparison:
input and label map paths, the checkpoint path, and the TF1-only sync_replicas,
replicas_to_aggregate and startup_delay_steps.
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


SAMPLES = [
    pytest.param("ssd_mobilenet_v2_fpnlite", 320, fpnlite(320), id="fpnlite-320"),
    pytest.param("ssd_mobilenet_v2_fpnlite", 640, fpnlite(640), id="fpnlite-640"),
    pytest.param("ssd_mobilenet_v1_fpn", 640, mobilenet_v1_fpn(), id="mobilenet-v1-fpn-640"),
    *[pytest.param(f"retinanet_resnet{depth}", height, retinanet(depth, height),
                   id=f"retinanet-resnet{depth}-{height}")
      for depth in (50, 101, 152) for height in (640, 1024)],
    pytest.param("ssd_mobilenet_v2", 300, mobilenet_v2_classic(), id="ssd-mobilenet-v2-300"),
]

IGNORED = ("train_input_reader.", "eval_input_reader[0].label_map_path",
           "eval_input_reader[0].tf_record_input_reader")


@pytest.mark.parametrize("architecture, height, expected", SAMPLES)
def test_generated_config_matches_the_official_sample(tmp_path, architecture, height, expected):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"model: {{architecture: {architecture}, image_size: {height}}}\n"
        "data: {label_map: coco, train: t.tfrecord, eval: e.tfrecord}\n"
        "train:\n"
        "  device: tpu\n"
        "  fine_tune_checkpoint: ckpt/ckpt-1\n"
        "  fine_tune_checkpoint_type: classification\n")
    config = render_spec(load_spec(spec)).config
    actual = {key: value for key, value in flatten(config).items()
              if not key.startswith(IGNORED) and key != "train_config.fine_tune_checkpoint"}
    assert sorted(set(actual) - set(expected)) == [], "fields the sample does not have"
    assert sorted(set(expected) - set(actual)) == [], "sample fields missing"
    for key, value in expected.items():
        numeric = isinstance(value, float) or (
            isinstance(value, list) and all(isinstance(item, float) for item in value))
        assert actual[key] == (pytest.approx(value, rel=1e-6) if numeric else value), key
