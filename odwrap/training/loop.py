"""`train`: the OD API's TF2 training step, without model_main_tf2's sharp edges.

The loop is model_lib_v2.train_loop's (same model, input pipeline, optimizer, eager_train_step
and summaries) with these differences: exactly the requested steps (a tf.function runs a
loop of steps whose length is a tensor, so the last loop is cut to fit without a retrace);
checkpoints only after the variables exist, every --checkpoint-every steps and always at the
end; SIGINT and SIGTERM save a checkpoint before exiting; the model directory keeps the config
it was trained with.
"""

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.config.checks import Finding, check_pipeline
from odwrap.config.loader import load_config, refuse_on_errors
from odwrap.errors import InputError, Interrupted
from odwrap.odapi import compat, facts
from odwrap.training.modeldir import ModelDir

STEPS_PER_LOOP = 100  # steps per tf.function call, as model_main_tf2; the last one is cut


@dataclass
class TrainOptions:
    source: Path
    model_dir: Path
    steps: int | None = None
    checkpoint_every: int = 1000
    keep_checkpoints: int = 7
    force: bool = False
    overrides: list = field(default_factory=list)
    tpu: str | None = None
    steps_per_loop: int = STEPS_PER_LOOP


@dataclass
class TrainResult:
    model_dir: Path
    start_step: int
    end_step: int
    seconds: float
    checkpoint: str
    losses: dict = field(default_factory=dict)
    restored: tuple | None = None  # (restored, total, names not restored) of a fine-tune
    findings: list[Finding] = field(default_factory=list)  # the checks' warnings
    target_step: int = 0  # the step training was asked to reach

    @property
    def nothing_to_do(self) -> bool:
        """The model was at or past the target step already: nothing was trained."""
        return self.start_step >= self.target_step


def _strategy(tf, tpu: str | None):
    """TPU when named, several workers under TF_CONFIG, several GPUs, else the default."""
    import json
    import os

    if tpu:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    if sum(len(hosts) for hosts in cluster.values()) > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _load_fine_tune(model_lib_v2, tf, model, train_config, dataset, unpad,
                    model_dir: str) -> tuple:
    """Restore the fine-tune checkpoint; (restored, total, names of variables not restored)."""
    path = train_config.fine_tune_checkpoint
    kind = train_config.fine_tune_checkpoint_type
    variables_helper = compat.load("object_detection.utils.variables_helper")
    try:  # as train_loop: no TF1 name-based checkpoint, not the model folder itself
        variables_helper.ensure_checkpoint_supported(path, kind, model_dir)
    except RuntimeError as exc:
        raise InputError(f"train_config.fine_tune_checkpoint: {path}: {exc}") from None
    model_lib_v2._ensure_model_is_built(model, dataset, unpad)
    before = {v.name: v.numpy().copy() for v in model.trainable_variables}
    try:
        model_lib_v2.load_fine_tune_checkpoint(
            model, path, kind, train_config.fine_tune_checkpoint_version,
            train_config.run_fine_tune_checkpoint_dummy_computation, dataset, unpad)
    except (AssertionError, ValueError, IOError, tf.errors.NotFoundError) as exc:
        names = [name for name, _ in tf.train.list_variables(path)][:3] if \
            tf.io.gfile.glob(path + ".index") else []
        raise InputError(
            f"train_config.fine_tune_checkpoint: {path} does not fit fine_tune_checkpoint_type "
            f"'{kind}' ({str(exc).splitlines()[0][:200]}); its first variables: {names}. "
            "Use 'classification' for a backbone checkpoint, 'detection' for a whole "
            "detector") from None
    unchanged = [v.name for v in model.trainable_variables
                 if (v.numpy() == before[v.name]).all()]
    return len(before) - len(unchanged), len(before), unchanged


def prepare(options: TrainOptions):
    """Load and check the config and keep it in the model directory: (config, findings)."""
    folder = ModelDir(options.model_dir)
    loaded = load_config(options.source, options.overrides,
                         label_map_out=folder.label_map_path.resolve())
    findings = check_pipeline(loaded.config, loaded.target)
    refuse_on_errors(findings, options.source, "not training")
    _require_training_records(loaded.config)
    folder.keep_config(loaded.config, loaded.label_map, options.force)
    return loaded.config, findings


def _require_training_records(config) -> None:
    """InputError naming the field when no training TFRecords are configured or a local pattern
    matches nothing (the OD API would fail after building the model, in a traceback)."""
    field = "train_input_reader.tf_record_input_reader.input_path"
    patterns = facts.train_patterns(config)
    if not patterns:
        raise InputError(f"{field} is empty: no training TFRecords are configured")
    for index, pattern in enumerate(patterns):
        if "://" not in pattern and not facts.match_files([pattern]):
            raise InputError(f"{field}[{index}]: no file matches {pattern} (create the TFRecords "
                             "with odwrap convert, or fix the path)")


def train(options: TrainOptions) -> TrainResult:
    """Train from a spec or a pipeline.config into options.model_dir."""
    config, findings = prepare(options)
    train_config = config.train_config
    # The legacy from_detection_checkpoint, mapped as train_loop maps it (after the checks).
    train_config.fine_tune_checkpoint_type = facts.fine_tune_checkpoint_type(config)
    steps = options.steps or train_config.num_steps
    if not steps:
        raise InputError("train_config.num_steps is 0 and --steps is not given: say how many "
                         "steps to train")
    if options.checkpoint_every < 1:
        raise InputError("--checkpoint-every must be at least 1")
    if options.steps_per_loop < 1:
        raise InputError("--steps-per-loop must be at least 1")
    for finding in findings:  # prepare() refused the errors; the warnings come before the run
        report.message(finding.format())
    folder = ModelDir(options.model_dir)
    done = folder.checkpoint_steps()
    if done and done[-1] >= steps:
        return TrainResult(model_dir=options.model_dir, start_step=done[-1], end_step=done[-1],
                           seconds=0.0, checkpoint=folder.checkpoint(done[-1]),
                           findings=findings, target_step=steps)

    model_lib_v2 = compat.load("object_detection.model_lib_v2")
    import tensorflow as tf
    from object_detection import inputs
    from object_detection.builders import model_builder, optimizer_builder

    strategy = _strategy(tf, options.tpu)
    if train_config.use_bfloat16 and options.tpu:
        tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model_dir = str(options.model_dir)
    unpad = train_config.unpad_groundtruth_tensors
    clip = train_config.gradient_clipping_by_norm or None

    with strategy.scope():
        model = model_builder.build(config.model, is_training=True, add_summaries=False)

        def dataset_fn(input_context):
            return inputs.train_input(train_config=train_config,
                                      train_input_config=config.train_input_reader,
                                      model_config=config.model, model=model,
                                      input_context=input_context).repeat()

        dataset = strategy.distribute_datasets_from_function(dataset_fn)
        global_step = tf.Variable(0, trainable=False, dtype=tf.int64, name="global_step",
                                  aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        optimizer, (learning_rate,) = optimizer_builder.build(train_config.optimizer,
                                                              global_step=global_step)
        if train_config.optimizer.use_moving_average:
            # As train_loop does: the averages shadow the model's variables, which exist only
            # once the model has run (the proto's default is true; the samples set false).
            model_lib_v2._ensure_model_is_built(model, dataset, unpad)
            optimizer.shadow_copy(model)
        lr_fn = learning_rate if callable(learning_rate) else (lambda: learning_rate)
        checkpoint = tf.train.Checkpoint(step=global_step, model=model, optimizer=optimizer)
        manager = tf.train.CheckpointManager(checkpoint, model_dir,
                                             max_to_keep=options.keep_checkpoints)
        latest = manager.latest_checkpoint
        restored = None
        if latest:
            checkpoint.restore(latest)
        elif train_config.fine_tune_checkpoint:
            restored = _load_fine_tune(model_lib_v2, tf, model, train_config, dataset, unpad,
                                       model_dir)

        def step_fn(features, labels):
            losses = model_lib_v2.eager_train_step(
                model, features, labels, unpad, optimizer, training_step=global_step,
                add_regularization_loss=train_config.add_regularization_loss,
                clip_gradients_value=clip, num_replicas=strategy.num_replicas_in_sync)
            global_step.assign_add(1)
            return losses

        def sample_and_train(iterator):
            features, labels = next(iterator)
            per_replica = strategy.run(step_fn, args=(features, labels))
            return model_lib_v2.reduce_dict(strategy, per_replica, tf.distribute.ReduceOp.SUM)

        @tf.function
        def run_chunk(iterator, count):
            for _ in tf.range(count - 1):
                sample_and_train(iterator)
            return sample_and_train(iterator)

    start_step = int(global_step.numpy())
    writer = tf.summary.create_file_writer(str(ModelDir(model_dir).train_events))
    stop = {}
    handlers = {sig: signal.signal(sig, lambda number, _: stop.setdefault("signal", number))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.perf_counter()
    losses = {}
    try:
        iterator = iter(dataset)
        step = start_step
        last_saved = start_step if latest else None
        with writer.as_default(), report.tracking("train", steps, "step") as tracker:
            while step < steps and "signal" not in stop:
                count = min(options.steps_per_loop, steps - step)
                loop_started = time.perf_counter()
                chunk_losses = run_chunk(iterator, tf.constant(count, tf.int64))
                step = int(global_step.numpy())
                tf.summary.scalar("steps_per_sec", count / (time.perf_counter() - loop_started),
                                  step=step)
                losses = {key: float(value) for key, value in chunk_losses.items()}
                rate = float(lr_fn())
                for key, value in {**losses, "learning_rate": rate}.items():
                    tf.summary.scalar(key, value, step=step)
                tracker.update(step, loss=losses.get("Loss/total_loss"), learning_rate=rate)
                if step % options.checkpoint_every < count or step == steps:
                    manager.save(checkpoint_number=step)
                    last_saved = step
        if "signal" in stop and last_saved != step:
            manager.save(checkpoint_number=step)
        writer.flush()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if "signal" in stop:
        raise Interrupted(f"stopped by signal {stop['signal']} at step {step}; checkpoint "
                          f"{manager.latest_checkpoint} saved; rerun to resume")
    if manager.latest_checkpoint is None:
        manager.save(checkpoint_number=int(global_step.numpy()))
    return TrainResult(model_dir=options.model_dir, start_step=start_step,
                       end_step=int(global_step.numpy()),
                       seconds=time.perf_counter() - started,
                       checkpoint=manager.latest_checkpoint, losses=losses, restored=restored,
                       findings=findings, target_step=steps)

