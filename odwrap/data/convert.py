"""`convert`: annotations -> sharded TFRecords the OD API's TfExampleDecoder reads.

Plan in the main process (read annotations, filter classes, label map, splits, shards), then
write shards in parallel processes. JPEG and PNG bytes pass through undecoded; other formats
are re-encoded as PNG. Each shard is written to a temporary name and renamed when complete;
a rerun of the same plan keeps the complete shards and writes the rest, so an interrupted run
finishes with the same bytes. Output does not depend on the number of workers.
"""

import hashlib
import io
import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.data import classes as classes_mod
from odwrap.data.dataset import Problems, Sample, clip_objects, inside_root
from odwrap.data.formats import READERS, ReadOptions, reader
from odwrap.data.splits import assign_splits, parse_split, plan_shards
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_text
from odwrap.odapi import labelmap
from odwrap.odapi.tfexample import encode_example, frame_record

MANIFEST = ".odwrap-convert.json"


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


@dataclass
class ShardTask:
    path: Path
    samples: list
    images_root: Path
    ids: dict
    strict: bool


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


def _jpeg_complete(data: bytes) -> bool:
    # A JPEG ends with the EOI marker; a truncated download does not.
    return data.rstrip(b"\0")[-2:] == b"\xff\xd9"


def load_image(path: Path, where: str, problems: Problems):
    """(bytes to store, format, width, height) or None when the image is unusable."""
    from PIL import Image

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        problems.add("missing_image", where)
        return None
    except OSError:
        problems.add("corrupt_image", where)
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            kind, mode = image.format, image.mode
            if kind == "PNG":
                image.verify()
            if kind == "JPEG" and mode in ("RGB", "L") and _jpeg_complete(data):
                return data, "jpeg", width, height
            if kind == "PNG":
                return data, "png", width, height
            if kind == "JPEG" and not _jpeg_complete(data):
                raise OSError("truncated JPEG")
        with Image.open(io.BytesIO(data)) as image:
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, "PNG")
            return buffer.getvalue(), "png", width, height
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        problems.add("corrupt_image", where)
        return None


def _png_mask(segmentation, width: int, height: int) -> bytes:
    import numpy as np
    from PIL import Image
    from pycocotools import mask as mask_utils

    if not segmentation:  # an object without a mask in an image whose others have one
        pixels = np.zeros((height, width), np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG")
        return buffer.getvalue()
    if isinstance(segmentation, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):  # uncompressed RLE
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    pixels = mask_utils.decode(rle).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def encode_sample(sample: Sample, images_root: Path, ids: dict, problems: Problems):
    """The serialized tf.train.Example of one sample, or None when its image is dropped."""
    path = inside_root(images_root, sample.image)
    if path is None:
        problems.add("path_escape", f"{sample.source}: {sample.image}")
        return None
    loaded = load_image(path, f"{sample.source}: {sample.image}", problems)
    if loaded is None:
        return None
    data, kind, width, height = loaded
    if sample.normalized:
        for obj in sample.objects:
            obj.xmin, obj.xmax = obj.xmin * width, obj.xmax * width
            obj.ymin, obj.ymax = obj.ymin * height, obj.ymax * height
    elif sample.width is not None and (sample.width, sample.height) != (width, height):
        problems.add("size_mismatch", f"{sample.source}: annotated {sample.width}x"
                                      f"{sample.height}, image {width}x{height}")
        scale_x, scale_y = width / sample.width, height / sample.height
        for obj in sample.objects:
            obj.xmin, obj.xmax = obj.xmin * scale_x, obj.xmax * scale_x
            obj.ymin, obj.ymax = obj.ymin * scale_y, obj.ymax * scale_y
    objects = clip_objects(sample, width, height, problems)
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
    if any(o.mask is not None for o in objects):
        features["image/object/mask"] = ("bytes", [
            _png_mask(o.mask, width, height) for o in objects])
    return encode_example(features), len(objects)


_progress = None  # a shared counter of images done; set once per worker process by the pool


def _init_worker(counter):
    global _progress
    _progress = counter


def _sidecar(shard: Path) -> Path:
    """Where a shard's counts live, so that a resumed run reports what the first run saw."""
    return shard.with_name(f".{shard.name}.json")


def write_shard(task: ShardTask) -> ShardResult:
    result = ShardResult(path=task.path, problems=Problems(strict=task.strict))
    tmp = task.path.with_name(f".{task.path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            for sample in task.samples:
                encoded = encode_sample(sample, task.images_root, task.ids, result.problems)
                if _progress is not None:
                    with _progress.get_lock():
                        _progress.value += 1
                if encoded is None:
                    continue
                record, boxes = encoded
                handle.write(frame_record(record))
                result.images += 1
                result.boxes += boxes
            handle.flush()
            os.fsync(handle.fileno())
        atomic_write_text(_sidecar(task.path), json.dumps({
            "images": result.images, "boxes": result.boxes,
            "counts": result.problems.counts, "examples": result.problems.examples}))
        os.replace(tmp, task.path)
    finally:
        tmp.unlink(missing_ok=True)
    return result


def read_dataset(options: ConvertOptions, problems: Problems):
    """(samples, images root) of the dataset, each image once; duplicates counted."""
    if options.format not in READERS:
        raise InputError(f"unknown format '{options.format}'; one of: {', '.join(READERS)}")
    samples, images_root = reader(options.format)(options.source, options.read, problems)
    unique, seen = [], set()
    for sample in samples:
        if sample.image in seen:
            problems.add("duplicate_image", f"{sample.source}: {sample.image}")
            continue
        seen.add(sample.image)
        unique.append(sample)
    return unique, images_root


def dataset_label_map(options: ConvertOptions, samples, problems: Problems):
    """Filter the samples' classes in place; return the label map to number them with."""
    known = None
    given = None
    if options.label_map is not None:
        given = labelmap.read(options.label_map)
        known = {item.name for item in given.item}
    classes_mod.apply_filters(samples, problems, keep=options.keep, drop=options.drop,
                              rename=classes_mod.parse_rename(options.rename), known=known)
    return given if given is not None else classes_mod.build_label_map(samples, options.order)


def dataset_classes(options: ConvertOptions):
    """(label map, boxes per class) of a dataset after the class filters, without writing."""
    problems = Problems()
    samples, _ = read_dataset(options, problems)
    label_map = dataset_label_map(options, samples, problems)
    return label_map, classes_mod.class_counts(samples)


def _plan_hash(options: ConvertOptions, tasks) -> str:
    digest = hashlib.sha256()
    digest.update(repr((options.format, str(options.source), options.split, options.seed,
                        options.shards, options.keep, options.drop, options.rename,
                        options.order, str(options.label_map), asdict(options.read))).encode())
    for task in tasks:
        digest.update(str(task.path.name).encode())
        for sample in task.samples:
            try:
                stat = os.stat(os.path.join(task.images_root, sample.image))
                state = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                state = None
            objects = [(o.name, o.xmin, o.ymin, o.xmax, o.ymax, o.difficult, o.is_crowd,
                        o.group_of, repr(o.mask)) for o in sample.objects]
            digest.update(repr((sample.image, sample.width, sample.height, objects,
                                state)).encode())
    return digest.hexdigest()


def _previous_shards(output: Path, plan: str) -> set[str]:
    """Shards a previous run of the same plan completed; stale ones of another plan removed."""
    manifest = output / MANIFEST
    if not manifest.exists():
        return set()
    try:
        previous = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        previous = {}
    if previous.get("plan") == plan:
        return set(previous.get("shards", []))
    for name in previous.get("shards", []):
        (output / name).unlink(missing_ok=True)
        _sidecar(output / name).unlink(missing_ok=True)
    return set()


def _run(tasks, workers: int, total: int):
    counter = multiprocessing.Value("q", 0)
    with report.tracking("convert", total, "img") as tracker:
        try:
            if workers <= 1:
                _init_worker(counter)
                results = []
                for task in tasks:
                    results.append(write_shard(task))
                    tracker.update(counter.value)
                return results
            context = multiprocessing.get_context("fork")
            with context.Pool(workers, initializer=_init_worker, initargs=(counter,)) as pool:
                pending = [pool.apply_async(write_shard, (task,)) for task in tasks]
                while not all(job.ready() for job in pending):
                    time.sleep(0.1)
                    tracker.update(counter.value)
                results = [job.get() for job in pending]
                tracker.update(counter.value)
                return results
        finally:
            _init_worker(None)


def convert(options: ConvertOptions) -> ConvertReport:
    start = time.perf_counter()
    problems = Problems(strict=options.strict)
    samples, images_root = read_dataset(options, problems)
    label_map = dataset_label_map(options, samples, problems)
    ids = {item.name: item.id for item in label_map.item}
    splits = assign_splits(samples, parse_split(options.split), options.seed)
    output = Path(options.output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: exists and is not a folder")
    output.mkdir(parents=True, exist_ok=True)

    tasks = []
    for name, members in splits.items():
        ranges = plan_shards(len(members), options.shards)
        for index, part in enumerate(ranges):
            path = output / f"{name}-{index:05d}-of-{len(ranges):05d}.tfrecord"
            tasks.append(ShardTask(path, [members[i] for i in part], images_root, ids,
                                   options.strict))
    plan = _plan_hash(options, tasks)
    done = _previous_shards(output, plan)
    for task in tasks:  # what a killed run left half-written: a shard's or its sidecar's
        for written in (task.path, _sidecar(task.path)):
            for stale in output.glob(f".{written.name}.*.tmp"):
                stale.unlink(missing_ok=True)
    todo = [task for task in tasks if not (task.path.name in done and task.path.exists()
                                           and _sidecar(task.path).exists())]
    atomic_write_text(output / MANIFEST, json.dumps(
        {"plan": plan, "shards": [task.path.name for task in tasks]}, indent=1))

    total = sum(len(task.samples) for task in todo)
    results = {result.path: result for result in _run(todo, options.workers, total)}
    report = ConvertReport(output=output, resumed_shards=len(tasks) - len(todo))
    for task in tasks:
        result = results.get(task.path) or _count_shard(task.path)
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
        {"splits": report.splits, "problems": report.problems, "label_map": ids}, indent=1))
    return report


def _count_shard(path: Path) -> ShardResult:
    """The counts of a shard that a previous run of the same plan completed."""
    saved = json.loads(_sidecar(path).read_text())
    result = ShardResult(path=path, images=saved["images"], boxes=saved["boxes"], skipped=True)
    result.problems.counts.update(saved["counts"])
    result.problems.examples.update(saved["examples"])
    return result
