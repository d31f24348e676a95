"""A config's model, input pipeline and training step built to be timed or sized, with no model
directory: what `profile` and `batch-size` run. The set-up is the training loop's own
(odapi.setup.training: the strategy, distributed input and step that `train` runs); the weights
start as built (no fine-tune checkpoint is read: speed and memory do not depend on them)."""

import contextlib
import copy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from odwrap.config.checks import check_pipeline
from odwrap.config.loader import (load_config, refuse_on_errors,
                                   require_training_records)
from odwrap.odapi import labelmap, setup


def load(source, overrides=(), batch_size: int | None = None, stack=None):
    """The checked config of SOURCE (a spec or a pipeline.config) ready to run: an inline label
    map written to a temporary folder that STACK (an ExitStack) removes; BATCH_SIZE replaces
    the config's."""
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="odwrap-trial-")))
    loaded = load_config(source, list(overrides), label_map_out=folder / labelmap.FILE_NAME)
    refuse_on_errors(check_pipeline(loaded.config, loaded.target), source, "not running")
    require_training_records(loaded.config)
    if loaded.label_map is not None:
        labelmap.write(loaded.label_map, folder / labelmap.FILE_NAME)
    config = copy.deepcopy(loaded.config)
    if batch_size is not None:
        config.train_config.batch_size = batch_size
    config.train_config.fine_tune_checkpoint = ""
    return config


@dataclass
class Trial:
    tf: object
    config: object  # the TrainEvalPipelineConfig it runs
    batch_size: int
    iterator: object  # of (features, labels) batches from the config's train_input
    train_step: object  # tf.function: (features, labels) -> losses, one optimizer step
    sample_and_train: object  # tf.function: (iterator) -> losses, one batch and one step

    def next_batch(self):
        return next(self.iterator)

    def combined(self):
        return self.sample_and_train(self.iterator)

    def time(self, function, count: int) -> float:
        """Seconds for COUNT calls of FUNCTION (results fetched, so the work is done)."""
        started = time.perf_counter()
        for _ in range(count):
            result = function()
        self.tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)
        return time.perf_counter() - started


def build(config) -> Trial:
    """CONFIG's training set-up as `train` builds it (odapi.setup: the same strategy, input and
    step), its functions compiled as `train` compiles its loop."""
    tf = setup.tensorflow()
    built = setup.training(config, setup.strategy())
    with built.strategy.scope():
        train_step = tf.function(built.step)
        sample_and_train = tf.function(built.sample_and_train)
    return Trial(tf=tf, config=config, batch_size=config.train_config.batch_size,
                 iterator=iter(built.dataset), train_step=train_step,
                 sample_and_train=sample_and_train)


@contextlib.contextmanager
def trial(source, overrides=(), batch_size=None):
    """A built Trial of SOURCE for the block."""
    with contextlib.ExitStack() as stack:
        yield build(load(source, overrides, batch_size, stack))
