"""`convert`: annotations -> sharded TFRecords the OD API's TfExampleDecoder reads.

Plan in the main process (read annotations, filter classes, label map, splits, shards), then
write shards in parallel processes (the image bytes each record stores: odwrap.data.images).
Each shard is written to a temporary name and renamed when complete; a rerun of the same plan
keeps the complete shards and writes the rest, so an interrupted run finishes with the same
bytes. Output does not depend on the number of workers.
"""

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.data import classes as classes_mod
from odwrap.data import keypoints as keypoints_mod
from odwrap.data import resume, segmentations, workers
from odwrap.data.dataset import (EmbeddedImage, Problems, RootLocator, Sample, clip_objects,
                                 inside_root)
from odwrap.data.formats import KEYPOINT_READERS, READERS, ReadOptions, reader
from odwrap.data.images import load_image
from odwrap.data.orientation import CONVENTIONS
from odwrap.data.remote import is_url
from odwrap.data.splits import assign_splits, plan_shards, source_fractions
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text
from odwrap.odapi import labelmap
from odwrap.odapi.tfexample import example_parts, frame_parts

MANIFEST = resume.MANIFEST


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


@dataclass
class ConvertReport:
    output: Path
    splits: dict = field(default_factory=dict)  # name -> {images, boxes, classes, shards}
    problems: dict = field(default_factory=dict)  # reason -> {count, description, example}
    seconds: float = 0.0
    images: int = 0
    resumed_shards: int = 0
    rewritten_shards: list = field(default_factory=list)  # kept by a run, found damaged


def encode_sample(sample: Sample, images_root, ids: dict, problems: Problems,
                  locate=inside_root, keypoints=None):
    """(The serialized tf.train.Example of one sample as tfexample.example_parts gives it, its
    boxes), or None when its image is dropped. LOCATE(images_root, image) gives what to read_bytes() the image from, None when
    the path would leave the root. KEYPOINTS: the keypoints.Layout every record follows."""
    path = locate(images_root, sample.embedded or sample.image)
    if path is None:
        problems.add("path_escape", f"{sample.source}: {sample.embedded or sample.image}")
        return None
    if sample.embedded:
        path = EmbeddedImage(path)
    annotated = None if sample.normalized or sample.width is None else \
        (sample.width, sample.height)
    loaded = load_image(path, f"{sample.source}: {sample.image}", problems, annotated,
                        sample.exif)
    if loaded is None:
        return None
    data, kind, width, height = loaded
    if sample.normalized:
        _scale(sample.objects, width, height, width, height)
    elif sample.width is not None and (sample.width, sample.height) != (width, height):
        problems.add("size_mismatch", f"{sample.source}: annotated {sample.width}x"
                                      f"{sample.height}, image {width}x{height}")
        _scale(sample.objects, width, height, width / sample.width, height / sample.height)
    objects = [obj for obj in clip_objects(sample, width, height, problems)
               if _mask_fits(obj, sample, width, height, problems)]
    features = {
        "image/encoded": ("bytes", [data]),
        "image/format": ("bytes", [kind.encode()]),
        "image/filename": ("bytes", [sample.image.encode("utf-8")]),
        "image/source_id": ("bytes", [sample.image.encode("utf-8")]),
        "image/key/sha256": ("bytes", [hashlib.sha256(data).hexdigest().encode()]),
        "image/height": ("int", [height]),
        "image/width": ("int", [width]),
        "image/object/bbox/xmin": ("float", [o.xmin / width for o in objects]),
        "image/object/bbox/xmax": ("float", [o.xmax / width for o in objects]),
        "image/object/bbox/ymin": ("float", [o.ymin / height for o in objects]),
        "image/object/bbox/ymax": ("float", [o.ymax / height for o in objects]),
        "image/object/class/text": ("bytes", [o.name.encode("utf-8") for o in objects]),
        "image/object/class/label": ("int", [ids[o.name] for o in objects]),
        "image/object/area": ("float", [(o.xmax - o.xmin) * (o.ymax - o.ymin)
                                        for o in objects]),
        "image/object/difficult": ("int", [o.difficult for o in objects]),
        "image/object/is_crowd": ("int", [o.is_crowd for o in objects]),
        "image/object/group_of": ("int", [o.group_of for o in objects]),
    }
    if any(o.mask is not None for o in objects):  # --masks: a mask per box
        masks = [_mask(obj, sample, width, height, problems) for obj in objects]
        features["image/object/mask"] = ("bytes", [png for png, _ in masks])
        features["image/object/mask/weight"] = ("float", [weight for _, weight in masks])
    if keypoints is not None:
        for obj in objects:
            obj.keypoints = keypoints_mod.fit(obj.keypoints or [], width, height,
                                              f"{sample.source}: {obj.name}", problems)
        features.update(keypoints_mod.features(objects, width, height, keypoints))
    return example_parts(features), len(objects)


def _scale(objects, width: int, height: int, scale_x: float, scale_y: float) -> None:
    """Boxes and masks of OBJECTS, annotated on an image that (SCALE_X, SCALE_Y) turns into
    the WIDTHxHEIGHT image, in that image's pixels: a box and its mask scale together."""
    for obj in objects:
        obj.xmin, obj.xmax = obj.xmin * scale_x, obj.xmax * scale_x
        obj.ymin, obj.ymax = obj.ymin * scale_y, obj.ymax * scale_y
        obj.mask = segmentations.fitted(obj.mask, width, height, scale_x, scale_y)
        obj.keypoints = keypoints_mod.scaled(obj.keypoints, scale_x, scale_y)


def _mask(obj, sample: Sample, width: int, height: int, problems: Problems):
    """(The PNG mask of OBJ, its image/object/mask/weight). An object with no segmentation, or
    one with no pixel in the image, gets its box as its mask, counted, weight 0: a blank mask
    would teach Mask R-CNN's mask head that the object has no pixels, and dropping the box
    would teach its detector that the object is background (docs/instance-segmentation.md)."""
    pixels = segmentations.pixels(obj.mask, width, height) if obj.mask else None
    if pixels is not None and pixels.any():
        return segmentations.png_mask(pixels), 1.0
    why = "no pixel in the image" if obj.mask else "no segmentation"
    problems.add("box_mask", f"{sample.source}: {obj.name}: {why}")
    box = segmentations.box_polygon(obj.xmin, obj.ymin, obj.xmax, obj.ymax)
    return segmentations.png_mask(segmentations.pixels(box, width, height)), 0.0


def _mask_fits(obj, sample: Sample, width: int, height: int, problems: Problems) -> bool:
    """Whether OBJ's segmentation fits the image as it is (the reader checked the annotated
    size); pycocotools never sees one that does not."""
    found = segmentations.problem(obj.mask, width, height)
    if found:
        problems.add("bad_mask", f"{sample.source}: {obj.name}: {found}")
    return not found


def write_shard(task: ShardTask, on_sample=None) -> ShardResult:
    """Write one shard through a temporary name; ON_SAMPLE(image) hears of each image begun."""
    result = ShardResult(path=task.path, problems=Problems(strict=task.strict))
    tmp = task.path.with_name(f".{task.path.name}.{os.getpid()}.tmp")
    locate = RootLocator()
    try:
        with open(tmp, "wb") as handle:
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
            handle.flush()
            os.fsync(handle.fileno())
        atomic_write_text(resume.sidecar(task.path), json.dumps({
            "images": result.images, "boxes": result.boxes,
            "counts": result.problems.counts, "examples": result.problems.examples}))
        os.replace(tmp, task.path)
    finally:
        tmp.unlink(missing_ok=True)
    return result


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
                         f"{', '.join(KEYPOINT_READERS)} has")
    found = reader(options.format)(options.source, options.read, problems)
    samples, images_root, schema = found[0], found[1], (found[2] if len(found) > 2 else None)
    if options.read.keypoints and not schema:
        raise InputError(f"--keypoints: no category of {options.source} names keypoints (a "
                         "COCO category's `keypoints` list)")
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
    total = sum(len(task.samples) for task in tasks)
    with report.tracking("convert", total, "img") as tracker:
        if count <= 1:
            return workers.run_in_process(tasks, write_shard, tracker.update)
        return workers.run_in_workers(tasks, write_shard, count, tracker.update)


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
