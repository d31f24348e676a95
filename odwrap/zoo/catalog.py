"""The TF2 Detection Zoo as data: one ZooModel per tarball that the zoo page lists.

Source: tensorflow/models research/object_detection/g3doc/tf2_detection_zoo.md (tarball names,
date folders, input sizes) and configs/tf2/ (sample config names). `name` is the tarball's name
(`<date>/<name>.tar.gz` on the server), except for the older ExtremeNet, which shares its
tarball name with the newer one. `architecture` is odwrap's key for the model's architecture: the
keys of odwrap.config.architectures where odwrap renders it (ssd_mobilenet_v2_fpnlite,
ssd_mobilenet_v1_fpn, ssd_mobilenet_v2, retinanet_resnet50/101/152), otherwise a key in the same
style (the size and the `_coco17_tpu-8` suffix left out) for an architecture odwrap does not
render yet. `sample_configs` names the official TF2 sample configs of the same model (without
`.config`; older names included), which `for_sample_config` looks up. STARTS_FROM names the
architectures without a zoo model of their own that start from another's detection checkpoint.
"""

import difflib
from dataclasses import dataclass

from odwrap.errors import InputError, shown

FAMILIES = {  # family key -> what the zoo page calls it
    "ssd": "SSD MobileNet",
    "retinanet": "RetinaNet (SSD ResNet V1 FPN)",
    "efficientdet": "EfficientDet",
    "centernet": "CenterNet",
    "faster_rcnn": "Faster R-CNN",
    "mask_rcnn": "Mask R-CNN",
    "extremenet": "ExtremeNet",
}

# What every zoo tarball holds under its top folder (besides saved_model/).
CHECKPOINT = "checkpoint/ckpt-0"  # the prefix a pipeline.config's fine_tune_checkpoint takes
REQUIRED = ("pipeline.config", f"{CHECKPOINT}.index", f"{CHECKPOINT}.data-00000-of-00001")

BOXES = ("boxes",)
KEYPOINTS = ("boxes", "keypoints")  # COCO person keypoints beside the boxes
MASKS = ("boxes", "masks")


@dataclass(frozen=True)
class ZooModel:
    name: str
    title: str  # the model's name on the zoo page
    date: str  # the tarball's date folder on download.tensorflow.org
    family: str  # a FAMILIES key
    architecture: str  # odwrap's architecture key (see the module docstring)
    input_size: tuple[int, int] | None  # (height, width); (shorter, longer side) for 800x1333
    outputs: tuple[str, ...] = BOXES
    sample_configs: tuple[str, ...] = ()
    tarball: str | None = None  # the name on the server, when it is not `name`
    folder: str | None = None  # the tarball's top folder, when it is not the tarball's name
    deprecated: bool = False
    note: str = ""

    @property
    def file_name(self) -> str:
        """The tarball's file name on the server and in mirrors."""
        return f"{self.tarball or self.name}.tar.gz"

    @property
    def url_path(self) -> str:
        """Where the tarball is under the zoo's base URL: DATE/NAME.tar.gz."""
        return f"{self.date}/{self.file_name}"

    @property
    def top_folder(self) -> str:
        """The one folder the tarball holds: checkpoint/, pipeline.config, saved_model/."""
        return self.folder or self.tarball or self.name

    @property
    def size_text(self) -> str:
        if self.input_size is None:
            return "-"
        return f"{self.input_size[0]}x{self.input_size[1]}"

    @property
    def kind(self) -> str:
        """'boxes', 'boxes+keypoints' or 'boxes+masks', and whether the zoo deprecates it."""
        kind = "+".join(self.outputs)
        return f"{kind}, deprecated" if self.deprecated else kind


def _centernet(name, title, date, architecture, size, outputs=BOXES, samples=(), **extra):
    return ZooModel(name, title, date, "centernet", architecture, (size, size), outputs,
                    tuple(samples), **extra)


def _efficientdet(level: int, size: int, sample_size: int, tpus: int, **extra) -> ZooModel:
    return ZooModel(f"efficientdet_d{level}_coco17_tpu-32", f"EfficientDet D{level} {size}x{size}",
                    "20200711", "efficientdet", f"efficientdet_d{level}", (size, size), BOXES,
                    (f"ssd_efficientdet_d{level}_{sample_size}x{sample_size}_coco17_tpu-{tpus}",),
                    **extra)


def _retinanet(depth: int, size: int) -> ZooModel:
    name = f"ssd_resnet{depth}_v1_fpn_{size}x{size}_coco17_tpu-8"
    return ZooModel(name, f"SSD ResNet{depth} V1 FPN {size}x{size} (RetinaNet{depth})",
                    "20200711", "retinanet", f"retinanet_resnet{depth}", (size, size), BOXES,
                    (name,))


def _faster_rcnn(backbone: str, title: str, height: int, width: int, hardware: str,
                 sampled: bool = True) -> ZooModel:
    name = f"faster_rcnn_{backbone}_{height}x{width}_coco17_{hardware}"
    note = ("keeps the aspect ratio: shorter side 800, longer side at most 1333"
            if height != width else "")
    return ZooModel(name, f"Faster R-CNN {title} {height}x{width}", "20200711", "faster_rcnn",
                    f"faster_rcnn_{backbone}", (height, width), BOXES,
                    (name,) if sampled else (), note=note)


def _ssd(name: str, title: str, architecture: str, size: int, **extra) -> ZooModel:
    return ZooModel(name, title, "20200711", "ssd", architecture, (size, size), BOXES, (name,),
                    **extra)


MODELS = (
    _centernet("centernet_hg104_512x512_coco17_tpu-8", "CenterNet HourGlass104 512x512",
               "20200713", "centernet_hourglass104", 512,
               samples=("centernet_hourglass104_512x512_coco17_tpu-8",
                        "centernet_hg104_512x512_coco17_tpu-8")),
    _centernet("centernet_hg104_512x512_kpts_coco17_tpu-32",
               "CenterNet HourGlass104 Keypoints 512x512", "20200711", "centernet_hourglass104",
               512, KEYPOINTS,
               samples=("centernet_hourglass104_512x512_kpts_coco17_tpu-32",
                        "centernet_hg104_512x512_kpts_coco17_tpu-32",
                        "centernet_hg104_512x512_kpts_coco17_tpu-8")),
    _centernet("centernet_hg104_1024x1024_coco17_tpu-32", "CenterNet HourGlass104 1024x1024",
               "20200713", "centernet_hourglass104", 1024,
               samples=("centernet_hourglass104_1024x1024_coco17_tpu-32",)),
    _centernet("centernet_hg104_1024x1024_kpts_coco17_tpu-32",
               "CenterNet HourGlass104 Keypoints 1024x1024", "20200711", "centernet_hourglass104",
               1024, KEYPOINTS, samples=("centernet_hourglass104_1024x1024_kpts_coco17_tpu-32",)),
    _centernet("centernet_resnet50_v1_fpn_512x512_coco17_tpu-8",
               "CenterNet Resnet50 V1 FPN 512x512", "20200711", "centernet_resnet50_v1_fpn", 512),
    _centernet("centernet_resnet50_v1_fpn_512x512_kpts_coco17_tpu-8",
               "CenterNet Resnet50 V1 FPN Keypoints 512x512", "20200711",
               "centernet_resnet50_v1_fpn", 512, KEYPOINTS,
               samples=("centernet_resnet50_v1_fpn_512x512_kpts_coco17_tpu-8",)),
    _centernet("centernet_resnet101_v1_fpn_512x512_coco17_tpu-8",
               "CenterNet Resnet101 V1 FPN 512x512", "20200711", "centernet_resnet101_v1_fpn",
               512, samples=("centernet_resnet101_v1_fpn_512x512_coco17_tpu-8",
                             "center_net_resnet101_v1_fpn_512x512_coco17_tpu-8")),
    _centernet("centernet_resnet50_v2_512x512_coco17_tpu-8", "CenterNet Resnet50 V2 512x512",
               "20200711", "centernet_resnet50_v2", 512,
               samples=("centernet_resnet50_v2_512x512_coco17_tpu-8",)),
    _centernet("centernet_resnet50_v2_512x512_kpts_coco17_tpu-8",
               "CenterNet Resnet50 V2 Keypoints 512x512", "20200711", "centernet_resnet50_v2",
               512, KEYPOINTS, samples=("centernet_resnet50_v2_512x512_kpts_coco17_tpu-8",)),
    _centernet("centernet_mobilenetv2fpn_512x512_coco17_od", "CenterNet MobileNetV2 FPN 512x512",
               "20210210", "centernet_mobilenet_v2_fpn", 512,
               folder="centernet_mobilenetv2_fpn_od"),
    _centernet("centernet_mobilenetv2fpn_512x512_coco17_kpts",
               "CenterNet MobileNetV2 FPN Keypoints 512x512", "20210210",
               "centernet_mobilenet_v2_fpn", 512, KEYPOINTS,
               folder="centernet_mobilenetv2_fpn_kpts"),
    _efficientdet(0, 512, 512, 8),
    _efficientdet(1, 640, 640, 8),
    _efficientdet(2, 768, 768, 8),
    _efficientdet(3, 896, 896, 32),
    _efficientdet(4, 1024, 1024, 32),
    _efficientdet(5, 1280, 1280, 32),
    _efficientdet(6, 1280, 1408, 32,
                  note="the zoo page says 1280x1280; its sample config resizes to 1408x1408"),
    _efficientdet(7, 1536, 1536, 32),
    _ssd("ssd_mobilenet_v2_320x320_coco17_tpu-8", "SSD MobileNet v2 320x320",
         "ssd_mobilenet_v2", 300,
         note="named 320x320; its sample config resizes to 300x300"),
    _ssd("ssd_mobilenet_v1_fpn_640x640_coco17_tpu-8", "SSD MobileNet V1 FPN 640x640",
         "ssd_mobilenet_v1_fpn", 640),
    _ssd("ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8", "SSD MobileNet V2 FPNLite 320x320",
         "ssd_mobilenet_v2_fpnlite", 320),
    _ssd("ssd_mobilenet_v2_fpnlite_640x640_coco17_tpu-8", "SSD MobileNet V2 FPNLite 640x640",
         "ssd_mobilenet_v2_fpnlite", 640),
    _retinanet(50, 640),
    _retinanet(50, 1024),
    _retinanet(101, 640),
    _retinanet(101, 1024),
    _retinanet(152, 640),
    _retinanet(152, 1024),
    _faster_rcnn("resnet50_v1", "ResNet50 V1", 640, 640, "tpu-8"),
    _faster_rcnn("resnet50_v1", "ResNet50 V1", 1024, 1024, "tpu-8"),
    _faster_rcnn("resnet50_v1", "ResNet50 V1", 800, 1333, "gpu-8"),
    _faster_rcnn("resnet101_v1", "ResNet101 V1", 640, 640, "tpu-8"),
    _faster_rcnn("resnet101_v1", "ResNet101 V1", 1024, 1024, "tpu-8"),
    _faster_rcnn("resnet101_v1", "ResNet101 V1", 800, 1333, "gpu-8"),
    _faster_rcnn("resnet152_v1", "ResNet152 V1", 640, 640, "tpu-8"),
    _faster_rcnn("resnet152_v1", "ResNet152 V1", 1024, 1024, "tpu-8"),
    _faster_rcnn("resnet152_v1", "ResNet152 V1", 800, 1333, "gpu-8"),
    _faster_rcnn("inception_resnet_v2", "Inception ResNet V2", 640, 640, "tpu-8", sampled=False),
    _faster_rcnn("inception_resnet_v2", "Inception ResNet V2", 1024, 1024, "tpu-8",
                 sampled=False),
    ZooModel("mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8",
             "Mask R-CNN Inception ResNet V2 1024x1024", "20200711", "mask_rcnn",
             "mask_rcnn_inception_resnet_v2", (1024, 1024), MASKS,
             ("mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8",)),
    ZooModel("extremenet", "ExtremeNet", "20210507", "extremenet", "extremenet", None,
             note="the zoo page gives no input size"),
    ZooModel("extremenet_20200711", "ExtremeNet (deprecated)", "20200711", "extremenet",
             "extremenet", None, tarball="extremenet", deprecated=True,
             note="the first ExtremeNet tarball, replaced by 20210507's"),
)

# odwrap's architectures that the zoo has no model of -> the architecture whose zoo models they
# start from: the same feature extractor, which a `detection` checkpoint restores; the heads that
# the other lacks (a mask head) train anew with the RPN and box heads, as a detection checkpoint's
# heads do.
STARTS_FROM = {"mask_rcnn_resnet50_v1": "faster_rcnn_resnet50_v1"}

_BY_NAME = {model.name: model for model in MODELS}
_BY_SAMPLE = {sample: model for model in MODELS for sample in model.sample_configs}


def models(family: str | None = None) -> list[ZooModel]:
    """Every zoo model in the zoo page's order, or those of one FAMILIES key."""
    if family is not None and family not in FAMILIES:
        raise InputError(f"unknown zoo family '{shown(family)}'; the families are "
                         f"{', '.join(FAMILIES)}")
    return [model for model in MODELS if family is None or model.family == family]


def _suggestions(name: str) -> list[str]:
    """Names that contain NAME, then names that look like it (difflib)."""
    text = name.strip().lower()
    containing = [model.name for model in MODELS if text and text in model.name]
    close = difflib.get_close_matches(text, list(_BY_NAME), n=3, cutoff=0.6)
    return list(dict.fromkeys(containing + close))[:4]


def find(name: str) -> ZooModel:
    """The zoo model called NAME (a trailing '.tar.gz' is allowed); InputError with close
    matches when there is none."""
    key = name.removesuffix(".tar.gz")
    if key in _BY_NAME:
        return _BY_NAME[key]
    hints = _suggestions(key)
    hint = f"; did you mean {', '.join(repr(h) for h in hints)}?" if hints else \
        "; 'odwrap zoo list' shows every model"
    raise InputError(f"unknown zoo model '{shown(name)}'{hint}")


def for_sample_config(name: str) -> ZooModel | None:
    """The zoo model trained with the official TF2 sample config NAME (a file name or path
    ending in .config is allowed), or None when the zoo has no such model."""
    stem = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return _BY_SAMPLE.get(stem.removesuffix(".config"))


def checkpoint_architecture(architecture: str) -> str:
    """The architecture whose zoo models ARCHITECTURE starts from: its own, or STARTS_FROM's."""
    return STARTS_FROM.get(architecture, architecture)


def for_architecture(architecture: str, size) -> list[ZooModel]:
    """The zoo models with odwrap's ARCHITECTURE key trained at SIZE (N, [N, N] or [height,
    width]), boxes-only and current ones first: what a spec's architecture and image size can
    start from."""
    first, second = (size, size) if isinstance(size, int) else tuple(size)
    found = [model for model in MODELS if model.architecture == architecture
             and model.input_size == (first, second)]
    return sorted(found, key=lambda model: (model.deprecated, model.outputs != BOXES))
