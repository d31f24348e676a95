"""The architectures odwrap renders, with the values of their official TF2 sample configs.

The values come from tensorflow/models research/object_detection/configs/tf2/*.config; a spec
changes them only where it says so. `sample_steps` maps an input size to the sample's num_steps.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hyperparams:
    l2: float
    initializer: str  # random_normal_initializer | truncated_normal_initializer
    stddev: float
    bn_decay: float = 0.997
    bn_epsilon: float = 0.001
    bn_explicit_train_center: bool = False  # the classic SSD sample spells out train/center


@dataclass(frozen=True)
class Architecture:
    name: str
    summary: str
    feature_extractor: str
    image_size: int
    sample_configs: dict  # input size -> sample config name
    sample_steps: dict  # input size -> num_steps of that sample
    batch_size: int
    learning_rate: float
    warmup_learning_rate: float
    warmup_steps: int
    extractor_hyperparams: Hyperparams
    predictor_hyperparams: Hyperparams
    fpn: bool = True
    lite: bool = False  # FPNLite: depthwise convolutions, shared prediction tower
    fpn_depth: int | None = None  # additional_layer_depth; None keeps the OD API default (256)
    predictor_depth: int = 256
    predictor_layers: int = 4
    use_bfloat16: bool = False
    focal_alpha: float = 0.25
    smooth_l1_delta: float | None = None
    augmentations: tuple = field(default=("random_horizontal_flip", "random_crop_image"))


MOBILE_PREDICTOR = Hyperparams(l2=0.00004, initializer="random_normal_initializer", stddev=0.01)
RESNET_PREDICTOR = Hyperparams(l2=0.0004, initializer="random_normal_initializer", stddev=0.01)
RESNET_EXTRACTOR = Hyperparams(l2=0.0004, initializer="truncated_normal_initializer", stddev=0.03)


def _retinanet(depth: int) -> Architecture:
    return Architecture(
        name=f"retinanet_resnet{depth}",
        summary=f"RetinaNet: SSD ResNet{depth} V1 FPN, focal loss (640 or 1024)",
        feature_extractor=f"ssd_resnet{depth}_v1_fpn_keras",
        image_size=640,
        sample_configs={640: f"ssd_resnet{depth}_v1_fpn_640x640_coco17_tpu-8",
                        1024: f"ssd_resnet{depth}_v1_fpn_1024x1024_coco17_tpu-8"},
        sample_steps={640: 25000, 1024: 100000},
        batch_size=64,
        learning_rate=0.04,
        warmup_learning_rate=0.013333,
        warmup_steps=2000,
        extractor_hyperparams=RESNET_EXTRACTOR,
        predictor_hyperparams=RESNET_PREDICTOR,
        use_bfloat16=True,
    )


ARCHITECTURES = {
    arch.name: arch
    for arch in (
        Architecture(
            name="ssd_mobilenet_v2_fpnlite",
            summary="SSD MobileNetV2 FPNLite: the mobile RetinaNet (320 or 640)",
            feature_extractor="ssd_mobilenet_v2_fpn_keras",
            image_size=320,
            sample_configs={320: "ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8",
                            640: "ssd_mobilenet_v2_fpnlite_640x640_coco17_tpu-8"},
            sample_steps={320: 50000, 640: 50000},
            batch_size=128,
            learning_rate=0.08,
            warmup_learning_rate=0.026666,
            warmup_steps=1000,
            extractor_hyperparams=MOBILE_PREDICTOR,
            predictor_hyperparams=MOBILE_PREDICTOR,
            lite=True,
            fpn_depth=128,
            predictor_depth=128,
        ),
        Architecture(
            name="ssd_mobilenet_v1_fpn",
            summary="SSD MobileNetV1 FPN, shared box predictor, focal loss (640)",
            feature_extractor="ssd_mobilenet_v1_fpn_keras",
            image_size=640,
            sample_configs={640: "ssd_mobilenet_v1_fpn_640x640_coco17_tpu-8"},
            sample_steps={640: 25000},
            batch_size=64,
            learning_rate=0.04,
            warmup_learning_rate=0.013333,
            warmup_steps=2000,
            extractor_hyperparams=MOBILE_PREDICTOR,
            predictor_hyperparams=MOBILE_PREDICTOR,
        ),
        _retinanet(50),
        _retinanet(101),
        _retinanet(152),
        Architecture(
            name="ssd_mobilenet_v2",
            summary="classic SSD MobileNetV2 without FPN (the sample named 320 resizes to 300)",
            feature_extractor="ssd_mobilenet_v2_keras",
            image_size=300,
            sample_configs={300: "ssd_mobilenet_v2_320x320_coco17_tpu-8"},
            sample_steps={300: 50000},
            batch_size=512,
            learning_rate=0.08,
            warmup_learning_rate=0.013333,
            warmup_steps=2000,
            extractor_hyperparams=Hyperparams(
                l2=0.00004, initializer="truncated_normal_initializer", stddev=0.03,
                bn_decay=0.97, bn_explicit_train_center=True),
            predictor_hyperparams=Hyperparams(
                l2=0.00004, initializer="random_normal_initializer", stddev=0.01,
                bn_decay=0.97, bn_explicit_train_center=True),
            fpn=False,
            predictor_depth=0,
            predictor_layers=0,
            focal_alpha=0.75,
            smooth_l1_delta=1.0,
            augmentations=("random_horizontal_flip", "ssd_random_crop"),
        ),
    )
}
