"""`evaluate`: evaluate a checkpoint once, now, with the config's metrics (COCO by default).

model_main_tf2's eval-only mode polls every 300 s and waits up to an hour; this builds the
model, restores the checkpoint, runs the OD API's eager_eval_loop over the eval TFRecords
(at most eval_config.num_examples images) and writes DIR/metrics.json. `--watch` evaluates each
new checkpoint as training writes it, until the last step or a timeout.
"""

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.errors import InputError
from odwrap.evaluation import keypoints
from odwrap.evaluation.insight import Insight, insight
from odwrap.evaluation.worst import picture
from odwrap.fsutil import atomic_write_text
from odwrap.odapi import evaluators, facts, logs, setup
from odwrap.odapi.pipeline import read_pipeline
from odwrap.odapi.tfexample import decode_example, read_records
from odwrap.training import averages, checkpoints
from odwrap.training.best import Best, keep_if_best, require_best
from odwrap.training.modeldir import ModelDir


@dataclass
class EvalResult:
    step: int
    checkpoint: str
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0
    weights: str = averages.TRAINED  # or averages.AVERAGES (eval_config.use_moving_averages)
    insight: Insight | None = None  # per class, threshold, confusion matrix, plots
    best: Best | None = None  # the folder's best checkpoint after this evaluation


class Evaluator:
    """A model built once from DIR's pipeline.config, evaluated on one checkpoint at a time."""

    def __init__(self, model_dir, config_path=None):
        self.folder = ModelDir(model_dir)
        self.model_dir = self.folder.path
        if config_path:
            self.config = read_pipeline(config_path)
        else:
            config_path = self.folder.config_path
            self.config = self.folder.config
        if not facts.eval_patterns(self.config):
            raise InputError(f"{config_path}: eval_input_reader has no TFRecords to evaluate on "
                             "(data.eval in the spec)")
        eval_config, train_config = self.config.eval_config, self.config.train_config
        if eval_config.use_moving_averages and not train_config.optimizer.use_moving_average:
            raise InputError(f"{config_path}: eval_config.use_moving_averages is set, but "
                             "training kept no averages (train_config.optimizer."
                             "use_moving_average is false); unset one or set both")
        tf = setup.tensorflow()
        self.tf = tf
        self.model, self.dataset, self.configs = setup.eval_model(self.config)
        self.step = tf.Variable(0, trainable=False, dtype=tf.int64)
        self.writer = tf.summary.create_file_writer(str(self.folder.eval_events))
        self.averages = None
        if self.configs["eval_config"].use_moving_averages:
            # As eval_continuously: an EMA optimizer shadows the built model, restores the
            # checkpoint's averages beside the weights, and swaps them in.
            self.averages = setup.shadow_averages(self.config, self.model, self.step,
                                                  dataset=self.dataset)

    def latest(self) -> str | None:
        return self.tf.train.latest_checkpoint(str(self.model_dir))

    def evaluate(self, checkpoint: str | None = None) -> EvalResult:
        tf = self.tf
        if checkpoint == "best":
            checkpoint = require_best(self.folder).checkpoint
        checkpoint = checkpoint or self.latest()
        if checkpoint is None:
            raise InputError(f"{self.model_dir}: no checkpoint to evaluate (train first)")
        if not tf.io.gfile.glob(checkpoint + ".index"):
            raise InputError(f"{checkpoint}: no such checkpoint ({checkpoint}.index is missing)")
        checkpoints.verified(checkpoint)
        started = time.perf_counter()
        objects = {"step": self.step, "model": self.model}
        if self.averages is not None:
            objects["optimizer"] = self.averages
        tf.train.Checkpoint(**objects).restore(checkpoint).expect_partial()
        if self.averages is not None:
            averages.swap_in_averages(self.averages, self.model)
        eval_config = self.config.eval_config
        total = math.ceil(eval_config.num_examples / max(eval_config.batch_size, 1)) \
            if eval_config.num_examples else None
        with self.writer.as_default(), logs.captured_prints(), \
                evaluators.recorded_coco_evaluations() as recorded, \
                report.tracking("eval", total, "batch") as progress:  # pycocotools' summary
            metrics = setup.eager_eval_loop(self.model, self.configs,
                                            _Counted(self.dataset, progress), self.step)
        self.writer.flush()
        metrics = evaluators.with_keypoint_means(
            {key: float(value) for key, value in metrics.items()})
        step = int(self.step.numpy())
        keypoints.write(recorded["keypoints"], self.folder.analysis_dir,
                        facts.label_map_path(self.config),
                        self._source_ids() if recorded["keypoints"] else {})
        result = EvalResult(step=step, checkpoint=checkpoint, metrics=metrics,
                            seconds=time.perf_counter() - started,
                            weights=averages.AVERAGES if self.averages else averages.TRAINED,
                            insight=insight(*recorded["boxes"][-1], self.folder.analysis_dir,
                                            metrics,
                                            f"{self.model_dir.resolve().name}, step {step}",
                                            self._pictures,
                                            (recorded["masks"] or [None])[-1])
                            if recorded["boxes"] else None)
        record_metrics(self.folder, result)
        result.best = keep_if_best(
            self.folder, self.config, step, checkpoint, metrics,
            result.insight.analysis.as_json()["threshold"] if result.insight else None)
        return result

    def _eval_examples(self):
        """The decoded eval examples eager_eval_loop sees, in its order."""
        files = facts.match_files(facts.eval_patterns(self.config))
        records = (record for path in files for record in read_records(path))
        return (decode_example(record) for record in itertools.islice(
            records, self.config.eval_config.num_examples or None))

    def _source_ids(self) -> dict[int, str]:
        """{the id eager_eval_loop's evaluators know an eval image by: its source_id}."""
        names = [(features.get("image/source_id") or [b""])[0]
                 for features in self._eval_examples()]
        return {key: name.decode("utf-8", "replace")
                for key, name in zip(evaluators.image_keys(names), names)} if names else {}

    def _pictures(self, ids) -> list:
        """(id, caption, RGB pixels) of the eval images that eager_eval_loop knew by IDS."""
        wanted = {int(key) for key in ids}
        examples = self._eval_examples()
        found = []
        while len(found) < len(wanted):
            batch = list(itertools.islice(examples, 256))
            if not batch:
                break
            keys = evaluators.image_keys([(features.get("image/source_id") or [b""])[0]
                                          for features in batch])
            for key, features in zip(keys, batch):
                seen = picture(features, str(key)) if key in wanted else None
                if seen is not None:
                    found.append((key, *seen))
        return found

    def watch(self, timeout: float, interval: float = 5.0):
        """Evaluate each new checkpoint; stop at the config's last step or after `timeout` s
        without a new one."""
        last_step = self.config.train_config.num_steps
        for checkpoint in self.tf.train.checkpoints_iterator(
                str(self.model_dir), min_interval_secs=interval, timeout=timeout):
            result = self.evaluate(checkpoint)
            yield result
            if last_step and result.step >= last_step:
                return


class _Counted:
    """The eval dataset, advancing a progress Tracker as the OD API's loop takes each batch."""

    def __init__(self, dataset, tracker):
        self.dataset, self.tracker = dataset, tracker

    def __iter__(self):
        for batch in self.dataset:
            yield batch
            self.tracker.advance()


def record_metrics(folder: ModelDir, result: EvalResult) -> Path:
    """DIR/metrics.json: the latest evaluation, and every evaluation by step."""
    path = folder.metrics_path
    history = {}
    if path.exists():
        try:
            history = json.loads(path.read_text()).get("history", {})
        except (OSError, ValueError):
            history = {}
    entry = {"step": result.step, "checkpoint": result.checkpoint, "weights": result.weights,
             "metrics": result.metrics, **(result.insight.as_json() if result.insight else {})}
    history[str(result.step)] = result.metrics
    return atomic_write_text(path, json.dumps({**entry, "history": history}, indent=1,
                                              sort_keys=True))

