"""`predict`: run an exported model over images (files, folders, globs, TFRecords) and the
frames of videos and streams; one detection per line of JSON Lines, or a COCO results JSON, and
annotated images (an annotated video of a video).

A line: {"image_id", "filename", "category_id", "bbox": [x, y, w, h] in pixels, "score", and for
a mask model "segmentation": {"size": [H, W], "counts": compressed COCO RLE},
"mask_mean_score", "mask_area_fraction"; for a keypoint model "keypoints": [x, y, score, ...] in
pixels, the points of the detection's class in keypoints.json's order; then "id"}: COCO's
results format, which pycocotools' `loadRes` reads; a video frame's lines also carry its "frame" (index from 0) and "time"
(seconds). The run streams (odwrap.deploy.pipeline: --workers threads read, infer and draw,
a few images each in memory; the results are written in the images' order): each image's
lines appended to OUTPUT/detections.jsonl.part and a line for the image to
OUTPUT/images.jsonl.part (its size, detection count and latency, or why it could not be
read). An interrupted run is resumed by the next one with the same model, threshold and
stride: it checks that the images it skips are those the log names, in order, and cuts a
half-written tail; a video it was in is drawn again from the logged detections up to the
frame it resumes at (odwrap.deploy.video). At the end the files get their names
(detections.json is made from the lines then). An image that cannot be read (corrupt, not an
image, a decompression bomb) is logged and skipped; when none can be read, that is an
InputError. With a FORMAT, the detections also become a labelling tool's files in
OUTPUT/FORMAT (odwrap.deploy.labelling), made from the same lines at the end.

`predict` is the public `odwrap.predict` (odwrap.api re-exports it): its signature holds each
option's default, which the CLI shows. This module imports numpy and protobuf (the runtimes,
the masks, the annotator, the export folder) only when a run starts: `import odwrap` stays
light.
"""

import contextlib
import itertools
import json
import os
import statistics
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from odwrap import report
from odwrap.deploy import labelling, sources, video
from odwrap.deploy.labelling import Written
from odwrap.deploy.model_files import (DEFAULT_THRESHOLD, model_keypoints, model_labels,
                                       model_threshold, read_labels)
from odwrap.errors import InputError
from odwrap.fsutil import MiB, atomic_write_text, atomic_writer, open_own_file, read_text

DETECTIONS, IMAGES, RUN = "detections.jsonl", "images.jsonl", "predict.run.json"
PART = ".part"


@dataclass
class PredictResult:
    runtime: str  # what ran the model
    output: Path  # the detections file: OUTPUT/detections.json or detections.jsonl
    images: int = 0  # images this run predicted
    frames: int = 0  # of them, frames of videos
    resumed: int = 0  # images an interrupted earlier run had predicted (skipped now)
    detections: int = 0  # detections in the file, all runs together
    masks: bool = False  # the model predicts masks: lines carry them
    skipped: list = field(default_factory=list)  # (image, why) of each image not read now
    milliseconds: array = field(default_factory=lambda: array("f"))  # each image's inference
    threshold: float = DEFAULT_THRESHOLD  # the lowest score kept
    threshold_source: str = "given"  # or where it came from (model_threshold)
    labelling: Written | None = None  # the labelling tool's files (FORMAT)

    @property
    def median_milliseconds(self) -> float:
        return statistics.median(self.milliseconds) if self.milliseconds else 0.0


def _cut_to_lines(handle, path: Path, keep: int | None = None) -> tuple[int, int]:
    """Truncate PATH, open as HANDLE (an open_own_file), after its last whole JSON line (or
    after KEEP lines): (lines kept, the sum of their "detections")."""
    kept = offset = detections = 0
    handle.seek(0)
    for line in handle:
        if not line.endswith(b"\n") or (keep is not None and kept >= keep):
            break
        if keep is None:
            count = _logged_detections(line)
            if count is None:  # not a line of the log: a half-written tail, or not predict's
                break
            detections += count
        offset += len(line)
        kept += 1
    if keep is not None and kept < keep:
        raise InputError(f"{path}: holds {kept} detections where {IMAGES}{PART} beside "
                         f"it counts {keep}; pass --restart")
    handle.truncate(offset)
    return kept, detections


def _logged_detections(line: bytes) -> int | None:
    """The detections a line of the image log counts (0 for a skipped image); None when it is
    no line of the log (not JSON, nested brackets, not an object, no count of 0 or more)."""
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None
    count = entry.get("detections", 0) if isinstance(entry, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 \
        else None


def _resume(output: Path, run: dict, restart: bool) -> tuple[int, int]:
    """(images, detections) an interrupted run wrote; (0, 0) for a fresh run. The part files
    are reopened only as this run's own regular files (fsutil.open_own_file), never through a
    link."""
    log, lines, recorded = output / (IMAGES + PART), output / (DETECTIONS + PART), output / RUN
    if restart or not (log.exists() or log.is_symlink()):
        for path in (log, lines):
            path.unlink(missing_ok=True)  # a link itself, not what it names
        return 0, 0
    earlier = {}
    if recorded.exists():
        try:
            earlier = json.loads(read_text(recorded, "run record", limit=MiB))
        except (ValueError, RecursionError):  # not JSON, or nested brackets: not ours
            earlier = None
    if earlier != run:
        changed = ", ".join(key for key in run if not isinstance(earlier, dict)
                            or earlier.get(key) != run[key])
        raise InputError(f"{output}: holds an interrupted run with another {changed or 'setup'} "
                         f"({recorded}); pass --restart to start over, or another --output")
    with open_own_file(log) as handle:
        images, detections = _cut_to_lines(handle, log)
    with open_own_file(lines) as handle:
        _cut_to_lines(handle, lines, keep=detections)
    return images, detections


def _class_ids(classes, names: dict[int, str]) -> set[int]:
    """The ids of the class NAMES in CLASSES; InputError naming those the model does not have."""
    ids = {name: index for index, name in names.items()}
    unknown = [name for name in classes if name not in ids]
    if unknown:
        known = ", ".join(names.values()) or "none: give --labels"
        raise InputError(f"--classes {','.join(unknown)}: not a class of the model "
                         f"(its classes: {known})")
    return {ids[name] for name in classes}


class _AnnotatedNames:
    """Each image's annotated file name: NAME.annotated.png (NAME: the image's file name without
    its suffix, at most 100 characters), or NAME.2.annotated.png, ... when an earlier image of
    the run took that name (a/x.jpg, b/x.jpg, a/x.png), in the order of the run's images, so
    that a resumed run names them as the whole run would; a video's: NAME.annotated.mp4."""

    def __init__(self):
        self.taken = set()

    def __call__(self, filename: str, suffix: str = ".png") -> str:
        stem = Path(filename).stem.replace("\0", "_")[:100] or "image"  # a name, not a path
        name, count = f"{stem}.annotated{suffix}", 1
        while name in self.taken:
            count += 1
            name = f"{stem}.{count}.annotated{suffix}"
        self.taken.add(name)
        return name


def _logged_names(log: Path, images: int):
    """(filename, video frame or None, detections) of each of the first IMAGES lines of the
    image log (lines _resume kept), one at a time."""
    with open(log, "rb") as handle:
        for _, line in zip(range(images), handle):
            entry = json.loads(line)
            yield entry.get("filename"), entry.get("frame"), entry.get("detections", 0)


def _finish(output: Path, jsonl: bool, format=None, names=None, images=(), layout=None):
    """(the detections file, the labelling tool's files): the part files get their names,
    detections.json is written from the lines; FORMAT's files before them, so that a run whose
    labelling files fail can be resumed and finish again."""
    part = output / (DETECTIONS + PART)
    written = format and labelling.write(format, output, output / (IMAGES + PART), part, names,
                                         images, layout)
    if jsonl:
        target = output / DETECTIONS
        os.replace(part, target)
    else:
        target = output / "detections.json"
        with atomic_writer(target) as handle, open(part, "rb") as lines:
            handle.write(b"[")
            for number, line in enumerate(lines):
                handle.write((b",\n" if number else b"\n") + line.rstrip(b"\n"))
            handle.write(b"\n]\n")
        part.unlink()
    os.replace(output / (IMAGES + PART), output / IMAGES)
    (output / RUN).unlink(missing_ok=True)
    return target, written


def _check_format(format: str, images, output: Path, restart: bool) -> None:
    """FORMAT is a labelling tool's; IMAGES are files (a TFRecord's images have none for the
    tool to open); a fresh run finds no OUTPUT/FORMAT."""
    labelling.check_format(format)
    record = sources.first_of(images, "record")
    if record is not None:
        raise InputError(f"--format {format}: {record} is a TFRecord; its images are no files "
                         "a labelling tool can open: predict the image files")
    clip = sources.first_of(images, "video")
    if clip is not None:
        raise InputError(f"--format {format}: {clip} is a video; its frames are no files a "
                         "labelling tool can open")
    log = output / (IMAGES + PART)
    if restart or not (log.exists() or log.is_symlink()):
        labelling.refuse_existing(output, format)


def default_workers() -> int:
    """--workers by default: the cores this process may use, at most 4 (past that, the
    interpreters' own threads want the cores)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, 4))


def predict(model, images, output="predictions", *, threshold: float | None = None,
            labels=None, runtime: str = "auto", jsonl: bool = False, threads: int = 2,
            annotate: bool = True, restart: bool = False, max_images: int | None = None,
            classes: Sequence[str] | None = None, format: str | None = None,
            workers: int | None = None, stride: int = 1) -> PredictResult:
    """Run an exported .tflite or SavedModel over IMAGES (files, folders, glob patterns,
    TFRecord files, videos and stream URLs); writes OUTPUT/detections.json (COCO results) or
    detections.jsonl (a detection a line; RLE masks for a mask model), images.jsonl and
    annotated images (an annotated video of a video). THRESHOLD: the lowest score kept; by
    default the one export wrote beside the model (its evaluation's best F1), else 0.5. Resumes
    an interrupted run in OUTPUT unless RESTART. MAX_IMAGES: only the first that many images
    (a video's kept frames count) of IMAGES. CLASSES: only detections of these class names.
    FORMAT (yolo, labelme, cvat, coco): also a labelling tool's files of the detections in
    OUTPUT/FORMAT, which a fresh run must not find there (the user may have corrected them);
    image files only, no TFRecords or videos. WORKERS: threads that read, infer (a detector
    each) and draw images side by side, the results written in order (default: the usable
    cores, at most 4); the files do not depend on it. STRIDE: a video's every STRIDE-th frame
    (0, STRIDE, 2 STRIDE, ...)."""
    from odwrap.deploy import pipeline
    from odwrap.deploy.runtime import load_detector

    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(f"--threshold {threshold}: must be in [0, 1]")
    if max_images is not None and max_images < 1:
        raise InputError(f"--max-images {max_images}: must be at least 1")
    if stride < 1:
        raise InputError(f"--stride {stride}: must be at least 1 (every frame)")
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise InputError(f"--workers {workers}: must be at least 1")
    model, output = Path(model), Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"{output}: is a file; --output names a folder")
    given = read_labels(labels) if labels else None  # before the model loads
    if format is not None:
        _check_format(format, images, output, restart)
    source = "given" if threshold is not None else None
    if threshold is None:
        threshold, source = model_threshold(model)
    # an argument naming nothing, or a file that is no video, fails before the model loads
    total, videos = sources.count(images, stride)
    exact = not videos  # a video's frame count is its container's word
    if stride != 1 and not videos:
        raise InputError(f"--stride {stride}: keeps a video's frames, and no video is among "
                         "the images given")
    if max_images is not None:
        total = max_images if total is None else min(total, max_images)
    if exact and not total:
        raise InputError(f"no images in {', '.join(str(image) for image in images)}")
    detector = load_detector(model, runtime=runtime, threads=threads)
    names = given if given is not None else model_labels(detector, model)
    wanted = _class_ids(classes, names) if classes else None
    run = {"model": str(model.resolve()), "threshold": threshold, "runtime": detector.runtime,
           **({"classes": sorted(wanted)} if wanted else {}),
           **({"format": format} if format else {}),
           **({"stride": stride} if stride != 1 else {})}
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)
    resumed, count = _resume(output, run, restart)
    stream = resumed and sources.first_of(images, "stream")
    if stream:
        raise InputError(f"{output}: holds an interrupted run over the stream {stream}, which "
                         "cannot go on where it stopped; pass --restart")
    if exact and resumed > total:
        raise InputError(f"{output / IMAGES}{PART}: the interrupted run read {resumed} images, "
                         f"more than the {total} given now; pass --restart")
    atomic_write_text(output / RUN, json.dumps(run))
    result = PredictResult(runtime=detector.runtime, output=output, resumed=resumed,
                           detections=count, threshold=threshold, threshold_source=source)
    layout = model_keypoints(detector, model)
    predictor = pipeline.Predictor(detector, workers, threshold, wanted, names, annotate, layout)
    with open_own_file(output / (DETECTIONS + PART)) as lines, \
            open_own_file(output / (IMAGES + PART)) as log, \
            report.tracking("predict", total, "image", done=resumed) as progress:
        writer = pipeline.Writer(output, lines, log, result, names, layout)
        work = _work(sources.iterate(images, stride), max_images, output, resumed,
                     writer if annotate else None)
        try:
            with contextlib.closing(pipeline.ordered(predictor, work, workers)) as results:
                for item, outcome in results:  # closed on the way out: no thread left behind
                    writer.commit(item, outcome)
                    progress.advance()
        except BaseException:
            writer.discard()
            raise
        writer.close()
    if not result.images and not result.resumed:
        for name in (DETECTIONS + PART, IMAGES + PART, RUN):
            (output / name).unlink(missing_ok=True)
        if created:
            output.rmdir()
        if not result.skipped:
            raise InputError(f"no images in {', '.join(str(image) for image in images)}")
        raise InputError(f"no image could be read ({len(result.skipped)} tried): "
                         f"{result.skipped[0][1]}")
    result.output, result.labelling = _finish(output, jsonl, format, names, images, layout)
    return result


def _work(found, max_images, output: Path, resumed: int, redraw=None):
    """The pipeline's Work for each source FOUND (at most MAX_IMAGES), in order, with its
    annotated file's name; the first RESUMED are checked against the image log and skipped (a
    resumed video frame drawn again by REDRAW, a pipeline.Writer, when given)."""
    from odwrap.deploy.pipeline import Work

    log, lines = output / (IMAGES + PART), output / (DETECTIONS + PART)
    logged = _logged_names(log, resumed)
    annotated, clip, name = _AnnotatedNames(), None, None
    with open(lines, "rb") as detections:
        for position, source in enumerate(itertools.islice(found, max_images)):
            if source.frame is None:
                name = annotated(source.filename)
            elif source.clip != clip:
                clip, name = source.clip, annotated(source.filename, video.SUFFIX)
            if position >= resumed:
                yield Work(source, name)
                continue
            filename, frame, count = next(logged)
            if (filename, frame) != (source.filename, source.frame):
                was = f"{filename}" + (f" frame {frame}" if frame is not None else "")
                now = f"{source.filename}" + (f" frame {source.frame}"
                                              if source.frame is not None else "")
                raise InputError(
                    f"{log}: image {position + 1} was {was}, now {now}: the images changed "
                    "since the interrupted run; pass --restart")
            drawn = [detections.readline() for _ in range(count)]
            if redraw is not None and source.frame is not None:
                redraw.redraw(Work(source, name), drawn, lines)
