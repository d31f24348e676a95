"""How `predict` runs over its images with --workers N: N threads each take the next image,
read and decode it, run it through a detector of their own, make its detection lines and draw
its annotated image; the calling thread hands the images out in order and writes the results
in the same order (detection ids, the image log, annotated files), so that the files are those
of one thread, byte for byte but for the measured milliseconds.

Threads, not processes: Pillow's decoders and PNG encoder, OpenCV, numpy and every runtime's
inference release the GIL, and an image moves between stages without being copied. Each
thread has its own detector (`replica()`): a TFLite interpreter or an OpenVINO infer request
serves one thread at a time, and on a small model two interpreters of one thread each infer
more images per second than one of two threads (docs/export.md). Memory is bounded: at most
WINDOW_PER_WORKER images per worker are read ahead of the writer, whatever the number of
images; a video is read frame by frame by the calling thread (it decodes in order).
"""

import json
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from odwrap.deploy.sources import Source
from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes

WINDOW_PER_WORKER = 2  # images handed out and not yet written, per worker


def ordered(function: Callable, items: Iterable, workers: int) -> Iterator[tuple]:
    """(item, FUNCTION(item)) for each of ITEMS, in their order, FUNCTION running on WORKERS
    threads (in this one when WORKERS is 1) with at most WINDOW_PER_WORKER * WORKERS items
    taken and not yet yielded. An exception of FUNCTION is raised at its item's turn; one of
    ITEMS after the items before it are yielded, as one thread would; the items handed out
    after it are dropped (those running finish first: no thread is left behind)."""
    if workers == 1:
        for item in items:
            yield item, function(item)
        return
    window = WINDOW_PER_WORKER * workers
    pending = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="odwrap-predict") as pool:
        try:
            iterator = iter(items)
            while True:
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                except Exception:  # a bad TFRecord, a video that stops opening: after the rest
                    while pending:
                        done, future = pending.popleft()
                        yield done, future.result()
                    raise
                if len(pending) >= window:
                    done, future = pending.popleft()
                    yield done, future.result()
                pending.append((item, pool.submit(function, item)))
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()


@dataclass
class Work:
    """One image to predict: its source and the name of its annotated file (a video's frame:
    its video's)."""

    source: Source
    annotated: str


@dataclass
class Outcome:
    """What a worker made of one image: why it was skipped, or its size, detection lines (ids
    from 0: the writer numbers them), inference time and annotated image (PNG bytes; a video
    frame's RGB pixels)."""

    skipped: str | None = None
    height: int = 0
    width: int = 0
    lines: list = field(default_factory=list)
    milliseconds: float = 0.0
    masks: bool = False
    drawn: object = None


def detection_lines(source, image, found, threshold, first_id, annotator=None,
                    wanted=None, layout=None) -> list[dict]:
    """The result dicts of one image's detections at or above THRESHOLD (of the class ids in
    WANTED, when given), ids from FIRST_ID; masks pasted at the image's size (and blended into
    ANNOTATOR) one at a time; a keypoint model's detection of a class that LAYOUT ({class id:
    keypoint_layout.ClassPoints}) gives points gets COCO's "keypoints": [x, y, score, ...] in
    pixels, its class's points in order. A video frame's carry its "frame" and "time"."""
    from odwrap.deploy import predicted_masks as mask_ops

    height, width = image.shape[:2]
    lines = []
    for index, (box, label, score) in enumerate(zip(found.boxes, found.classes, found.scores)):
        if score < threshold or (wanted is not None and int(label) not in wanted):
            continue
        ymin, xmin, ymax, xmax = (float(v) for v in box)
        line = {**log_entry(source), "category_id": int(label),
                "bbox": [round(xmin * width, 2), round(ymin * height, 2),
                         round((xmax - xmin) * width, 2), round((ymax - ymin) * height, 2)],
                "score": round(float(score), 4)}
        points = (layout or {}).get(int(label))
        if found.keypoints is not None and points is not None:
            line["keypoints"] = keypoint_values(found, index, points, height, width)
        if found.masks is not None:
            pasted = mask_ops.paste(found.masks[index], box, height, width)
            line.update(segmentation=pasted.rle(), mask_mean_score=round(pasted.mean_score, 4),
                        mask_area_fraction=round(pasted.area_fraction, 4))
            if annotator is not None:
                annotator.add_mask(pasted.mask, int(label))
        line["id"] = first_id + len(lines)
        lines.append(line)
    return lines


def keypoint_values(found, index: int, points, height: int, width: int) -> list[float]:
    """COCO's [x, y, score, ...] in pixels of detection INDEX's points (a ClassPoints)."""
    values = []
    for point in points.keypoint_ids:
        y, x = (float(v) for v in found.keypoints[index][point])
        score = float(found.keypoint_scores[index][point]) \
            if found.keypoint_scores is not None else 1.0
        values += [round(x * width, 2), round(y * height, 2), round(score, 4)]
    return values


class Predictor:
    """The work of a worker on one image (callable from any number of threads): read it, infer
    it on a replica of DETECTOR that no other thread uses meanwhile (DETECTOR itself, in turn,
    when it makes no replicas: a detector of the `detect(image)` protocol alone), make its
    lines and draw."""

    def __init__(self, detector, workers: int, threshold: float, wanted, names: dict,
                 annotate: bool, layout=None):
        self.detectors = queue.SimpleQueue()  # a worker takes one, infers, puts it back
        self.detectors.put(detector)
        replica = getattr(detector, "replica", None)  # else one detector, one image at a time
        for _ in range(workers - 1 if replica else 0):
            self.detectors.put(replica())
        self.threshold, self.wanted, self.names, self.annotate = threshold, wanted, names, \
            annotate
        self.layout = layout or {}  # a keypoint model's points of each class

    def __call__(self, work: Work) -> Outcome:
        from odwrap.deploy.annotate import Annotator

        source = work.source
        try:
            image = source.read()
        except InputError as exc:  # corrupt, not an image, a decompression bomb: the rest run
            return Outcome(skipped=str(exc))
        detector = self.detectors.get()
        try:
            found = detector.detect(image)
        finally:
            self.detectors.put(detector)
        annotator = Annotator(image, self.layout) if self.annotate else None
        lines = detection_lines(source, image, found, self.threshold, 0, annotator,
                                self.wanted, self.layout)
        drawn = None
        if annotator is not None:
            drawn = annotator.pixels(lines, self.names) if source.frame is not None else \
                annotator.png(lines, self.names)
        return Outcome(height=image.shape[0], width=image.shape[1], lines=lines,
                       milliseconds=found.milliseconds, masks=found.masks is not None,
                       drawn=drawn)


def log_entry(source: Source) -> dict:
    """The first keys of an image's line in the image log (and of its detections' lines)."""
    entry = {"image_id": source.image_id, "filename": source.filename}
    if source.frame is not None:
        entry.update(frame=source.frame, time=source.time)
    return entry


class Writer:
    """Writes each image's results in the run's order: its annotated image (a PNG, or a frame
    of its video's annotated video), then its detection lines (ids numbered on from the
    run's count) and its line in the image log, so that a logged image has its files."""

    def __init__(self, output, lines, log, result, names: dict, layout=None):
        self.output, self.lines, self.log, self.result, self.names = output, lines, log, \
            result, names
        self.layout = layout or {}
        self.video = None  # the annotated video being written, and its clip
        self.clip = None

    def commit(self, work: Work, outcome: Outcome) -> None:
        source, result = work.source, self.result
        entry = log_entry(source)
        if outcome.skipped is not None:
            self._end_video(source)
            result.skipped.append((source.filename, outcome.skipped))
            self._log({**entry, "skipped": outcome.skipped})
            return
        if outcome.drawn is not None:
            self._draw(work, outcome.drawn)
        result.masks = outcome.masks
        for number, line in enumerate(outcome.lines):
            line["id"] = result.detections + 1 + number
        self.lines.write("".join(json.dumps(line) + "\n" for line in outcome.lines).encode())
        self.lines.flush()
        self._log({**entry, "width": outcome.width, "height": outcome.height,
                   "detections": len(outcome.lines),
                   "milliseconds": round(outcome.milliseconds, 2),
                   **({"annotated": work.annotated} if outcome.drawn is not None else {})})
        result.detections += len(outcome.lines)
        result.images += 1
        result.frames += source.frame is not None
        result.milliseconds.append(outcome.milliseconds)

    def redraw(self, work: Work, logged: list[bytes], where) -> None:
        """A resumed frame into its video's annotated video again, from its LOGGED detection
        lines (WHERE names their file in errors): the interrupted run's video is gone."""
        from odwrap.deploy import predicted_masks
        from odwrap.deploy.annotate import Annotator

        annotator = Annotator(work.source.read(), self.layout)
        try:
            lines = [json.loads(line) for line in logged]
            for line in lines:
                if "segmentation" in line:
                    annotator.add_mask(predicted_masks.decode(line["segmentation"]),
                                       int(line["category_id"]))
            drawn = annotator.pixels(lines, self.names)
        except (ValueError, KeyError, TypeError, IndexError, RecursionError):
            raise InputError(f"{where}: a line of frame {work.source.frame} of "
                             f"{work.source.filename} is not predict's; pass --restart") \
                from None
        self._draw(work, drawn)

    def _draw(self, work: Work, drawn) -> None:
        source = work.source
        if source.frame is None:
            self._end_video(source)
            atomic_write_bytes(self.output / work.annotated, drawn)
            return
        from odwrap.deploy.video import AnnotatedVideo

        if self.clip != source.clip:
            self.close()
            self.video, self.clip = AnnotatedVideo(self.output / work.annotated,
                                                   source.rate), source.clip
        self.video.write(drawn)

    def _end_video(self, source: Source) -> None:
        if source.clip != self.clip:
            self.close()

    def _log(self, entry: dict) -> None:
        self.log.write((json.dumps(entry) + "\n").encode())
        self.log.flush()

    def close(self) -> None:
        """The annotated video being written gets its name."""
        if self.video is not None:
            self.video.close()
        self.video = self.clip = None

    def discard(self) -> None:
        """A run that stops: the annotated video being written is removed (the run that
        resumes draws it again)."""
        if self.video is not None:
            self.video.discard()
        self.video = self.clip = None
