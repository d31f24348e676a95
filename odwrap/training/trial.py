"""A config's model, input pipeline and training step built to be timed or sized, with no model
directory: what `profile` and `batch-size` run. The pieces are the training loop's own
(inputs.train_input, the optimizer builder, model_lib_v2.eager_train_step); the weights start as
built (no fine-tune checkpoint is read: speed and memory do not depend on them)."""

import contextlib
import copy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from odwrap.config.checks import check_pipeline
from odwrap.config.loader import load_config, refuse_on_errors
from odwrap.odapi import compat, labelmap


def load(source, overrides=(), batch_size: int | None = None, stack=None):
    """The checked config of SOURCE (a spec or a pipeline.config) ready to run: an inline label
    map written to a temporary folder that STACK (an ExitStack) removes; BATCH_SIZE replaces
    the config's."""
    from odwrap.training.loop import require_training_records

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
    model_lib_v2 = compat.load("object_detection.model_lib_v2")
    import tensorflow as tf
    from object_detection import inputs
    from object_detection.builders import model_builder, optimizer_builder

    train_config = config.train_config
    unpad = train_config.unpad_groundtruth_tensors
    clip = train_config.gradient_clipping_by_norm or None
    model = model_builder.build(config.model, is_training=True, add_summaries=False)
    dataset = inputs.train_input(train_config=train_config,
                                 train_input_config=config.train_input_reader,
                                 model_config=config.model, model=model).repeat()
    global_step = tf.Variable(0, trainable=False, dtype=tf.int64)
    optimizer, _ = optimizer_builder.build(train_config.optimizer, global_step=global_step)
    if train_config.optimizer.use_moving_average:
        model_lib_v2._ensure_model_is_built(model, dataset, unpad)
        optimizer.shadow_copy(model)

    @tf.function
    def train_step(features, labels):
        losses = model_lib_v2.eager_train_step(
            model, features, labels, unpad, optimizer, training_step=global_step,
            add_regularization_loss=train_config.add_regularization_loss,
            clip_gradients_value=clip, num_replicas=1)
        global_step.assign_add(1)
        return losses

    @tf.function
    def sample_and_train(iterator):
        features, labels = next(iterator)
        return train_step(features, labels)

    return Trial(tf=tf, config=config, batch_size=train_config.batch_size, iterator=iter(dataset),
                 train_step=train_step, sample_and_train=sample_and_train)


@contextlib.contextmanager
def trial(source, overrides=(), batch_size=None):
    """A built Trial of SOURCE for the block."""
    with contextlib.ExitStack() as stack:
        yield build(load(source, overrides, batch_size, stack))
