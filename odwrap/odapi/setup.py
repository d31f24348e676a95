"""One OD API set-up for every job that runs a model, built from a pipeline.config the way
model_lib_v2's train_loop and eval_continuously build theirs: the distribution strategy, the
model, its input pipeline, the optimizer with its global step and learning rate, the
moving-average shadow, the checkpoint and the training step. `train`, `profile` and
`batch-size` run `Training`'s step (the same step under the same strategy); `eval` and the
export of the moving averages build the model and its shadow with `shadow_averages`.
"""

import functools
from dataclasses import dataclass

from odwrap.odapi import compat, facts, speed


def tensorflow():
    """TensorFlow, with the OD API's training library loaded and every compat fix applied (what
    a job imports first, before it touches tf.keras)."""
    compat.load("object_detection.model_lib_v2")
    return compat.import_tensorflow()


def strategy(tpu: str | None = None, cluster=None):
    """TPU when named; several workers for CLUSTER (odwrap.training.cluster: TF_CONFIG or
    --worker-hosts); several GPUs; else the default."""
    tf = compat.import_tensorflow()
    if tpu:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if cluster is not None:
        return _multi_worker(tf, cluster)
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def device_kind(tpu: str | None = None) -> str:
    """What the training step runs on: 'tpu' when one is named, 'gpu' when TensorFlow sees
    one, else 'cpu'."""
    if tpu:
        return "tpu"
    gpus = compat.import_tensorflow().config.list_physical_devices("GPU")
    return "gpu" if gpus else "cpu"


def _multi_worker(tf, cluster):
    """MultiWorkerMirroredStrategy over CLUSTER that waits cluster.start_seconds for the other
    workers, not forever, and notices a worker that stopped answering within about 20 s, not
    90 (its health check's settings are class attributes of TensorFlow's, on both stacks)."""
    from tensorflow.python.distribute import collective_all_reduce_strategy as collective

    extended = collective.CollectiveAllReduceExtended
    for name, value in (("_check_health_initial_timeout", cluster.start_seconds),
                        ("_check_health_interval", cluster.health_interval_seconds),
                        ("_check_health_timeout", cluster.health_timeout_seconds),
                        ("_check_health_retry_limit", cluster.health_retries)):
        if hasattr(extended, name):
            setattr(extended, name, value)
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster.hosts), task_type=cluster.task_type,
        task_id=cluster.task_index, rpc_layer="grpc")
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


# The DetectionModel methods that run the network, its losses and its decoding. AutoGraph leaves
# them as they are (`unconverted`): the OD API wrote them for TF1's graphs, where Python control
# flow on a tensor fails loudly, so converting them changes nothing but the time to trace. And
# that time is most of a short run's: converting them (and the input pipeline's functions) took
# 33 of the 55 s of a 2-step train of the tiny SSD.
MODEL_METHODS = ("preprocess", "predict", "postprocess", "loss", "provide_groundtruth",
                 "regularization_losses")


def unconverted(function):
    """FUNCTION, which AutoGraph does not convert, nor anything it calls (tf.data's functions
    built within included); tf.function still traces it into a graph."""
    tf = compat.import_tensorflow()
    return tf.autograph.experimental.do_not_convert(function)


def build_model(model_config, is_training: bool, float32_predictions: bool = False,
                **options):
    """The OD API's model of MODEL_CONFIG (model_builder.build) with its MODEL_METHODS
    `unconverted`; FLOAT32_PREDICTIONS: predict's float16 tensors cast to float32 (the
    losses of a model built under mixed_float16 need them so)."""
    model_builder = compat.load("object_detection.builders.model_builder")
    model = model_builder.build(model_config, is_training=is_training, **options)
    if float32_predictions:
        model.predict = speed.float32_outputs(model.predict, compat.import_tensorflow())
    for name in MODEL_METHODS:
        setattr(model, name, unconverted(getattr(model, name)))
    return model


@dataclass
class Training:
    """A config's model, distributed input, optimizer and training step, built under a
    strategy's scope (`training`)."""

    tf: object
    model_lib_v2: object
    config: object  # the TrainEvalPipelineConfig it runs
    strategy: object
    model: object
    dataset: object  # the distributed train_input, repeated
    global_step: object  # tf.Variable, int64
    optimizer: object
    learning_rate: object  # () -> the current learning rate
    xla: bool = False  # each replica's step compiled with XLA (tf.function(jit_compile=True))
    mixed_precision: bool = False  # built under mixed_float16; optimizer: a LossScaleOptimizer

    @property
    def unpad(self) -> bool:
        return self.config.train_config.unpad_groundtruth_tensors

    def checkpoint(self):
        """tf.train.Checkpoint(step, model, optimizer), as train_loop saves it (under mixed
        precision the optimizer it wraps: the same checkpoint with or without; the loss scale
        starts anew on resume)."""
        optimizer = self.optimizer.inner_optimizer if self.mixed_precision else self.optimizer
        return self.tf.train.Checkpoint(step=self.global_step, model=self.model,
                                        optimizer=optimizer)

    def replica_step(self, features, labels):
        """One optimizer step on one replica's batch (model_lib_v2.eager_train_step; under
        mixed precision with its loss scaled)."""
        train_config = self.config.train_config
        if self.mixed_precision:
            losses = self._scaled_step(features, labels)
        else:
            losses = self.model_lib_v2.eager_train_step(
                self.model, features, labels, self.unpad, self.optimizer,
                training_step=self.global_step,
                add_regularization_loss=train_config.add_regularization_loss,
                clip_gradients_value=train_config.gradient_clipping_by_norm or None,
                num_replicas=self.strategy.num_replicas_in_sync)
        self.global_step.assign_add(1)
        return losses

    def _scaled_step(self, features, labels):
        """eager_train_step's losses and update, the loss scaled before the gradients and the
        gradients unscaled after (eager_train_step leaves a LossScaleOptimizer's scale unused)."""
        tf, train_config = self.tf, self.config.train_config
        labels = self._training_labels(labels)
        with tf.GradientTape() as tape:
            losses, _ = self.model_lib_v2._compute_losses_and_predictions_dicts(
                self.model, features, labels, training_step=self.global_step,
                add_regularization_loss=train_config.add_regularization_loss)
            losses = self.model_lib_v2.normalize_dict(losses,
                                                      self.strategy.num_replicas_in_sync)
            scaled = self.optimizer.get_scaled_loss(losses["Loss/total_loss"])
        variables = self.model.trainable_variables
        gradients = self.optimizer.get_unscaled_gradients(tape.gradient(scaled, variables))
        if train_config.gradient_clipping_by_norm:
            gradients, _ = tf.clip_by_global_norm(gradients,
                                                  train_config.gradient_clipping_by_norm)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return losses

    def _training_labels(self, labels):
        """The model in training mode and LABELS unstacked, as eager_train_step begins."""
        self.model._is_training = True
        self.tf.keras.backend.set_learning_phase(True)
        return self.model_lib_v2.model_lib.unstack_batch(labels,
                                                         unpad_groundtruth_tensors=self.unpad)

    def statistics_pass(self, batch) -> None:
        """A step's forward pass (with its losses) on BATCH, a (features, labels) of the one
        replica, in training mode and without a gradient: what moves the batch norms' averages."""
        features, labels = batch
        labels = self._training_labels(labels)
        self.model_lib_v2._compute_losses_and_predictions_dicts(
            self.model, features, labels, training_step=self.global_step,
            add_regularization_loss=False)

    @functools.cached_property
    def replica_function(self):
        """What each replica runs a step with: replica_step, compiled with XLA when `xla`."""
        if not self.xla:
            return self.replica_step
        return self.tf.function(self.replica_step, jit_compile=True)

    def step(self, features, labels):
        """One step on a batch under the strategy: the losses summed over the replicas."""
        per_replica = self.strategy.run(self.replica_function, args=(features, labels))
        return self.model_lib_v2.reduce_dict(self.strategy, per_replica,
                                             self.tf.distribute.ReduceOp.SUM)

    def sample_and_train(self, iterator):
        """The next batch of ITERATOR and one step on it: what a training loop repeats."""
        features, labels = next(iterator)
        return self.step(features, labels)

    def ensure_built(self) -> None:
        """Run the model once on a batch so that its variables exist (model_lib_v2's dummy
        computation)."""
        self.model_lib_v2._ensure_model_is_built(self.model, self.dataset, self.unpad)

    def check_fine_tune(self, model_dir: str) -> None:
        """RuntimeError for a fine_tune_checkpoint that train_loop refuses: a TF1 name-based
        one, or the model folder itself."""
        train_config = self.config.train_config
        variables_helper = compat.load("object_detection.utils.variables_helper")
        variables_helper.ensure_checkpoint_supported(
            train_config.fine_tune_checkpoint, train_config.fine_tune_checkpoint_type, model_dir)

    def load_fine_tune(self) -> None:
        """Restore train_config.fine_tune_checkpoint as train_loop does; AssertionError,
        ValueError, IOError or NotFoundError for one that does not fit."""
        train_config = self.config.train_config
        self.model_lib_v2.load_fine_tune_checkpoint(
            self.model, train_config.fine_tune_checkpoint,
            train_config.fine_tune_checkpoint_type, train_config.fine_tune_checkpoint_version,
            False, self.dataset, self.unpad)


def training(config, run_strategy=None, xla: bool = False,
             mixed_precision: bool = False) -> Training:
    """CONFIG's training set-up under RUN_STRATEGY (by default `strategy()`): model, distributed
    train_input, global step, optimizer and, when train_config.optimizer.use_moving_average,
    the averages shadowing the built model. XLA: each replica's step compiled with XLA.
    MIXED_PRECISION: the model built under the mixed_float16 policy (which stays set), its
    optimizer wrapped in a LossScaleOptimizer."""
    model_lib_v2 = compat.load("object_detection.model_lib_v2")
    tf = compat.import_tensorflow()
    from object_detection import inputs
    from object_detection.builders import optimizer_builder

    run_strategy = run_strategy or strategy()
    train_config = config.train_config
    if mixed_precision:
        tf.keras.mixed_precision.set_global_policy("mixed_float16")
    with run_strategy.scope():
        model = build_model(config.model, is_training=True, add_summaries=False,
                            float32_predictions=mixed_precision)

        @unconverted
        def dataset_fn(input_context):
            return inputs.train_input(train_config=train_config,
                                      train_input_config=config.train_input_reader,
                                      model_config=config.model, model=model,
                                      input_context=input_context).repeat()

        dataset = run_strategy.distribute_datasets_from_function(dataset_fn)
        global_step = tf.Variable(0, trainable=False, dtype=tf.int64, name="global_step",
                                  aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        optimizer, (learning_rate,) = optimizer_builder.build(train_config.optimizer,
                                                              global_step=global_step)
        built = Training(tf=tf, model_lib_v2=model_lib_v2, config=config,
                         strategy=run_strategy, model=model, dataset=dataset,
                         global_step=global_step, optimizer=optimizer,
                         learning_rate=learning_rate if callable(learning_rate)
                         else (lambda: learning_rate), xla=xla, mixed_precision=mixed_precision)
        if train_config.optimizer.use_moving_average:
            # As train_loop does: the averages shadow the model's variables, which exist only
            # once the model has run (the proto's default is true; the samples set false).
            built.ensure_built()
            optimizer.shadow_copy(model)
        if mixed_precision:
            built.optimizer = tf.keras.mixed_precision.LossScaleOptimizer(optimizer)
    return built


def eval_model(config):
    """(model, eval dataset, configs dict) of CONFIG for model_lib_v2.eager_eval_loop, at most
    eval_config.num_examples images."""
    import math

    compat.load("object_detection.model_lib_v2")
    from object_detection import inputs
    from object_detection.utils import config_util

    configs = config_util.create_configs_from_pipeline_proto(config)
    model = build_model(config.model, is_training=False)
    eval_config = configs["eval_config"]
    dataset = unconverted(inputs.eval_input)(
        eval_config=eval_config, eval_input_config=configs["eval_input_configs"][0],
        model_config=configs["model"], model=model)
    if eval_config.num_examples:
        dataset = dataset.take(math.ceil(eval_config.num_examples /
                                         max(eval_config.batch_size, 1)))
    return model, dataset, configs


def shadow_averages(config, model, step, dataset=None):
    """The EMA optimizer of train_config.optimizer with its averages shadowing MODEL's
    variables, which are created first: by one batch of DATASET (as eval_continuously does),
    or by one pass over a blank image of the input size."""
    model_lib_v2 = compat.load("object_detection.model_lib_v2")
    tf = compat.import_tensorflow()
    from object_detection.builders import optimizer_builder

    if dataset is not None:
        model_lib_v2._ensure_model_is_built(model, dataset,
                                            config.eval_config.batch_size == 1)
    else:
        height, width = facts.largest_input_size(config)
        images, shapes = model.preprocess(tf.zeros([1, height, width, 3], tf.float32))
        model.predict(images, shapes)
    optimizer, _ = optimizer_builder.build(config.train_config.optimizer, global_step=step)
    optimizer.shadow_copy(model)
    return optimizer


def inference_model(config):
    """CONFIG's model built for inference (is_training=False)."""
    return build_model(config.model, is_training=False)


def eager_eval_loop(model, configs, dataset, global_step):
    """model_lib_v2.eager_eval_loop on one device: the config's metrics of MODEL on DATASET."""
    model_lib_v2 = compat.load("object_detection.model_lib_v2")
    return model_lib_v2.eager_eval_loop(model, configs, dataset, use_tpu=False,
                                        postprocess_on_cpu=False, global_step=global_step)


def all_sum(run_strategy, value: int) -> int:
    """VALUE summed over every replica of RUN_STRATEGY's workers: the same number on each (a
    worker with several replicas counts it once a replica)."""
    tf = compat.import_tensorflow()
    values = run_strategy.experimental_distribute_values_from_function(
        lambda _: tf.constant(value, tf.int64))
    return int(run_strategy.reduce(tf.distribute.ReduceOp.SUM, values, axis=None))
