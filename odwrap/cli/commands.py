"""One function per `odwrap` command: call the public API (odwrap.api) with the parsed
arguments and print its result. Exit codes: 0 done, 1 findings or a failed run, 2 bad input.
"""

import json

from odwrap import api
from odwrap.cli.options import arguments
from odwrap.errors import InputError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

# Shown first, in this order; every other metric follows alphabetically.
HEADLINE = ("DetectionBoxes_Precision/mAP", "DetectionBoxes_Precision/mAP@.50IOU",
            "DetectionBoxes_Precision/mAP@.75IOU", "DetectionBoxes_Precision/mAP (small)",
            "DetectionBoxes_Precision/mAP (medium)", "DetectionBoxes_Precision/mAP (large)",
            "DetectionBoxes_Recall/AR@100", "PascalBoxes_Precision/mAP@0.5IOU")


def metric_lines(metrics: dict) -> list[str]:
    """One indented line a metric, the headline ones first."""
    keys = [key for key in HEADLINE if key in metrics]
    keys += sorted(key for key in metrics if key not in HEADLINE)
    width = max((len(key) for key in keys), default=10)
    return [f"  {key:{width}}  {metrics[key]:.4f}" for key in keys]


def _split_list(value):
    return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()


def _dataset_options(args) -> dict:
    """The class filters and reader options that convert and labelmap share."""
    return {"keep": _split_list(args.keep), "drop": _split_list(args.drop),
            "rename": tuple(args.rename), "order": args.order, "images": args.images,
            "crowd": args.crowd, "group_of": args.group_of,
            "class_names": args.class_names}


def doctor(args) -> int:
    from odwrap.doctor import format_report

    found = api.diagnose()
    print(format_report(found))
    return EXIT_FINDINGS if found.problems else EXIT_OK


def generate(args) -> int:
    written = api.generate(args.spec, args.output, overrides=args.set, force=args.force)
    for note in written.notes:
        print(f"note: {note}")
    for finding in written.findings:
        print(finding.format())
    for path in written.files:
        print(f"wrote {path}")
    return EXIT_OK


def check(args) -> int:
    from odwrap.config.findings import UNREADABLE
    from odwrap.config.loader import errors_in

    try:
        findings = api.check(args.file, overrides=args.set, build=args.build,
                             device=args.device, num_devices=args.num_devices,
                             targets=args.target)
    except InputError as exc:
        if args.json:  # JSON on stdout whatever happens; the one-line error still on stderr
            print(json.dumps([{"id": UNREADABLE, "severity": "error", "path": str(args.file),
                               "message": str(exc),
                               "hint": "the file cannot be read; nothing else was checked"}],
                             indent=2))
        raise
    errors = len(errors_in(findings))
    if args.json:
        print(json.dumps([finding.as_dict() for finding in findings], indent=2))
    else:
        for finding in findings:
            print(finding.format())
        print(f"{args.file}: {errors} error(s), {len(findings) - errors} warning(s)")
    return EXIT_FINDINGS if errors else EXIT_OK


def convert(args) -> int:
    from odwrap.data.dataset import REASONS
    from odwrap.odapi.labelmap import FILE_NAME

    report = api.convert(args.format, args.source, args.output, split=args.split,
                         seed=args.seed, workers=args.workers, shards=args.shards,
                         label_map=args.label_map, strict=args.strict, masks=args.masks,
                         runner=args.runner, beam_options=args.beam_options,
                         **_dataset_options(args))
    for name, split in report.splits.items():
        print(f"{name:10} {split['images']:7} images {split['boxes']:8} boxes "
              f"{split['shards']:4} shard(s)")
    for reason, entry in report.problems.items():
        print(f"{entry['count']:7} {REASONS[reason]}; e.g. {entry['example']}")
    if report.rewritten_shards:
        print(f"rewrote {len(report.rewritten_shards)} damaged shard(s) of an earlier run: "
              f"{', '.join(report.rewritten_shards)}")
    rate = report.images / report.seconds if report.seconds else 0.0
    resumed = f", {report.resumed_shards} shard(s) kept from an earlier run" \
        if report.resumed_shards else ""
    label_map = f"{report.output}/{FILE_NAME}" if isinstance(report.output, str) else \
        report.output / FILE_NAME  # a URL, or a folder
    print(f"wrote {report.output} in {report.seconds:.1f} s ({rate:.0f} images/s{resumed}); "
          f"label map: {label_map}")
    return EXIT_OK


def labelmap(args) -> int:
    counts = api.write_label_map(args.output, classes=_split_list(args.classes),
                                 format=args.format, source=args.source,
                                 groups=args.groups, group_ranks=args.group_ranks,
                                 **_dataset_options(args))
    if args.groups or args.group_ranks:
        rank = 0
        for path, group in counts.items():
            print(f"wrote {path}: classes {rank + 1}-{rank + len(group)} by frequency "
                  f"({len(group)} classes, {sum(group.values())} box(es))")
            rank += len(group)
        return EXIT_OK
    if not args.classes:
        for index, (name, boxes) in enumerate(counts.items(), start=1):
            print(f"{index:4} {name:24} {boxes} box(es)")
    print(f"wrote {args.output} ({len(counts)} classes)")
    return EXIT_OK


def stats(args) -> int:
    from odwrap.data.stats import format_stats

    result = api.stats(**arguments(args, "stats", api.stats))
    print(format_stats(result))
    if result.histogram:
        print(f"wrote {result.histogram}")
    return EXIT_OK


def demo_data(args) -> int:
    path = api.demo_data(**arguments(args, "demo-data", api.demo_data))
    kind = "COCO annotations with polygons" if args.masks else "Pascal VOC annotations"
    print(f"wrote {args.images} images of {', '.join(args.shapes)} and {kind} to {path}")
    return EXIT_OK


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
    return EXIT_OK


def _eval_export(args) -> int:
    from odwrap.deploy.exported_eval import metrics_path

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
    print(f"wrote {metrics_path(result.model)}")
    return EXIT_OK


def _format_eval(result) -> str:
    lines = [f"step {result.step} ({result.checkpoint}, {result.weights} weights), "
             f"{result.seconds:.1f} s"]
    return "\n".join(lines + metric_lines(result.metrics))


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
        count = 0
        for result in api.watch(args.model_dir, timeout=args.timeout, config=args.config):
            print(_format_eval(result), flush=True)
            count += 1
        print(f"watched {args.model_dir}: {count} evaluation(s); metrics in {metrics}")
        return EXIT_OK
    print(_format_eval(api.evaluate(args.model_dir, args.checkpoint, config=args.config)))
    print(f"wrote {metrics}")
    return EXIT_OK


def plot(args) -> int:
    print(f"wrote {api.plot(args.model_dir, args.output)}")
    return EXIT_OK


def export(args) -> int:
    result = api.export(**arguments(args, "export", api.export))
    for note in result.notes:
        print(note)
    print(f"exported {result.format} to {result.path} in {result.seconds:.0f} s, "
          f"{result.size_bytes / 1e6:.2f} MB; verified: {result.verified}")
    for path in result.files:
        print(f"wrote {path}")
    return EXIT_OK


def predict(args) -> int:
    result = api.predict(**arguments(args, "predict", api.predict))
    for _, why in result.skipped:
        print(f"skipped {why}")
    resumed = f" after the {result.resumed} of the interrupted run" if result.resumed else ""
    masks = " with masks" if result.masks else ""
    print(f"predicted {result.images} image(s){resumed}; {result.detections} detection(s)"
          f"{masks} in {result.output}")
    if result.skipped:
        print(f"skipped {len(result.skipped)} of {result.images + len(result.skipped)} image(s) "
              "that could not be read")
    if result.images:
        print(f"{result.runtime}: median {result.median_milliseconds:.1f} ms per image"
              + ("; annotated images in " + str(args.output) if args.annotate else ""))
    return EXIT_OK


def verify(args) -> int:
    if args.record_golden:
        if not args.images:
            raise InputError("--record-golden: name the images to record the masks of")
        recorded = api.record_golden(args.model, args.record_golden, args.images,
                                     threshold=args.threshold, labels=args.labels)
        for image in recorded.empty:
            print(f"{image}: no mask scored {args.threshold} or more (nothing to check there)")
        print(f"recorded {recorded.masks} mask(s) of {recorded.images} image(s) in "
              f"{recorded.folder}")
        return EXIT_OK
    if args.images:
        raise InputError("--golden: takes no images (the golden folder holds them)")
    result = api.verify(args.model, args.golden, iou=args.iou, threshold=args.threshold,
                        out_qual=args.out_qual, labels=args.labels)
    for check in result.checks:
        if check.passed:
            print(f"{check.file}: OK (IoU {check.iou:.2f})")
        elif check.matched:
            print(f"{check.file}: missing (best IoU {check.iou:.2f} with {check.matched})")
        else:
            print(f"{check.file}: missing (no predicted mask overlaps it)")
    print(f"{len(result.checks) - len(result.failed)} of {len(result.checks)} golden mask(s) of "
          f"{result.images} image(s) matched at IoU {result.iou}"
          + (f"; side by side in {args.out_qual}" if args.out_qual else ""))
    return EXIT_FINDINGS if result.failed else EXIT_OK


def merge(args) -> int:
    result = api.merge(args.output, args.inputs, method="join" if args.join else args.method,
                       decay=args.decay, iou=args.iou, sigma=args.sigma, floor=args.floor,
                       weights=args.weights, input_format=args.format)
    print(f"merged {result.rows_in} detection(s) of {len(args.inputs)} file(s) ({result.method}) "
          f"into {result.rows_out} of {result.images} image(s): {result.output}")
    return EXIT_OK


def trim(args) -> int:
    result = api.trim(**arguments(args, "trim", api.trim))
    cut = f"; lowest score kept {result.threshold:.6g}" if result.threshold is not None else ""
    print(f"kept {result.rows_out} of {result.rows_in} detection(s){cut}: {result.output}")
    return EXIT_OK


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


def zoo_list(args) -> int:
    cached = api.zoo_cached()
    rows = [("NAME", "FAMILY", "INPUT", "OUTPUTS", "CACHED")]
    for model in api.zoo_models(args.family):
        record = cached.get(model.name)
        rows.append((model.name, model.family, model.size_text, model.kind,
                     f"{record.size / 1e6:.1f} MB" if record else "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    print(f"{len(rows) - 1} model(s), {sum(1 for row in rows[1:] if row[-1] != '-')} cached; "
          "'odwrap zoo pull NAME' fetches one")
    return EXIT_OK


def zoo_pull(args) -> int:
    print(api.zoo_checkpoint(args.name, source=args.source, force=args.force))
    return EXIT_OK
