"""CenterNet: HourGlass104, ResNet V1 FPN, ResNet50 V2 and the zoo's mobile CenterNet
(MobileNetV2 FPN); boxes, and keypoints (a spec's model.keypoints) on the backbones with a
keypoint sample (configs/tf2/centernet_*_kpts_*.config), whose values KEYPOINT_SAMPLES and
KEYPOINT_TASK hold.

Values from tensorflow/models research/object_detection/configs/tf2/centernet_*.config, except:
- ResNet50 V1 FPN has only a keypoint sample (..._kpts_coco17_tpu-8): DERIVED from it with the
  keypoint task, keypoint flip permutation, num_keypoints and the keypoint evaluation settings
  (visualizations, keypoint metrics) left out; what stays equals the ResNet50 V2 boxes sample.
- ResNet50 V2's sample reads Google's internal input reader (it does not parse outside Google);
  its model and training values are used, with ordinary TFRecord readers.
- MobileNetV2 FPN has no sample config; its zoo tarball's pipeline.config cannot be downloaded
  here. UNOFFICIAL: from a third-party copy of the keypoint tarball's config (type
  mobilenet_v2_fpn_sep_conv, heads depthwise, keep-aspect 512, batch 512, Adam cosine 5e-3, warmup
  1e-4 for 5000 steps, 300000 steps, its augmentations) with the keypoint parts left out. DERIVED:
  max_box_predictions 100 as every other CenterNet sample (the copy's 20 is for one class,
  person) and use_separable_conv written out, which the installed model_builder needs before it
  builds the separable FPN that the type names; the copy's filenames_shuffle_buffer_size is left
  to the reader's default.
Keypoint samples: all four (HourGlass104 512 and 1024, ResNet50 V1 FPN 512, ResNet50 V2 512) share
the keypoint task's losses and weights, the evaluation's visualization settings and COCO's
person keypoints (names, OKS sigmas, heatmap stds, edges, flip permutation); HourGlass104's
train for 250000 steps on the cosine schedule (its boxes samples: 140000 on manual steps at
512, 50000 at 1024). MobileNetV2 FPN's keypoint values are the same in the copy above
(UNOFFICIAL, as its boxes values).
"""

from dataclasses import dataclass

from odwrap.config.architectures.base import COLOR, FLIP, Architecture, Sample, Training, aug

BRIGHTNESS = aug("random_adjust_brightness")
CROP_AND_PAD = (FLIP, aug("random_crop_image", min_aspect_ratio=0.5, max_aspect_ratio=1.7,
                          random_coef=0.25),
                *COLOR, BRIGHTNESS,
                aug("random_absolute_pad_image", max_height_padding=200, max_width_padding=200,
                    pad_color=[0.0, 0.0, 0.0]))
SQUARE_CROP = (FLIP, *COLOR, BRIGHTNESS,
               aug("random_square_crop_by_scale", scale_min=0.6, scale_max=1.3))
ADAM = dict(batch_size=128, learning_rate=0.001, optimizer="adam", adam_epsilon=1e-7)
STEPS = Training(schedule="step", step_decays=((90000, 0.1), (120000, 0.01)),
                 augmentations=CROP_AND_PAD, **ADAM)
COSINE = Training(warmup_learning_rate=0.00025, warmup_steps=5000, augmentations=CROP_AND_PAD,
                  **ADAM)


@dataclass(frozen=True)
class CenterNetModel:
    feature_extractor: str
    channel_means: tuple = ()
    channel_stds: tuple = ()
    bgr_ordering: bool = False
    use_separable_conv: bool = False  # MobileNetV2 FPN: written, so that the builder uses it
    use_depthwise: bool = False  # depthwise convolutions in the heads
    resizer: str = "keep_aspect"


# The keypoint task of every keypoint sample (heads: the builder's defaults, 256 filters, 3x3).
KEYPOINT_TASK = {"task_loss_weight": 1.0, "keypoint_regression_loss_weight": 0.1,
                 "keypoint_heatmap_loss_weight": 1.0, "keypoint_offset_loss_weight": 1.0,
                 "offset_peak_radius": 3, "per_keypoint_offset": True, "focal_alpha": 2.0,
                 "focal_beta": 4.0}
# Their eval_config beside coco_detection_metrics: coco_keypoint_metrics per keypoint class.
KEYPOINT_EVAL = {"num_visualizations": 10, "max_num_boxes_to_visualize": 20,
                 "min_score_threshold": 0.2}
# COCO's person keypoints as the samples give them: (name, OKS sigma, heatmap std), in the
# label map's order (ids 0-16); the edges between ids; task_name "human_pose". The flip
# permutation swaps each left_ with its right_ (the samples' 0, 2, 1, 4, 3, ...).
COCO_PERSON = (("nose", 0.026, 0.26), ("left_eye", 0.025, 0.25), ("right_eye", 0.025, 0.25),
               ("left_ear", 0.035, 0.35), ("right_ear", 0.035, 0.35),
               ("left_shoulder", 0.079, 0.79), ("right_shoulder", 0.079, 0.79),
               ("left_elbow", 0.072, 0.72), ("right_elbow", 0.072, 0.72),
               ("left_wrist", 0.062, 0.62), ("right_wrist", 0.062, 0.62),
               ("left_hip", 0.107, 1.07), ("right_hip", 0.107, 1.07),
               ("left_knee", 0.087, 0.89), ("right_knee", 0.087, 0.89),
               ("left_ankle", 0.089, 0.89), ("right_ankle", 0.089, 0.89))
COCO_PERSON_EDGES = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6), (5, 7), (7, 9), (6, 8),
                     (8, 10), (5, 6), (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14),
                     (14, 16))
COCO_PERSON_TASK = "human_pose"

HOURGLASS = CenterNetModel("hourglass_104", (104.01362025, 114.03422265, 119.9165958),
                           (73.6027665, 69.89082075, 70.9150767), bgr_ordering=True)


MOBILE = CenterNetModel("mobilenet_v2_fpn_sep_conv", use_separable_conv=True, use_depthwise=True)
MOBILE_TRAINING = Training(512, 0.005, 0.0001, 5000, optimizer="adam", augmentations=(
    FLIP, aug("random_patch_gaussian"), *CROP_AND_PAD[1:]))


def _center_net(name, summary, samples, keys=frozenset(), keypoints=None) -> Architecture:
    return Architecture(name, summary, "center_net", next(iter(samples)), samples, keys,
                        keypoints or {})



CENTER_NET_ARCHITECTURES = (
    _center_net("centernet_hourglass104", "CenterNet HourGlass104 (input a multiple of 128)", {
        512: Sample("centernet_hourglass104_512x512_coco17_tpu-8", 140000, HOURGLASS, STEPS),
        1024: Sample("centernet_hourglass104_1024x1024_coco17_tpu-32", 50000, HOURGLASS,
                     Training(warmup_learning_rate=0.00025, warmup_steps=5000,
                              augmentations=SQUARE_CROP, **ADAM)),
    }, keypoints={
        512: Sample("centernet_hourglass104_512x512_kpts_coco17_tpu-32", 250000, HOURGLASS,
                    COSINE),
        1024: Sample("centernet_hourglass104_1024x1024_kpts_coco17_tpu-32", 250000, HOURGLASS,
                     Training(warmup_learning_rate=0.00025, warmup_steps=5000,
                              augmentations=SQUARE_CROP, **ADAM)),
    }),
    _center_net("centernet_resnet50_v1_fpn", "CenterNet ResNet50 V1 FPN", {
        512: Sample("centernet_resnet50_v1_fpn_512x512_kpts_coco17_tpu-8", 250000,
                    CenterNetModel("resnet_v1_50_fpn"), COSINE, official=False),
    }, keypoints={
        512: Sample("centernet_resnet50_v1_fpn_512x512_kpts_coco17_tpu-8", 250000,
                    CenterNetModel("resnet_v1_50_fpn"), COSINE),
    }),
    _center_net("centernet_resnet101_v1_fpn", "CenterNet ResNet101 V1 FPN", {
        512: Sample("centernet_resnet101_v1_fpn_512x512_coco17_tpu-8", 140000,
                    CenterNetModel("resnet_v1_101_fpn"), STEPS),
    }),
    _center_net("centernet_resnet50_v2", "CenterNet ResNet50 V2", {
        512: Sample("centernet_resnet50_v2_512x512_coco17_tpu-8", 250000,
                    CenterNetModel("resnet_v2_50"), COSINE),
    }, keypoints={
        512: Sample("centernet_resnet50_v2_512x512_kpts_coco17_tpu-8", 250000,
                    CenterNetModel("resnet_v2_50"), COSINE),
    }),
    _center_net("centernet_mobilenet_v2_fpn", "CenterNet MobileNetV2 FPN: the mobile CenterNet", {
        512: Sample("centernet_mobilenetv2fpn_512x512_coco17_od", 300000, MOBILE, MOBILE_TRAINING,
                    official=False),
    }, frozenset({"depth_multiplier"}), keypoints={
        512: Sample("centernet_mobilenetv2fpn_512x512_coco17_kpts", 300000, MOBILE,
                    MOBILE_TRAINING, official=False),
    }),
)
