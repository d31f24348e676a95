"""The best-F1 threshold travels with the model (issue 26): export copies the model folder's
latest evaluation's threshold into the export folder (threshold.json), and predict takes it
when no --threshold is given. Here without TensorFlow: the export job's file and predict's
reading of it; tests/deploy/test_predict_outputs.py runs predict on a model carrying one."""

import json

import pytest

from odwrap.deploy.export.common import ExportJob
from odwrap.deploy.model_files import DEFAULT_THRESHOLD, model_threshold
from odwrap.errors import InputError
from odwrap.training.modeldir import ModelDir


@pytest.fixture
def job(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    for step in (2, 4):
        (folder / f"ckpt-{step}.index").write_bytes(b"")
    return ExportJob(folder=ModelDir(folder), output=tmp_path / "export", started=0.0)


def evaluated(job, step, threshold):
    job.folder.metrics_path.write_text(json.dumps(
        {"step": step, "threshold": {"best_f1_threshold": threshold, "f1": 0.8}}))


def test_export_carries_the_latest_evaluations_threshold(job):
    job.output.mkdir()
    evaluated(job, 4, 0.37)
    path, note = job.write_threshold()
    assert path == job.output / "threshold.json"
    assert json.loads(path.read_text()) == {"threshold": 0.37, "f1": 0.8, "step": 4,
                                            "exported_step": 4,
                                            "from": str(job.folder.metrics_path)}
    assert note == "threshold: 0.37 (best F1 of step 4's evaluation), predict's default for " \
                   "these models"
    evaluated(job, 2, 0.5)  # an earlier checkpoint's evaluation: said so
    assert "step 2's evaluation; the export is of step 4" in job.write_threshold()[1]
    assert model_threshold(job.output / "model_fp32.tflite") == (
        0.5, f"the best F1 of its evaluation ({path})")
    # An evaluation that found nothing right: no threshold, and the older file goes.
    evaluated(job, 4, None)
    assert job.write_threshold()[0] is None and not path.exists()
    assert model_threshold(job.output / "model_fp32.tflite")[0] == DEFAULT_THRESHOLD


def test_no_evaluation_no_threshold(job):
    job.output.mkdir()
    path, note = job.write_threshold()
    assert path is None and note.startswith("threshold: none yet")
    job.folder.metrics_path.write_text("[" * 100_000)  # not ours: as if never evaluated
    assert job.write_threshold()[0] is None


@pytest.mark.parametrize("text", ['{"threshold": 2}', '{"threshold": true}', '{"threshold": 0}',
                                  '{"threshold": "0.3"}', "[" * 100_000, "{}", "3"])
def test_a_threshold_file_that_is_not_one_is_refused(tmp_path, text):
    (tmp_path / "threshold.json").write_text(text)
    with pytest.raises(InputError, match=r"threshold.json: not a threshold file of odwrap "
                                          r"export .*give --threshold$"):
        model_threshold(tmp_path / "model.tflite")
