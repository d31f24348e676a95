"""The real OD API on generated configs: model_builder builds them, model_lib_v2 trains one."""

import textwrap

import pytest

from odwrap import check as check_file
from odwrap import cli
from tests.conftest import ROOT, run_python
from tests.tfdata import TINY_SPEC, write_tiny_spec

pytestmark = [pytest.mark.tf, pytest.mark.slow]

@pytest.mark.parametrize("spec", sorted((ROOT / "templates" / "specs").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_example_spec_passes_check_build(spec):
    findings = check_file(spec, build=True)
    assert [f for f in findings if f.severity == "error"] == []


@pytest.mark.parametrize("size", [96, 112, 128, 144])
def test_fpn_size_check_agrees_with_the_builder(tmp_path, size):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(size=size, train="t.tfrecord", steps=1))
    findings = check_file(spec, build=True)
    flagged = any(f.id == "ODW001" for f in findings)
    failed_build = any(f.id == "ODW100" for f in findings)
    assert flagged == failed_build
    assert flagged == (size % 32 != 0)


TRAIN_ONE_STEP = """
import sys
from odwrap.odapi import compat
model_lib_v2 = compat.load("object_detection.model_lib_v2")
import tensorflow as tf
config, model_dir = sys.argv[1], sys.argv[2]
model_lib_v2.train_loop(config, model_dir, train_steps=1, checkpoint_every_n=1,
                        num_steps_per_iteration=1, record_summaries=False)
latest = tf.train.latest_checkpoint(model_dir)
reader = tf.train.load_checkpoint(latest)
names = [name for name, _ in tf.train.list_variables(latest)]
assert any("_box_predictor" in name for name in names), names[:20]
print("STEP", reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
"""


def test_train_one_step_from_a_generated_config(tmp_path):
    spec = write_tiny_spec(tmp_path, count=4, steps=1)
    assert cli.main(["generate", str(spec), "-o", str(tmp_path / "gen")]) == 0
    result = run_python(["-c", textwrap.dedent(TRAIN_ONE_STEP),
                         str(tmp_path / "gen" / "pipeline.config"), str(tmp_path / "model")])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "STEP 1" in result.stdout
