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
import os
import shutil
import tempfile
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odwrap import report
from odwrap.errors import InputError
from odwrap.fsutil import (check_input_file, check_output_file, making,
                           refuse_input_as_output, remove_leftovers)
from odwrap.results import fusion, rows
from odwrap.results.rows import Row

PARTITION_BYTES = 16 * 1024 * 1024  # of input per partition: a partition's rows fit in memory
MAX_PARTITIONS = 512  # open files at once
METHODS = ("soft-nms", "wbf", "join")
DECAYS = ("linear", "gaussian")
# The options each method (Soft-NMS: each decay) uses, with their defaults; another one given
# is refused, not ignored.
USES = {"soft-nms": {"decay": "linear", "floor": 0.001, "weights": None},
        "linear": {"iou": 0.5}, "gaussian": {"sigma": 0.5},
        "wbf": {"iou": 0.55, "weights": None}, "join": {}}
USED_BY = {"decay": "Soft-NMS", "floor": "Soft-NMS", "iou": "Soft-NMS's linear decay and wbf",
           "sigma": "Soft-NMS's gaussian decay", "weights": "Soft-NMS and wbf"}
MAX_GROUP = 20_000  # detections of one image and class that Soft-NMS or box fusion take


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
    total, ids = 0, rows.ImageIds()  # one type of image_id in all: "1" and 1 would group
    try:
        with report.tracking("merge: partitioning", None, "row") as progress:
            for model, (path, name) in enumerate(zip(inputs, formats)):
                for row in rows.read(path, name, ids):
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
    if len(found) > MAX_GROUP:
        raise InputError(f"image {found[0].image!r}, class {found[0].label!r}: "
                         f"{len(found):,} detections, over odwrap's limit of {MAX_GROUP:,} for "
                         "one image and class (Soft-NMS and box fusion compare every pair; "
                         "trim the inputs with odwrap trim --min-score first)")
    boxes = np.array([row.box for row in found], np.float64)
    scores = fusion.weighted_scores(np.array([row.score for row in found]),
                                    np.array([row.extra_model for row in found]),
                                    options["weights"])
    image, label = found[0].image, found[0].label
    if options["method"] == "wbf":
        fused, fused_scores = fusion.weighted_boxes_fusion(boxes, scores, models, options["iou"])
        return [Row(image, label, float(score), tuple(float(v) for v in box))
                for box, score in zip(fused, fused_scores)]
    by_decay = {name: options[name] for name in ("iou", "sigma") if name in options}
    kept, decayed = fusion.soft_nms(boxes, scores, options["decay"], floor=options["floor"],
                                    **by_decay)
    return [Row(image, label, float(score), found[index].box, found[index].extra)
            for index, score in zip(kept, decayed)]


class _Found(Row):
    """A row read back from a partition, with the index of its model."""

    __slots__ = ("extra_model",)


class _Partition:
    """One partition's rows as columns (about 60 bytes a row where Row objects take about 400):
    the index of each row's image and label among the partition's distinct ones, its score, box,
    model and extra. Groups are made one (image, label) at a time, in the order of `groups`."""

    def __init__(self, path: Path):
        self.images: dict = {}  # str(image) -> (index, image as written)
        self.labels: dict = {}  # str(label) -> (index, label as written)
        image_index, label_index, model_index = array("i"), array("i"), array("i")
        scores, boxes, self.extras = array("d"), array("d"), []
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                image, label, score, box, model, extra = json.loads(line)
                found = self.images.setdefault(str(image), (len(self.images), image))
                if label is None:
                    continue
                image_index.append(found[0])
                label_index.append(self.labels.setdefault(str(label),
                                                          (len(self.labels), label))[0])
                scores.append(score)
                boxes.extend(box)
                model_index.append(model)
                self.extras.append(extra)
        self.image_index = np.frombuffer(image_index, np.int32)
        self.label_index = np.frombuffer(label_index, np.int32)
        self.model_index = np.frombuffer(model_index, np.int32)
        self.scores = np.frombuffer(scores, np.float64)
        self.boxes = np.frombuffer(boxes, np.float64).reshape(-1, 4)

    def groups(self):
        """(image as written, [(label as written, [rows])]) per image, images sorted by key
        and labels by key; the rows of a group in the order they were read."""
        image_rank = _ranks(self.images)
        label_rank = _ranks(self.labels)
        by_image = image_rank[self.image_index]
        order = np.lexsort((label_rank[self.label_index], by_image))  # stable: read order kept
        starts = np.searchsorted(by_image[order], np.arange(len(self.images) + 1))
        images = sorted(self.images.items())
        labels = [label for _, (_, label) in sorted(self.labels.items(), key=lambda item:
                                                    item[1][0])]
        for rank, (_, (_, image)) in enumerate(images):
            rows_of = order[starts[rank]:starts[rank + 1]]
            found = []
            for index in rows_of:
                row = _Found(image, labels[self.label_index[index]], float(self.scores[index]),
                             tuple(self.boxes[index].tolist()), self.extras[index])
                row.extra_model = int(self.model_index[index])
                found.append(row)
            grouped = []
            for row in found:
                if grouped and grouped[-1][0] == row.label:
                    grouped[-1][1].append(row)
                else:
                    grouped.append((row.label, [row]))
            yield image, grouped


def _ranks(distinct: dict) -> np.ndarray:
    """rank[index] = the place of the key at INDEX among DISTINCT's keys sorted."""
    ranks = np.empty(len(distinct), np.int64)
    for rank, (_, (index, _)) in enumerate(sorted(distinct.items())):
        ranks[index] = rank
    return ranks


def _method_options(method: str, given: dict) -> dict:
    """The options METHOD uses: those GIVEN (None: not given) over USES's defaults; an
    InputError naming one given that METHOD does not use."""
    decay = given["decay"] or USES["soft-nms"]["decay"]
    if method not in METHODS or decay not in DECAYS:
        raise InputError(f"--method {method} --decay {decay}: methods are "
                         f"{', '.join(METHODS)}; decays {', '.join(DECAYS)}")
    uses = {**USES[method], **(USES[decay] if method == "soft-nms" else {})}
    this = {"join": "--join", "wbf": "--method wbf"}.get(method, f"--decay {decay} (Soft-NMS)")
    for name, value in given.items():
        if value is not None and name not in uses:
            raise InputError(f"--{name}: {this} does not use it (it is for {USED_BY[name]})")
    return {**uses, **{name: value for name, value in given.items() if value is not None},
            "method": method}


def merge(output, inputs, *, method, decay, iou, sigma, floor, weights, input_format,
          output_format) -> MergeResult:
    """Merge INPUTS into OUTPUT (formats from the suffixes unless named); an option of None is
    the method's default, one the method does not use is refused."""
    inputs = [Path(path) for path in inputs]
    options = _method_options(method, {"decay": decay, "iou": iou, "sigma": sigma,
                                       "floor": floor, "weights": weights})
    weights = options.get("weights")
    options["weights"] = weights = [1.0] * len(inputs) if weights is None else weights
    if len(weights) != len(inputs) or min(weights) <= 0 or not all(map(math.isfinite, weights)):
        raise InputError(f"--weights {','.join(map(str, weights))}: one positive weight per "
                         f"input ({len(inputs)})")
    if not 0.0 <= options.get("floor", 0.0) <= 1.0:
        raise InputError(f"--floor {floor}: must be in [0, 1]")
    if options.get("sigma", 1.0) <= 0:
        raise InputError(f"--sigma {sigma}: must be over 0")
    formats = [rows.format_of(path, input_format) for path in inputs]
    target = rows.format_of(output, output_format)
    rows.check_convertible(formats, target, [*inputs, output])
    for path in inputs:
        check_input_file(path, "detection file")
    check_output_file(output, "merged file")
    refuse_input_as_output(output, inputs, "merged file")
    result = MergeResult(output=Path(output), method=method)
    output = Path(output)
    with making(output, "merged file"):
        _merge_into(output, inputs, formats, target, options, result)
    return result


def _merge_into(output: Path, inputs, formats, target: str, options: dict,
                result: MergeResult) -> None:
    """The merge itself, in OUTPUT's folder: the inputs spread into partitions on disk, then
    each partition grouped, fused and written."""
    remove_leftovers(output, kinds=("tmp", "merge"))  # of a killed merge into OUTPUT
    folder = Path(tempfile.mkdtemp(prefix=f".{output.name}.merge.{os.getpid()}.",
                                   dir=output.parent))
    try:
        count = _partitions(inputs)
        result.rows_in = _spread(inputs, formats, folder, count)
        with rows.Writer(output, target) as writer, \
                report.tracking("merge", count, "partition") as progress:
            for index in range(count):
                partition = _Partition(folder / f"{index}.jsonl")
                for image, grouped in partition.groups():
                    writer.write(Row(image, None, 0.0, ()))
                    for _, found in grouped:
                        for row in _fuse(found, options, len(inputs)):
                            writer.write(row)
                result.images += len(partition.images)
                del partition
                (folder / f"{index}.jsonl").unlink()
                progress.advance()
            result.rows_out = writer.rows
    finally:
        shutil.rmtree(folder, ignore_errors=True)
