"""`odwrap train`, `eval`, `plot`, `profile` and `batch-size`: each command's parser and the
function that runs it (the API call and what it prints)."""

from pathlib import Path

from odwrap import api
from odwrap.cli.common import EXIT_OK, INT32_MAX, RUNTIME_CHOICES, SEED_MAX, add_set
from odwrap.cli.options import arguments
from odwrap.cli.types import int_in, number_in, xla_setting
from odwrap.errors import InputError

# Shown first, in this order; every other metric follows alphabetically.
HEADLINE = ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU",
            "DetectionBoxes_Precision/mAP@.75IOU", "DetectionBoxes_Precision/mAP (small)",
            "DetectionBoxes_Precision/mAP (medium)", "DetectionBoxes_Precision/mAP (large)",
            "DetectionBoxes_Recall/AR@100", "PascalBoxes_Precision/mAP@0.5IOU",
            "Keypoints_Precision/mAP", "Keypoints_Precision/mAP@.50IOU",
            "Keypoints_Precision/mAP@.75IOU")


def metric_lines(metrics: dict) -> list[str]:
    """One indented line a metric, the headline ones first."""
    keys = [key for key in HEADLINE if key in metrics]
    keys += sorted(key for key in metrics if key not in HEADLINE)
    width = max((len(key) for key in keys), default=10)
    return [f"  {key:{width}}  {metrics[key]:.4f}" for key in keys]


def add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model from a spec or a pipeline.config",
        description="Run the OD API's TF2 training step for exactly the requested steps, "
                    "with a progress bar, a checkpoint every --checkpoint-every steps and at "
                    "the end, resume from the latest checkpoint in --model-dir, and a "
                    "checkpoint on SIGINT/SIGTERM. The model directory keeps the "
                    "pipeline.config it was trained with; another one is refused without "
                    "--force. A run from scratch whose batch norms' moving averages are still "
                    "over 1% their initial values has them measured again on training "
                    "batches before each save (--batch-norm-batches).")
    parser.add_argument("source", type=Path, help="a .yaml spec or a pipeline.config")
    parser.add_argument("--model-dir", type=Path, required=True,
                        help="checkpoints, summaries and the config go here")
    parser.add_argument("--steps", type=int_in(1, INT32_MAX), metavar="N",
                        help="train until step N (default: the config's num_steps)")
    parser.add_argument("--checkpoint-every", type=int_in(1, INT32_MAX), metavar="N",
                        help="save a checkpoint every N steps (default %(default)s; always at "
                             "the end)")
    parser.add_argument("--force", action="store_true",
                        help="train even though --model-dir holds another pipeline.config")
    parser.add_argument("--steps-per-loop", type=int_in(1, INT32_MAX), metavar="N",
                        help="steps per tf.function call: the progress bar's granularity; "
                             "smaller costs speed (default %(default)s, as model_main_tf2)")
    parser.add_argument("--tpu", metavar="NAME", help="train on this Cloud TPU (TPUStrategy)")
    parser.add_argument("--seed", type=int_in(0, SEED_MAX), help="random seed: the same initial "
                        "weights and random draws each run (parallel CPU kernels and input "
                        "threads still vary the steps a little)")
    parser.add_argument("--worker-hosts", type=lambda text: tuple(text.split(",")),
                        metavar="HOST:PORT,...",
                        help="train as one of these workers (MultiWorkerMirroredStrategy; or "
                             "set TF_CONFIG): every worker gets the same list, worker 0 writes "
                             "--model-dir, which all must read (a bucket or a shared disk)")
    parser.add_argument("--task-index", type=int_in(0, 4095), metavar="N",
                        help="this worker's place in --worker-hosts, from 0")
    parser.add_argument("--xla", type=xla_setting, metavar="auto|true|false",
                        help="compile the training step with XLA: the spec's train.xla for this "
                             "run (default: the spec's; a pipeline.config's: auto, on where "
                             "measured faster with the same losses)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="mixed_float16 on a GPU (the spec's train.mixed_precision; default: "
                             "the spec's, off for a pipeline.config)")
    parser.add_argument("--batch-norm-batches", type=int_in(0, 100000), metavar="N",
                        help="a run from scratch: measure the batch norms' statistics on N "
                             "training batches before each save while their moving averages "
                             "are still over 1%% initial (default %(default)s; 0 keeps the "
                             "averages as trained, as model_main_tf2 does)")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    add_set(parser)
    parser.set_defaults(func=train)


def train(args) -> int:
    result = api.train(**arguments(args, "train", api.train))
    if result.nothing_to_do:
        print(f"nothing to train: {result.model_dir} is at step {result.end_step} already, and "
              f"training was asked to reach step {result.target_step} (give a larger --steps to "
              f"train on); checkpoint {result.checkpoint}")
        return EXIT_OK
    if result.restored is not None:
        print(f"fine-tune checkpoint: {result.restored.summary()}")
        missing = result.restored.missing
        for name in missing[:20]:
            print(f"  not restored: {name}")
        if len(missing) > 20:
            print(f"  ... and {len(missing) - 20} more")
    steps = result.end_step - result.start_step
    rate = steps / result.seconds if result.seconds and steps else 0.0
    loss = result.losses.get("Loss/total_loss")
    loss_text = f", total loss {loss:.4f}" if loss is not None else ""
    print(f"trained steps {result.start_step} -> {result.end_step} in {result.seconds:.0f} s "
          f"({rate:.2f} steps/s{loss_text}); checkpoint {result.checkpoint}")
    best = result.best
    if best is not None:
        print(f"best checkpoint evaluated so far: step {best.step} ({best.metric} "
              f"{best.value:.4f}), {best.checkpoint}")
    return EXIT_OK


def add_eval(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate a checkpoint now, each new one (--watch), or an exported model",
        description="Evaluate the latest (or --checkpoint) checkpoint of MODEL_DIR once, "
                    "immediately, with the config's metrics set, print a table and write "
                    "MODEL_DIR/metrics.json. --watch evaluates every new checkpoint while "
                    "training runs, until the last step or --timeout seconds without one. "
                    "--model evaluates an exported .tflite, SavedModel, .onnx (ONNX Runtime) or "
                    "OpenVINO .xml instead (COCO metrics "
                    "on the eval TFRecords of the pipeline.config beside it, MODEL_DIR's, "
                    "--config's, or --records) and writes MODEL.metrics.json.")
    parser.add_argument("model_dir", type=Path, nargs="?",
                        help="the folder odwrap train wrote")
    parser.add_argument("--model", type=Path, metavar="PATH",
                        help="an exported .tflite, SavedModel folder, .onnx or OpenVINO .xml "
                             "to evaluate")
    parser.add_argument("--records", metavar="GLOB",
                        help="with --model: the TFRecords to evaluate on")
    parser.add_argument("--max-images", type=int_in(1, INT32_MAX), metavar="N",
                        help="with --model: at most N images (default: eval num_examples)")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES,
                        help="with --model: the TFLite runtime (default: the fastest "
                             "installed)")
    parser.add_argument("--checkpoint", metavar="PREFIX",
                        help="a checkpoint prefix, e.g. DIR/ckpt-1000, or best: the "
                             "best one evaluated so far (default: latest)")
    parser.add_argument("--config", type=Path,
                        help="the pipeline.config (default: MODEL_DIR/pipeline.config)")
    parser.add_argument("--watch", action="store_true",
                        help="evaluate each new checkpoint as it appears")
    parser.add_argument("--timeout", type=number_in(0, 604800, low_open=True),
                        metavar="S", help="with --watch: stop after S seconds without a "
                                          "new checkpoint (at most a week)")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's logs")
    parser.set_defaults(func=eval)


def _eval_export(args) -> int:
    from odwrap.deploy.exported_eval import metrics_path
    from odwrap.evaluation.insight import against_lines

    used = [flag for flag, value in (("--checkpoint", args.checkpoint), ("--watch", args.watch))
            if value]
    if used:
        raise InputError(f"--model evaluates an exported model; {', '.join(used)} applies to "
                         "checkpoints")
    result = api.evaluate_export(args.model, records=args.records, config=args.config,
                                 max_images=args.max_images, runtime=args.runtime,
                                 model_dir=args.model_dir)
    print(f"{result.model} on {result.images} eval image(s) with {result.runtime}: "
          f"{result.seconds:.1f} s, median {result.milliseconds:.1f} ms per image")
    print("\n".join(metric_lines(result.metrics)))
    if result.insight is not None:
        print("\n".join(result.insight.table()))
    if result.against_fp32:
        label = Path(result.model).stem.removeprefix("model_")
        print("\n".join(against_lines(label, result.against_fp32)))
    print(f"wrote {metrics_path(result.model)}")
    if result.insight is not None:
        print(f"report: {result.insight.report}")
    return EXIT_OK


def _format_eval(result) -> str:
    lines = [f"step {result.step} ({result.checkpoint}, {result.weights} weights), "
             f"{result.seconds:.1f} s"]
    insight = result.insight.table() if result.insight is not None else []
    best = [] if result.best is None else [
        f"best: step {result.best.step} ({result.best.metric} {result.best.value:.4f}), kept "
        f"as {result.best.checkpoint}"]
    return "\n".join(lines + metric_lines(result.metrics) + insight + best)


def eval(args) -> int:  # noqa: A001 (the command's name)
    from odwrap.training.modeldir import ModelDir

    if args.model is not None:
        return _eval_export(args)
    if args.model_dir is None:
        raise InputError("eval: give MODEL_DIR (a checkpoint) or --model (an exported model)")
    for flag, value in (("--records", args.records), ("--max-images", args.max_images)):
        if value is not None:
            raise InputError(f"{flag} applies to --model (an exported model)")
    metrics = ModelDir(args.model_dir).metrics_path
    if args.watch:
        count, last = 0, None
        for last in api.watch(args.model_dir, timeout=args.timeout, config=args.config):
            print(_format_eval(last), flush=True)
            count += 1
        print(f"watched {args.model_dir}: {count} evaluation(s); metrics in {metrics}")
        if last is not None and last.best is not None:
            print(f"best of all evaluated: step {last.best.step} ({last.best.metric} "
                  f"{last.best.value:.4f}), {last.best.checkpoint} (export --checkpoint "
                  "best takes it)")
        if last is not None and last.insight is not None:
            print(f"report: {last.insight.report}")
        return EXIT_OK
    result = api.evaluate(args.model_dir, args.checkpoint, config=args.config)
    print(_format_eval(result))
    print(f"wrote {metrics}")
    if result.insight is not None:
        print(f"report: {result.insight.report}")
    return EXIT_OK


def add_plot(subparsers) -> None:
    parser = subparsers.add_parser(
        "plot", help="plot losses, learning rate and eval mAP of a model directory",
        description="Read MODEL_DIR's TensorBoard event files and write a PNG of the training "
                    "losses, the learning rate and the eval mAP over steps.")
    parser.add_argument("model_dir", type=Path, help="the folder odwrap train wrote")
    parser.add_argument("-o", "--output", type=Path,
                        help="the PNG to write (default: MODEL_DIR/training.png)")
    parser.set_defaults(func=plot)


def plot(args) -> int:
    print(f"wrote {api.plot(args.model_dir, args.output)}")
    return EXIT_OK


def add_profile(subparsers) -> None:
    parser = subparsers.add_parser(
        "profile", help="is training input-bound? rates of the input, the step and both",
        description="Time the config's input pipeline alone, its training step alone (on a "
                    "batch in memory) and both together on this machine; say whether training "
                    "is input-bound and what would help; --trace writes a TensorBoard profile.")
    parser.add_argument("source", type=Path, help="a spec (.yaml) or a pipeline.config")
    add_set(parser)
    parser.add_argument("--steps", type=int_in(1, 100_000),
                        help="timed batches or steps of each measure (default %(default)s)")
    parser.add_argument("--warmup", type=int_in(1, 1000),
                        help="untimed ones before each (default %(default)s)")
    parser.add_argument("--trace", type=Path, metavar="DIR",
                        help="write a TensorBoard profiler trace here")
    parser.add_argument("--trace-steps", type=int_in(1, 1000))
    parser.set_defaults(func=profile)


def profile(args) -> int:
    result = api.profile(**arguments(args, "profile", api.profile))
    batch = result.batch_size
    print(f"input pipeline alone: {result.input_rate:.2f} batches/s "
          f"({result.input_rate * batch:.1f} examples/s at batch {batch})")
    print(f"training step alone:  {result.step_rate:.2f} steps/s (on a batch in memory)")
    print(f"both together:        {result.together_rate:.2f} steps/s "
          f"({result.together_rate * batch:.1f} examples/s)")
    print(result.verdict)
    for tip in result.advice:
        print(f"- {tip}")
    if result.trace:
        print(f"profiler trace in {result.trace} (tensorboard --logdir {result.trace}, Profile "
              "tab)")
    return EXIT_OK


def add_batch_size(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch-size", help="the largest training batch that fits, and its learning rate",
        description="Find the largest training batch that fits the device: on a GPU by trying "
                    "batch sizes (child processes, out-of-memory caught, bisection), on a CPU "
                    "from the peak memory at two small batches against the memory available. "
                    "Prints the batch, the learning rate scaled for it and the line to set.")
    parser.add_argument("source", type=Path, help="a spec (.yaml) or a pipeline.config")
    add_set(parser)
    parser.add_argument("--start", type=int_in(1, 4096),
                        help="the first batch tried (CPU: and 4 times it; default %(default)s)")
    parser.add_argument("--fraction", type=number_in(0, 1, low_open=True),
                        help="CPU: of the memory available, what a run may take (default "
                             "%(default)s)")
    parser.set_defaults(func=batch_size)


def batch_size(args) -> int:
    from odwrap.config.loader import is_spec

    result = api.batch_size(**arguments(args, "batch-size", api.batch_size))
    for batch, fits, peak in result.tried:
        memory = f", peak {peak / 2**20:.0f} MiB" if peak else ""
        print(f"batch {batch}: {'fits' if fits else 'out of memory'}{memory}")
    if result.device == "cpu":
        print(f"{result.per_example / 2**20:.1f} MiB per example; "
              f"{result.available / 2**20:.0f} MiB available, {args.fraction:.0%} of it used")
    rate = ""
    if result.learning_rate:
        rate = f"; learning rate {result.learning_rate[2]:.6g} (the config's " \
               f"{result.learning_rate[1]:.6g} at batch {result.config_batch})"
    print(f"largest batch that fits the {result.device.upper()}: {result.batch_size}; use "
          f"{result.recommended}{rate}")
    print("set: " + "; ".join(result.spec_lines(is_spec(args.source))))
    return EXIT_OK
