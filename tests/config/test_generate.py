import textwrap

import pytest

from odwrap import cli
from odwrap.odapi import facts
from odwrap.odapi.pipeline import read_pipeline
from tests.conftest import ROOT, run_python

SPEC = """\
model:
  architecture: ssd_mobilenet_v2_fpnlite
  image_size: 320
data:
  classes: [cat, dog]
  train: data/train-*.tfrecord
train:
  batch_size: 16
  steps: 500
"""
COSINE = "train_config.optimizer.momentum_optimizer.learning_rate.cosine_decay_learning_rate"


def generate(tmp_path, text=SPEC, *extra):
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(text))
    out = tmp_path / "out"
    return cli.main(["generate", str(spec), "-o", str(out), *extra]), out


def cosine(config):
    return config.train_config.optimizer.momentum_optimizer.learning_rate \
        .cosine_decay_learning_rate


def test_generate_writes_a_config_that_reads_back(tmp_path, capsys):
    code, out = generate(tmp_path)
    assert code == 0
    config = read_pipeline(out / "pipeline.config")
    assert config.model.ssd.num_classes == 2
    assert config.train_input_reader.label_map_path == str(out / "label_map.pbtxt")
    assert (out / "label_map.pbtxt").read_text().count("item {") == 2
    assert list(config.train_input_reader.tf_record_input_reader.input_path) == [
        str(tmp_path / "data" / "train-*.tfrecord")]
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_batch_size_scales_the_learning_rate_and_says_so(tmp_path, capsys):
    code, out = generate(tmp_path)
    schedule = cosine(read_pipeline(out / "pipeline.config"))
    assert schedule.learning_rate_base == pytest.approx(0.08 * 16 / 128)
    assert schedule.warmup_learning_rate == pytest.approx(0.026666 * 16 / 128, rel=1e-4)
    assert schedule.total_steps == 500
    assert schedule.warmup_steps == 50  # the sample's 1000 capped at a tenth of 500
    stdout = capsys.readouterr().out
    assert "learning rate scaled linearly" in stdout and "warmup shortened" in stdout


def test_explicit_learning_rate_is_kept(tmp_path):
    code, out = generate(tmp_path, SPEC, "--set", "train.learning_rate=0.02",
                         "--set", "train.warmup_steps=10")
    schedule = cosine(read_pipeline(out / "pipeline.config"))
    assert schedule.learning_rate_base == pytest.approx(0.02)
    assert schedule.warmup_learning_rate == pytest.approx(0.02 * 0.026666 / 0.08, rel=1e-4)
    assert schedule.warmup_steps == 10


def test_hostile_path_stays_inside_its_string(tmp_path):
    evil = 'x" } } train_config { batch_size: 999 } foo { bar: "'
    code, out = generate(tmp_path, SPEC.replace("data/train-*.tfrecord", repr(evil)))
    assert code == 0
    config = read_pipeline(out / "pipeline.config")
    assert config.train_config.batch_size == 16
    assert list(config.train_input_reader.tf_record_input_reader.input_path) == [
        str(tmp_path / evil)]


def test_check_errors_block_the_write_and_keep_the_old_file(tmp_path, capsys):
    code, out = generate(tmp_path)
    before = (out / "pipeline.config").read_text()
    code, out = generate(tmp_path, SPEC, "--set", "model.image_size=300")
    assert code == 1
    err = capsys.readouterr().err
    assert "ODW001" in err and "nothing written" in err
    assert (out / "pipeline.config").read_text() == before
    code, out = generate(tmp_path, SPEC, "--set", "model.image_size=300", "--force")
    assert code == 0
    assert read_pipeline(out / "pipeline.config").model.ssd.image_resizer \
        .fixed_shape_resizer.height == 300


def test_quantization_block_is_written_and_flagged(tmp_path, capsys):
    code, out = generate(tmp_path, SPEC + "quantization: {enabled: true, delay: 100}\n")
    assert code == 0
    config = read_pipeline(out / "pipeline.config")
    assert config.graph_rewriter.quantization.delay == 100
    assert config.graph_rewriter.quantization.weight_bits == 8
    assert "ODW007" in capsys.readouterr().out


def test_bfloat16_of_the_sample_is_left_off_away_from_tpu(tmp_path, capsys):
    spec = SPEC.replace("ssd_mobilenet_v2_fpnlite", "retinanet_resnet50").replace("320", "640")
    code, out = generate(tmp_path, spec)
    assert not read_pipeline(out / "pipeline.config").train_config.use_bfloat16
    assert "use_bfloat16 of the sample config left off" in capsys.readouterr().out
    code, out = generate(tmp_path, spec, "--set", "train.device=tpu")
    assert read_pipeline(out / "pipeline.config").train_config.use_bfloat16


def test_augmentations_by_name_with_fields(tmp_path):
    spec = SPEC + ("  augmentations:\n    - random_vertical_flip\n"
                   "    - random_crop_image: {min_area: 0.5}\n"
                   "    - random_adjust_brightness: {max_delta: 0.1}\n")
    code, out = generate(tmp_path, spec)
    steps = read_pipeline(out / "pipeline.config").train_config.data_augmentation_options
    assert [step.WhichOneof("preprocessing_step") for step in steps] == [
        "random_vertical_flip", "random_crop_image", "random_adjust_brightness"]
    assert steps[1].random_crop_image.min_area == 0.5
    assert steps[1].random_crop_image.max_aspect_ratio == 3.0  # the sample's value
    assert steps[2].random_adjust_brightness.max_delta == pytest.approx(0.1)


def test_output_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "out").write_text("")
    code, _ = generate(tmp_path)
    assert code == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_generate_and_check_do_not_import_tensorflow(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    code = f"""
import sys
from odwrap import cli
assert cli.main(["generate", {str(spec)!r}, "-o", {str(tmp_path / 'o')!r}]) == 0
assert cli.main(["check", {str(tmp_path / 'o' / 'pipeline.config')!r}]) in (0, 1)
assert cli.main(["check", {str(spec)!r}]) in (0, 1)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_slim"))
print("HEAVY", heavy)
assert not heavy
"""
    result = run_python(code, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("spec", sorted((ROOT / "templates" / "specs").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_example_spec_generates_and_checks_clean(tmp_path, spec, capsys):
    out = tmp_path / "out"
    assert cli.main(["generate", str(spec), "-o", str(out)]) == 0
    assert facts.num_classes(read_pipeline(out / "pipeline.config")) > 0
    assert cli.main(["check", str(out / "pipeline.config")]) == 0
    assert cli.main(["check", str(spec)]) == 0


# The other families: sizes, padding, stages, masks and schedules decided for the spec.

def family(architecture, size, *lines):
    """SPEC with another architecture and input size, and extra lines for its sections."""
    text = SPEC.replace("ssd_mobilenet_v2_fpnlite", architecture).replace("320", str(size))
    model = [line for line in lines if line.startswith("model.")]
    train = [line for line in lines if line.startswith("train.")]
    for line in model:
        text = text.replace("  image_size:", f"  {line[len('model.'):]}\n  image_size:")
    return text + "".join(f"  {line[len('train.'):]}\n" for line in train)


@pytest.mark.parametrize("size, pad", [(160, 128), (256, 0), (512, 0)])
def test_efficientdet_pads_small_inputs_and_crops_at_its_size(tmp_path, capsys, size, pad):
    code, out = generate(tmp_path, family("efficientdet_d0", size))
    assert code == 0
    ssd = read_pipeline(out / "pipeline.config").model.ssd
    assert ssd.image_resizer.keep_aspect_ratio_resizer.max_dimension == size
    assert ssd.feature_extractor.pad_to_multiple == (pad or 1)  # the proto's default is 1
    crop = read_pipeline(out / "pipeline.config").train_config.data_augmentation_options[1]
    assert crop.random_scale_crop_and_pad_to_square.output_size == size
    assert ("input padded to a multiple of 128" in capsys.readouterr().out) == bool(pad)


def test_efficientdet_below_its_minimum_input_is_refused(tmp_path, capsys):
    code, out = generate(tmp_path, family("efficientdet_d0", 128))
    assert code == 1
    assert "ODW018" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("size, resizer, note", [
    pytest.param("[800, 1333]", (800, 1333), None, id="the-gpu-sample"),
    pytest.param("[600, 1000]", (600, 1000), "the values of faster_rcnn_resnet50_v1_800x1333",
                 id="a-pair-takes-the-gpu-sample"),
    pytest.param("512", (512, 512), "the values of faster_rcnn_resnet50_v1_640x640",
                 id="a-side-takes-the-default-sample"),
])
def test_faster_rcnn_sizes_pick_their_sample(tmp_path, capsys, size, resizer, note):
    code, out = generate(tmp_path, family("faster_rcnn_resnet50_v1", size))
    assert code == 0
    config = read_pipeline(out / "pipeline.config")
    keep = config.model.faster_rcnn.image_resizer.keep_aspect_ratio_resizer
    assert (keep.min_dimension, keep.max_dimension, keep.pad_to_max_dimension) == (*resizer, True)
    gpu = size.startswith("[")
    assert config.model.faster_rcnn.use_static_shapes == (not gpu)
    assert config.train_config.gradient_clipping_by_norm == (10.0 if gpu else 0.0)
    stdout = capsys.readouterr().out
    assert (note in stdout) if note else ("has no sample config" not in stdout)


def test_faster_rcnn_learning_rate_scales_with_the_batch(tmp_path, capsys):
    code, out = generate(tmp_path, family("faster_rcnn_resnet101_v1", 1024))
    assert cosine(read_pipeline(out / "pipeline.config")).learning_rate_base == \
        pytest.approx(0.04 * 16 / 64)
    assert "0.04 x 16/64" in capsys.readouterr().out


@pytest.mark.parametrize("proposals, second_stage", [(32, 32), (100, 0)])
def test_few_proposals_shrink_the_second_stage_batch(tmp_path, capsys, proposals, second_stage):
    code, out = generate(tmp_path, family("faster_rcnn_resnet50_v1", 640,
                                          f"model.proposals: {proposals}"))
    assert code == 0
    frcnn = read_pipeline(out / "pipeline.config").model.faster_rcnn
    assert frcnn.first_stage_max_proposals == proposals
    assert frcnn.second_stage_batch_size == (second_stage or 64)
    assert frcnn.HasField("second_stage_batch_size") == bool(second_stage)


def test_mask_rcnn_masks_in_the_head_the_readers_and_the_metrics(tmp_path):
    code, out = generate(tmp_path, family("mask_rcnn_inception_resnet_v2", 1024,
                                          "model.mask_size: [28, 14]"))
    assert code == 0
    config = read_pipeline(out / "pipeline.config")
    head = config.model.faster_rcnn.second_stage_box_predictor.mask_rcnn_box_predictor
    assert (head.mask_height, head.mask_width, head.predict_instance_masks) == (28, 14, True)
    assert config.train_input_reader.load_instance_masks
    reader = config.eval_input_reader[0]
    assert reader.DESCRIPTOR.fields_by_name["mask_type"].enum_type \
        .values_by_number[reader.mask_type].name == "PNG_MASKS"
    assert list(config.eval_config.metrics_set) == ["coco_detection_metrics",
                                                    "coco_mask_metrics"]


def test_step_schedule_follows_the_steps_and_adam_keeps_its_rate(tmp_path, capsys):
    code, out = generate(tmp_path, family("centernet_hourglass104", 512, "train.steps: 1400")
                         .replace("  steps: 500\n", ""))
    assert code == 0
    steps = read_pipeline(out / "pipeline.config").train_config.optimizer.adam_optimizer \
        .learning_rate.manual_step_learning_rate
    assert steps.initial_learning_rate == pytest.approx(1e-3)
    assert [(s.step, s.learning_rate) for s in steps.schedule] == [
        (900, pytest.approx(1e-4)), (1200, pytest.approx(1e-5))]
    assert "learning rate 0.001 of the sample kept at batch 16" in capsys.readouterr().out


def test_a_spec_may_choose_another_schedule(tmp_path):
    code, out = generate(tmp_path, family("centernet_hourglass104", 512, "train.schedule: cosine",
                                          "train.warmup_steps: 20"))
    rate = read_pipeline(out / "pipeline.config").train_config.optimizer.adam_optimizer \
        .learning_rate.cosine_decay_learning_rate
    assert (rate.learning_rate_base, rate.warmup_steps, rate.total_steps) == \
        (pytest.approx(1e-3), 20, 500)


def test_center_net_max_detections_and_its_stride(tmp_path, capsys):
    code, out = generate(tmp_path, family("centernet_resnet50_v2", 512,
                                          "model.max_detections: 50"))
    center_net = read_pipeline(out / "pipeline.config").model.center_net
    assert center_net.object_center_params.max_box_predictions == 50
    code, out = generate(tmp_path, family("centernet_hourglass104", 320))
    assert code == 1 and "ODW020" in capsys.readouterr().err
