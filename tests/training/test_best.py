"""The best checkpoint (issue 26): kept in MODEL_DIR/best/ after the evaluation that beats the
kept one on the config's main metric, out of max_to_keep's reach; here on checkpoint files
made by the test (the evaluations' metrics given), without TensorFlow. The whole path, eval
then export --checkpoint best, runs in tests/training/test_train.py."""

import json

import pytest
from google.protobuf import text_format

from odwrap.errors import InputError
from odwrap.odapi import protos
from odwrap.training.best import keep_if_best, main_metric, read_best, require_best
from odwrap.training.modeldir import ModelDir

MAP = "DetectionBoxes_Precision/mAP"


def config(text=""):
    return text_format.Parse(text, protos.pipeline_pb2().TrainEvalPipelineConfig())


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "model"
    path.mkdir()
    return ModelDir(path)


def saved(folder, step):
    """The files of checkpoint STEP, as TensorFlow names them, holding their step."""
    for name in (f"ckpt-{step}.index", f"ckpt-{step}.data-00000-of-00001"):
        (folder.path / name).write_text(f"step {step}")
    return folder.checkpoint(step)


def test_the_best_is_kept_past_the_deletion_of_its_checkpoint(folder):
    with pytest.raises(InputError, match="no best checkpoint yet"):
        require_best(folder)
    best = keep_if_best(folder, config(), 2, saved(folder, 2), {MAP: 0.3}, {"f1": 0.5})
    assert (best.step, best.value, best.metric) == (2, 0.3, MAP)
    assert best.checkpoint == str(folder.best_dir / "ckpt-2") == require_best(folder).checkpoint
    assert (folder.best_dir / "checkpoint").read_text().startswith(
        'model_checkpoint_path: "ckpt-2"\n')
    assert keep_if_best(folder, config(), 4, saved(folder, 4), {MAP: 0.2}) == best  # worse
    for name in ("ckpt-2.index", "ckpt-2.data-00000-of-00001"):  # as max_to_keep does
        (folder.path / name).unlink()
    assert (folder.best_dir / "ckpt-2.index").read_text() == "step 2"
    assert read_best(folder) == best and read_best(folder).threshold == {"f1": 0.5}
    better = keep_if_best(folder, config(), 6, saved(folder, 6), {MAP: 0.5})
    assert better.step == 6 and require_best(folder).checkpoint == str(folder.best_dir / "ckpt-6")
    assert sorted(p.name for p in folder.best_dir.iterdir()) == [
        "best.json", "checkpoint", "ckpt-6.data-00000-of-00001", "ckpt-6.index"]
    assert (folder.best_dir / "ckpt-6.index").read_text() == "step 6"
    # Re-evaluating the kept step (say, with the averages) replaces its record.
    assert keep_if_best(folder, config(), 6, saved(folder, 6), {MAP: 0.4}).value == 0.4
    assert not list(folder.path.glob(".best.*"))  # no staging left


def test_a_link_or_a_foreign_record_in_place_of_best_is_not_ours(folder, tmp_path):
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "best.json").write_text(json.dumps(
        {"step": 9, "checkpoint": str(decoy / "ckpt-9"), "metric": MAP, "value": 1.0}))
    (decoy / "ckpt-9.index").write_text("decoy")
    folder.best_dir.symlink_to(decoy)
    assert read_best(folder) is None
    keep_if_best(folder, config(), 2, saved(folder, 2), {MAP: 0.1})
    assert not folder.best_dir.is_symlink() and read_best(folder).step == 2
    assert sorted(p.name for p in decoy.iterdir()) == ["best.json", "ckpt-9.index"]
    (folder.best_dir / "best.json").write_text("[" * 100_000)
    assert read_best(folder) is None


def test_the_main_metric_is_the_configs(folder):
    assert main_metric(config(), {MAP: 0.25, "Loss/total_loss": 3.0}) == (MAP, 0.25)
    voc = config('eval_config { metrics_set: "pascal_voc_detection_metrics" }')
    assert main_metric(voc, {MAP: 0.25, "PascalBoxes_Precision/mAP@0.5IOU": 0.5}) == (
        "PascalBoxes_Precision/mAP@0.5IOU", 0.5)
    assert main_metric(voc, {MAP: 0.25}) is None
    assert keep_if_best(folder, voc, 2, saved(folder, 2), {MAP: 0.25}) is None
