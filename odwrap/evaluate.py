"""`odwrap eval`: evaluate a checkpoint once, now, with the config's metrics (COCO by default).

model_main_tf2's eval-only mode polls every 300 s and waits up to an hour; this builds the
model, restores the checkpoint, runs the OD API's eager_eval_loop over the eval TFRecords
(at most eval_config.num_examples images) and writes DIR/metrics.json. `--watch` evaluates each
new checkpoint as training writes it, until the last step or a timeout.
"""

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from odwrap import compat
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text
from odwrap.pipeline import read_pipeline

# Shown first, in this order; every other metric follows alphabetically.
HEADLINE = ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU",
            "DetectionBoxes_Precision/mAP@.75IOU", "DetectionBoxes_Precision/mAP (small)",
            "DetectionBoxes_Precision/mAP (medium)", "DetectionBoxes_Precision/mAP (large)",
            "DetectionBoxes_Recall/AR@100", "PascalBoxes_Precision/mAP@0.5IOU")


@dataclass
class EvalResult:
    step: int
    checkpoint: str
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


class Evaluator:
    """A model built once from DIR's pipeline.config, evaluated on one checkpoint at a time."""

    def __init__(self, model_dir, config_path=None, verbose=False):
        self.model_dir = Path(model_dir)
        config_path = Path(config_path) if config_path else self.model_dir / "pipeline.config"
        if not config_path.exists():
            raise InputError(f"{config_path}: no pipeline.config (train with odwrap train, or "
                             "give --config)")
        self.config = read_pipeline(config_path)
        if not self.config.eval_input_reader or \
                not self.config.eval_input_reader[0].tf_record_input_reader.input_path:
            raise InputError(f"{config_path}: eval_input_reader has no TFRecords to evaluate on "
                             "(data.eval in the spec)")
        self.model_lib_v2 = compat.load("object_detection.model_lib_v2")
        import tensorflow as tf
        from object_detection import inputs
        from object_detection.builders import model_builder
        from object_detection.utils import config_util

        from odwrap.quiet import quiet_logs

        quiet_logs(verbose)
        self.tf = tf
        self.configs = config_util.create_configs_from_pipeline_proto(self.config)
        self.model = model_builder.build(self.config.model, is_training=False)
        eval_config = self.configs["eval_config"]
        dataset = inputs.eval_input(eval_config=eval_config,
                                    eval_input_config=self.configs["eval_input_configs"][0],
                                    model_config=self.configs["model"], model=self.model)
        if eval_config.num_examples:
            dataset = dataset.take(math.ceil(eval_config.num_examples /
                                             max(eval_config.batch_size, 1)))
        self.dataset = dataset
        self.step = tf.Variable(0, trainable=False, dtype=tf.int64)
        self.writer = tf.summary.create_file_writer(str(self.model_dir / "eval"))

    def latest(self) -> str | None:
        return self.tf.train.latest_checkpoint(str(self.model_dir))

    def evaluate(self, checkpoint: str | None = None) -> EvalResult:
        tf = self.tf
        checkpoint = checkpoint or self.latest()
        if checkpoint is None:
            raise InputError(f"{self.model_dir}: no checkpoint to evaluate (train first)")
        if not tf.io.gfile.glob(checkpoint + ".index"):
            raise InputError(f"{checkpoint}: no such checkpoint ({checkpoint}.index is missing)")
        started = time.perf_counter()
        tf.train.Checkpoint(step=self.step, model=self.model).restore(checkpoint) \
            .expect_partial()
        with self.writer.as_default():
            metrics = self.model_lib_v2.eager_eval_loop(
                self.model, self.configs, self.dataset, use_tpu=False,
                postprocess_on_cpu=False, global_step=self.step)
        self.writer.flush()
        result = EvalResult(step=int(self.step.numpy()), checkpoint=checkpoint,
                            metrics={key: float(value) for key, value in metrics.items()},
                            seconds=time.perf_counter() - started)
        record_metrics(self.model_dir, result)
        return result

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


def record_metrics(model_dir: Path, result: EvalResult) -> Path:
    """DIR/metrics.json: the latest evaluation, and every evaluation by step."""
    path = Path(model_dir) / "metrics.json"
    history = {}
    if path.exists():
        try:
            history = json.loads(path.read_text()).get("history", {})
        except (OSError, ValueError):
            history = {}
    entry = {"step": result.step, "checkpoint": result.checkpoint, "metrics": result.metrics}
    history[str(result.step)] = result.metrics
    return atomic_write_text(path, json.dumps({**entry, "history": history}, indent=1,
                                              sort_keys=True))


def metric_lines(metrics: dict) -> list[str]:
    """One indented line a metric, the headline ones first."""
    keys = [key for key in HEADLINE if key in metrics]
    keys += sorted(key for key in metrics if key not in HEADLINE)
    width = max((len(key) for key in keys), default=10)
    return [f"  {key:{width}}  {metrics[key]:.4f}" for key in keys]


def format_metrics(result: EvalResult) -> str:
    lines = [f"step {result.step} ({result.checkpoint}), {result.seconds:.1f} s"]
    return "\n".join(lines + metric_lines(result.metrics))
