"""`merge`: the detections of several models, image by image and class by class, fused with
Soft-NMS or weighted boxes fusion (odwrap.results.fusion), or joined as they are (class-group
files of one image set).

Files of hundreds of millions of rows do not fit in memory and need not be sorted: a first pass
spreads the rows over partition files on disk by a hash of the image (in a temporary folder
beside the output, removed at the end), each small enough to group in memory; a second pass
groups, fuses and writes one partition at a time. The output lists images partition by
partition, sorted within each, an image's rows by class and then by score.
"""

import json
import math
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odwrap import report
from odwrap.errors import InputError
from odwrap.results import fusion, rows
from odwrap.results.rows import Row

PARTITION_BYTES = 16 * 1024 * 1024  # of input per partition: a partition's rows fit in memory
MAX_PARTITIONS = 512  # open files at once
METHODS = ("soft-nms", "wbf", "join")
DECAYS = ("linear", "gaussian")


@dataclass
class MergeResult:
    output: Path
    method: str
    images: int = 0
    rows_in: int = 0
    rows_out: int = 0


def _partitions(inputs) -> int:
    size = sum(Path(path).stat().st_size for path in inputs)
    return max(1, min(MAX_PARTITIONS, math.ceil(size / PARTITION_BYTES)))


def _spread(inputs, formats, folder: Path, count: int) -> int:
    """Every row of INPUTS into FOLDER/N.jsonl by its image's hash; the rows read."""
    handles = [open(folder / f"{index}.jsonl", "w", encoding="utf-8") for index in range(count)]
    total = 0
    try:
        with report.tracking("merge: partitioning", None, "row") as progress:
            for model, (path, name) in enumerate(zip(inputs, formats)):
                for row in rows.read(path, name):
                    key = zlib.crc32(str(row.image).encode("utf-8")) % count
                    handles[key].write(json.dumps([row.image, row.label, row.score,
                                                   list(row.box), model, row.extra]) + "\n")
                    if row.label is not None:
                        total += 1
                        if total % 100_000 == 0:
                            progress.update(total)
            progress.update(total)
    finally:
        for handle in handles:
            handle.close()
    return total


def _fuse(found: list, options: dict, models: int) -> list[Row]:
    """The rows of one image and class after the method of OPTIONS."""
    if options["method"] == "join":
        return sorted(found, key=lambda row: -row.score)
    boxes = np.array([row.box for row in found], np.float64)
    scores = fusion.weighted_scores(np.array([row.score for row in found]),
                                    np.array([row.extra_model for row in found]),
                                    options["weights"])
    image, label = found[0].image, found[0].label
    if options["method"] == "wbf":
        fused, fused_scores = fusion.weighted_boxes_fusion(boxes, scores, models, options["iou"])
        return [Row(image, label, float(score), tuple(float(v) for v in box))
                for box, score in zip(fused, fused_scores)]
    kept, decayed = fusion.soft_nms(boxes, scores, options["decay"], options["iou"],
                                    options["sigma"], options["floor"])
    return [Row(image, label, float(score), found[index].box, found[index].extra)
            for index, score in zip(kept, decayed)]


class _Found(Row):
    """A row read back from a partition, with the index of its model."""

    __slots__ = ("extra_model",)


def _groups(partition: Path):
    """{image key: (image as written, {label key: [rows]})} of one partition."""
    images: dict = {}
    with open(partition, encoding="utf-8") as handle:
        for line in handle:
            image, label, score, box, model, extra = json.loads(line)
            _, labels = images.setdefault(str(image), (image, {}))
            if label is None:
                continue
            row = _Found(image, label, score, tuple(box), extra)
            row.extra_model = model
            labels.setdefault(str(label), []).append(row)
    return images


def merge(output, inputs, *, method="soft-nms", decay="linear", iou=None, sigma=0.5,
          floor=0.001, weights=None, input_format=None, output_format=None) -> MergeResult:
    """Merge INPUTS into OUTPUT (formats from the suffixes unless named)."""
    inputs = [Path(path) for path in inputs]
    if method not in METHODS or decay not in DECAYS:
        raise InputError(f"--method {method} --decay {decay}: methods are "
                         f"{', '.join(METHODS)}; decays {', '.join(DECAYS)}")
    if weights is None:
        weights = [1.0] * len(inputs)
    if len(weights) != len(inputs) or min(weights) <= 0 or not all(map(math.isfinite, weights)):
        raise InputError(f"--weights {','.join(map(str, weights))}: one positive weight per "
                         f"input ({len(inputs)})")
    if not 0.0 <= floor <= 1.0 or sigma <= 0:
        raise InputError(f"--floor {floor} --sigma {sigma}: the floor is in [0, 1], sigma > 0")
    formats = [rows.format_of(path, input_format) for path in inputs]
    target = rows.format_of(output, output_format)
    rows.check_convertible(formats, target, [*inputs, output])
    for path in inputs:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    options = {"method": method, "decay": decay, "sigma": sigma, "floor": floor,
               "weights": weights,
               "iou": iou if iou is not None else (0.55 if method == "wbf" else 0.5)}
    result = MergeResult(output=Path(output), method=method)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{output.name}.merge.", dir=output.parent))
    try:
        count = _partitions(inputs)
        result.rows_in = _spread(inputs, formats, folder, count)
        with rows.Writer(output, target) as writer, \
                report.tracking("merge", count, "partition") as progress:
            for index in range(count):
                images = _groups(folder / f"{index}.jsonl")
                for key in sorted(images):
                    image, labels = images[key]
                    writer.write(Row(image, None, 0.0, ()))
                    for label in sorted(labels):
                        for row in _fuse(labels[label], options, len(inputs)):
                            writer.write(row)
                result.images += len(images)
                (folder / f"{index}.jsonl").unlink()
                progress.advance()
            result.rows_out = writer.rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result
