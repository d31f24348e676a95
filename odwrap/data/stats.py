"""`odwrap stats`: what a set of TFRecords holds, and how big its boxes are at the model's input."""

import io
import math
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from odwrap.errors import InputError
from odwrap.fsutil import atomic_write_bytes, bounded_glob
from odwrap.odapi.tfexample import decode_example, read_records

# sqrt(box area) in input pixels. The smallest FPN anchors (level 3: stride 8 x anchor_scale 4)
# are 32 px; a box under 32 * sqrt(0.5) px cannot overlap one at the matcher's IoU of 0.5.
SMALLEST_ANCHOR = 32
UNMATCHABLE = SMALLEST_ANCHOR * 0.5 ** 0.5
SIZE_BINS = ((0, 16, "tiny (<16 px)"), (16, 32, "small (16-32 px)"),
             (32, 96, "medium (32-96 px)"), (96, math.inf, "large (>=96 px)"))
SMALL_WARNING_FRACTION = 0.1


@dataclass
class Stats:
    files: list[str]
    input_size: tuple[int, int]
    images: int = 0
    boxes: int = 0
    empty_images: int = 0
    per_class: Counter = field(default_factory=Counter)
    sizes: list[float] = field(default_factory=list)  # sqrt(area) at the input size
    keypoints: int = 0  # keypoints per object (image/object/keypoint/*; 0: records have none)
    labeled_keypoints: int = 0  # visibility 1 or 2
    visible_keypoints: int = 0  # visibility 2
    histogram: Path | None = None  # the PNG written, when one was asked for

    def bins(self) -> dict[str, int]:
        return {label: sum(low <= size < high for size in self.sizes)
                for low, high, label in SIZE_BINS}

    def warnings(self) -> list[str]:
        if not self.sizes:
            return []
        under = sum(size < UNMATCHABLE for size in self.sizes) / len(self.sizes)
        if under < SMALL_WARNING_FRACTION:
            return []
        height, width = self.input_size
        return [f"{under:.0%} of boxes are under {UNMATCHABLE:.0f} px at {height}x{width}, too "
                f"small to match the smallest FPN anchors ({SMALLEST_ANCHOR} px) at IoU 0.5: use "
                "a larger input size or tile the images"]


def expand(patterns) -> list[str]:
    files = []
    for pattern in patterns:
        matches = bounded_glob(pattern)
        if not matches:
            raise InputError(f"{pattern}: no such TFRecord file")
        folders = [match for match in matches if Path(match).is_dir()]
        if folders:
            raise InputError(f"{folders[0]}: a folder, not a TFRecord file; give files or a "
                             f"pattern such as '{Path(folders[0]) / '*.tfrecord'}'")
        files.extend(matches)
    return files


def collect(patterns, *, input_size) -> Stats:
    files = expand(patterns)
    stats = Stats(files=files, input_size=tuple(input_size))
    height, width = stats.input_size
    for path in files:
        try:
            for record in read_records(path):
                example = decode_example(record)
                stats.images += 1
                labels = example.get("image/object/class/text", [])
                stats.empty_images += not labels
                stats.boxes += len(labels)
                stats.per_class.update(label.decode("utf-8", "replace") for label in labels)
                _count_keypoints(stats, example, len(labels), path)
                corners = zip(example.get("image/object/bbox/xmin", []),
                              example.get("image/object/bbox/ymin", []),
                              example.get("image/object/bbox/xmax", []),
                              example.get("image/object/bbox/ymax", []))
                for xmin, ymin, xmax, ymax in corners:
                    stats.sizes.append(math.sqrt(max(xmax - xmin, 0) * width *
                                                 max(ymax - ymin, 0) * height))
        except (ValueError, IndexError, struct.error) as exc:  # a record that is no Example
            raise InputError(f"{path}: a record is not a tf.train.Example ({exc})") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return stats


def _count_keypoints(stats: Stats, example: dict, boxes: int, path) -> None:
    """Add a record's labeled and visible keypoints; a record whose objects carry another
    number of keypoints than the others is an InputError (the decoder takes one number)."""
    visibility = example.get("image/object/keypoint/visibility", [])
    if not boxes or not visibility:
        return
    if len(visibility) % boxes or (stats.keypoints and len(visibility) // boxes != stats.keypoints):
        raise InputError(f"{path}: a record has {len(visibility)} keypoint visibilities for "
                         f"{boxes} box(es), not {stats.keypoints or 'a whole number'} a box")
    stats.keypoints = len(visibility) // boxes
    stats.labeled_keypoints += sum(1 for value in visibility if value)
    stats.visible_keypoints += sum(1 for value in visibility if value == 2)


def format_stats(stats: Stats) -> str:
    lines = [f"files        {len(stats.files)}", f"images       {stats.images}",
             f"boxes        {stats.boxes}", f"no boxes     {stats.empty_images} image(s)"]
    for name, count in stats.per_class.most_common():
        lines.append(f"  {name:24} {count}")
    if stats.keypoints:
        lines.append(f"keypoints    {stats.keypoints} an object; {stats.labeled_keypoints} "
                     f"labeled, {stats.visible_keypoints} of them visible")
    height, width = stats.input_size
    lines.append(f"box sizes at {height}x{width} (sqrt of area):")
    for label, count in stats.bins().items():
        share = count / len(stats.sizes) if stats.sizes else 0.0
        lines.append(f"  {label:20} {count:8} {share:6.1%}")
    lines.extend(f"warning: {warning}" for warning in stats.warnings())
    return "\n".join(lines)


def save_histogram(stats: Stats, path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (sizes, classes) = plt.subplots(1, 2, figsize=(11, 4))
    sizes.hist(stats.sizes, bins=40, color="#4477aa")
    sizes.axvline(UNMATCHABLE, color="#cc3311", linestyle="--",
                  label=f"below: no FPN anchor at IoU 0.5 ({UNMATCHABLE:.0f} px)")
    height, width = stats.input_size
    sizes.set(title=f"box size at {height}x{width}", xlabel="sqrt(area) in input pixels",
              ylabel="boxes")
    sizes.legend()
    names = [name for name, _ in stats.per_class.most_common(30)]
    classes.barh(names[::-1], [stats.per_class[name] for name in names[::-1]], color="#228833")
    classes.set(title="boxes per class", xlabel="boxes")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return atomic_write_bytes(path, buffer.getvalue())
