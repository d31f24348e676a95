"""Issue 31: the OD API works in any program of odwrap's venv, not only in odwrap's commands.
scripts/setup.sh writes a .pth that loads odwrap.odapi.hook at every interpreter start; its
finder applies the compat fixes on the first `object_detection` import."""

import json
import re

import pytest

from odwrap.odapi import hook
from tests.conftest import ROOT, run_python, running_stack

SETUP = "scripts/setup.sh writes it; odwrap doctor --install-hook too"


def modules_after(code: str, env=None) -> list[str]:
    ran = run_python(f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))",
                     env=env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout.splitlines()[-1])


def test_the_venv_loads_the_hook_and_nothing_heavy_at_start():
    assert hook.pth_installed(), f"{hook.pth_path()} is missing: {SETUP}"
    loaded = modules_after("import json")
    assert "odwrap.odapi.hook" in loaded  # the .pth ran
    assert {name for name in loaded if name.startswith("odwrap")} == \
        {"odwrap", "odwrap.odapi", "odwrap.odapi.hook"}
    heavy = [name for name in loaded
             if name.split(".")[0] in ("tensorflow", "object_detection", "numpy", "google")]
    assert heavy == []


def test_pipeline_protos_import_in_a_plain_program_without_tensorflow(tiny_model):
    code = ("from object_detection.protos import pipeline_pb2\n"
            "from google.protobuf import text_format\n"
            f"text = open({str(tiny_model.model_dir / 'pipeline.config')!r}).read()\n"
            "config = text_format.Parse(text, pipeline_pb2.TrainEvalPipelineConfig())\n"
            "print(config.model.WhichOneof('model'))")
    loaded = modules_after(code)
    assert "object_detection.protos.pipeline_pb2" in loaded
    assert not [name for name in loaded if name.split(".")[0] == "tensorflow"]
    ran = run_python(code)
    assert ran.stdout.splitlines()[0] == "ssd", ran.stderr[-3000:]
    if running_stack() == "tf221":  # protobuf 7 refuses the OD API's generated code without it
        off = run_python(code, env={"ODWRAP_COMPAT_DISABLE": "all"})
        assert off.returncode != 0 and "Descriptors cannot be created directly" in off.stderr


def test_a_written_pth_installs_the_finder_unless_every_fix_is_off(tmp_path):
    """What odwrap doctor --install-hook writes, in a site folder of the test's own."""
    site_dir = tmp_path / "site-packages"
    site_dir.mkdir()
    assert not hook.pth_installed(site_dir)
    assert hook.write_pth(site_dir) == site_dir / hook.PTH_NAME and hook.pth_installed(site_dir)
    # -S: no site-packages of the venv (whose own .pth would install it anyway).
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import site; "
            f"site.addsitedir({str(site_dir)!r}); from odwrap.odapi import hook; "
            "print(hook.installed())")
    on = run_python(["-S", "-c", code])
    assert on.stdout.strip() == "True", on.stderr[-2000:]
    off = run_python(["-S", "-c", code], env={"ODWRAP_COMPAT_DISABLE": "all"})
    assert off.stdout.strip() == "False", off.stderr[-2000:]


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.smoke
def test_the_odapi_scripts_run_unmodified(tiny_model, tmp_path):
    """model_main_tf2, exporter_main_v2 and export_tflite_graph_tf2 with their usual flags on a
    config odwrap generated, each as `python -m` in a fresh process of the venv."""
    config = tiny_model.model_dir / "pipeline.config"
    model_dir = tmp_path / "model"
    trained = run_python(["-m", "object_detection.model_main_tf2",
                          f"--pipeline_config_path={config}", f"--model_dir={model_dir}",
                          "--num_train_steps=2", "--checkpoint_every_n=1", "--alsologtostderr"],
                         cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    # ckpt-1 holds step 0, saved before the model is built (train_loop does so on every
    # stack); ckpt-2 the weights after train_loop's first iteration (100 steps, whatever
    # --num_train_steps says below that).
    assert (model_dir / "ckpt-2.index").exists()
    assert re.search(r"Step \d+ per-step time", trained.stderr)
    exported = run_python(["-m", "object_detection.exporter_main_v2", "--input_type=image_tensor",
                           f"--pipeline_config_path={config}",
                           f"--trained_checkpoint_dir={model_dir}",
                           f"--output_directory={tmp_path / 'exported'}"], cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "exported" / "saved_model" / "saved_model.pb").exists()
    assert (tmp_path / "exported" / "pipeline.config").exists()
    for_tflite = run_python(["-m", "object_detection.export_tflite_graph_tf2",
                             f"--pipeline_config_path={config}",
                             f"--trained_checkpoint_dir={model_dir}",
                             f"--output_directory={tmp_path / 'tflite'}"], cwd=tmp_path)
    assert for_tflite.returncode == 0, for_tflite.stderr[-3000:]
    assert (tmp_path / "tflite" / "saved_model" / "saved_model.pb").exists()
    # The exported detector serves as the OD API exports it: one image in, its outputs out.
    served = run_python(
        "import numpy as np, tensorflow as tf\n"
        f"model = tf.saved_model.load({str(tmp_path / 'exported' / 'saved_model')!r})\n"
        "out = model.signatures['serving_default'](tf.zeros([1, 64, 64, 3], tf.uint8))\n"
        "print(sorted(out), out['detection_boxes'].shape)")
    assert served.returncode == 0, served.stderr[-3000:]
    assert "'detection_boxes'" in served.stdout and "'num_detections'" in served.stdout
