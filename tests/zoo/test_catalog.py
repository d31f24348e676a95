"""The zoo catalog against the zoo page's facts and odwrap's own architecture table."""

import re

import pytest

from odwrap.config.architectures import ARCHITECTURES
from odwrap.errors import InputError
from odwrap.zoo import (FAMILIES, MODELS, STARTS_FROM, checkpoint_architecture, find,
                        for_architecture, for_sample_config, models)

NAME = "ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8"


def test_names_and_tarball_paths_are_unique():
    assert len({model.name for model in MODELS}) == len(MODELS) == 43
    assert len({model.url_path for model in MODELS}) == len(MODELS)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.name)
def test_every_entry_is_well_formed(model):
    assert model.family in FAMILIES
    assert re.fullmatch(r"20\d{6}/[a-z0-9_\-]+\.tar\.gz", model.url_path)
    assert re.fullmatch(r"[a-z0-9_]+", model.architecture)
    if model.input_size is not None:
        assert all(32 <= side <= 1536 for side in model.input_size)
    assert model.outputs[0] == "boxes"


@pytest.mark.parametrize("name, date", [
    ("centernet_hg104_512x512_coco17_tpu-8", "20200713"),
    ("centernet_hg104_1024x1024_coco17_tpu-32", "20200713"),
    ("centernet_hg104_512x512_kpts_coco17_tpu-32", "20200711"),  # not 13: the zoo page's link
    ("centernet_mobilenetv2fpn_512x512_coco17_od", "20210210"),
    ("centernet_mobilenetv2fpn_512x512_coco17_kpts", "20210210"),
    ("extremenet", "20210507"),
    ("extremenet_20200711", "20200711"),
    (NAME, "20200711"),
])
def test_date_folders_as_the_zoo_page_links_them(name, date):
    assert find(name).date == date


def test_variants_are_marked():
    assert find("centernet_resnet50_v2_512x512_kpts_coco17_tpu-8").kind == "boxes+keypoints"
    assert find("mask_rcnn_inception_resnet_v2_1024x1024_coco17_gpu-8").kind == "boxes+masks"
    old = find("extremenet_20200711")
    assert old.deprecated and old.file_name == "extremenet.tar.gz"
    assert old.url_path == "20200711/extremenet.tar.gz"
    assert find(NAME).kind == "boxes"


def test_the_centernet_mobilenet_tarballs_hold_a_folder_of_another_name():
    assert find("centernet_mobilenetv2fpn_512x512_coco17_od").top_folder == \
        "centernet_mobilenetv2_fpn_od"
    assert find(NAME).top_folder == NAME


def test_find_accepts_the_file_name():
    assert find(f"{NAME}.tar.gz").name == NAME


@pytest.mark.parametrize("typo, suggested", [
    ("ssd_mobilenet_v2_fpnlite_320", NAME),
    ("ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu8", NAME),
    ("efficientdet_d0", "efficientdet_d0_coco17_tpu-32"),
])
def test_an_unknown_name_suggests_close_ones(typo, suggested):
    with pytest.raises(InputError) as error:
        find(typo)
    message = str(error.value)
    assert message.startswith(f"unknown zoo model '{typo}'; did you mean ")
    assert repr(suggested) in message and "\n" not in message


def test_an_unknown_name_without_a_close_one_points_at_the_list():
    with pytest.raises(InputError, match="'odwrap zoo list' shows every model"):
        find("yolo\nv8")


@pytest.mark.parametrize("sample, name", [
    (NAME, NAME),
    (f"configs/tf2/{NAME}.config", NAME),
    ("ssd_efficientdet_d6_1408x1408_coco17_tpu-32", "efficientdet_d6_coco17_tpu-32"),
    ("centernet_hourglass104_512x512_coco17_tpu-8", "centernet_hg104_512x512_coco17_tpu-8"),
])
def test_for_sample_config(sample, name):
    assert for_sample_config(sample).name == name


def test_a_sample_config_without_a_zoo_model():
    assert for_sample_config("faster_rcnn_resnet50_v1_fpn_640x640_coco17_tpu-8") is None


def test_every_architecture_odwrap_renders_finds_its_zoo_model():
    """Each official sample config of odwrap's architecture table is a zoo model of that
    architecture key (and of its input size, but for EfficientDet D6, which the zoo lists at
    1280 and its sample renders at 1408; the ResNet50 FPN Faster R-CNN, whose sample has no
    zoo model), and each zoo model of such a key is one of its samples."""
    for arch in ARCHITECTURES.values():
        for size, sample in arch.samples.items():
            model = for_sample_config(sample.config)
            if not sample.official or arch.name == "faster_rcnn_resnet50_v1_fpn":
                continue  # derived values; the FPN Faster R-CNN has a sample but no zoo model
            assert model is not None, sample.config
            assert model.architecture == arch.name, sample.config
            expected = (size, size) if isinstance(size, int) else size
            if arch.name != "efficientdet_d6":
                assert model.input_size == expected, sample.config
    for model in MODELS:
        # A keypoint model's samples are keypoint configs; odwrap renders its boxes-only key.
        if model.architecture in ARCHITECTURES and "keypoints" not in model.outputs:
            samples = ARCHITECTURES[model.architecture].samples.values()
            configs = {sample.config for sample in samples}
            assert set(model.sample_configs) & configs or not model.sample_configs, model.name


def test_families():
    assert {model.family for model in models("retinanet")} == {"retinanet"}
    assert len(models("efficientdet")) == 8
    assert len(models()) == len(MODELS)
    with pytest.raises(InputError, match="unknown zoo family 'yolo'; the families are ssd, "):
        models("yolo")


@pytest.mark.parametrize("architecture, size, name", [
    ("ssd_mobilenet_v2_fpnlite", 320, "ssd_mobilenet_v2_fpnlite_320x320_coco17_tpu-8"),
    ("centernet_mobilenet_v2_fpn", [512, 512], "centernet_mobilenetv2fpn_512x512_coco17_od"),
    ("faster_rcnn_inception_resnet_v2", 1024,
     "faster_rcnn_inception_resnet_v2_1024x1024_coco17_tpu-8"),
    ("faster_rcnn_resnet50_v1", [800, 1333], "faster_rcnn_resnet50_v1_800x1333_coco17_gpu-8"),
    ("centernet_hourglass104", 512, "centernet_hg104_512x512_coco17_tpu-8"),
])
def test_for_architecture_puts_the_boxes_only_model_first(architecture, size, name):
    assert for_architecture(architecture, size)[0].name == name


def test_an_architecture_without_zoo_models_starts_from_one_with_its_feature_extractor():
    """STARTS_FROM: a key odwrap renders that the zoo has no model of -> one it has, whose
    samples have the same feature extractor (what a detection checkpoint restores)."""
    assert STARTS_FROM
    for architecture, source in STARTS_FROM.items():
        assert architecture in ARCHITECTURES and source in ARCHITECTURES
        assert not [model for model in MODELS if model.architecture == architecture]
        assert checkpoint_architecture(architecture) == source
        extractors = {sample.model.feature_extractor
                      for key in (architecture, source)
                      for sample in ARCHITECTURES[key].samples.values()}
        assert len(extractors) == 1, extractors
        for size in ARCHITECTURES[architecture].samples:
            assert for_architecture(source, size), size
    assert checkpoint_architecture("ssd_mobilenet_v2") == "ssd_mobilenet_v2"


def test_for_architecture_without_a_zoo_model():
    assert for_architecture("faster_rcnn_resnet50_v1_fpn", 640) == []
    assert for_architecture("ssd_mobilenet_v2_fpnlite", 512) == []
