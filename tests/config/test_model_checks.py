"""The checks of one meta-architecture (odwrap/config/model_checks.py) and the fine_tune type:
a few lines of text proto, the check, an assertion, and the clean case beside each."""

import pytest

from odwrap.config.checks import Target
from tests.config.test_checks import check_pipeline, config, ids


def found(text, check_id, severity="error"):
    return [f for f in check_pipeline(config(text)) if f.id == check_id and
            f.severity == severity]


def ssd(extractor, resizer, extra="", train="batch_size: 8"):
    return (f'model {{ ssd {{ num_classes: 1 image_resizer {{ {resizer} }} '
            f'feature_extractor {{ type: "{extractor}" {extra} }} }} }} '
            f"train_config {{ {train} }}")


KEEP = "keep_aspect_ratio_resizer {{ min_dimension: {0} max_dimension: {0} {1} }}"
PADDED = KEEP.replace("{1}", "pad_to_max_dimension: true")
FIXED = "fixed_shape_resizer {{ height: {0} width: {0} }}"


@pytest.mark.parametrize("resizer, train, bad", [
    pytest.param(KEEP.format(512, ""), "batch_size: 8", True, id="keep-aspect-unpadded"),
    pytest.param("identity_resizer { }", "batch_size: 2", True, id="identity"),
    pytest.param(PADDED.format(512), "batch_size: 8", False, id="padded-to-max"),
    pytest.param(KEEP.format(512, ""), "batch_size: 1", False, id="batch-1"),
    pytest.param(FIXED.format(512), "batch_size: 8", False, id="fixed"),
])
def test_varying_input_size_cannot_batch(resizer, train, bad):
    text = ssd("ssd_mobilenet_v2_keras", resizer, train=train)
    assert bool(found(text, "ODW017")) == bad


@pytest.mark.parametrize("extractor, resizer, bad", [
    pytest.param("ssd_efficientnet-b0_bifpn_keras", PADDED.format(128), True, id="effdet-128"),
    pytest.param("ssd_efficientnet-b0_bifpn_keras", PADDED.format(160), False, id="effdet-160"),
    pytest.param("ssd_resnet50_v1_fpn_keras", FIXED.format(128), True, id="resnet-fpn-128"),
    pytest.param("ssd_mobilenet_v2_keras", FIXED.format(32), True, id="mobilenet-32"),
    pytest.param("ssd_mobilenet_v2_keras", FIXED.format(64), False, id="mobilenet-64"),
])
def test_ssd_extractors_refuse_small_inputs(extractor, resizer, bad):
    findings = found(ssd(extractor, resizer, "pad_to_multiple: 128"), "ODW018")
    assert bool(findings) == bad
    if bad:
        assert "pad_to_multiple does not help" in findings[0].hint


BIFPN = 'bifpn {{ min_level: 3 max_level: {top} num_iterations: 3 num_filters: 64 }} {pad}'


@pytest.mark.parametrize("side, top, pad, bad", [
    pytest.param(160, 7, "", True, id="160-unpadded"),
    pytest.param(160, 7, "pad_to_multiple: 128", False, id="160-padded-to-128"),
    pytest.param(160, 7, "pad_to_multiple: 64", True, id="160-padded-too-little"),
    pytest.param(256, 7, "", False, id="256"),
    pytest.param(192, 6, "", False, id="192-levels-3-6"),
])
def test_bifpn_input_multiple(side, top, pad, bad):
    text = ssd("ssd_efficientnet-b0_bifpn_keras", PADDED.format(side),
               BIFPN.format(top=top, pad=pad))
    findings = found(text, "ODW019")
    assert bool(findings) == bad
    if bad:
        assert "pad_to_multiple: 128" in findings[0].hint and "128 or 256" in findings[0].hint


@pytest.mark.parametrize("top, bad", [(5, True), (4, True), (6, False), (7, False)])
def test_bifpn_needs_a_level_above_the_backbone(top, bad):
    side = 2 ** top * 2
    text = ssd("ssd_efficientnet-b0_bifpn_keras", PADDED.format(side),
               BIFPN.format(top=top, pad=""))
    assert bool(found(text, "ODW027")) == bad


def test_fpn_size_check_reads_a_padded_keep_aspect_resizer():
    text = ssd("ssd_mobilenet_v2_fpn_keras", PADDED.format(300),
               "fpn { min_level: 3 max_level: 7 }")
    assert found(text, "ODW001")
    assert not found(text.replace("300", "320"), "ODW001")


def center_net(extractor, side, extra=""):
    return (f'model {{ center_net {{ num_classes: 1 feature_extractor {{ type: "{extractor}" '
            f'{extra} }} image_resizer {{ {PADDED.format(side)} }} }} }}')


@pytest.mark.parametrize("extractor, side, bad", [
    pytest.param("hourglass_104", 384, False, id="hourglass-384"),
    pytest.param("hourglass_104", 320, True, id="hourglass-320"),
    pytest.param("hourglass_10", 200, False, id="hourglass10-200"),
    pytest.param("resnet_v2_50", 320, False, id="resnet-320"),
    pytest.param("resnet_v1_50_fpn", 200, True, id="resnet-fpn-200"),
    pytest.param("mobilenet_v2_fpn", 208, True, id="mobilenet-208"),
])
def test_center_net_input_is_a_multiple_of_the_backbone_stride(extractor, side, bad):
    findings = found(center_net(extractor, side, "depth_multiplier: 0.5"), "ODW020")
    assert bool(findings) == bad
    if extractor == "hourglass_104" and bad:
        assert "256 or 384" in findings[0].hint


FRCNN = ('model {{ faster_rcnn {{ num_classes: 1 feature_extractor {{ type: "{kind}" {fe} }} '
         "{extra} }} }}")


@pytest.mark.parametrize("kind, fe, extra, field", [
    pytest.param("faster_rcnn_resnet50_keras", "", "first_stage_max_proposals: 32",
                 "second_stage_batch_size", id="proposals-below-second-stage-batch"),
    pytest.param("faster_rcnn_resnet50_keras", "", "first_stage_nms_iou_threshold: 1.5",
                 "first_stage_nms_iou_threshold", id="iou-above-1"),
    pytest.param("faster_rcnn_resnet50_keras", "", "number_of_stages: 4", "number_of_stages",
                 id="four-stages"),
    pytest.param("faster_rcnn_resnet50_keras", "", "inplace_batchnorm_update: true",
                 "inplace_batchnorm_update", id="inplace-batchnorm"),
    pytest.param("faster_rcnn_resnet50_keras", "first_stage_features_stride: 8", "",
                 "feature_extractor.first_stage_features_stride", id="resnet-stride-8"),
    pytest.param("faster_rcnn_resnet50_fpn_keras", "first_stage_features_stride: 4", "",
                 "feature_extractor.first_stage_features_stride", id="fpn-stride-4"),
])
def test_faster_rcnn_stage_settings_the_builder_refuses(kind, fe, extra, field):
    findings = found(FRCNN.format(kind=kind, fe=fe, extra=extra), "ODW021")
    assert [f.path for f in findings] == [f"model.faster_rcnn.{field}"]


@pytest.mark.parametrize("kind, fe, extra", [
    pytest.param("faster_rcnn_resnet50_keras", "", "first_stage_max_proposals: 32 "
                 "second_stage_batch_size: 32", id="proposals-and-batch-fit"),
    pytest.param("faster_rcnn_resnet50_fpn_keras", "first_stage_features_stride: 8", "",
                 id="fpn-stride-8"),
    pytest.param("faster_rcnn_inception_resnet_v2_keras", "", "number_of_stages: 3",
                 id="mask-rcnn-stages"),
])
def test_faster_rcnn_stage_settings_that_build(kind, fe, extra):
    assert not found(FRCNN.format(kind=kind, fe=fe, extra=extra), "ODW021")


MASKS = """model {{ faster_rcnn {{ num_classes: 1 initial_crop_size: 17 maxpool_stride: 1
  feature_extractor {{ type: "faster_rcnn_inception_resnet_v2_keras" }}
  second_stage_box_predictor {{ mask_rcnn_box_predictor {{ predict_instance_masks: true
    mask_height: {side} mask_width: {side} {head} }} }} }} }}
train_input_reader {{ {train} }}
eval_config {{ metrics_set: "coco_detection_metrics" metrics_set: "coco_mask_metrics" }}
eval_input_reader {{ {eval} }}"""
LOAD = "load_instance_masks: true mask_type: PNG_MASKS"


@pytest.mark.parametrize("values, finding", [
    pytest.param(dict(side=33, head="", train="", eval=LOAD),
                 ("error", "train_input_reader.load_instance_masks"), id="no-training-masks"),
    pytest.param(dict(side=33, head="convolve_then_upsample_masks: true", train=LOAD, eval=LOAD),
                 ("error", "model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor"
                           ".mask_height"), id="upsampling-not-whole"),
    pytest.param(dict(side=34, head="convolve_then_upsample_masks: true", train=LOAD, eval=LOAD),
                 None, id="upsampling-by-2"),
    pytest.param(dict(side=33, head="", train=LOAD, eval=""),
                 ("warning", "eval_input_reader[0].load_instance_masks"), id="no-eval-masks"),
    pytest.param(dict(side=33, head="", train=LOAD, eval=LOAD), None, id="as-the-sample"),
])
def test_mask_head_and_the_masks_it_needs(values, finding):
    findings = [(f.severity, f.path) for f in check_pipeline(config(MASKS.format(**values)))
                if f.id == "ODW022"]
    assert findings == ([finding] if finding else [])


SCALE_CROP = """model {{ ssd {{ num_classes: 1 image_resizer {{ {resizer} }} }} }}
train_config {{ data_augmentation_options {{ random_horizontal_flip {{ }} }}
  data_augmentation_options {{ random_scale_crop_and_pad_to_square {{ {output} }} }} }}"""


@pytest.mark.parametrize("resizer, output, warned", [
    pytest.param(PADDED.format(256), "", True, id="proto-default-512-at-256"),
    pytest.param(PADDED.format(256), "output_size: 256", False, id="follows-the-input"),
    pytest.param(FIXED.format(640), "output_size: 512", True, id="fixed-640"),
])
def test_scale_crop_output_size_follows_the_input(resizer, output, warned):
    findings = found(SCALE_CROP.format(resizer=resizer, output=output), "ODW023", "warning")
    assert bool(findings) == warned
    if warned:
        assert findings[0].path == ("train_config.data_augmentation_options[1]"
                                    ".random_scale_crop_and_pad_to_square.output_size")


@pytest.mark.parametrize("extractor, extra, warned", [
    pytest.param("mobilenet_v2_fpn_sep_conv", "", True, id="default-multiplier"),
    pytest.param("mobilenet_v2", "depth_multiplier: 1.0", True, id="multiplier-1"),
    pytest.param("mobilenet_v2_fpn", "depth_multiplier: 0.5", False, id="multiplier-0.5"),
    pytest.param("resnet_v2_50", "", False, id="resnet"),
])
def test_center_net_mobilenet_downloads_imagenet_weights(extractor, extra, warned):
    assert bool(found(center_net(extractor, 512, extra), "ODW024", "warning")) == warned


@pytest.mark.parametrize("arch, kind, words", [
    pytest.param("center_net", "fine_tune", "no longer supported for CenterNet", id="centernet"),
    pytest.param("ssd", "fine_tune", "Not supported", id="ssd"),
    pytest.param("faster_rcnn", "fine_tune", "Not supported", id="faster-rcnn"),
    pytest.param("center_net", "detection", None, id="centernet-detection"),
])
def test_fine_tune_checkpoint_type_fine_tune_is_refused(arch, kind, words):
    text = (f"model {{ {arch} {{ num_classes: 1 }} }} train_config {{ fine_tune_checkpoint: "
            f'"gs://b/ckpt-0" fine_tune_checkpoint_type: "{kind}" '
            "fine_tune_checkpoint_version: V2 }")
    findings = found(text, "ODW005")
    assert bool(findings) == bool(words)
    if words:
        assert words in findings[0].message and "'detection'" in findings[0].hint


def test_a_config_without_training_settings_is_not_flagged_for_batching():
    assert "ODW017" not in ids(check_pipeline(config(
        f"model {{ ssd {{ image_resizer {{ {KEEP.format(512, '')} }} }} }}")))


@pytest.mark.parametrize("resizer, targets, bad", [
    pytest.param(PADDED.format(512), ("tflite",), True, id="keep-aspect-to-tflite"),
    pytest.param(PADDED.format(512), ("saved_model",), False, id="keep-aspect-saved-model"),
    pytest.param(FIXED.format(320), ("tflite",), False, id="fixed-to-tflite"),
])
def test_tflite_export_needs_a_fixed_shape_resizer(resizer, targets, bad):
    from odwrap.config.checks import Target

    text = ssd("ssd_efficientnet-b0_bifpn_keras", resizer, train="batch_size: 1")
    findings = [f for f in check_pipeline(config(text), Target(export_targets=targets))
                if f.id == "ODW025"]
    assert bool(findings) == bad


@pytest.mark.parametrize("eval_config, bad", [
    pytest.param('metrics_set: "coco_detection_metrics" include_metrics_per_category: true',
                 True, id="coco-per-category"),
    pytest.param("include_metrics_per_category: true", True, id="default-coco-per-category"),
    pytest.param('metrics_set: "pascal_voc_detection_metrics" '
                 "include_metrics_per_category: true", False, id="pascal-per-category"),
    pytest.param('metrics_set: "coco_detection_metrics"', False, id="coco"),
])
def test_coco_metrics_per_category_are_refused(eval_config, bad):
    text = f"model {{ ssd {{ num_classes: 1 }} }}\neval_config {{ {eval_config} }}"
    assert bool(found(text, "ODW026")) == bad
    if bad:  # it points at what gives per-class AP instead
        assert "odwrap eval reports AP, AP@.50, AP@.75 and AR@100 per class" in \
            found(text, "ODW026")[0].hint


@pytest.mark.tf
def test_the_installed_coco_evaluator_raises_on_metrics_per_category():
    """The fact ODW026 rests on, on the installed OD API and pycocotools."""
    import numpy as np

    from odwrap.odapi import compat

    coco_evaluation = compat.load("object_detection.metrics.coco_evaluation")
    evaluator = coco_evaluation.CocoDetectionEvaluator(
        [{"id": 1, "name": "square"}], include_metrics_per_category=True)
    box = np.array([[10.0, 10.0, 50.0, 50.0]], np.float32)
    evaluator.add_single_ground_truth_image_info("a", {
        "groundtruth_boxes": box, "groundtruth_classes": np.array([1])})
    evaluator.add_single_detected_image_info("a", {
        "detection_boxes": box, "detection_scores": np.array([0.9], np.float32),
        "detection_classes": np.array([1])})
    with pytest.raises(ValueError, match="Category stats do not exist"):
        evaluator.evaluate()


@pytest.mark.parametrize("meta, targets, refused", [
    pytest.param("ssd", ["saved_model", "tflite", "edgetpu"], [], id="ssd-all"),
    pytest.param("center_net", ["tflite"], [], id="centernet-tflite"),
    pytest.param("center_net", ["edgetpu"], ["edgetpu"], id="centernet-edgetpu"),
    pytest.param("faster_rcnn", ["saved_model", "tflite", "edgetpu"], ["tflite", "edgetpu"],
                 id="faster-rcnn"),
])
def test_an_export_target_the_architecture_cannot_take(meta, targets, refused):
    """ODW028: the one table of what each format takes (odapi.exports), read by the checks as by
    `export`: a Faster R-CNN spec with a tflite target is refused before training."""
    found = check_pipeline(config(f"model {{ {meta} {{ num_classes: 2 }} }}"),
                           Target(export_targets=tuple(targets)))
    odw028 = [f for f in found if f.id == "ODW028"]
    assert [f.message.split(":")[0] for f in odw028] == refused
    if meta == "faster_rcnn":
        assert odw028[0].message == ("tflite: the OD API's TFLite export takes SSD and CenterNet "
                                     "models, and this is a Faster R-CNN model")
        assert odw028[0].hint == "export --format saved_model (a target it takes)"


def test_one_table_of_exports():
    """The exporters' table, the CLI's choices and the spec's schema all come from
    odapi.exports."""
    from odwrap.cli.parser import build_parser
    from odwrap.config.spec import ExportSpec
    from odwrap.deploy import export
    from odwrap.odapi import exports

    assert tuple(export.FORMATS) == exports.FORMATS and export.QUANTIZE is exports.QUANTIZE
    sub = build_parser()._subparsers._group_actions[0].choices["export"]
    choices = next(a.choices for a in sub._actions if a.dest == "format")
    assert tuple(choices) == exports.FORMATS
    assert ExportSpec.__annotations__["targets"].__args__[0].__args__ == exports.FORMATS
