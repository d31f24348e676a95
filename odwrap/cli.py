"""The `odwrap` command line: parses arguments, calls one library function, reports errors.

Library errors (OdwrapError) become one line on stderr and their exit code; nothing else here
knows about exit codes. TensorFlow is imported only by the commands that need it.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from odwrap import __version__
from odwrap.errors import InputError, OdwrapError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
# odwrap.runtime.RUNTIMES and "auto"; spelled here so that the CLI does not import numpy
RUNTIME_CHOICES = ("auto", "ai-edge-litert", "tflite-runtime", "tensorflow")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(f"{self.prog}: {message}")


def _cmd_doctor(args) -> int:
    from odwrap import doctor

    report = doctor.diagnose()
    print(doctor.format_report(report))
    return EXIT_FINDINGS if report.problems else EXIT_OK


def _cmd_generate(args) -> int:
    from odwrap import generate

    written = generate.generate(args.spec, args.output, overrides=args.set, force=args.force)
    for note in written.notes:
        print(f"note: {note}")
    for finding in written.findings:
        print(finding.format())
    for path in written.files:
        print(f"wrote {path}")
    return EXIT_OK


def _cmd_check(args) -> int:
    from odwrap import check

    findings = check.check_file(args.file, overrides=args.set, build=args.build,
                                device=args.device, num_devices=args.num_devices,
                                export_targets=args.target)
    if args.json:
        print(json.dumps([finding.as_dict() for finding in findings], indent=2))
    else:
        for finding in findings:
            print(finding.format())
        errors = sum(finding.severity == "error" for finding in findings)
        print(f"{args.file}: {errors} error(s), {len(findings) - errors} warning(s)")
    return EXIT_FINDINGS if any(f.severity == "error" for f in findings) else EXIT_OK


def _read_options(args):
    from odwrap.formats import ReadOptions

    return ReadOptions(images=args.images, masks=getattr(args, "masks", False),
                       crowd=getattr(args, "crowd", "keep"),
                       group_of=not getattr(args, "no_group_of", False),
                       class_names=getattr(args, "class_names", None))


def _split_list(value):
    return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()


def _cmd_convert(args) -> int:
    import os

    from odwrap import convert

    options = convert.ConvertOptions(
        format=args.format, source=args.source, output=args.output, split=args.split,
        seed=args.seed, workers=args.workers or os.cpu_count() or 1, shards=args.shards,
        keep=_split_list(args.keep), drop=_split_list(args.drop), rename=tuple(args.rename),
        order=args.order, label_map=args.label_map, strict=args.strict,
        read=_read_options(args))
    report = convert.convert(options)
    for name, split in report.splits.items():
        print(f"{name:10} {split['images']:7} images {split['boxes']:8} boxes "
              f"{split['shards']:4} shard(s)")
    for reason, entry in report.problems.items():
        from odwrap.dataset import REASONS

        print(f"{entry['count']:7} {REASONS[reason]}; e.g. {entry['example']}")
    rate = report.images / report.seconds if report.seconds else 0.0
    resumed = f", {report.resumed_shards} shard(s) kept from an earlier run" \
        if report.resumed_shards else ""
    print(f"wrote {report.output} in {report.seconds:.1f} s ({rate:.0f} images/s{resumed}); "
          f"label map: {report.output / 'label_map.pbtxt'}")
    return EXIT_OK


def _cmd_labelmap(args) -> int:
    from odwrap import classes, labelmap

    if args.classes:
        label_map = labelmap.from_classes(list(_split_list(args.classes)))
        problems = labelmap.problems(label_map)
        if problems:
            raise InputError(f"--classes: {problems[0][1]}")
    else:
        if not (args.format and args.source):
            raise InputError("labelmap: give FORMAT SOURCE, or --classes a,b,c")
        from odwrap.convert import ConvertOptions, _read_dataset, dataset_label_map
        from odwrap.dataset import Problems

        options = ConvertOptions(format=args.format, source=args.source, output=args.output,
                                 keep=_split_list(args.keep), drop=_split_list(args.drop),
                                 rename=tuple(args.rename), order=args.order,
                                 read=_read_options(args))
        problems = Problems()
        samples, _ = _read_dataset(options, problems)
        label_map = dataset_label_map(options, samples, problems)
        counts = classes.class_counts(samples)
        for item in label_map.item:
            print(f"{item.id:4} {item.name:24} {counts[item.name]} box(es)")
    labelmap.write(label_map, args.output)
    print(f"wrote {args.output} ({len(label_map.item)} classes)")
    return EXIT_OK


def _cmd_stats(args) -> int:
    from odwrap import stats

    result = stats.collect(args.files, input_size=args.input_size)
    print(stats.format_stats(result))
    if args.histogram:
        print(f"wrote {stats.save_histogram(result, args.histogram)}")
    return EXIT_OK


def _cmd_demo_data(args) -> int:
    from odwrap.demo_data import write_demo_dataset

    path = write_demo_dataset(args.output, images=args.images, size=args.size, seed=args.seed)
    print(f"wrote {args.images} images and Pascal VOC annotations to {path}")
    return EXIT_OK


def _cmd_train(args) -> int:
    from tqdm import tqdm

    from odwrap import train

    options = train.TrainOptions(
        source=args.source, model_dir=args.model_dir, steps=args.steps,
        checkpoint_every=args.checkpoint_every, force=args.force, overrides=args.set,
        tpu=args.tpu, verbose=args.verbose, steps_per_loop=args.steps_per_loop)
    bar = None

    def progress(step, total, loss, rate):
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, initial=step, unit="step", desc="train", smoothing=0.3,
                       disable=None, dynamic_ncols=True)
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{loss:.4f}" if loss is not None else "-", lr=f"{rate:.3g}")

    try:
        result = train.train(options, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if result.restored is not None:
        restored, total, missing = result.restored
        print(f"fine-tune checkpoint: restored {restored} of {total} trainable variables")
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
    return EXIT_OK


def _cmd_eval_model(args) -> int:
    from odwrap import evaluate, model_eval

    used = [flag for flag, value in (("--checkpoint", args.checkpoint), ("--watch", args.watch))
            if value]
    if used:
        raise InputError(f"--model evaluates an exported model; {', '.join(used)} applies to "
                         "checkpoints")
    config = args.config or (args.model_dir / "pipeline.config" if args.model_dir else None)
    result = model_eval.evaluate_model(args.model, records=args.records, config=config,
                                       max_images=args.max_images, runtime=args.runtime)
    print(f"{result.model} on {result.images} eval image(s) with {result.runtime}: "
          f"{result.seconds:.1f} s, median {result.milliseconds:.1f} ms per image")
    print("\n".join(evaluate.metric_lines(result.metrics)))
    print(f"wrote {model_eval.write_metrics(result)}")
    return EXIT_OK


def _cmd_eval(args) -> int:
    from odwrap import evaluate

    if args.model is not None:
        return _cmd_eval_model(args)
    if args.model_dir is None:
        raise InputError("eval: give MODEL_DIR (a checkpoint) or --model (an exported model)")
    for flag, value in (("--records", args.records), ("--max-images", args.max_images)):
        if value is not None:
            raise InputError(f"{flag} applies to --model (an exported model)")
    evaluator = evaluate.Evaluator(args.model_dir, config_path=args.config,
                                   verbose=args.verbose)
    if args.watch:
        count = 0
        for result in evaluator.watch(timeout=args.timeout):
            print(evaluate.format_metrics(result), flush=True)
            count += 1
        print(f"watched {args.model_dir}: {count} evaluation(s); metrics in "
              f"{args.model_dir / 'metrics.json'}")
        return EXIT_OK
    result = evaluator.evaluate(args.checkpoint)
    print(evaluate.format_metrics(result))
    print(f"wrote {args.model_dir / 'metrics.json'}")
    return EXIT_OK


def _cmd_plot(args) -> int:
    from odwrap import plot

    print(f"wrote {plot.plot(args.model_dir, args.output)}")
    return EXIT_OK


def _cmd_export(args) -> int:
    from odwrap import exporters

    result = exporters.export(args.model_dir, args.format, args.output, quantize=args.quantize,
                              input_type=args.input_type, representative=args.representative,
                              max_detections=args.max_detections,
                              compare=True if args.compare else None,
                              verbose=args.verbose)
    for note in result.notes:
        print(note)
    size = result.size_bytes / 1e6
    print(f"exported {result.format} to {result.path} in {result.seconds:.0f} s, "
          f"{size:.2f} MB; verified: {result.verified}")
    for path in result.files:
        print(f"wrote {path}")
    return EXIT_OK


def _cmd_predict(args) -> int:
    from odwrap import predict

    runtime, results = predict.predict(args.model, args.images, args.output,
                                       threshold=args.threshold, labels=args.labels,
                                       runtime=args.runtime, jsonl=args.jsonl,
                                       threads=args.threads)
    for result in results:
        print(f"{result.image}: {len(result.detections)} detection(s), "
              f"{result.milliseconds:.1f} ms")
    if results:
        times = sorted(result.milliseconds for result in results)
        print(f"{runtime}: median {times[len(times) // 2]:.1f} ms per image; results and "
              f"annotated images in {args.output}")
    return EXIT_OK


def _input_size(text):
    parts = text.lower().split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not SIZE or HEIGHTxWIDTH") from None
    if len(values) not in (1, 2) or min(values) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not SIZE or HEIGHTxWIDTH")
    return (values[0], values[-1])


def _add_class_options(parser):
    parser.add_argument("--keep", metavar="A,B", help="keep only these classes")
    parser.add_argument("--drop", metavar="A,B", help="leave these classes out")
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW",
                        help="rename a class (repeatable; applied before --keep/--drop)")
    parser.add_argument("--order", choices=["name", "frequency"], default="name",
                        help="how label map ids are given: by class name or by box count")
    parser.add_argument("--images", type=Path, metavar="DIR",
                        help="the images folder, when not the format's default")
    parser.add_argument("--masks", action="store_true", help="coco: keep instance masks")
    parser.add_argument("--crowd", choices=["keep", "drop"], default="keep",
                        help="coco: keep iscrowd boxes flagged is_crowd, or drop them")
    parser.add_argument("--no-group-of", action="store_true",
                        help="oid: leave IsGroupOf boxes out")
    parser.add_argument("--class-names", type=Path, metavar="CSV",
                        help="oid: class descriptions (MID,Name) to name the classes")


def _add_set(parser):
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override a spec value, e.g. --set train.batch_size=8 (value read as YAML; "
             "--set wins over the spec file, which wins over the defaults)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="odwrap",
        description="The TensorFlow 2 Object Detection API, end to end: YAML spec -> "
                    "pipeline.config -> TFRecords -> train -> eval -> export.",
        epilog="Start with 'odwrap doctor' when something is off. "
               "'odwrap COMMAND --help' describes each command.")
    parser.add_argument("--version", action="version", version=f"odwrap {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    doctor = commands.add_parser(
        "doctor", help="report the installed TF / OD API stack and what is wrong with it",
        description="Print Python, TensorFlow, protobuf, numpy, OD API and TFLite runtime "
                    "versions, the compatibility fixes odwrap applies, visible GPUs and TPUs "
                    "and whether edgetpu_compiler is on PATH. Exits 1 when a problem is found.")
    doctor.set_defaults(func=_cmd_doctor)

    generate = commands.add_parser(
        "generate", help="render a YAML spec into a validated pipeline.config",
        description="Render SPEC (YAML) into OUTPUT/pipeline.config, parsed and validated with "
                    "the OD API's own TrainEvalPipelineConfig. Writes OUTPUT/label_map.pbtxt "
                    "when the spec lists its classes inline. Does not import TensorFlow.")
    generate.add_argument("spec", type=Path, help="the YAML spec")
    generate.add_argument("-o", "--output", type=Path, required=True,
                          help="the folder to write pipeline.config into")
    generate.add_argument("--force", action="store_true",
                          help="write the files even when the checks find errors")
    _add_set(generate)
    generate.set_defaults(func=_cmd_generate)

    check = commands.add_parser(
        "check", help="lint a pipeline.config or a spec before training",
        description="Run odwrap's semantic checks on a pipeline.config (generated or "
                    "hand-written) or a YAML spec. Exit 0 clean, 1 errors found, 2 bad input.")
    check.add_argument("file", type=Path, help="a pipeline.config or a .yaml spec")
    check.add_argument("--build", action="store_true",
                       help="also build the model with the OD API's model_builder (imports "
                            "TensorFlow)")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    check.add_argument("--device", choices=["cpu", "gpu", "tpu"],
                       help="where training will run (a spec says it in train.device)")
    check.add_argument("--num-devices", type=int, metavar="N",
                       help="GPUs or TPU cores (default 1; 8 with --device tpu)")
    check.add_argument("--target", action="append", choices=["saved_model", "tflite", "edgetpu"],
                       help="an export target to check for (repeatable; a spec says it in "
                            "export.targets)")
    _add_set(check)
    check.set_defaults(func=_cmd_check)

    train = commands.add_parser(
        "train", help="train a model from a spec or a pipeline.config",
        description="Run the OD API's TF2 training step for exactly the requested steps, "
                    "with a progress bar, a checkpoint every --checkpoint-every steps and at "
                    "the end, resume from the latest checkpoint in --model-dir, and a "
                    "checkpoint on SIGINT/SIGTERM. The model directory keeps the "
                    "pipeline.config it was trained with; another one is refused without "
                    "--force.")
    train.add_argument("source", type=Path, help="a .yaml spec or a pipeline.config")
    train.add_argument("--model-dir", type=Path, required=True,
                       help="checkpoints, summaries and the config go here")
    train.add_argument("--steps", type=int, metavar="N",
                       help="train until step N (default: the config's num_steps)")
    train.add_argument("--checkpoint-every", type=int, default=1000, metavar="N",
                       help="save a checkpoint every N steps (default 1000; always at the end)")
    train.add_argument("--force", action="store_true",
                       help="train even though --model-dir holds another pipeline.config")
    train.add_argument("--steps-per-loop", type=int, default=100, metavar="N",
                       help="steps per tf.function call: the progress bar's granularity; "
                            "smaller costs speed (default 100, as model_main_tf2)")
    train.add_argument("--tpu", metavar="NAME", help="train on this Cloud TPU (TPUStrategy)")
    train.add_argument("--verbose", action="store_true", help="show TensorFlow's own logs")
    _add_set(train)
    train.set_defaults(func=_cmd_train)

    evaluation = commands.add_parser(
        "eval", help="evaluate a checkpoint now, each new one (--watch), or an exported model",
        description="Evaluate the latest (or --checkpoint) checkpoint of MODEL_DIR once, "
                    "immediately, with the config's metrics set, print a table and write "
                    "MODEL_DIR/metrics.json. --watch evaluates every new checkpoint while "
                    "training runs, until the last step or --timeout seconds without one. "
                    "--model evaluates an exported .tflite or SavedModel instead (COCO metrics "
                    "on the eval TFRecords of the pipeline.config beside it, MODEL_DIR's, "
                    "--config's, or --records) and writes MODEL.metrics.json.")
    evaluation.add_argument("model_dir", type=Path, nargs="?",
                            help="the folder odwrap train wrote")
    evaluation.add_argument("--model", type=Path, metavar="PATH",
                            help="an exported .tflite file or SavedModel folder to evaluate")
    evaluation.add_argument("--records", metavar="GLOB",
                            help="with --model: the TFRecords to evaluate on")
    evaluation.add_argument("--max-images", type=int, metavar="N",
                            help="with --model: at most N images (default: eval num_examples)")
    evaluation.add_argument("--runtime", default="auto", choices=RUNTIME_CHOICES,
                            help="with --model: the TFLite runtime (default: the fastest "
                                 "installed)")
    evaluation.add_argument("--checkpoint", metavar="PREFIX",
                            help="a checkpoint prefix, e.g. DIR/ckpt-1000 (default: latest)")
    evaluation.add_argument("--config", type=Path,
                            help="the pipeline.config (default: MODEL_DIR/pipeline.config)")
    evaluation.add_argument("--watch", action="store_true",
                            help="evaluate each new checkpoint as it appears")
    evaluation.add_argument("--timeout", type=float, default=900, metavar="S",
                            help="with --watch: stop after S seconds without a new checkpoint")
    evaluation.add_argument("--verbose", action="store_true", help="show TensorFlow's logs")
    evaluation.set_defaults(func=_cmd_eval)

    plot = commands.add_parser(
        "plot", help="plot losses, learning rate and eval mAP of a model directory",
        description="Read MODEL_DIR's TensorBoard event files and write a PNG of the training "
                    "losses, the learning rate and the eval mAP over steps.")
    plot.add_argument("model_dir", type=Path, help="the folder odwrap train wrote")
    plot.add_argument("-o", "--output", type=Path,
                      help="the PNG to write (default: MODEL_DIR/training.png)")
    plot.set_defaults(func=_cmd_plot)

    export = commands.add_parser(
        "export", help="export a trained model to SavedModel, TFLite or the Edge TPU",
        description="Export MODEL_DIR's latest checkpoint. Every export prints time, size and "
                    "path and is verified by loading it and running one inference. Options a "
                    "format does not take are refused.")
    export.add_argument("model_dir", type=Path, help="the folder odwrap train wrote")
    export.add_argument("--format", required=True, choices=["saved_model", "tflite", "edgetpu"])
    export.add_argument("-o", "--output", type=Path, help="default: MODEL_DIR/export")
    export.add_argument("--quantize", choices=["none", "fp16", "dynamic", "int8"],
                        help="tflite: post-training quantization (default none)")
    export.add_argument("--input-type", metavar="TYPE",
                        help="saved_model: image_tensor | encoded_image_string_tensor | "
                             "tf_example; int8 tflite/edgetpu: uint8 | int8")
    export.add_argument("--representative", type=int, metavar="N",
                        help="int8: eval images for calibration (default 100)")
    export.add_argument("--max-detections", type=int, metavar="N",
                        help="tflite/edgetpu: detections of the post-processing op (default 10)")
    export.add_argument("--compare", action="store_true",
                        help="also export fp32 and report the mAP of both on the eval images "
                             "and the difference (tflite with --quantize, edgetpu)")
    export.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and the converter's logs")
    export.set_defaults(func=_cmd_export)

    predict = commands.add_parser(
        "predict", help="run an exported model on images",
        description="Run a .tflite model (ai-edge-litert, else tflite-runtime, else "
                    "TensorFlow's interpreter) or a SavedModel folder on images; write COCO "
                    "results JSON (or JSON Lines) and annotated images; print each latency.")
    predict.add_argument("model", type=Path, help="a .tflite file or a SavedModel folder")
    predict.add_argument("images", nargs="+", type=Path, help="image files")
    predict.add_argument("-o", "--output", type=Path, default=Path("predictions"),
                         help="where results go (default ./predictions)")
    predict.add_argument("--threshold", type=float, default=0.5, help="lowest score kept")
    predict.add_argument("--labels", type=Path, help="default: labels.txt beside the model")
    predict.add_argument("--runtime", default="auto", choices=RUNTIME_CHOICES)
    predict.add_argument("--threads", type=int, default=2)
    predict.add_argument("--jsonl", action="store_true",
                         help="JSON Lines, one image a line, instead of COCO results JSON")
    predict.set_defaults(func=_cmd_predict)

    formats = ["voc", "coco", "csv", "oid"]
    convert = commands.add_parser(
        "convert", help="turn VOC, COCO, CSV or Open Images annotations into TFRecords",
        description="Write sharded TFRecords (NAME-00000-of-0000N.tfrecord) with the feature "
                    "keys of the OD API's TfExampleDecoder, a label_map.pbtxt and a "
                    "report.json. Bad images and boxes are counted per reason (--strict fails "
                    "instead). Deterministic for a seed, whatever the number of workers; a "
                    "rerun after an interruption finishes the job.")
    convert.add_argument("format", choices=formats, help="the annotation format")
    convert.add_argument("source", type=Path,
                         help="voc: the dataset folder; coco: the JSON file; csv, oid: the CSV")
    convert.add_argument("-o", "--output", type=Path, required=True, help="the output folder")
    convert.add_argument("--split", metavar="NAME=F,...",
                         help="e.g. train=0.8,val=0.1,test=0.1 (default: one split, 'data')")
    convert.add_argument("--seed", type=int, default=0, help="the split's random seed")
    convert.add_argument("--workers", type=int, metavar="N",
                         help="processes writing shards (default: all cores)")
    convert.add_argument("--shards", type=int, metavar="N",
                         help="shards per split (default: one per 500 images)")
    convert.add_argument("--label-map", type=Path, metavar="FILE",
                         help="number classes with this label map (others: unknown_class)")
    convert.add_argument("--strict", action="store_true",
                         help="fail on the first bad image, box or annotation")
    _add_class_options(convert)
    convert.set_defaults(func=_cmd_convert)

    label = commands.add_parser(
        "labelmap", help="write a label map from a dataset or a class list",
        description="Write a label_map.pbtxt with ids 1..N from a dataset's classes "
                    "(FORMAT SOURCE, as for convert) or from --classes.")
    label.add_argument("format", nargs="?", choices=formats, help="the annotation format")
    label.add_argument("source", nargs="?", type=Path, help="as for convert")
    label.add_argument("--classes", metavar="A,B,C", help="class names, ids 1..N in this order")
    label.add_argument("-o", "--output", type=Path, required=True, help="the label map to write")
    _add_class_options(label)
    label.set_defaults(func=_cmd_labelmap)

    stats = commands.add_parser(
        "stats", help="images, boxes per class and box sizes of TFRecords",
        description="Read TFRecords and print images, boxes, boxes per class and the box size "
                    "distribution at the model's input size (small objects warn).")
    stats.add_argument("files", nargs="+", help="TFRecord files or globs")
    stats.add_argument("--input-size", type=_input_size, default=(320, 320), metavar="SIZE",
                       help="the model's input, SIZE or HEIGHTxWIDTH (default 320)")
    stats.add_argument("--histogram", type=Path, metavar="PNG",
                       help="also save a histogram of box sizes and classes")
    stats.set_defaults(func=_cmd_stats)

    demo = commands.add_parser(
        "demo-data", help="write the built-in demo dataset (shapes, Pascal VOC)",
        description="Write red squares and blue circles on noisy backgrounds as Pascal VOC "
                    "(JPEGImages/, Annotations/), ready for 'odwrap convert voc'.")
    demo.add_argument("output", type=Path, help="the folder to write")
    demo.add_argument("--images", type=int, default=450, help="how many images (default 450)")
    demo.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo_data)
    return parser


def _run(argv) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except OdwrapError as exc:
        for finding in getattr(exc, "findings", ()):
            print(finding.format(), file=sys.stderr)
        print(f"odwrap: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("odwrap: interrupted", file=sys.stderr)
        return 130


def main(argv=None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except BrokenPipeError:  # `odwrap ... | head`: the reader left; stop quietly like cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def entrypoint() -> None:
    sys.exit(main(sys.argv[1:]))
