"""Each check: a few lines of text proto, the check, an assertion (and the clean case)."""

import json

import pytest
from google.protobuf import text_format

from odwrap import cli
from odwrap.config.checks import Target, check_pipeline
from odwrap.odapi.protos import pipeline_pb2


def config(text):
    return text_format.Parse(text, pipeline_pb2().TrainEvalPipelineConfig())


def ids(findings, severity=None):
    return [f.id for f in findings if severity is None or f.severity == severity]


FPN = """model {{ ssd {{ num_classes: 1
  image_resizer {{ fixed_shape_resizer {{ height: {h} width: {w} }} }}
  feature_extractor {{ type: "ssd_mobilenet_v2_fpn_keras" {extra}
                       fpn {{ min_level: 3 max_level: 7 }} }} }} }}
train_input_reader {{ tf_record_input_reader {{ input_path: "gs://b/t" }} }}"""


@pytest.mark.parametrize("h, w, extra, bad", [
    pytest.param(320, 320, "", False, id="320-ok"),
    pytest.param(300, 300, "", True, id="300-bad"),
    pytest.param(320, 300, "", True, id="one-side-bad"),
    pytest.param(300, 300, "pad_to_multiple: 32", False, id="300-padded"),
    pytest.param(300, 300, "pad_to_multiple: 8", True, id="300-padded-too-little"),
])
def test_fpn_input_size(h, w, extra, bad):
    findings = check_pipeline(config(FPN.format(h=h, w=w, extra=extra)))
    assert ("ODW001" in ids(findings, "error")) == bad


def test_fpn_hint_names_sizes_that_fit():
    finding = check_pipeline(config(FPN.format(h=300, w=300, extra="")))[0]
    assert "288 or 320" in finding.hint and "pad_to_multiple: 32" in finding.hint


def test_num_classes_against_label_map(tmp_path):
    label_map = tmp_path / "map.pbtxt"
    label_map.write_text('item { id: 1 name: "a" } item { id: 2 name: "b" }')
    text = (f'model {{ ssd {{ num_classes: 3 }} }} '
            f'train_input_reader {{ label_map_path: "{label_map}" }}')
    findings = check_pipeline(config(text))
    assert "ODW002" in ids(findings, "error")
    assert "highest id is 2" in next(f.message for f in findings if f.id == "ODW002")
    fixed = check_pipeline(config(text.replace("num_classes: 3", "num_classes: 2")))
    assert "ODW002" not in ids(fixed)


@pytest.mark.parametrize("items, severity, words", [
    pytest.param('item { id: 1 name: "a" } item { id: 1 name: "b" }', "error", "id 1 is used",
                 id="duplicate-id"),
    pytest.param('item { id: 1 name: "a" } item { id: 2 name: "a" }', "error", "name 'a' has",
                 id="duplicate-name"),
    pytest.param('item { id: 0 name: "a" }', "error", "ids start at 1", id="id-zero"),
    pytest.param('item { id: 1 name: "a" } item { id: 5 name: "b" }', "warning", "3 of 1..5",
                 id="gaps"),
    pytest.param('item { id: 1 name: "a" keypoints { id: 0 label: "p" } } item { id: 2 name: "b" '
                 'keypoints { id: 0 label: "q" } }', "error", "keypoint id 0 is used by 'a' and "
                 "'b'", id="keypoint-id-twice"),
    pytest.param('item { id: 1 name: "a" keypoints { id: -1 label: "p" } }', "error",
                 "keypoint ids start at 0", id="keypoint-id-negative"),
    pytest.param('item { id: 1 name: "a" keypoints { id: 0 label: "p" } keypoints { id: 1 '
                 'label: "p" } }', "error", "keypoint label 'p' twice", id="keypoint-label-twice"),
])
def test_label_map_items(tmp_path, items, severity, words):
    label_map = tmp_path / "map.pbtxt"
    label_map.write_text(items)
    findings = check_pipeline(config(f'train_input_reader {{ label_map_path: "{label_map}" }}'))
    found = [f for f in findings if f.id == "ODW003"]
    assert found and found[0].severity == severity and words in found[0].message


KEYPOINTS = """model {{ center_net {{ keypoint_label_map_path: "{labels}"
  keypoint_estimation_task {{ keypoint_class_name: "a" }} }} }}
train_input_reader {{ num_keypoints: {count} }}"""


def test_keypoint_count_against_the_keypoint_label_map(tmp_path):
    labels = tmp_path / "map.pbtxt"
    labels.write_text('item { id: 1 name: "a" keypoints { id: 0 label: "tip" } }')
    findings = check_pipeline(config(KEYPOINTS.format(labels=labels, count=2)))
    found = [f.message for f in findings if f.id == "ODW030"]
    assert found == ["num_keypoints is 2 but the keypoint label map's keypoints number 1"]
    assert "ODW030" not in ids(check_pipeline(config(KEYPOINTS.format(labels=labels, count=1))))


def test_missing_paths(tmp_path):
    existing = tmp_path / "t-00000.tfrecord"
    existing.write_bytes(b"")
    text = f"""train_input_reader {{ label_map_path: "{tmp_path}/nope.pbtxt"
        tf_record_input_reader {{ input_path: "{tmp_path}/t-*.tfrecord"
                                  input_path: "{tmp_path}/v-*.tfrecord"
                                  input_path: "gs://bucket/remote-*" }} }}
        train_config {{ fine_tune_checkpoint: "{tmp_path}/ckpt-0"
                        fine_tune_checkpoint_type: "detection" }}"""
    found = [(f.severity, f.path) for f in check_pipeline(config(text)) if f.id == "ODW004"]
    assert found == [
        ("error", "train_input_reader.label_map_path"),
        ("error", "train_config.fine_tune_checkpoint"),
        ("warning", "train_input_reader.tf_record_input_reader.input_path[1]"),
    ]


@pytest.mark.parametrize("train, severity", [
    pytest.param('fine_tune_checkpoint: "gs://b/ckpt-0"', "error", id="no-type"),
    pytest.param('fine_tune_checkpoint_type: "detection"', "warning", id="type-only"),
    pytest.param('fine_tune_checkpoint: "gs://b/c" fine_tune_checkpoint_type: "detectoin" '
                 "fine_tune_checkpoint_version: V2", "error", id="unknown-type"),
    pytest.param('fine_tune_checkpoint: "gs://b/c" fine_tune_checkpoint_type: "detection" '
                 "fine_tune_checkpoint_version: V2", None, id="fitting"),
    pytest.param('fine_tune_checkpoint: "gs://b/c" fine_tune_checkpoint_type: "detection"',
                 "error", id="v1-checkpoint-version"),
    # The legacy field of TF1-era configs: train_loop maps it, so it is no error.
    pytest.param('fine_tune_checkpoint: "gs://b/c" from_detection_checkpoint: true', "warning",
                 id="legacy-from-detection-checkpoint"),
    pytest.param('fine_tune_checkpoint: "gs://b/c" fine_tune_checkpoint_type: "detection" '
                 "load_all_detection_checkpoint_vars: true", "error",
                 id="load-all-detection-checkpoint-vars"),
])
def test_fine_tune_type(train, severity):
    found = [f.severity for f in check_pipeline(config(f"train_config {{ {train} }}"))
             if f.id == "ODW005"]
    assert found == ([severity] if severity else [])


@pytest.mark.parametrize("batch, cores, bad", [(64, 8, False), (12, 8, True), (12, 1, False)])
def test_tpu_batch(batch, cores, bad):
    findings = check_pipeline(config(f"train_config {{ batch_size: {batch} }}"),
                              Target(device="tpu", num_devices=cores))
    assert ("ODW006" in ids(findings, "error")) == bad


def test_graph_rewriter_quantization_is_flagged_as_ignored():
    findings = check_pipeline(config("graph_rewriter { quantization { delay: 1 } }"))
    assert "ODW007" in ids(findings, "warning")
    assert "ODW007" not in ids(check_pipeline(config("")))


def test_edgetpu_needs_fixed_shape_and_batch_1():
    extractor = 'feature_extractor { type: "ssd_mobilenet_v2_keras" }'
    keep = config(f"model {{ ssd {{ {extractor} "
                  "image_resizer { keep_aspect_ratio_resizer { } } } }")
    assert ids(check_pipeline(keep, Target(export_targets=("edgetpu",))), "error") == ["ODW008"]
    fixed = config(f"model {{ ssd {{ {extractor} image_resizer {{ fixed_shape_resizer {{ "
                   "height: 320 width: 320 } } } }")
    assert ids(check_pipeline(fixed, Target(export_targets=("edgetpu",))), "error") == []
    batch4 = Target(export_targets=("edgetpu",), export_batch_size=4)
    assert ids(check_pipeline(fixed, batch4), "error") == ["ODW008"]
    # (a keep-aspect resizer fails the TFLite export too, which is ODW025's finding)
    assert ids(check_pipeline(keep, Target(export_targets=("tflite",))), "error") == ["ODW025"]


@pytest.mark.parametrize("batch, target, warned", [
    (128, Target(device="gpu"), True), (16, Target(device="gpu"), False),
    (128, Target(device="gpu", num_devices=4), False), (128, Target(device="tpu",
                                                                  num_devices=8), False),
])
def test_sample_batch_on_one_device(batch, target, warned):
    findings = check_pipeline(config(f"train_config {{ batch_size: {batch} }}"), target)
    assert ("ODW009" in ids(findings, "warning")) == warned


COSINE = """train_config {{ num_steps: {steps} optimizer {{ momentum_optimizer {{ learning_rate {{
  cosine_decay_learning_rate {{ learning_rate_base: {base} total_steps: {total}
  warmup_learning_rate: {wlr} warmup_steps: {warmup} }} }} }} }} }}"""


@pytest.mark.parametrize("values, severity", [
    pytest.param(dict(steps=1000, total=1000, warmup=100, base=0.1, wlr=0.01), None, id="ok"),
    pytest.param(dict(steps=1000, total=1000, warmup=2000, base=0.1, wlr=0.01), "error",
                 id="warmup-too-long"),
    pytest.param(dict(steps=1000, total=1000, warmup=100, base=0.01, wlr=0.1), "error",
                 id="warmup-rate-above-base"),
    pytest.param(dict(steps=5000, total=1000, warmup=100, base=0.1, wlr=0.01), "warning",
                 id="schedule-ends-early"),
])
def test_warmup(values, severity):
    found = [f.severity for f in check_pipeline(config(COSINE.format(**values)))
             if f.id == "ODW010"]
    assert found == ([severity] if severity else [])


def test_bfloat16_off_tpu():
    text = "train_config { use_bfloat16: true }"
    assert "ODW011" in ids(check_pipeline(config(text), Target(device="gpu")))
    assert "ODW011" not in ids(check_pipeline(config(text), Target(device="tpu",
                                                                   num_devices=8)))


def test_no_training_data():
    assert "ODW012" in ids(check_pipeline(config("")))


# The CLI: exit codes 0 / 1 / 2 and JSON.

def test_check_cli_exit_codes_and_json(tmp_path, capsys):
    clean = tmp_path / "clean.config"
    clean.write_text(FPN.format(h=320, w=320, extra=""))
    assert cli.main(["check", str(clean)]) == 0
    bad = tmp_path / "bad.config"
    bad.write_text(FPN.format(h=300, w=300, extra=""))
    capsys.readouterr()
    assert cli.main(["check", str(bad), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in findings] == ["ODW001"]
    assert set(findings[0]) == {"id", "severity", "path", "message", "hint"}


@pytest.mark.parametrize("text, message", [
    pytest.param("model { ssd { num_classes: 1 num_classes: 2 } }", "bad.config:1:",
                 id="repeated-scalar"),
    pytest.param("model { ssd { num_clases: 1 } }", 'has no field named "num_clases"',
                 id="unknown-field"),
    pytest.param("model { ssd {", "bad.config:1:", id="truncated"),
])
def test_check_cli_bad_pipeline_config(tmp_path, capsys, text, message):
    bad = tmp_path / "bad.config"
    bad.write_text(text)
    assert cli.main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert cli.main(["check", str(bad), "--json"]) == 2
    out, err = capsys.readouterr()
    [finding] = json.loads(out)
    assert finding["id"] == "ODW000" and message in finding["message"]
    assert message in err and err.count("\n") == 1


# As three official TF2 samples have it (Google's internal reader extension).
GOOGLE_READER = """train_input_reader {
  label_map_path: "label_map.pbtxt"
  external_input_reader {
    [object_detection.protos.GoogleInputReader.google_input_reader] {
      tf_record_input_reader { input_path: "train.tfrecord" }
    }
  }
}
"""


def test_google_input_reader_is_explained_in_one_sentence(tmp_path, capsys):
    sample = tmp_path / "sample.config"
    sample.write_text(GOOGLE_READER)
    assert cli.main(["check", str(sample)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 300
    assert f"{sample}:4:" in err and "Google's internal google_input_reader" in err
    assert "tf_record_input_reader" in err and "_pb2 module" not in err


def test_check_cli_tpu_flag_defaults_to_8_cores(tmp_path, capsys):
    path = tmp_path / "p.config"
    path.write_text('model { ssd { num_classes: 1 feature_extractor { type: '
                    '"ssd_mobilenet_v2_fpn_keras" } } } train_config { batch_size: 12 } '
                    'train_input_reader { tf_record_input_reader { input_path: "gs://b/t" } }')
    assert cli.main(["check", str(path)]) == 0
    assert cli.main(["check", str(path), "--device", "tpu"]) == 1
    assert "across 8 TPU cores" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    pytest.param("", "the config is empty", id="empty"),
    pytest.param("train_config { batch_size: 4 }", "the config has no model", id="no-model"),
])
def test_a_config_without_a_model_is_an_error(text, message):
    found = [f for f in check_pipeline(config(text)) if f.id == "ODW016"]
    assert [f.severity for f in found] == ["error"] and message in found[0].message
    assert not [f for f in check_pipeline(config("model { ssd { num_classes: 1 } }"))
                if f.id == "ODW016"]


def test_check_of_an_empty_file_exits_1_and_names_the_model(tmp_path, capsys):
    path = tmp_path / "pipeline.config"
    path.write_text("")
    assert cli.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error: ODW016 model: the config is empty" in out
    assert out.endswith("pipeline.config: 1 error(s), 1 warning(s)\n")


def test_shipped_coco_label_map_keeps_its_ids_without_a_warning():
    from odwrap.odapi import labelmap

    coco = labelmap.builtin_path("coco")
    findings = check_pipeline(config(f'model {{ ssd {{ num_classes: 90 }} }} '
                                     f'train_input_reader {{ label_map_path: "{coco}" }}'))
    assert "ODW003" not in ids(findings)
    assert labelmap.num_classes(labelmap.read(coco)) == 90 and len(labelmap.read(coco).item) == 80


def test_large_batch_warning_does_not_call_every_config_a_sample():
    finding = next(f for f in check_pipeline(config("train_config { batch_size: 128 }"))
                   if f.id == "ODW009")
    assert "batch size 128 per CPU usually runs out of memory" in finding.message
    assert "sample value" not in finding.message


def test_missing_keypoint_label_map_of_centernet(tmp_path):
    missing = tmp_path / "keypoints.pbtxt"
    text = (f'model {{ center_net {{ num_classes: 1 feature_extractor {{ type: "resnet_v2_50" }} '
            f'keypoint_label_map_path: "{missing}" }} }}')
    finding = next(f for f in check_pipeline(config(text)) if f.id == "ODW004")
    assert finding.severity == "error"
    assert finding.path == "model.center_net.keypoint_label_map_path"
    missing.write_text('item { id: 1 name: "person" }')
    assert "ODW004" not in ids(check_pipeline(config(text)))


@pytest.mark.parametrize("arch, kind, suggestion", [
    pytest.param("ssd", "ssd_mobilenet_v9_fpn_keras", "ssd_mobilenet_v2_fpn_keras", id="typo"),
    pytest.param("ssd", "ssd_mobilenet_v2", "ssd_mobilenet_v2_keras", id="tf1-name"),
    pytest.param("faster_rcnn", "faster_rcnn_resnet50", "faster_rcnn_resnet50_keras",
                 id="faster-rcnn-tf1-name"),
    pytest.param("center_net", "hourglass_105", "hourglass_104", id="centernet"),
])
def test_unknown_feature_extractor_type_names_the_closest(arch, kind, suggestion):
    text = f'model {{ {arch} {{ feature_extractor {{ type: "{kind}" }} }} }}'
    findings = check_pipeline(config(text))
    finding = next(f for f in findings if f.id == "ODW013")
    assert finding.severity == "error" and finding.path == f"model.{arch}.feature_extractor.type"
    assert f"'{kind}' is not a feature extractor" in finding.message
    assert suggestion in finding.hint


@pytest.mark.parametrize("kind", ["ssd_mobilenet_v2_fpn_keras", "ssd_resnet50_v1_fpn_keras",
                                  "ssd_efficientnet-b0_bifpn_keras"])
def test_known_feature_extractor_types_pass(kind):
    assert "ODW013" not in ids(check_pipeline(
        config(f'model {{ ssd {{ feature_extractor {{ type: "{kind}" }} }} }}')))


@pytest.mark.tf
def test_extractor_types_read_from_source_are_what_model_builder_builds():
    from odwrap.odapi import compat, extractors

    model_builder = compat.load("object_detection.builders.model_builder")
    assert extractors.known_types() == {
        "ssd": set(model_builder.SSD_KERAS_FEATURE_EXTRACTOR_CLASS_MAP),
        "faster_rcnn": set(model_builder.FASTER_RCNN_KERAS_FEATURE_EXTRACTOR_CLASS_MAP),
        "center_net": set(model_builder.CENTER_NET_EXTRACTOR_FUNCTION_MAP),
    }


@pytest.mark.parametrize("train, kind", [
    ("from_detection_checkpoint: true", "detection"),
    ("from_detection_checkpoint: false", "classification"),
    ('from_detection_checkpoint: true fine_tune_checkpoint_type: "classification"',
     "classification"),
])
def test_legacy_checkpoint_type_is_mapped_as_train_loop_maps_it(train, kind):
    from odwrap.odapi import facts

    parsed = config(f'train_config {{ fine_tune_checkpoint: "gs://b/c" {train} }}')
    assert facts.fine_tune_checkpoint_type(parsed) == kind


@pytest.mark.tf
@pytest.mark.parametrize("train", ["from_detection_checkpoint: true",
                                   "from_detection_checkpoint: false", ""])
def test_legacy_checkpoint_type_agrees_with_config_util(train):
    from odwrap.odapi import compat, facts

    config_util = compat.load("object_detection.utils.config_util")
    parsed = config(f'train_config {{ fine_tune_checkpoint: "gs://b/c" {train} }}')
    expected = config(f'train_config {{ fine_tune_checkpoint: "gs://b/c" {train} }}')
    config_util.update_fine_tune_checkpoint_type(expected.train_config)
    expected_type = expected.train_config.fine_tune_checkpoint_type
    assert facts.fine_tune_checkpoint_type(parsed) == expected_type


@pytest.mark.parametrize("optimizer, eval_averages, bad", [
    ("use_moving_average: false", "true", True),
    ("use_moving_average: true", "true", False),
    ("use_moving_average: false", "false", False),
])
def test_eval_averages_need_averages_from_training(optimizer, eval_averages, bad):
    text = (f"train_config {{ optimizer {{ {optimizer} }} }} "
            f"eval_config {{ use_moving_averages: {eval_averages} }}")
    assert ("ODW014" in ids(check_pipeline(config(text)), "error")) == bad


@pytest.mark.parametrize("field, meaning", [
    ('freeze_variables: ".*FeatureExtractor.*"', "trained all the same"),
    ('update_trainable_variables: ".*BoxPredictor.*"', "updated all the same"),
    ("keep_checkpoint_every_n_hours: 1.0", "--checkpoint-every"),
    ("summarize_gradients: true", "no gradient summaries"),
])
def test_fields_tf2_ignores_are_warned(field, meaning):
    name = field.split(":")[0]
    finding = next(f for f in check_pipeline(config(f"train_config {{ {field} }}"))
                   if f.id == "ODW015")
    assert finding.severity == "warning" and finding.path == f"train_config.{name}"
    assert meaning in finding.message
    assert "ODW015" not in ids(check_pipeline(config("train_config { batch_size: 2 }")))


def test_tf1_leftovers_of_the_official_samples_pass_silently():
    leftovers = "sync_replicas: true replicas_to_aggregate: 8 startup_delay_steps: 0.0"
    assert "ODW015" not in ids(check_pipeline(config(f"train_config {{ {leftovers} }}")))


@pytest.mark.tf
def test_no_tf2_code_path_reads_the_ignored_fields():
    # The OD API's TF2 training path: the loop, the inputs, the builders and meta-architectures.
    import importlib.util
    from pathlib import Path

    from odwrap.config.checks import IGNORED_IN_TF2, TF1_LEFTOVERS

    root = Path(importlib.util.find_spec("object_detection").origin).parent
    files = [root / "model_lib_v2.py", root / "inputs.py", root / "utils" / "config_util.py",
             *(root / "builders").glob("*.py"), *(root / "meta_architectures").glob("*.py")]
    sources = {path: path.read_text() for path in files if not path.name.endswith("_test.py")}
    for name in [*IGNORED_IN_TF2, *TF1_LEFTOVERS]:
        readers = [path.name for path, text in sources.items() if f".{name}" in text]
        assert readers == [], (name, readers)


def test_every_finding_id_is_in_the_registry_once():
    """Each ODWnnn that odwrap's code gives is declared in the registry, and no id twice (the
    registry refuses a second declaration; the source is read for ids given anywhere)."""
    import re

    from odwrap.config import build  # noqa: F401 (declares nothing new; uses BUILD)
    from odwrap.config.findings import REGISTRY, _Registry
    from tests.conftest import ROOT

    in_code = {match for path in (ROOT / "odwrap").rglob("*.py")
               for match in re.findall(r"\bODW\d{3}\b", path.read_text())}
    assert in_code - set(REGISTRY.ids) == set()
    assert {check_id for check_id, _, _ in REGISTRY.checks} <= set(REGISTRY.ids)
    assert len(REGISTRY.checks) == len({check_id for check_id, _, _ in REGISTRY.checks})
    fresh = _Registry()
    fresh.declare("ODW900", "one")
    with pytest.raises(ValueError, match="ODW900 is taken by 'one'"):
        fresh.register("ODW900", "two")


RATES = """train_config {{ batch_size: {batch} optimizer {{ momentum_optimizer {{ learning_rate {{
  cosine_decay_learning_rate {{ learning_rate_base: {base} total_steps: 100
  warmup_learning_rate: {warmup} warmup_steps: 10 }} }} }} }} }}"""


@pytest.mark.parametrize("batch, base, warmup, paths", [
    pytest.param(8, "0.04", "0.01", [], id="clean"),
    pytest.param(8, "nan", "0.01", ["cosine_decay_learning_rate.learning_rate_base"], id="nan"),
    pytest.param(8, "inf", "0.01", ["cosine_decay_learning_rate.learning_rate_base"], id="inf"),
    pytest.param(8, "0.04", "-inf", ["cosine_decay_learning_rate.warmup_learning_rate"],
                 id="minus-inf"),
    pytest.param(8, "0", "0", ["cosine_decay_learning_rate.learning_rate_base"], id="zero-rate"),
    pytest.param(0, "0.04", "0.01", ["train_config.batch_size"], id="zero-batch"),
])
def test_numbers_the_od_api_takes_and_then_fails_on(batch, base, warmup, paths):
    """Issue 30: check passed learning_rate_base nan or inf and batch_size 0."""
    found = [f for f in check_pipeline(config(RATES.format(batch=batch, base=base,
                                                             warmup=warmup)))
             if f.id == "ODW029"]
    assert [f.severity for f in found] == ["error"] * len(paths)
    assert all(f.path.endswith(path) for f, path in zip(found, paths)), found
