"""`trim`: drop detections under a score, and keep only the N highest-scoring over a whole file,
in passes over the file that hold two histograms, never the rows.

The N-th highest score is found exactly on the scores as float32 (whose bit patterns order as
the numbers do for scores of 0 and more): a first pass counts the scores by their high 16 bits,
a second, only when N falls inside one of those bins, counts that bin's scores by their low 16
bits. The last pass writes every row above the threshold score and, of the rows at exactly that
score, the first ones in file order until N are written. The output keeps the input's order.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from odwrap import report
from odwrap.errors import InputError
from odwrap.fsutil import (check_input_file, check_output_file, making,
                           refuse_input_as_output, remove_leftovers)
from odwrap.results import rows

BINS = 1 << 16


@dataclass
class TrimResult:
    output: Path
    rows_in: int = 0
    rows_out: int = 0
    threshold: float | None = None  # the lowest score kept by --max-total, when it cut


def _bits(score: float) -> int:
    return int(np.float32(score).view(np.uint32))


def _kept(path, name, min_score: float):
    for row in rows.read(path, name):
        if row.label is None or row.score >= min_score:
            yield row


def _histogram(path, name, min_score, high=None) -> np.ndarray:
    """Counts of the scores (at least MIN_SCORE) by high 16 bits, or, for scores whose high
    bits are HIGH, by low 16 bits."""
    counts = np.zeros(BINS, np.int64)
    batch: list[int] = []
    task = "trim: counting scores" if high is None else "trim: counting within one bin"
    with report.tracking(task, None, "row") as progress:
        for row in _kept(path, name, min_score):
            if row.label is None:
                continue
            bits = _bits(row.score)
            if high is None:
                batch.append(bits >> 16)
            elif bits >> 16 == high:
                batch.append(bits & 0xFFFF)
            if len(batch) >= 1 << 16:
                counts += np.bincount(batch, minlength=BINS)
                progress.advance(len(batch))
                batch.clear()
        if batch:
            counts += np.bincount(batch, minlength=BINS)
            progress.advance(len(batch))
    return counts


def _cut(counts: np.ndarray, keep: int) -> tuple[int, int]:
    """(the bin holding the KEEP-th highest score, how many of KEEP that bin takes)."""
    above = np.cumsum(counts[::-1])  # above[i]: scores in the top i + 1 bins
    top = int(np.searchsorted(above, keep))  # the first i with above[i] >= keep
    index = BINS - 1 - top
    before = int(above[top - 1]) if top else 0
    return index, keep - before


def trim(source, output, *, min_score, max_total, input_format, output_format) -> TrimResult:
    """SOURCE's rows with a score of at least MIN_SCORE, at most MAX_TOTAL of them (the
    highest), into OUTPUT."""
    source, output = check_input_file(source, "detection file"), Path(output)
    check_output_file(output, "trimmed file")
    refuse_input_as_output(output, [source], "trimmed file")
    if max_total is not None and max_total < 0:
        raise InputError(f"--max-total {max_total}: must be 0 or more")
    name = rows.format_of(source, input_format)
    target = rows.format_of(output, output_format)
    rows.check_convertible([name], target, [source, output])
    result = TrimResult(output=output)
    threshold_bits, ties = -1, None  # keep every score
    if max_total is not None:
        counts = _histogram(source, name, min_score)
        if counts.sum() > max_total:
            if max_total == 0:
                threshold_bits, ties = 1 << 32, 0
            else:
                high, within = _cut(counts, max_total)
                low, ties = _cut(_histogram(source, name, min_score, high), within)
                threshold_bits = (high << 16) | low
                result.threshold = float(np.uint32(threshold_bits).view(np.float32))
    with making(output, "trimmed file"):
        remove_leftovers(output)  # a killed trim's temporary file
        with rows.Writer(output, target) as writer, \
                report.tracking("trim: writing", None, "row") as progress:
            for row in rows.read(source, name):
                if row.label is not None:
                    result.rows_in += 1
                    if result.rows_in % 100_000 == 0:
                        progress.update(result.rows_in)
                    if row.score < min_score:
                        continue
                    bits = _bits(row.score)
                    if bits < threshold_bits:
                        continue
                    if bits == threshold_bits:
                        if not ties:
                            continue
                        ties -= 1
                writer.write(row)
            result.rows_out = writer.rows
    return result
