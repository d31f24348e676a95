"""CenterNet, boxes only (no keypoint task): HourGlass104, ResNet V1 FPN, ResNet50 V2 and the
zoo's mobile CenterNet (MobileNetV2 FPN).

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


HOURGLASS = CenterNetModel("hourglass_104", (104.01362025, 114.03422265, 119.9165958),
                           (73.6027665, 69.89082075, 70.9150767), bgr_ordering=True)


def _center_net(name, summary, samples, keys=frozenset()) -> Architecture:
    return Architecture(name, summary, "center_net", next(iter(samples)), samples, keys)


CENTER_NET_ARCHITECTURES = (
    _center_net("centernet_hourglass104", "CenterNet HourGlass104 (input a multiple of 128)", {
        512: Sample("centernet_hourglass104_512x512_coco17_tpu-8", 140000, HOURGLASS, STEPS),
        1024: Sample("centernet_hourglass104_1024x1024_coco17_tpu-32", 50000, HOURGLASS,
                     Training(warmup_learning_rate=0.00025, warmup_steps=5000,
                              augmentations=SQUARE_CROP, **ADAM)),
    }),
    _center_net("centernet_resnet50_v1_fpn", "CenterNet ResNet50 V1 FPN", {
        512: Sample("centernet_resnet50_v1_fpn_512x512_kpts_coco17_tpu-8", 250000,
                    CenterNetModel("resnet_v1_50_fpn"), COSINE, official=False),
    }),
    _center_net("centernet_resnet101_v1_fpn", "CenterNet ResNet101 V1 FPN", {
        512: Sample("centernet_resnet101_v1_fpn_512x512_coco17_tpu-8", 140000,
                    CenterNetModel("resnet_v1_101_fpn"), STEPS),
    }),
    _center_net("centernet_resnet50_v2", "CenterNet ResNet50 V2", {
        512: Sample("centernet_resnet50_v2_512x512_coco17_tpu-8", 250000,
                    CenterNetModel("resnet_v2_50"), COSINE),
    }),
    _center_net("centernet_mobilenet_v2_fpn", "CenterNet MobileNetV2 FPN: the mobile CenterNet", {
        512: Sample("centernet_mobilenetv2fpn_512x512_coco17_od", 300000,
                    CenterNetModel("mobilenet_v2_fpn_sep_conv", use_separable_conv=True,
                                   use_depthwise=True),
                    Training(512, 0.005, 0.0001, 5000, optimizer="adam", augmentations=(
                        FLIP, aug("random_patch_gaussian"), *CROP_AND_PAD[1:])),
                    official=False),
    }, frozenset({"depth_multiplier"})),
)
