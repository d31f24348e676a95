"""train.xla and train.mixed_precision without TensorFlow: the spec fields and the command line,
the choice `auto` makes from the measured table and the line that says why, the checks
(ODW033-034), and the one line of a step that XLA cannot compile."""

import pytest
from google.protobuf import text_format

from odwrap import failures
from odwrap.cli.options import arguments
from odwrap.cli.parser import build_parser
from odwrap.config.checks import Target, check_pipeline
from odwrap.config.loader import load_config
from odwrap.errors import InputError
from odwrap.odapi import speed
from odwrap.odapi.protos import pipeline_pb2
from odwrap import api

SSD = """model { ssd { num_classes: 1
  image_resizer { fixed_shape_resizer { height: 64 width: 64 } }
  feature_extractor { type: "ssd_mobilenet_v2_fpn_keras" } } }"""
FAMILY = "ssd/ssd_mobilenet_v2_fpn_keras"


def config(text=SSD):
    return text_format.Parse(text, pipeline_pb2().TrainEvalPipelineConfig())


@pytest.fixture
def table(monkeypatch):
    """XLA_MEASURED holding what a test gives it for the SSD of SSD on CPU (nothing until
    then)."""
    monkeypatch.delitem(speed.XLA_MEASURED, (FAMILY, "cpu"), raising=False)

    def put(**measured):
        monkeypatch.setitem(speed.XLA_MEASURED, (FAMILY, "cpu"),
                            speed.Measured(**{"same_loss": True, "steps": 300, **measured}))
    return put


def test_family_names_meta_architecture_and_extractor():
    assert speed.family(config()) == FAMILY
    mask = config("""model { faster_rcnn { feature_extractor { type: "faster_rcnn_resnet50_keras" }
      second_stage_box_predictor { mask_rcnn_box_predictor { predict_instance_masks: true } }
      } }""")
    assert speed.family(mask) == "faster_rcnn/faster_rcnn_resnet50_keras+masks"


@pytest.mark.parametrize("measured, on, words", [
    pytest.param(None, False, "not measured for ssd/ssd_mobilenet_v2_fpn_keras on CPU",
                 id="unmeasured"),
    pytest.param({"speedup": 1.3}, True, "measured 1.30x", id="faster"),
    pytest.param({"speedup": 1.05}, False, "measured 1.05x", id="within-noise"),
    pytest.param({"speedup": 1.5, "same_loss": False}, False, "losses", id="other-losses"),
    pytest.param({"speedup": None, "note": "NonMaxSuppressionV5"}, False,
                 "does not compile with XLA on CPU (NonMaxSuppressionV5)", id="no-compile"),
])
def test_auto_chooses_from_the_measured_table_and_says_why(table, measured, on, words):
    if measured is not None:
        table(**measured)
    choice = speed.choose_xla("auto", config(), "cpu")
    assert choice.on is on
    assert words in choice.why and choice.line().startswith(f"XLA {'on' if on else 'off'}: ")


def test_true_false_tpu_and_replicas_override_the_table(table):
    table(speedup=2.0)
    assert speed.choose_xla(False, config(), "cpu").on is False
    assert speed.choose_xla(True, config(), "gpu").on is True
    assert speed.choose_xla("auto", config(), "tpu").on is False
    assert speed.choose_xla("auto", config(), "cpu", replicas=2).on is False
    assert speed.choose_xla("auto", config(), "cpu").on is True


def spec(tmp_path, train=""):
    path = tmp_path / "spec.yaml"
    path.write_text("model:\n  architecture: ssd_mobilenet_v2_fpnlite\n  image_size: 64\n"
                    "data:\n  classes: [a]\n  train: x.tfrecord\n"
                    + (f"train:\n{train}" if train else ""))
    return path


@pytest.mark.parametrize("train, xla, mixed", [
    pytest.param("", "auto", False, id="defaults"),
    pytest.param("  xla: true\n  mixed_precision: true\n", True, True, id="on"),
    pytest.param("  xla: false\n", False, False, id="off"),
])
def test_spec_fields_reach_the_target(tmp_path, train, xla, mixed):
    target = load_config(spec(tmp_path, train)).target
    assert target.xla == xla and target.mixed_precision is mixed


def test_spec_refuses_other_xla_values(tmp_path):
    with pytest.raises(InputError, match=r"train\.xla"):
        load_config(spec(tmp_path, "  xla: sometimes\n"))


@pytest.mark.parametrize("argv, xla, mixed", [
    pytest.param([], None, None, id="the-spec's"),
    pytest.param(["--xla", "true", "--mixed-precision"], True, True, id="on"),
    pytest.param(["--xla", "FALSE"], False, None, id="off"),
    pytest.param(["--xla", "auto"], "auto", None, id="auto"),
])
def test_train_options_reach_the_api(argv, xla, mixed):
    args = build_parser().parse_args(["train", "s.yaml", "--model-dir", "m", *argv])
    given = arguments(args, "train", api.train)
    assert given["xla"] == xla and given["mixed_precision"] == mixed


def test_train_refuses_another_xla_word():
    with pytest.raises(InputError, match=r"--xla: 'yes': one of auto, true, false"):
        build_parser().parse_args(["train", "s.yaml", "--model-dir", "m", "--xla", "yes"])


def test_odw031_refuses_xla_where_it_cannot_compile_and_warns_where_slower(table):
    assert "ODW033" not in [f.id for f in check_pipeline(config(), Target(xla=True))]
    table(speedup=None, note="unsupported op")
    found = [f for f in check_pipeline(config(), Target(xla=True)) if f.id == "ODW033"]
    assert [f.severity for f in found] == ["error"] and "unsupported op" in found[0].message
    assert "ODW033" not in [f.id for f in check_pipeline(config(), Target(xla="auto"))]
    table(speedup=0.8)
    found = [f for f in check_pipeline(config(), Target(xla=True)) if f.id == "ODW033"]
    assert [f.severity for f in found] == ["warning"] and "0.80x" in found[0].message


@pytest.mark.parametrize("device, severity", [("cpu", "warning"), ("tpu", "error"),
                                              ("gpu", None)])
def test_odw032_mixed_precision_off_a_gpu(device, severity):
    found = [f.severity for f in check_pipeline(config(), Target(device=device,
                                                                 mixed_precision=True))
             if f.id == "ODW034"]
    assert found == ([severity] if severity else [])


def test_odw032_warns_of_mixed_precision_on_mask_rcnn():
    mask = config("""model { faster_rcnn { feature_extractor { type: "faster_rcnn_resnet50_keras" }
      second_stage_box_predictor { mask_rcnn_box_predictor { predict_instance_masks: true } }
      } }""")
    found = [f for f in check_pipeline(mask, Target(device="gpu", mixed_precision=True))
             if f.id == "ODW034"]
    assert [f.severity for f in found] == ["warning"] and "Mask R-CNN" in found[0].message
    assert "ODW034" not in [f.id for f in check_pipeline(mask, Target(device="gpu"))]


@pytest.mark.parametrize("device", ["cpu", "tpu"])
def test_train_refuses_mixed_precision_off_a_gpu(device):
    with pytest.raises(InputError, match="mixed_precision"):
        speed.require_mixed_precision_device(True, device)
    speed.require_mixed_precision_device(False, device)
    speed.require_mixed_precision_device(True, "gpu")


def test_a_step_xla_cannot_compile_is_one_line_naming_the_setting():
    exc = RuntimeError("Detected unsupported operations when trying to compile graph "
                       "__inference_replica_step_123 on XLA_CPU_JIT: Where (No registered "
                       "'Where' OpKernel for XLA_CPU_JIT devices)")
    line = failures.explain("train", exc)
    assert line.startswith("train could not compile the training step with XLA (")
    assert "train.xla: false" in line and "\n" not in line
