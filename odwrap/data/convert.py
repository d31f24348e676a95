"""`convert`: annotations -> sharded TFRecords the OD API's TfExampleDecoder reads.

Plan in the main process (read annotations, filter classes, label map, splits, shards), then
write shards in parallel processes (each sample's record: odwrap.data.records), each put in
place (fsync, rename) by a thread of the main process while the next ones are written.
Each shard is written to a temporary name and renamed when complete; a rerun of the same plan
keeps the complete shards and writes the rest, so an interrupted run finishes with the same
bytes. Output does not depend on the number of workers.
"""

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.data import classes as classes_mod
from odwrap.data import keypoints as keypoints_mod
from odwrap.data import resume, workers
from odwrap.data.dataset import Problems, RootLocator
from odwrap.data.formats import (KEYPOINT_READERS, PARALLEL_READERS, READERS, ReadOptions,
                                 reader)
from odwrap.data.orientation import CONVENTIONS
from odwrap.data.records import encode_sample
from odwrap.data.remote import is_url
from odwrap.data.splits import assign_splits, plan_shards, source_fractions
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text
from odwrap.odapi import labelmap
from odwrap.odapi.tfexample import frame_parts

MANIFEST = resume.MANIFEST
# A shard's records reach the file in writes of this size: a write a record (the default
# buffer is smaller than an image) cost 5-10 us an image more.
WRITE_BUFFER = 1 << 20


@dataclass(frozen=True)
class ConvertOptions:
    format: str
    source: Path
    output: Path
    split: str | None = None
    seed: int = 0
    workers: int = 1
    shards: int | None = None
    keep: tuple = ()
    drop: tuple = ()
    rename: tuple = ()
    order: str = "name"
    label_map: Path | None = None
    strict: bool = False
    read: ReadOptions = field(default_factory=ReadOptions)
    runner: str = "local"  # local: worker processes here; beam: odwrap.data.beam
    beam_options: str = ""  # Beam's PipelineOptions, as one shell-quoted string
    exif: str | None = None  # oriented | raw: the image boxes describe where size cannot tell


@dataclass
class ShardTask:
    path: Path
    samples: list
    images_root: Path
    ids: dict
    strict: bool
    keypoints: object = None  # the keypoints.Layout of every record, with --keypoints


@dataclass
class ShardResult:
    path: Path
    images: int = 0
    boxes: int = 0
    problems: Problems = field(default_factory=Problems)
    skipped: bool = False
    written: Path | None = None  # write_shard's temporary file, until finish_shard renames it


@dataclass
class ConvertReport:
    output: Path
    splits: dict = field(default_factory=dict)  # name -> {images, boxes, classes, shards}
    problems: dict = field(default_factory=dict)  # reason -> {count, description, example}
    seconds: float = 0.0
    images: int = 0
    resumed_shards: int = 0
    rewritten_shards: list = field(default_factory=list)  # kept by a run, found damaged


def write_shard(task: ShardTask, on_sample=None) -> ShardResult:
    """Write one shard's records to a temporary file (finish_shard puts it in place);
    ON_SAMPLE(image) hears of each image begun."""
    result = ShardResult(path=task.path, problems=Problems(strict=task.strict))
    tmp = task.path.with_name(f".{task.path.name}.{os.getpid()}.tmp")
    locate = RootLocator()
    try:
        with open(tmp, "wb", buffering=WRITE_BUFFER) as handle:
            for sample in task.samples:
                if on_sample is not None:
                    on_sample(sample.image)
                encoded = encode_sample(sample, task.images_root, task.ids, result.problems,
                                        locate, task.keypoints)
                if encoded is None:
                    continue
                record, boxes = encoded
                handle.writelines(frame_parts(record))
                result.images += 1
                result.boxes += boxes
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    result.written = tmp
    return result


def finish_shard(result: ShardResult) -> None:
    """RESULT's shard in place: its records on disk (fsync), its sidecar, the rename. convert
    runs it on a thread of its own while the next shards are written: the wait for the disk
    (10 to 170 ms a shard of 500 images of 256x256 here) is off the workers' path."""
    try:
        with open(result.written, "rb") as handle:
            os.fsync(handle.fileno())
        atomic_write_text(resume.sidecar(result.path), json.dumps({
            "images": result.images, "boxes": result.boxes,
            "counts": result.problems.counts, "examples": result.problems.examples}))
        os.replace(result.written, result.path)
    finally:
        result.written.unlink(missing_ok=True)
    result.written = None


def read_dataset(options: ConvertOptions, problems: Problems):
    """(samples, images root, {class: keypoints.ClassKeypoints} with --keypoints, else None)
    of the dataset, each image once; duplicates counted."""
    for value in (options.source, options.read.images, options.read.class_names,
                  options.label_map):
        if is_url(value):  # odwrap.data.beam copies what the readers need first
            raise InputError(f"{value}: URLs are read by convert --runner beam only")
    if options.format not in READERS:
        raise InputError(f"unknown format '{options.format}'; one of: {', '.join(READERS)}")
    if options.exif not in (None, *CONVENTIONS):
        raise InputError(f"--exif {options.exif}: one of {', '.join(CONVENTIONS)}")
    if options.read.keypoints and options.format not in KEYPOINT_READERS:
        raise InputError(f"--keypoints: {options.format} has no keypoints odwrap reads; "
                         f"{', '.join(KEYPOINT_READERS)} have")
    parallel = {"workers": options.workers} if options.format in PARALLEL_READERS else {}
    found = reader(options.format)(options.source, options.read, problems, **parallel)
    samples, images_root, schema = found[0], found[1], (found[2] if len(found) > 2 else None)
    if options.read.keypoints and not schema:
        raise InputError(f"--keypoints: no class of {options.source} has keypoints "
                         f"({KEYPOINT_READERS[options.format]} names them)")
    unique, seen = [], set()
    for sample in samples:
        if sample.image in seen:
            problems.add("duplicate_image", f"{sample.source}: {sample.image}")
            continue
        seen.add(sample.image)
        sample.exif = options.exif or sample.exif  # the option over the format's convention
        if options.read.masks:  # every box gets a mask, its box where it has none (_mask)
            for obj in sample.objects:
                obj.mask = [] if obj.mask is None else obj.mask
        unique.append(sample)
    return unique, images_root, schema


def dataset_label_map(options: ConvertOptions, samples, problems: Problems):
    """Filter the samples' classes in place; return the label map to number them with."""
    known = None
    given = None
    if options.label_map is not None:
        given = labelmap.read_checked(options.label_map)
        known = {item.name for item in given.item}
    classes_mod.apply_filters(samples, problems, keep=options.keep, drop=options.drop,
                              rename=classes_mod.parse_rename(options.rename), known=known)
    return given if given is not None else classes_mod.build_label_map(samples, options.order)


def dataset_classes(options: ConvertOptions):
    """(label map, boxes per class) of a dataset after the class filters, without writing."""
    problems = Problems()
    samples, _, _ = read_dataset(options, problems)
    label_map = dataset_label_map(options, samples, problems)
    return label_map, classes_mod.class_counts(samples)


def shard_plan(splits: dict[str, list], shards: int | None) -> list[tuple[str, list]]:
    """(shard file name, its members in order) of each shard, the splits' in turn."""
    plan = []
    for split, members in splits.items():
        ranges = plan_shards(len(members), shards)
        plan += [(resume.shard_name(split, index, len(ranges)), members[part.start:part.stop])
                 for index, part in enumerate(ranges)]
    return plan


def _plan_hash(options: ConvertOptions, tasks) -> str:
    digest = hashlib.sha256()
    digest.update(repr((options.format, str(options.source), options.split, options.seed,
                        options.shards, options.keep, options.drop, options.rename,
                        options.order, str(options.label_map), asdict(options.read),
                        repr(tasks[0].keypoints) if tasks else None)).encode())
    for task in tasks:
        digest.update(str(task.path.name).encode())
        for sample in task.samples:
            try:
                stat = os.stat(os.path.join(task.images_root,
                                            sample.embedded or sample.image))
                state = (stat.st_size, stat.st_mtime_ns)
            except (OSError, ValueError):
                state = None
            objects = [(o.name, o.xmin, o.ymin, o.xmax, o.ymax, o.difficult, o.is_crowd,
                        o.group_of, repr(o.mask), o.keypoints) for o in sample.objects]
            digest.update(repr((sample.image, sample.width, sample.height, objects,
                                state, sample.split, sample.exif)).encode())
    return digest.hexdigest()


def _remove_partial(output: Path, tasks) -> None:
    """What a killed run left half-written: a shard's or its sidecar's temporary file."""
    for task in tasks:
        for written in (task.path, resume.sidecar(task.path)):
            for stale in output.glob(f".{written.name}.*.tmp"):
                stale.unlink(missing_ok=True)


def _to_keep(output: Path, plan: str, tasks) -> tuple[dict, list]:
    """({shard path: counts} a previous run of the same plan completed and that are intact,
    [names of those it completed that are damaged]); another plan's shards are removed."""
    previous = resume.read_manifest(output)
    if previous is None:
        return {}, []
    if previous.plan != plan:
        resume.remove_shards(output, previous.shards)
        return {}, []
    kept, damaged = {}, []
    for task in tasks:
        if task.path.name in previous.shards and os.path.lexists(task.path):
            saved = resume.intact(task.path)
            if saved is None:
                damaged.append(task.path.name)
            else:
                kept[task.path] = saved
    return kept, damaged


def _write(tasks, count: int) -> list:
    """Each task's shard written by COUNT workers and put in place by one of COUNT threads of
    this process as it comes (finish_shard: its fsync takes about as long as writing it);
    every shard finished, or the first failure raised."""
    total = sum(len(task.samples) for task in tasks)
    finishing = []
    with report.tracking("convert", total, "img") as tracker, \
            ThreadPoolExecutor(max(1, count), thread_name_prefix="finish-shard") as finisher:
        def on_result(result: ShardResult) -> None:
            finishing.append(finisher.submit(finish_shard, result))

        if count <= 1:
            results = workers.run_in_process(tasks, write_shard, tracker.update, on_result)
        else:
            results = workers.run_in_workers(tasks, write_shard, count, tracker.update,
                                             on_result)
        for future in finishing:
            future.result()
    return results


def convert(options: ConvertOptions) -> ConvertReport:
    if options.runner != "local":  # odwrap.data.beam.convert runs the other
        raise InputError(f"unknown runner '{options.runner}'; one of: local, beam")
    if options.beam_options:
        raise InputError("--beam-options is for --runner beam")
    if is_url(options.output):
        raise InputError(f"{options.output}: URLs are written by convert --runner beam only")
    start = time.perf_counter()
    problems = Problems(strict=options.strict)
    samples, images_root, schema = read_dataset(options, problems)
    label_map = dataset_label_map(options, samples, problems)
    layout = keypoints_mod.dataset_layout(schema, label_map, options.rename,
                                          given=options.label_map is not None)
    ids = {item.name: item.id for item in label_map.item}
    splits = assign_splits(samples, source_fractions(options.split, samples),
                           options.seed)
    output = Path(options.output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: exists and is not a folder")
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)

    tasks = [ShardTask(output / name, members, images_root, ids, options.strict, layout)
             for name, members in shard_plan(splits, options.shards)]
    plan = _plan_hash(options, tasks)
    kept, damaged = _to_keep(output, plan, tasks)
    _remove_partial(output, tasks)
    todo = [task for task in tasks if task.path not in kept]
    resume.write_manifest(output, plan, [task.path.name for task in tasks])
    try:
        results = {result.path: result for result in _write(todo, options.workers)}
    except BaseException:
        _remove_partial(output, todo)
        for task in todo:  # a sidecar whose shard was never renamed into place
            if not task.path.exists():
                resume.sidecar(task.path).unlink(missing_ok=True)
        if not any(task.path.exists() for task in tasks):  # nothing to resume from
            (output / MANIFEST).unlink(missing_ok=True)
            if created and not any(output.iterdir()):
                output.rmdir()
        raise
    report = ConvertReport(output=output, resumed_shards=len(kept), rewritten_shards=damaged)
    for task in tasks:
        result = results.get(task.path) or _kept_result(task.path, kept[task.path])
        problems.merge(result.problems)
        split = report.splits.setdefault(task.path.name.split("-")[0],
                                         {"images": 0, "boxes": 0, "shards": 0})
        split["images"] += result.images
        split["boxes"] += result.boxes
        split["shards"] += 1
    labelmap.write(label_map, output / labelmap.FILE_NAME)
    report.problems = {reason: {"count": count, "example": problems.examples[reason]}
                       for reason, count in sorted(problems.counts.items())}
    report.images = sum(len(task.samples) for task in todo)
    report.seconds = time.perf_counter() - start
    atomic_write_text(output / "report.json", json.dumps(
        {"splits": report.splits, "problems": report.problems, "label_map": ids,
         **keypoints_mod.report(layout)}, indent=1))
    return report


def _kept_result(path: Path, saved: dict) -> ShardResult:
    """The counts of a shard that a previous run of the same plan completed."""
    result = ShardResult(path=path, images=saved["images"], boxes=saved["boxes"], skipped=True)
    result.problems.counts.update(saved["counts"])
    result.problems.examples.update(saved["examples"])
    return result
