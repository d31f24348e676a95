"""The SSD family: MobileNet SSD and FPN(Lite), RetinaNet (SSD ResNet V1 FPN), EfficientDet D0-D7.

Values from tensorflow/models research/object_detection/configs/tf2/ssd_*.config.
"""

from dataclasses import dataclass

from odwrap.config.architectures.base import (FLIP, Architecture, Hyperparams, Sample, Training,
                                              aug)

SSD_KEYS = frozenset({"depth_multiplier", "min_depth", "fpn_levels", "fpn_depth",
                      "predictor_depth", "predictor_layers", "pad_to_multiple",
                      "score_threshold", "iou_threshold"})
# The EfficientNet extractor refuses depth_multiplier != 1 and ignores min_depth; fpn_depth is the
# BiFPN's num_filters.
EFFICIENTDET_KEYS = SSD_KEYS - {"depth_multiplier", "min_depth"}


@dataclass(frozen=True)
class Bifpn:
    num_iterations: int
    num_filters: int
    combine_method: str | None = None  # None: the proto's fast_attention


@dataclass(frozen=True)
class SsdModel:
    feature_extractor: str
    extractor_hyperparams: Hyperparams
    predictor_hyperparams: Hyperparams
    fpn: bool = True
    lite: bool = False  # FPNLite: depthwise convolutions, shared prediction tower
    bifpn: Bifpn | None = None  # EfficientDet: a BiFPN in place of the FPN
    fpn_depth: int | None = None  # additional_layer_depth; None keeps the OD API default (256)
    predictor_depth: int = 256
    predictor_layers: int = 4
    predictor_depthwise: bool = False  # EfficientDet: depthwise predictor, no shared tower
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    smooth_l1_delta: float | None = None
    scales_per_octave: int = 2
    add_background_class: bool | None = None  # None: not written (the proto's true)
    iou_threshold: float = 0.6
    resizer: str = "fixed"  # fixed | keep_aspect (padded to the maximum)
    extractor_depth_fields: bool = True  # min_depth, depth_multiplier, override_base_...


MOBILE_PREDICTOR = Hyperparams(l2=0.00004, initializer="random_normal_initializer", stddev=0.01)
RESNET_PREDICTOR = Hyperparams(l2=0.0004, initializer="random_normal_initializer", stddev=0.01)
RESNET_EXTRACTOR = Hyperparams(l2=0.0004, initializer="truncated_normal_initializer", stddev=0.03)
FPN_CROP = aug("random_crop_image", min_object_covered=0.0, min_aspect_ratio=0.75,
               max_aspect_ratio=3.0, min_area=0.75, max_area=1.0, overlap_thresh=0.0)


def _ssd(name, summary, model, training, samples, keys=SSD_KEYS) -> Architecture:
    """SAMPLES: size -> (sample config name, num_steps)."""
    sized = {size: Sample(config, steps, model, training)
             for size, (config, steps) in samples.items()}
    return Architecture(name, summary, "ssd", next(iter(samples)), sized, keys)


def _retinanet(depth: int) -> Architecture:
    return _ssd(
        f"retinanet_resnet{depth}", f"RetinaNet: SSD ResNet{depth} V1 FPN, focal loss",
        SsdModel(f"ssd_resnet{depth}_v1_fpn_keras", RESNET_EXTRACTOR, RESNET_PREDICTOR),
        Training(64, 0.04, 0.013333, 2000, use_bfloat16=True, augmentations=(FLIP, FPN_CROP)),
        {640: (f"ssd_resnet{depth}_v1_fpn_640x640_coco17_tpu-8", 25000),
         1024: (f"ssd_resnet{depth}_v1_fpn_1024x1024_coco17_tpu-8", 100000)})


# EfficientDet Dn: (input side, EfficientNet, BiFPN iterations, BiFPN filters = predictor depth,
# predictor layers, TPU cores of the sample). D7 keeps D6's b6 backbone, as its sample does; D6
# and D7 combine the BiFPN inputs by an unweighted sum ("for stability", their samples say).
EFFICIENTDET = {0: (512, 0, 3, 64, 3, 8), 1: (640, 1, 4, 88, 3, 8), 2: (768, 2, 5, 112, 3, 8),
                3: (896, 3, 6, 160, 4, 32), 4: (1024, 4, 7, 224, 4, 32),
                5: (1280, 5, 7, 288, 4, 32), 6: (1408, 6, 8, 384, 5, 32),
                7: (1536, 6, 8, 384, 5, 32)}
EFFICIENTDET_HYPERPARAMS = dict(l2=0.00004, bn_decay=0.99, activation="SWISH",
                                force_use_bias=True)


def _efficientdet(level: int) -> Architecture:
    side, backbone, iterations, filters, layers, cores = EFFICIENTDET[level]
    model = SsdModel(
        f"ssd_efficientnet-b{backbone}_bifpn_keras",
        Hyperparams(initializer="truncated_normal_initializer", stddev=0.03,
                    **EFFICIENTDET_HYPERPARAMS),
        Hyperparams(initializer="random_normal_initializer", stddev=0.01,
                    **EFFICIENTDET_HYPERPARAMS),
        fpn=False, bifpn=Bifpn(iterations, filters, "sum" if level >= 6 else None),
        predictor_depth=filters, predictor_layers=layers, predictor_depthwise=True,
        focal_gamma=1.5, scales_per_octave=3, add_background_class=False, iou_threshold=0.5,
        resizer="keep_aspect", extractor_depth_fields=False)
    # output_size follows the input size (context.py); the sample's equals its input side.
    training = Training(128, 0.08, 0.001, 2500, use_bfloat16=True, augmentations=(
        FLIP, aug("random_scale_crop_and_pad_to_square", scale_min=0.1, scale_max=2.0)))
    return _ssd(f"efficientdet_d{level}",
                f"EfficientDet D{level}: EfficientNet-B{backbone} BiFPN, keeps the aspect ratio",
                model, training,
                {side: (f"ssd_efficientdet_d{level}_{side}x{side}_coco17_tpu-{cores}", 300000)},
                EFFICIENTDET_KEYS)


CLASSIC_SSD = Hyperparams(l2=0.00004, initializer="truncated_normal_initializer", stddev=0.03,
                          bn_decay=0.97, bn_explicit_train_center=True)

SSD_ARCHITECTURES = (
    _ssd("ssd_mobilenet_v2_fpnlite", "SSD MobileNetV2 FPNLite: the mobile RetinaNet",
         SsdModel("ssd_mobilenet_v2_fpn_keras", MOBILE_PREDICTOR, MOBILE_PREDICTOR, lite=True,
                  fpn_depth=128, predictor_depth=128),
         Training(128, 0.08, 0.026666, 1000, augmentations=(FLIP, FPN_CROP)),
         {320: ("ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8", 50000),
          640: ("ssd_mobilenet_v2_fpnlite_640x640_coco17_tpu-8", 50000)}),
    _ssd("ssd_mobilenet_v1_fpn", "SSD MobileNetV1 FPN, shared box predictor, focal loss",
         SsdModel("ssd_mobilenet_v1_fpn_keras", MOBILE_PREDICTOR, MOBILE_PREDICTOR),
         Training(64, 0.04, 0.013333, 2000, augmentations=(FLIP, FPN_CROP)),
         {640: ("ssd_mobilenet_v1_fpn_640x640_coco17_tpu-8", 25000)}),
    _retinanet(50),
    _retinanet(101),
    _retinanet(152),
    _ssd("ssd_mobilenet_v2",
         "classic SSD MobileNetV2 without FPN (the sample named 320 resizes to 300)",
         SsdModel("ssd_mobilenet_v2_keras", CLASSIC_SSD,
                  Hyperparams(l2=0.00004, initializer="random_normal_initializer", stddev=0.01,
                              bn_decay=0.97, bn_explicit_train_center=True),
                  fpn=False, predictor_depth=0, predictor_layers=0, focal_alpha=0.75,
                  smooth_l1_delta=1.0),
         Training(512, 0.8, 0.13333, 2000, augmentations=(FLIP, aug("ssd_random_crop"))),
         {300: ("ssd_mobilenet_v2_320x320_coco17_tpu-8", 50000)},
         SSD_KEYS - {"fpn_levels", "fpn_depth"}),
    *(_efficientdet(level) for level in EFFICIENTDET),
)
