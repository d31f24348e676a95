"""`train`: the OD API's TF2 training step, without model_main_tf2's sharp edges.

The loop is model_lib_v2.train_loop's (same model, input pipeline, optimizer, eager_train_step
and summaries) with these differences: exactly the requested steps (a tf.function runs a
loop of steps whose length is a tensor, so the last loop is cut to fit without a retrace);
checkpoints only after the variables exist, every --checkpoint-every steps and always at the
end; SIGINT and SIGTERM save a checkpoint before exiting; the model directory keeps the config
it was trained with. Several workers (odwrap.training.cluster) run the same loop: the chief
alone writes the model directory, every worker runs the same steps per call, and after each
call they agree whether any was asked to stop, so that all stop, and save, at one step.
"""

import contextlib
import copy
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from odwrap import report
from odwrap.config.checks import Finding, check_pipeline
from odwrap.config.loader import (load_config, refuse_on_errors,
                                   require_training_records)
from odwrap.config.pretrained import pull_if_missing
from odwrap.errors import InputError, Interrupted, RunError
from odwrap.locks import FolderLock
from odwrap.odapi import facts, labelmap, logs, setup, speed
from odwrap.training import batch_norm, checkpoints, cluster as clusters, parts
from odwrap.training.best import Best, read_best
from odwrap.training.modeldir import ModelDir
from odwrap.training.signals import Signals

STEPS_PER_LOOP = 100  # at most this many steps per tf.function call, as model_main_tf2
LOOP_SECONDS = 2.0  # and about this long: the loop answers a signal within it


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
    seed: int | None = None  # Python's, numpy's and TensorFlow's, before the model is built
    worker_hosts: tuple = ()  # several workers: every worker's host:port (or TF_CONFIG)
    task_index: int | None = None  # this worker's place in worker_hosts
    xla: str | bool | None = None  # train.xla's auto, True or False; None: the spec's (auto)
    mixed_precision: bool | None = None  # None: the spec's train.mixed_precision (off)
    batch_norm_batches: int = batch_norm.BATCHES  # 0: the averages as trained


@dataclass
class TrainResult:
    model_dir: Path
    start_step: int
    end_step: int
    seconds: float
    checkpoint: str
    losses: dict = field(default_factory=dict)
    restored: parts.Restored | None = None  # what a fine-tune restored
    findings: list[Finding] = field(default_factory=list)  # the checks' warnings
    target_step: int = 0  # the step training was asked to reach
    xla: str = ""  # whether the step was compiled with XLA, and why

    @property
    def best(self) -> Best | None:
        """The folder's best checkpoint of those evaluated so far (odwrap eval keeps it)."""
        return read_best(ModelDir(self.model_dir))

    @property
    def nothing_to_do(self) -> bool:
        """The model was at or past the target step already: nothing was trained."""
        return self.start_step >= self.target_step


def _load_fine_tune(built, model_dir: str, classes: int) -> parts.Restored:
    """Restore the fine-tune checkpoint; what it restored (parts.Restored)."""
    tf, train_config = built.tf, built.config.train_config
    path = train_config.fine_tune_checkpoint
    kind = train_config.fine_tune_checkpoint_type
    try:  # as train_loop: no TF1 name-based checkpoint, not the model folder itself
        built.check_fine_tune(model_dir)
    except RuntimeError as exc:
        raise InputError(f"train_config.fine_tune_checkpoint: {path}: {exc}") from None
    built.ensure_built()  # the dummy computation's job
    before = parts.mark(built.model)
    try:
        built.load_fine_tune()
    except (AssertionError, ValueError, IOError, tf.errors.NotFoundError) as exc:
        names = [name for name, _ in tf.train.list_variables(path)][:3] if \
            tf.io.gfile.glob(path + ".index") else []
        raise InputError(
            f"train_config.fine_tune_checkpoint: {path} does not fit fine_tune_checkpoint_type "
            f"'{kind}' ({str(exc).splitlines()[0][:200]}); its first variables: {names}. "
            "Use 'classification' for a backbone checkpoint, 'detection' for a whole "
            "detector") from None
    return parts.restored(built.model, before, path, kind, classes)


def prepare(options: TrainOptions, workers: int = 1):
    """Load and check the config, and make sure the model directory may keep it (nothing is
    written): (config, inline label map or None, findings, the target with the options'
    train.xla and train.mixed_precision)."""
    folder = ModelDir(options.model_dir)
    loaded = load_config(options.source, options.overrides,
                         label_map_out=folder.label_map_path.resolve())
    pull_if_missing(loaded.config)  # model.pretrained's zoo checkpoint
    target = replace(loaded.target, **{key: getattr(options, key) for key in
                                       ("xla", "mixed_precision")
                                       if getattr(options, key) is not None})
    findings = check_pipeline(loaded.config, target)
    refuse_on_errors(findings, options.source, "not training")
    require_training_records(loaded.config, workers)
    folder.accept_config(loaded.config, loaded.label_map, options.force)
    return loaded.config, loaded.label_map, findings, target


def _peer_errors(tf) -> tuple:
    """What a collective raises when another worker of the cluster went."""
    return (tf.errors.UnavailableError, tf.errors.CancelledError,
            tf.errors.DeadlineExceededError, tf.errors.AbortedError)


def _check_options(options: TrainOptions) -> None:
    """InputError for values no run can take, before anything is read or written."""
    if options.steps is not None and options.steps < 1:
        raise InputError(f"--steps {options.steps}: must be at least 1")
    for name, value, least in (("--checkpoint-every", options.checkpoint_every, 1),
                               ("--steps-per-loop", options.steps_per_loop, 1),
                               ("--batch-norm-batches", options.batch_norm_batches, 0)):
        if value < least:
            raise InputError(f"{name} must be at least {least}")


def _require_match(status, latest: str) -> None:
    """InputError when the model has variables that the checkpoint it resumes from does not
    have (another architecture under --force): they would train on from scratch, unsaid."""
    try:
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise InputError(f"{latest}: the checkpoint does not fit this config "
                         f"({checkpoints.first_line(exc)}); train it into a new --model-dir, "
                         "or fine-tune from the checkpoint") from None


class _Loops:
    """How many steps each tf.function call runs: one while it is traced and once more to time
    a step, then as many as take about LOOP_SECONDS (at most --steps-per-loop), cut at every
    checkpoint step and at the end. A signal is seen between calls, so it is answered within
    about LOOP_SECONDS (or one step, when a step takes longer) whatever --steps-per-loop is.
    FIXED: no timing, so that every worker of a cluster runs the same steps per call."""

    def __init__(self, limit: int, checkpoint_every: int, steps: int, fixed: bool = False):
        self.limit, self.every, self.steps = limit, checkpoint_every, steps
        self.calls = 0
        self.seconds_per_step = None
        self.fixed = fixed

    def next(self, step: int) -> int:
        count = self.limit
        if self.calls < 2:
            count = 1
        elif self.seconds_per_step and not self.fixed:
            count = max(1, min(self.limit, int(LOOP_SECONDS / self.seconds_per_step)))
        next_checkpoint = (step // self.every + 1) * self.every
        return max(1, min(count, next_checkpoint - step, self.steps - step))

    def timed(self, count: int, seconds: float) -> None:
        self.calls += 1
        if self.calls > 1:  # the first call includes tracing the function
            per_step = seconds / count
            self.seconds_per_step = per_step if self.seconds_per_step is None else \
                0.5 * (self.seconds_per_step + per_step)


def _stage_label_map(config, label_map, folder: ModelDir, stack):
    """A copy of CONFIG for TensorFlow to run with: a spec's inline label map is read from a
    temporary copy until the run has started and the folder keeps the real one."""
    run_config = copy.deepcopy(config)
    if label_map is None:
        return run_config
    staged = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="odwrap-train-")))
    labelmap.write(label_map, staged / labelmap.FILE_NAME)
    own = str(folder.label_map_path.resolve())
    for message, name in facts.label_map_fields(run_config):
        if getattr(message, name) == own:
            setattr(message, name, str(staged / labelmap.FILE_NAME))
    return run_config


def train(options: TrainOptions) -> TrainResult:
    """Train from a spec or a pipeline.config into options.model_dir; as one worker of a
    cluster under TF_CONFIG or options.worker_hosts, the chief alone holding the folder."""
    _check_options(options)
    cluster = clusters.from_options(options.worker_hosts, options.task_index)
    writes = clusters.writes_folder(cluster)
    with Signals() as signals, (FolderLock(options.model_dir, "odwrap train") if writes
                                 else contextlib.nullcontext()):
        return _train(options, signals, cluster)


def _train(options: TrainOptions, signals: Signals, cluster) -> TrainResult:
    config, label_map, findings, target = prepare(options, cluster.size if cluster else 1)
    steps = options.steps or config.train_config.num_steps
    if not steps:
        raise InputError("train_config.num_steps is 0 and --steps is not given: say how many "
                         "steps to train")
    for finding in findings:  # prepare() refused the errors; the warnings come before the run
        report.message(finding.format())
    folder = ModelDir(options.model_dir)
    writes = clusters.writes_folder(cluster)
    for name in folder.remove_partial_checkpoints() if writes else ():
        report.message(f"removed {folder.path / name}: a checkpoint save that did not finish")
    done = folder.checkpoint_steps()
    if done and done[-1] >= steps:  # nothing to run; a --force'd config is kept as asked
        if writes:
            folder.keep_config(config, label_map, options.force)
        return TrainResult(model_dir=options.model_dir, start_step=done[-1], end_step=done[-1],
                           seconds=0.0, checkpoint=folder.checkpoint(done[-1]),
                           findings=findings, target_step=steps)
    latest = None
    if done:  # a truncated latest checkpoint is one line here, not a traceback mid-run
        earlier = folder.checkpoint(done[-2]) if len(done) > 1 else None
        latest = checkpoints.verified(folder.checkpoint(done[-1]), earlier)
    with contextlib.ExitStack() as stack:
        run_config = _stage_label_map(config, label_map, folder, stack)
        # The legacy from_detection_checkpoint, mapped as train_loop maps it (after the checks;
        # in the config TensorFlow runs with, not the one the folder keeps).
        run_config.train_config.fine_tune_checkpoint_type = \
            facts.fine_tune_checkpoint_type(config)
        commit = (lambda: folder.keep_config(config, label_map, options.force)) if writes \
            else (lambda: None)
        if cluster is None:
            return _run(options, run_config, steps, latest, signals, commit, findings, target)
        # A cluster's collectives print C++ lines on stderr when a peer goes: to the log.
        stack.enter_context(logs.captured_output(not report.verbose()))
        try:
            return _run(options, run_config, steps, latest, signals, commit, findings, target,
                        cluster, Path(stack.enter_context(tempfile.TemporaryDirectory(
                            prefix="odwrap-worker-"))) if not writes else None)
        except RuntimeError as exc:
            if "waiting for the cluster" not in str(exc):
                raise
            raise RunError(f"{cluster.name()}: the workers were not all there within "
                           f"{cluster.start_seconds} s ({', '.join(cluster.every())}); start "
                           "every worker of the cluster") from None


def _run(options, config, steps, latest, signals, commit, findings, target, cluster=None,
         scratch: Path | None = None) -> TrainResult:
    """The training itself, with TARGET's XLA and mixed precision; a worker of CLUSTER that is
    not its chief saves into SCRATCH."""
    train_config = config.train_config
    tf = setup.tensorflow()
    if options.seed is not None:
        tf.keras.utils.set_random_seed(options.seed)
    try:
        run_strategy = setup.strategy(options.tpu, cluster)
    except tf.errors.UnknownError as exc:
        if cluster is None or "Could not start gRPC server" not in str(exc):
            raise
        raise InputError(f"{cluster.source}: {cluster.name()}: cannot listen on "
                         f"{cluster.hosts[cluster.task_type][cluster.task_index]} (another "
                         "process holds the port, or the host is not this machine)") from None
    signals.reinstall()
    if cluster is not None:  # the chief's seed for all: the same shuffles, so the files are
        # dealt out to the workers without overlap (the OD API shuffles them, then shards)
        seed = options.seed if options.seed is not None else random.randrange(1 << 30)
        tf.keras.utils.set_random_seed(setup.all_sum(run_strategy, seed if cluster.chief
                                                     else 0))
    if train_config.use_bfloat16 and options.tpu:
        tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    folder = ModelDir(options.model_dir)
    model_dir = str(options.model_dir)
    device = setup.device_kind(options.tpu)
    speed.require_mixed_precision_device(target.mixed_precision, device)
    xla = speed.choose_xla(target.xla, config, device, run_strategy.num_replicas_in_sync)
    report.message(xla.line())
    built = setup.training(config, run_strategy, xla.on, target.mixed_precision)
    global_step, lr_fn = built.global_step, built.learning_rate

    with run_strategy.scope():
        checkpoint = built.checkpoint()
        manager = tf.train.CheckpointManager(checkpoint, str(scratch or model_dir),
                                             max_to_keep=1 if scratch else
                                             options.keep_checkpoints)
        restored = resumed = None
        if latest:
            resumed = checkpoint.restore(latest)
        elif train_config.fine_tune_checkpoint:
            restored = _load_fine_tune(built, model_dir, facts.num_classes(config))

        @tf.function
        def run_chunk(iterator, count):
            for _ in tf.range(count - 1):
                built.sample_and_train(iterator)
            return built.sample_and_train(iterator)

    refresher = batch_norm.Refresher(built, not train_config.fine_tune_checkpoint,
                                     run_strategy.num_replicas_in_sync == 1 and cluster is None,
                                     options.batch_norm_batches)

    def save(step):
        line = refresher.before_save(step)
        if line:
            report.message(line)
        try:
            manager.save(checkpoint_number=step)
        except (tf.errors.OpError, OSError) as exc:
            if cluster is not None and isinstance(exc, _peer_errors(tf)):
                raise  # a save is a collective too: a worker went
            if scratch is not None:  # a worker's own save: the chief's folder is not ours
                raise RunError(f"{scratch}: saving this worker's checkpoint failed "
                               f"({checkpoints.first_line(exc)})") from None
            folder.remove_partial_checkpoints()
            folder.remove_checkpoint(step)
            kept = folder.checkpoint_steps()
            raise RunError(f"{folder.checkpoint(step)}: saving the checkpoint failed "
                           f"({checkpoints.first_line(exc)}); the latest complete one is "
                           f"{folder.checkpoint(kept[-1]) if kept else 'none'}") from None

    def saved_as(step):  # the chief's checkpoint, as every worker names it
        return manager.latest_checkpoint if scratch is None else folder.checkpoint(step)

    start_step = int(global_step.numpy())
    loops = _Loops(options.steps_per_loop, options.checkpoint_every, steps,
                   fixed=cluster is not None)
    started = time.perf_counter()
    losses = {}
    writer = None
    iterator = iter(built.dataset)
    step = start_step
    last_saved = start_step if latest else None
    signals.deferred = True  # from here a signal is answered with a checkpoint
    started_run = stopping = False
    try:
        with report.tracking("train", steps, "step", done=start_step) as tracker:
            while step < steps and not stopping:
                count = loops.next(step)
                loop_started = time.perf_counter()
                chunk_losses = run_chunk(iterator, tf.constant(count, tf.int64))
                step = int(global_step.numpy())
                seconds = time.perf_counter() - loop_started
                loops.timed(count, seconds)
                stopping = signals.received is not None
                if cluster is not None:  # any worker asked to stop: all stop at this step
                    stopping = setup.all_sum(run_strategy, int(stopping)) > 0
                if not started_run:  # the run works: the folder keeps its config from now on
                    if resumed is not None:
                        _require_match(resumed, latest)
                    commit()
                    started_run = True
                    if scratch is None:
                        writer = tf.summary.create_file_writer(str(folder.train_events))
                losses = {key: float(value) for key, value in chunk_losses.items()}
                rate = float(lr_fn())
                if writer is not None:
                    with writer.as_default():
                        tf.summary.scalar("steps_per_sec", count / seconds, step=step)
                        for key, value in {**losses, "learning_rate": rate}.items():
                            tf.summary.scalar(key, value, step=step)
                tracker.update(step, loss=losses.get("Loss/total_loss"), learning_rate=rate)
                if step % options.checkpoint_every == 0 or step == steps:
                    save(step)
                    last_saved = step
        if stopping and started_run and last_saved != step:
            save(step)
    except tf.errors.OpError as exc:
        if cluster is None or not isinstance(exc, _peer_errors(tf)):
            raise
        kept, log = folder.checkpoint_steps(), logs.keep_traceback(exc)
        raise RunError(f"{cluster.name()}: {cluster.peer(str(exc))} stopped answering near step "
                       f"{step}; the latest checkpoint is "
                       f"{folder.checkpoint(kept[-1]) if kept else 'none'}: start every worker "
                       f"again to resume{f' (traceback in {log})' if log else ''}") from exc
    if writer is not None:
        writer.flush()
    if stopping:
        number = signals.received or signal.SIGTERM
        name = signal.Signals(number).name
        why = f"stopped by {name}" if signals.received else \
            "stopped with the cluster (another worker was stopped by a signal)"
        if not started_run:
            raise Interrupted(f"{why} before the first step; nothing was written", number)
        raise Interrupted(f"{why} at step {step}; checkpoint {saved_as(step)} saved; "
                          f"rerun{' every worker' if cluster else ''} to resume", number)
    if last_saved is None:
        save(int(global_step.numpy()))
    return TrainResult(model_dir=options.model_dir, start_step=start_step,
                       end_step=int(global_step.numpy()),
                       seconds=time.perf_counter() - started,
                       checkpoint=saved_as(int(global_step.numpy())), losses=losses,
                       restored=restored, findings=findings, target_step=steps,
                       xla=xla.line())
