"""The real OD API on the families beyond SSD FPN, at tiny sizes: model_builder builds every
one, and the size checks (ODW018-020, ODW027) agree with it (marked tf and slow). Training,
fine-tuning, evaluation and export of each family: tests/training/test_families.py."""

import pytest

from odwrap import check as check_file
from tests.tfdata import write_family_spec

pytestmark = [pytest.mark.tf, pytest.mark.slow]


def errors(findings):
    return [f.format() for f in findings if f.severity == "error"]


TWO_STAGE = "  proposals: 32\n"
TINY = [
    pytest.param("efficientdet_d0", 160, "", id="efficientdet-d0-160-padded-to-256"),
    pytest.param("efficientdet_d0", 256, "", id="efficientdet-d0-256"),
    pytest.param("centernet_resnet50_v2", 128, "", id="centernet-resnet50-v2-128"),
    pytest.param("centernet_resnet50_v1_fpn", 128, "", id="centernet-resnet50-v1-fpn-128"),
    pytest.param("centernet_resnet101_v1_fpn", 128, "", id="centernet-resnet101-v1-fpn-128"),
    pytest.param("centernet_hourglass104", 128, "", id="centernet-hourglass104-128"),
    pytest.param("centernet_mobilenet_v2_fpn", 128, "  depth_multiplier: 0.5\n",
                 id="centernet-mobilenet-v2-fpn-128"),  # 1.0 would download ImageNet weights
    pytest.param("faster_rcnn_resnet50_v1", 128, TWO_STAGE, id="faster-rcnn-resnet50-128"),
    pytest.param("faster_rcnn_resnet50_v1", "[128, 192]", TWO_STAGE,
                 id="faster-rcnn-resnet50-128x192-gpu-sample"),
    pytest.param("faster_rcnn_resnet50_v1_fpn", 128, TWO_STAGE, id="faster-rcnn-fpn-128"),
    pytest.param("faster_rcnn_inception_resnet_v2", 128, TWO_STAGE, id="faster-rcnn-irv2-128"),
    pytest.param("mask_rcnn_inception_resnet_v2", 128, TWO_STAGE + "  mask_size: 14\n",
                 id="mask-rcnn-irv2-128"),
    pytest.param("mask_rcnn_resnet50_v1", 128, TWO_STAGE + "  mask_size: 14\n",
                 id="mask-rcnn-resnet50-128"),
]


@pytest.mark.parametrize("architecture, size, model", TINY)
def test_every_family_builds_at_a_tiny_size(tmp_path, architecture, size, model):
    findings = check_file(write_family_spec(tmp_path, architecture, size, model), build=True)
    assert errors(findings) == []


@pytest.mark.parametrize("architecture, size, model, check_id", [
    pytest.param("efficientdet_d0", 128, "", "ODW018", id="efficientdet-below-129"),
    pytest.param("efficientdet_d0", 160, "  pad_to_multiple: 1\n", "ODW019",
                 id="efficientdet-160-unpadded"),
    pytest.param("efficientdet_d0", 160, "  fpn_levels: [3, 5]\n", "ODW027",
                 id="efficientdet-bifpn-levels-3-5"),
    pytest.param("efficientdet_d0", 192, "  fpn_levels: [3, 6]\n", None,
                 id="efficientdet-bifpn-levels-3-6"),
    pytest.param("centernet_hourglass104", 192, "", "ODW020", id="hourglass-192"),
    pytest.param("centernet_hourglass104", 256, "", None, id="hourglass-256"),
    pytest.param("centernet_resnet50_v1_fpn", 144, "", "ODW020", id="resnet-fpn-144"),
    pytest.param("centernet_resnet50_v1_fpn", 160, "", None, id="resnet-fpn-160"),
])
def test_size_checks_agree_with_the_builder(tmp_path, architecture, size, model, check_id):
    findings = check_file(write_family_spec(tmp_path, architecture, size, model), build=True)
    failed_build = any(f.id == "ODW100" for f in findings)
    assert failed_build == (check_id is not None), errors(findings)
    assert check_id is None or any(f.id == check_id for f in findings)
