"""Two-stage detectors: Faster R-CNN (ResNet V1, ResNet50 V1 FPN, Inception-ResNet-V2) and
Mask R-CNN (Inception-ResNet-V2, ResNet50 V1).

Values from tensorflow/models research/object_detection/configs/tf2/faster_rcnn_*.config and
mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8.config. The TPU samples (640, 1024) and the
GPU samples (800x1333, Mask R-CNN) differ beyond the size, and each keeps its own values.
Faster R-CNN Inception-ResNet-V2 640 and 1024 are zoo models without a sample config (their
values are in the zoo tarball's pipeline.config, not downloadable here): they are DERIVED, the
ResNet TPU sample of the same size with the Inception-ResNet-V2 parts of the Mask R-CNN sample
(extractor type, initial_crop_size 17, maxpool kernel and stride 1), masks left out.
Mask R-CNN ResNet50 V1 (640, 1024) has neither a sample config nor a zoo model: it is DERIVED, the
Mask R-CNN sample's values (its MaskHead, GPU training, learning rate 0.008, flip only, fixed
resizer, 200000 steps) with the ResNet50 V1 parts of the Faster R-CNN ResNet50 V1 samples
(faster_rcnn_resnet50_keras, initial_crop_size 14, maxpool kernel and stride 2). It is the light
Mask R-CNN, small enough to train on a few CPU cores.
"""

from dataclasses import dataclass, replace

from odwrap.config.architectures.base import (COLOR, FLIP, Architecture, Hyperparams, Sample,
                                              Training, aug)
from odwrap.config.architectures.ssd import RESNET_EXTRACTOR

FASTER_RCNN_KEYS = frozenset({"score_threshold", "iou_threshold", "proposals"})
SQUARE_CROP = aug("random_square_crop_by_scale", scale_min=0.6, scale_max=1.3)


@dataclass(frozen=True)
class MaskHead:
    """The Mask R-CNN head of mask_rcnn_box_predictor and the model fields that go with it."""

    size: int = 33  # mask_height and mask_width
    conv_depth: int = 0  # 0: the OD API chooses it from the classes and features
    conv_layers: int = 4
    loss_weight: float = 4.0
    number_of_stages: int = 3
    resize_masks: bool = False


@dataclass(frozen=True)
class FasterRcnnModel:
    feature_extractor: str
    resizer: str = "keep_aspect"  # keep_aspect (padded to the maximum) | fixed
    batch_norm_trainable: bool = False
    fpn_levels: tuple[int, int] | None = None  # FPN: its levels, multiscale anchors on them
    extractor_hyperparams: Hyperparams | None = None  # FPN: the FPN's own conv_hyperparams
    initial_crop_size: int = 14
    maxpool: int = 2  # maxpool_kernel_size and maxpool_stride
    share_box_across_classes: bool = False
    tpu_switches: bool = False  # use_static_shapes and the matmul/static options of the TPU samples
    max_detections_per_class: int = 100
    max_total_detections: int = 100
    proposals: int = 300  # first_stage_max_proposals
    mask: MaskHead | None = None


TPU = FasterRcnnModel("", batch_norm_trainable=True, share_box_across_classes=True,
                      tpu_switches=True, max_total_detections=300)
GPU = FasterRcnnModel("")
IRV2 = dict(feature_extractor="faster_rcnn_inception_resnet_v2_keras", initial_crop_size=17,
            maxpool=1)
MASK_GPU = replace(GPU, resizer="fixed", mask=MaskHead())  # the Mask R-CNN sample's model part

TPU_640 = Training(64, 0.04, 0.013333, 2000, use_bfloat16=True, augmentations=(FLIP,))
TPU_1024 = replace(TPU_640, augmentations=(FLIP, *COLOR, SQUARE_CROP))
GPU_TRAINING = Training(16, 0.01, 0.0, 5000, augmentations=(FLIP, *COLOR, SQUARE_CROP),
                        max_boxes=None, unpad_groundtruth_tensors=None,
                        gradient_clipping_by_norm=10.0)
MASK_TRAINING = replace(GPU_TRAINING, learning_rate=0.008, augmentations=(FLIP,))


def _two_stage(name, summary, samples, keys=FASTER_RCNN_KEYS) -> Architecture:
    return Architecture(name, summary, "faster_rcnn", next(iter(samples)), samples, keys)


def _resnet(depth: int) -> Architecture:
    extractor = f"faster_rcnn_resnet{depth}_keras"
    prefix = f"faster_rcnn_resnet{depth}_v1"
    return _two_stage(f"{prefix}", f"Faster R-CNN ResNet{depth} V1", {
        640: Sample(f"{prefix}_640x640_coco17_tpu-8", 25000,
                    replace(TPU, feature_extractor=extractor), TPU_640),
        1024: Sample(f"{prefix}_1024x1024_coco17_tpu-8", 100000,
                     replace(TPU, feature_extractor=extractor, resizer="fixed"), TPU_1024),
        (800, 1333): Sample(f"{prefix}_800x1333_coco17_gpu-8", 200000,
                            replace(GPU, feature_extractor=extractor), GPU_TRAINING),
    })


FASTER_RCNN_ARCHITECTURES = (
    _resnet(50),
    _resnet(101),
    _resnet(152),
    _two_stage("faster_rcnn_resnet50_v1_fpn", "Faster R-CNN ResNet50 V1 FPN", {
        640: Sample("faster_rcnn_resnet50_v1_fpn_640x640_coco17_tpu-8", 25000,
                    replace(TPU, feature_extractor="faster_rcnn_resnet50_fpn_keras",
                            fpn_levels=(2, 6), extractor_hyperparams=RESNET_EXTRACTOR,
                            share_box_across_classes=False), TPU_640),
    }, FASTER_RCNN_KEYS | {"fpn_levels", "fpn_depth"}),
    # DERIVED (no sample config; see the module docstring): the zoo tarballs' names.
    _two_stage("faster_rcnn_inception_resnet_v2", "Faster R-CNN Inception-ResNet-V2", {
        640: Sample("faster_rcnn_inception_resnet_v2_640x640_coco17_tpu-8", 25000,
                    replace(TPU, **IRV2), TPU_640, official=False),
        1024: Sample("faster_rcnn_inception_resnet_v2_1024x1024_coco17_tpu-8", 100000,
                     replace(TPU, resizer="fixed", **IRV2), TPU_1024, official=False),
    }),
    _two_stage("mask_rcnn_inception_resnet_v2", "Mask R-CNN Inception-ResNet-V2: boxes, masks", {
        1024: Sample("mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8", 200000,
                     replace(MASK_GPU, **IRV2), MASK_TRAINING),
    }, FASTER_RCNN_KEYS | {"mask_size"}),
    # DERIVED (no sample config, no zoo model; see the module docstring): named as a sample.
    _two_stage("mask_rcnn_resnet50_v1", "Mask R-CNN ResNet50 V1: boxes, masks", {
        size: Sample(f"mask_rcnn_resnet50_v1_{size}x{size}_coco17_gpu-8", 200000,
                     replace(MASK_GPU, feature_extractor="faster_rcnn_resnet50_keras"),
                     MASK_TRAINING, official=False)
        for size in (640, 1024)
    }, FASTER_RCNN_KEYS | {"mask_size"}),
)
