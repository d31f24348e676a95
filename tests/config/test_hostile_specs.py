"""Hostile specs, configs and label maps (issue 12): every number checked against its range, YAML
bombs and recursion refused, size limits on every text input, non-regular files never read.
Each case is one line naming the file, the field or the limit, exit 2, and nothing written."""

import os
import time

import pytest

from odwrap import cli
from odwrap.config.spec import load_spec
from odwrap.errors import InputError
from odwrap.odapi import labelmap
from tests.conftest import run_odwrap

HEAD = """\
model:
  architecture: ssd_mobilenet_v2_fpnlite
  image_size: 320
data:
  classes: [cat, dog]
train:
  batch_size: 8
"""


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def generate(tmp_path, spec, *extra):
    """(exit code, the one stderr line, whether the output folder exists)"""
    out = tmp_path / "out"
    code = cli.main(["generate", str(spec), "-o", str(out), *extra])
    return code, out


def assert_refused(capsys, code, out, message):
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out is None or not out.exists()


NUMBERS = [
    pytest.param("  image_size: 320", "  image_size: 100000",
                 "spec.yaml:3: model.image_size: expected int in 32..4096 (got 100000)",
                 id="image-size-huge"),
    pytest.param("  image_size: 320", "  image_size: [320, 100000]",
                 "spec.yaml:3: model.image_size[1]: expected int in 32..4096 (got 100000)",
                 id="image-size-pair"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  learning_rate: .inf",
                 "spec.yaml:8: train.learning_rate: expected number in (0, 100] (got inf)",
                 id="learning-rate-inf"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  learning_rate: .nan",
                 "spec.yaml:8: train.learning_rate: expected number in (0, 100] (got nan)",
                 id="learning-rate-nan"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  steps: 99999999999999",
                 "spec.yaml:8: train.steps: expected int in 1..2147483647 (got 99999999999999)",
                 id="steps-past-int32"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  warmup_steps: 99999999999999",
                 "train.warmup_steps: expected int in 0..2147483647", id="warmup-past-int32"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  warmup_learning_rate: -.inf",
                 "train.warmup_learning_rate: expected number in [0, 100] (got -inf)",
                 id="warmup-rate-minus-inf"),
    pytest.param("  batch_size: 8", "  batch_size: true",
                 "spec.yaml:7: train.batch_size: expected int | null, got True",
                 id="bool-is-no-int"),
    pytest.param("  batch_size: 8", "  batch_size: 1.0e+300",
                 "train.batch_size: expected int | null, got 1e+300", id="float-is-no-int"),
    pytest.param("  image_size: 320", "  image_size: 320\n  depth_multiplier: .nan",
                 "model.depth_multiplier: expected number in (0, 4] (got nan)",
                 id="depth-multiplier-nan"),
    pytest.param("  image_size: 320", "  image_size: 320\n  iou_threshold: .inf",
                 "model.iou_threshold: expected number in [0, 1] (got inf)", id="iou-inf"),
    pytest.param("  image_size: 320", "  image_size: 320\n  num_classes: 4294967297",
                 "model.num_classes: expected int in 1..100000", id="num-classes-huge"),
    pytest.param("  image_size: 320", "  image_size: 320\n  max_detections: 99999999999",
                 "model.max_detections: expected int in 1..10000", id="max-detections"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  max_boxes: 0",
                 "train.max_boxes: expected int in 1..10000 (got 0)", id="max-boxes-zero"),
    pytest.param("  batch_size: 8", "  batch_size: 8\neval:\n  num_examples: 99999999999",
                 "eval.num_examples: expected int in 1..2147483647", id="eval-examples"),
    pytest.param("  batch_size: 8", "  batch_size: 8\nquantization:\n  delay: -1",
                 "quantization.delay: expected int in 0..2147483647 (got -1)", id="delay"),
    pytest.param("  batch_size: 8", "  batch_size: 8\nexport:\n  max_detections: 0",
                 "'export.max_detections' is not a spec key: it is chosen when exporting "
                 "(odwrap export DIR --format tflite --max-detections ...)", id="export-dets"),
    pytest.param("  batch_size: 8", "  batch_size: 8\nexport:\n  quantize: int8",
                 "'export.quantize' is not a spec key: it is chosen when exporting "
                 "(odwrap export DIR --format tflite --quantize ...)", id="export-quantize"),
    pytest.param("  batch_size: 8", "  batch_size: 8\nexport:\n  targets: [tensorrt]",
                 "export.targets[0]: expected one of 'edgetpu', 'onnx', 'openvino', "
                 "'saved_model', 'tflite' (got 'tensorrt')",
                 id="export-target"),
    pytest.param("  batch_size: 8",
                 "  batch_size: 8\n  augmentations: [{random_crop_image: {min_area: .nan}}]",
                 "spec.yaml: train.augmentations[0].random_crop_image.min_area: expected a "
                 "finite number", id="augmentation-nan"),
    pytest.param("  batch_size: 8",
                 "  batch_size: 8\n  augmentations: [{random_crop_image: {min_area: 1.0e+39}}]",
                 "min_area: expected a finite number in [-3.40282e+38, 3.40282e+38] (got 1e+39)",
                 id="augmentation-past-float32"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  augmentations: "
                 "[{random_jpeg_quality: {min_jpeg_quality: 99999999999}}]",
                 "random_jpeg_quality.min_jpeg_quality: expected int in -2147483648..2147483647 "
                 "(got 99999999999)", id="augmentation-past-int32"),
    pytest.param("  batch_size: 8", "  batch_size: 8\n  augmentations: "
                 "[{random_horizontal_flip: {probability: true}}]",
                 "probability: True is not a valid probability value", id="augmentation-bool"),
]


@pytest.mark.parametrize("old, new, message", NUMBERS)
def test_every_number_is_checked_against_its_range(tmp_path, capsys, old, new, message):
    spec = write(tmp_path, HEAD.replace(old, new))
    code, out = generate(tmp_path, spec)
    assert_refused(capsys, code, out, message)


@pytest.mark.parametrize("override, message", [
    pytest.param("train.steps=99999999999999",
                 "--set: train.steps: expected int in 1..2147483647 (got 99999999999999)",
                 id="steps"),
    pytest.param("model.image_size=[320, .inf]",
                 "--set: model.image_size[1]: expected int in 32..4096, got inf", id="inf-side"),
    pytest.param("train.learning_rate=.nan",
                 "--set: train.learning_rate: expected number in (0, 100] (got nan)", id="nan"),
])
def test_set_values_are_checked_like_the_file(tmp_path, capsys, override, message):
    code, out = generate(tmp_path, write(tmp_path, HEAD), "--set", override)
    assert_refused(capsys, code, out, message)


def test_a_valid_number_at_each_end_of_its_range_is_accepted(tmp_path):
    spec = write(tmp_path, HEAD.replace("  image_size: 320", "  image_size: 4096")
                 + "  steps: 2147483647\n  warmup_steps: 1000\n")
    assert load_spec(spec).spec.train.steps == 2147483647
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "out")]) == 0
    assert "total_steps: 2147483647" in (tmp_path / "out" / "pipeline.config").read_text()


def bomb(levels=9, width=9) -> str:
    rows = [f"x0: &a0 [{', '.join(['lol'] * width)}]"]
    rows += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(rows) + "\n"


YAML_CASES = [
    pytest.param(bomb() + HEAD.replace("classes: [cat, dog]", "classes: *a8"),
                 "YAML refused: more than 100000 values with the aliases expanded (an alias bomb?)",
                 id="billion-laughs"),
    pytest.param(HEAD.replace("classes: [cat, dog]", "classes: &a [cat, *a]"),
                 "spec.yaml:5: YAML refused: an alias refers to the anchor it is inside",
                 id="recursive-alias"),
    pytest.param(HEAD.replace("classes: [cat, dog]", "classes: &a {x: *a}"),
                 "spec.yaml:5: YAML refused: an alias refers to the anchor it is inside",
                 id="recursive-mapping"),
    pytest.param(HEAD.replace("classes: [cat, dog]", "classes: " + "[" * 200 + "]" * 200),
                 "spec.yaml:5: YAML refused: nested more than 32 levels deep", id="deep-nesting"),
    pytest.param(HEAD.replace("batch_size: 8", "batch_size: " + "9" * 5000),
                 "spec.yaml: a YAML value cannot be read: Exceeds the limit", id="5000-digits"),
    pytest.param(HEAD + "  steps: 2020-13-45\n",
                 "spec.yaml: a YAML value cannot be read: month must be in 1..12",
                 id="bad-date"),
    pytest.param(HEAD + "? [a, b]\n: 1\n", "spec.yaml:8: YAML syntax error: found unhashable key",
                 id="unhashable-key"),
]


@pytest.mark.parametrize("text, message", YAML_CASES)
def test_hostile_yaml_is_refused_in_one_line(tmp_path, capsys, text, message):
    started = time.perf_counter()
    code, out = generate(tmp_path, write(tmp_path, text))
    assert_refused(capsys, code, out, message)
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("override, message", [
    pytest.param("data.classes=" + bomb().replace("\n", ", ").join("{}"),
                 "YAML refused: more than 100000 values", id="bomb"),
    pytest.param("data.classes=&a [*a]", "--set data.classes: YAML refused: an alias refers",
                 id="recursive"),
    pytest.param("data.classes=" + "x" * 70000,
                 "--set data.classes: the value is 70000 characters, over odwrap's limit of "
                 "65536 for a --set value", id="too-long"),
])
def test_hostile_set_values_are_refused(tmp_path, capsys, override, message):
    code, out = generate(tmp_path, write(tmp_path, HEAD), "--set", override)
    assert_refused(capsys, code, out, message)


def test_a_50_mb_spec_is_refused_before_it_is_parsed(tmp_path, capsys):
    spec = tmp_path / "big.yaml"
    with spec.open("w") as handle:
        handle.write(HEAD + "  augmentations: [")
        handle.write("random_horizontal_flip, " * 2_100_000)
        handle.write("]\n")
    started = time.perf_counter()
    code, out = generate(tmp_path, spec)
    assert time.perf_counter() - started < 2
    assert_refused(capsys, code, out, "big.yaml: the file is 50.4 MB, over odwrap's limit of "
                                      "1 MiB for a spec")


@pytest.mark.parametrize("make, message", [
    pytest.param(lambda tmp: "/dev/zero", "/dev/zero: cannot read the file: not a regular file",
                 id="dev-zero"),
    pytest.param(lambda tmp: tmp, "cannot read the file: a folder", id="folder"),
    pytest.param(lambda tmp: tmp / "missing.config", "missing.config: no such file",
                 id="missing"),
])
def test_check_refuses_what_is_no_regular_file(tmp_path, capsys, make, message):
    code = cli.main(["check", str(make(tmp_path))])
    assert_refused(capsys, code, None, message)


def test_check_of_a_fifo_without_a_writer_neither_blocks_nor_reads(tmp_path):
    fifo = tmp_path / "pipeline.config"
    os.mkfifo(fifo)
    result = run_odwrap("check", fifo, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"odwrap: error: {fifo}: cannot read the file: not a regular file\n"


def test_check_dev_zero_end_to_end_is_refused_at_once():
    result = run_odwrap("check", "/dev/zero", timeout=60)
    assert result.returncode == 2
    assert result.stderr == "odwrap: error: /dev/zero: cannot read the file: not a regular file\n"


def test_generate_refuses_a_huge_image_size_end_to_end(tmp_path):
    spec = write(tmp_path, HEAD.replace("image_size: 320", "image_size: 100000"))
    result = run_odwrap("generate", spec, "-o", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr == (f"odwrap: error: {spec}:3: model.image_size: expected int in "
                             "32..4096 (got 100000)\n")
    assert not (tmp_path / "out").exists()


def test_check_refuses_an_alias_bomb_end_to_end(tmp_path):
    spec = write(tmp_path, bomb() + HEAD.replace("classes: [cat, dog]", "classes: *a8"))
    result = run_odwrap("check", spec, timeout=60)
    assert result.returncode == 2
    assert "YAML refused: more than 100000 values" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_pipeline_config_over_its_limit_is_refused(tmp_path, capsys):
    config = tmp_path / "pipeline.config"
    config.write_text("# padding\n" * 120_000)
    code = cli.main(["check", str(config)])
    assert_refused(capsys, code, None, "pipeline.config: the file is 1.2 MB, over odwrap's "
                                       "limit of 1 MiB for a pipeline.config")


def test_a_label_map_over_its_limit_is_refused(tmp_path):
    path = tmp_path / "label_map.pbtxt"
    path.write_text("# padding\n" * 900_000)
    with pytest.raises(InputError, match=r"label_map.pbtxt: the label map is 9.0 MB, over "
                                         r"odwrap's limit of 8 MiB for a label map"):
        labelmap.read(path)


def test_a_label_map_id_past_int32_is_refused(tmp_path):
    path = tmp_path / "label_map.pbtxt"
    path.write_text('item { id: 99999999999 name: "a" }\n')
    with pytest.raises(InputError, match="label_map.pbtxt:1:"):
        labelmap.read(path)


@pytest.fixture
def decoy_tree(tmp_path):
    """Four levels of four folders (340 in all) under tmp_path/tree, no TFRecord in them."""
    root = tmp_path / "tree"
    for path in ["/".join(f"d{level}{index}" for level, index in enumerate(digits))
                 for digits in __import__("itertools").product(range(4), repeat=4)]:
        (root / path).mkdir(parents=True, exist_ok=True)
    return root


@pytest.mark.parametrize("command", ["generate", "check"])
def test_a_pattern_that_would_read_a_whole_tree_is_refused(tmp_path, capsys, monkeypatch,
                                                          decoy_tree, command):
    """Issue 30, case 13: '/*/*/*/*/*/*/*/*/*/*/*/*.tfrecord' in data.train never finished
    (a depth of 8 took over 60 s). Here the limit is lowered onto a decoy tree."""
    from odwrap import fsutil

    monkeypatch.setattr(fsutil, "GLOB_ENTRIES", 200)
    pattern = f"{decoy_tree}/*/*/*/*/*.tfrecord"
    spec = write(tmp_path, HEAD.replace("  classes: [cat, dog]\n", "  classes: [cat, dog]\n"
                                        f"  train: '{pattern}'\n  eval: '{pattern}'\n"))
    argv = [command, str(spec)] + (["-o", str(tmp_path / "out")] if command == "generate" else [])
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2 and f"{pattern}: the pattern reads more than 200 folder entries" in err, err
    assert err.count("\n") == 1


@pytest.mark.parametrize("reader", ["train_input_reader", "eval_input_reader"])
def test_a_pipeline_config_pattern_that_would_read_a_whole_tree_is_refused(
        tmp_path, capsys, monkeypatch, decoy_tree, reader):
    """The same pattern as a pipeline.config's input_path, which check globs for ODW004."""
    from odwrap import fsutil

    monkeypatch.setattr(fsutil, "GLOB_ENTRIES", 200)
    pattern = f"{decoy_tree}/*/*/*/*/*.tfrecord"
    config = write(tmp_path, f'{reader} {{ tf_record_input_reader {{ input_path: "{pattern}" '
                             "} }\n", "pipeline.config")
    code = cli.main(["check", str(config)])
    err = capsys.readouterr().err
    assert code == 2 and f"{pattern}: the pattern reads more than 200 folder entries" in err, err
    assert err.count("\n") == 1


def test_a_pattern_under_the_limit_matches_as_glob_does(tmp_path, decoy_tree):
    import glob

    from odwrap.fsutil import bounded_glob

    for leaf in ("d00/d10/d20/d30", "d03/d12/d21/d33"):
        (decoy_tree / leaf / "a.tfrecord").write_bytes(b"")
    (decoy_tree / "d00" / ".hidden.tfrecord").write_bytes(b"")
    for pattern in ("*/*/*/*/*.tfrecord", "d0[0-2]/*/d2?/*/", "*/.hidden*", "*/*.tfrecord",
                    "**/*.tfrecord", "d00/**"):
        for recursive in (False, True):
            full = f"{decoy_tree}/{pattern}"
            assert bounded_glob(full, recursive=recursive) == \
                sorted(glob.glob(full, recursive=recursive)), pattern
