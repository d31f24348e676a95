"""The best checkpoint of a model folder: after each evaluation, the checkpoint that scored
highest on the config's main metric so far is kept in MODEL_DIR/best/ (its files hard-linked,
or copied where links cannot be made, with a `checkpoint` state file and best.json), out of
the reach of the checkpoint manager's max_to_keep. `eval --checkpoint best` and `export
--checkpoint best` use it."""

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text, read_text, remove_path
from odwrap.training.modeldir import CHECKPOINT_FILE, ModelDir

RECORD = "best.json"
STATE = "checkpoint"  # TensorFlow's checkpoint state file: what latest_checkpoint reads
# The metric each eval_config.metrics_set ranks checkpoints by, in the order looked for.
MAIN_METRICS = {
    "coco_detection_metrics": "DetectionBoxes_Precision/mAP",
    "coco_mask_metrics": "DetectionMasks_Precision/mAP",
    "pascal_voc_detection_metrics": "PascalBoxes_Precision/mAP@0.5IOU",
    "weighted_pascal_voc_detection_metrics": "WeightedPascalBoxes_Precision/mAP@0.5IOU",
    "oid_V2_detection_metrics": "OpenImagesV2_Precision/mAP@0.5IOU",
    "oid_challenge_detection_metrics": "OpenImagesDetectionChallenge_Precision/mAP@0.5IOU",
}
DEFAULT_SETS = ("coco_detection_metrics",)  # what the OD API evaluates when none is set


@dataclass(frozen=True)
class Best:
    step: int
    checkpoint: str  # the kept copy's prefix, MODEL_DIR/best/ckpt-N
    metric: str
    value: float
    threshold: dict | None = None  # the evaluation's best-F1 threshold (evaluation.analysis)


def main_metric(config, metrics: dict) -> tuple[str, float] | None:
    """(name, value) of the metric that ranks CONFIG's checkpoints, from METRICS; None when
    the evaluation gave none of them."""
    sets = list(config.eval_config.metrics_set) or list(DEFAULT_SETS)
    for name in [MAIN_METRICS[s] for s in sets if s in MAIN_METRICS]:
        if name in metrics:
            return name, float(metrics[name])
    return None


def read_best(folder: ModelDir) -> Best | None:
    """The folder's best checkpoint, or None: none kept yet, or a record that is not ours."""
    record = folder.best_dir / RECORD
    if folder.best_dir.is_symlink() or not record.is_file():
        return None
    try:
        data = json.loads(read_text(record, "best checkpoint record"))
        best = Best(step=int(data["step"]), checkpoint=str(data["checkpoint"]),
                    metric=str(data["metric"]), value=float(data["value"]),
                    threshold=data.get("threshold"))
    except (InputError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return best if Path(best.checkpoint + ".index").is_file() else None


def require_best(folder: ModelDir) -> Best:
    """The folder's best checkpoint; InputError when there is none."""
    best = read_best(folder)
    if best is None:
        raise InputError(f"{folder.path}: no best checkpoint yet (odwrap eval keeps the best "
                         "one of those it evaluates)")
    return best


def keep_if_best(folder: ModelDir, config, step: int, checkpoint: str, metrics: dict,
                 threshold: dict | None = None) -> Best | None:
    """The folder's best checkpoint after an evaluation of CHECKPOINT (at STEP) gave METRICS:
    this one, kept in best/, when its main metric beats the kept one's (or none is kept)."""
    found = main_metric(config, metrics)
    kept = read_best(folder)
    if found is None or (kept is not None and found[1] <= kept.value
                         and kept.step != step):
        return kept
    name, value = found
    target = folder.best_dir
    staging = folder.path / f".best.{os.getpid()}"
    remove_path(staging)
    staging.mkdir()
    try:
        source = Path(checkpoint)
        for part in source.parent.iterdir():
            if part.name.startswith(source.name + ".") and CHECKPOINT_FILE.fullmatch(part.name):
                _link_or_copy(part, staging / part.name.replace(source.name, f"ckpt-{step}", 1))
        atomic_write_text(staging / STATE, f'model_checkpoint_path: "ckpt-{step}"\n'
                                           f'all_model_checkpoint_paths: "ckpt-{step}"\n')
        best = Best(step=step, checkpoint=str(target / f"ckpt-{step}"), metric=name,
                    value=value, threshold=threshold)
        atomic_write_text(staging / RECORD, json.dumps(best.__dict__, indent=1))
        remove_path(target)
        os.replace(staging, target)
    finally:
        remove_path(staging)
    return best


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or links not allowed there
        shutil.copyfile(source, destination)
