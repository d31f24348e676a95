"""`convert --runner beam`: the converter's shards, byte for byte, written by Apache Beam.

The driver needs no Beam for local paths (for URLs it does). It reads the annotations and
numbers the classes as the default converter does, and writes the samples to one file in the
output folder. The pipeline (odwrap.data.beam_pipeline) reads them there. It gathers every
image's classes in a first stage for the stratified split and the shard plan, which reach the
workers as a side input. It encodes each image where it lands, groups the records by shard and
writes each shard in plan order. It combines the per-reason counts with a combiner. The
pipeline runs in this interpreter when it has apache_beam; otherwise in the Beam venv
(scripts/setup-beam.sh) as a child process, since no apache-beam release installs beside the
TF 2.21 stack.
"""

import base64
import dataclasses
import importlib
import json
import os
import shlex
import subprocess
import tempfile
import time
import traceback
import uuid
from pathlib import Path

from odwrap.data import keypoints, remote, resume
from odwrap.data.beamenv import beam_python
from odwrap.data.convert import ConvertReport, dataset_label_map, read_dataset, shard_plan
from odwrap.data.dataset import NOTES, REASONS, Problems
from odwrap.data.splits import source_fractions, split_sizes
from odwrap.errors import InputError, RunError, StackError
from odwrap.fsutil import log_dir
from odwrap.odapi import labelmap
from odwrap.odapi.logs import captured_output

BAD_OPTIONS = "bad pipeline options: "  # beam_pipeline.BAD_OPTIONS (that module needs Beam)
PLAN = "apache-beam"  # the manifest's plan: never a default run's, which then rewrites all


def pipeline_args(beam_options: str, workers: int) -> list[str]:
    """Beam's PipelineOptions arguments: BEAM_OPTIONS as a shell would split them, on the
    DirectRunner with WORKERS processes unless they name a runner."""
    try:
        args = shlex.split(beam_options or "")
    except ValueError as exc:
        raise InputError(f"--beam-options {beam_options!r}: {exc}") from None
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        args = ["--runner=DirectRunner", "--direct_running_mode=multi_processing",
                f"--direct_num_workers={workers}"] + args
    return args


def _sample_lines(samples):
    """One base64 line of msgpack a sample, which ReadFromText splits among the workers."""
    import msgspec

    encoder = msgspec.msgpack.Encoder()
    for sample in samples:
        yield base64.b64encode(encoder.encode(sample)) + b"\n"


def _last_error(text: str) -> str:
    """The line of a Beam failure that says what went wrong (its last 'Error:' line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "Error: " in line or "Exception: " in line]
    line = (errors or lines or ["no output"])[-1]
    return line[:300]


def run_pipeline(spec: dict, python: str | None, command: str = "convert",
                 module: str = "odwrap.data.beam_pipeline") -> None:
    """Run the pipeline of SPEC (MODULE's run and main) here or with PYTHON; RunError (with a
    log) when it fails, InputError for options Beam refuses; COMMAND names the run."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{command}-beam-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    if python is None:
        from odwrap.data import beam_pipeline

        try:
            with captured_output(into=log):  # Beam's and its workers' logs, as a child's
                importlib.import_module(module).run(spec)
        except beam_pipeline.BadOptions as exc:
            log.unlink(missing_ok=True)
            raise InputError(f"--beam-options: {exc}") from None
        except Exception as exc:  # a worker's failure comes back as Beam's own exception
            with open(log, "a", encoding="utf-8") as handle:
                handle.write("".join(traceback.format_exception(exc)))
            raise RunError(f"{command}: the Beam pipeline failed: {_last_error(str(exc))} "
                           f"(its log: {log})") from None
        log.unlink(missing_ok=True)
        return
    with tempfile.TemporaryDirectory() as scratch:
        spec_path = Path(scratch) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        with open(log, "wb") as handle:
            done = subprocess.run(
                [python, "-c", f"import sys; from {module} import main; "
                               "sys.exit(main(sys.argv[1]))", str(spec_path)],
                stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT)
    text = log.read_text(encoding="utf-8", errors="replace")
    refused = [line for line in text.splitlines() if line.startswith(BAD_OPTIONS)]
    if done.returncode == 2 and refused:
        log.unlink(missing_ok=True)
        raise InputError(f"--beam-options: {refused[-1][len(BAD_OPTIONS):]}")
    if done.returncode != 0:
        raise RunError(f"{command}: the Beam pipeline failed: {_last_error(text)} (its log: "
                       f"{log})")
    log.unlink(missing_ok=True)


def plugins(args: list[str]) -> None:
    """Import the modules of --beam_plugins here too: a filesystem of a URL's scheme that a
    plugin registers serves the driver's reads and writes as it serves the workers'."""
    for index, arg in enumerate(args):
        names = arg.split("=", 1)[1] if arg.startswith("--beam_plugins=") else \
            args[index + 1] if arg == "--beam_plugins" and index + 1 < len(args) else ""
        for name in filter(None, names.split(",")):
            try:
                importlib.import_module(name)
            except ImportError as exc:
                raise InputError(f"--beam-options: --beam_plugins {name}: {exc}") from None


def _stage(options, staged: remote.Staged):
    """OPTIONS with its annotation URLs copied into STAGED's folder (an --images URL stands
    as a local folder there), for the readers."""
    source, read = options.source, options.read
    if remote.is_url(source):
        source = staged.voc(source) if options.format == "voc" else \
            staged.file(source, "annotations")
    images = read.images
    if remote.is_url(images):
        images = staged.stand_in(images, "images")
    names = read.class_names
    if remote.is_url(names):
        names = staged.file(names, "class-names")
    label_map = options.label_map
    if remote.is_url(label_map):
        label_map = staged.file(label_map, "label-map")
    return dataclasses.replace(options, source=Path(source), label_map=label_map,
                               read=dataclasses.replace(read, images=images,
                                                        class_names=names))


def _urls(options) -> list[str]:
    return [value for value in (options.source, options.output, options.label_map,
                                options.read.images, options.read.class_names)
            if remote.is_url(value)]


def _read(options, urls, problems: Problems):
    """(samples, images root or its URL, label map, keypoints.Layout or None), as the default
    converter reads them."""
    with tempfile.TemporaryDirectory(prefix="odwrap-beam-") as scratch:
        staged = remote.Staged(Path(scratch))
        local = _stage(options, staged) if urls else options
        samples, images_root, schema = read_dataset(local, problems)
        label_map = dataset_label_map(local, samples, problems)
        layout = keypoints.dataset_layout(schema, label_map, options.rename,
                                          given=options.label_map is not None)
        return samples, staged.images_url(images_root), label_map, layout


def lost_samples(planned: dict, written: list) -> str:
    """What the pipeline's shards miss of the plan ({name: samples}): '' when nothing. A
    runner that drops elements would otherwise leave shards short without a word."""
    got = {entry["name"]: entry["samples"] for entry in written}
    wrong = [f"{name} has {got.get(name, 'no')} of its {count} images"
             for name, count in planned.items() if got.get(name) != count]
    wrong += [f"{name} was not planned" for name in got if name not in planned]
    return "; ".join(wrong[:3]) + (f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else "")


def convert(options) -> ConvertReport:
    """odwrap.data.convert.convert on Apache Beam: the same files but for the resume data
    (no sidecars; the manifest names the shards so that any later run replaces them). Any
    path may be a URL (gs://...) when this Python has apache-beam."""
    start = time.perf_counter()
    python = beam_python()
    args = pipeline_args(options.beam_options, options.workers)
    urls = _urls(options)
    if urls and python is not None:
        raise StackError(f"{urls[0]}: URLs are read and written through apache-beam, which "
                         f"this Python does not have: run odwrap with {python[:-len('python')]}"
                         "odwrap (the Beam venv)")
    if urls:
        plugins(args)
    problems = Problems(strict=options.strict)
    samples, images_root, label_map, layout = _read(options, urls, problems)
    ids = {item.name: item.id for item in label_map.item}
    fractions = source_fractions(options.split, samples)
    output = remote.OutputFolder(options.output)
    output.prepare()
    sizes = split_sizes(samples, fractions)
    planned = {name: len(part) for name, part in shard_plan(
        {split: range(count) for split, count in sizes.items()}, options.shards)}
    shards = list(planned)
    previous = output.manifest()
    if previous is not None:  # a run of another plan, or an unfinished one: replaced whole
        output.remove_shards(previous.shards)
    output.write(resume.MANIFEST, resume.manifest_text(PLAN, shards).encode())

    token = uuid.uuid4().hex
    samples_name = f".odwrap-beam-{token}.samples"
    result_name = f".odwrap-beam-{token}.result.json"
    spec = {"samples": output.path(samples_name), "result": output.path(result_name),
            "images_root": str(images_root), "ids": ids, "fractions": fractions,
            "keypoints": None if layout is None else layout.as_json(),
            "seed": options.seed, "shards": options.shards, "strict": options.strict,
            "output": str(output), "args": args}
    try:
        output.stream(samples_name, _sample_lines(samples))
        run_pipeline(spec, python)
        result = json.loads(output.read(result_name))
    except BaseException:
        output.delete([samples_name, result_name])
        output.remove_unfinished(shards)
        raise
    output.delete([samples_name, result_name])
    found = sorted(result["problems"], key=lambda entry: entry["first"])
    failed = [entry for entry in found if entry["reason"] not in NOTES]
    if options.strict and failed:  # the pipeline wrote no shard
        output.remove_unfinished(shards)
        first = failed[0]
        raise InputError(f"{first['example']}: {REASONS[first['reason']]} (--strict)")
    for entry in found:  # after the driver's own, as the default converter merges them
        problems.counts[entry["reason"]] += entry["count"]
        problems.examples.setdefault(entry["reason"], entry["example"])

    written = sorted(result["shards"], key=lambda entry: entry["index"])
    lost = lost_samples(planned, written)
    if lost:
        output.remove_shards(shards)
        output.delete([resume.MANIFEST])
        raise RunError(f"convert: the Beam runner lost data: {lost}; nothing is kept")
    report = ConvertReport(output=output.local or output.url, images=len(samples))
    for entry in written:
        split = report.splits.setdefault(entry["name"].split("-")[0],
                                         {"images": 0, "boxes": 0, "shards": 0})
        split["images"] += entry["images"]
        split["boxes"] += entry["boxes"]
        split["shards"] += 1
    output.write(labelmap.FILE_NAME, labelmap.to_text(label_map).encode())
    report.problems = {reason: {"count": count, "example": problems.examples[reason]}
                       for reason, count in sorted(problems.counts.items())}
    report.seconds = time.perf_counter() - start
    output.write("report.json", json.dumps(
        {"splits": report.splits, "problems": report.problems, "label_map": ids,
         **keypoints.report(layout)},
        indent=1).encode())
    return report
