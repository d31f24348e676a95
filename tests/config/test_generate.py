import textwrap

import pytest

from odwrap import cli
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
    assert read_pipeline(out / "pipeline.config").model.ssd.num_classes > 0
    assert cli.main(["check", str(out / "pipeline.config")]) == 0
    assert cli.main(["check", str(spec)]) == 0
