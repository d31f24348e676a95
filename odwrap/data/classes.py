"""Class filters (keep, drop, rename) and the label map a dataset's classes make."""

from collections import Counter

from odwrap.errors import InputError
from odwrap.odapi import labelmap


def parse_rename(items) -> dict[str, str]:
    renames = {}
    for item in items or ():
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InputError(f"--rename {item}: expected OLD=NEW")
        renames[old.strip()] = new.strip()
    return renames


def apply_filters(samples, problems, keep=None, drop=None, rename=None, known=None):
    """Rename, then keep/drop classes, then drop those not in `known` (a label map's names)."""
    rename, keep, drop = rename or {}, set(keep or ()), set(drop or ())
    for sample in samples:
        kept = []
        for obj in sample.objects:
            obj.name = rename.get(obj.name, obj.name)
            if (keep and obj.name not in keep) or obj.name in drop:
                problems.add("filtered_class", f"{sample.source}: {obj.name}")
            elif known is not None and obj.name not in known:
                problems.add("unknown_class", f"{sample.source}: {obj.name}")
            else:
                kept.append(obj)
        sample.objects = kept


def class_counts(samples) -> Counter:
    return Counter(obj.name for sample in samples for obj in sample.objects)


def build_label_map(samples, order: str = "name"):
    """A label map of the classes the samples use, ids 1..N by name or by frequency."""
    counts = class_counts(samples)
    if not counts:
        raise InputError("the dataset has no box left to make a label map from")
    if order == "frequency":
        names = sorted(counts, key=lambda name: (-counts[name], name))
    else:
        names = sorted(counts)
    return labelmap.from_classes(names)


def frequency_groups(counts, groups: int | None = None, ranks=()) -> list[list[str]]:
    """The classes of COUNTS by box count (most first, ties by name) cut into GROUPS groups of
    nearly equal size, or after each frequency rank of RANKS (e.g. 100, 500: classes 1-100,
    101-500, 501-last)."""
    names = sorted(counts, key=lambda name: (-counts[name], name))
    if groups is not None:
        if not 1 <= groups <= len(names):
            raise InputError(f"--groups {groups}: the dataset has {len(names)} classes")
        cuts = [round(len(names) * index / groups) for index in range(1, groups)]
    else:
        cuts = list(ranks)
        if cuts != sorted(set(cuts)) or not all(0 < cut < len(names) for cut in cuts):
            raise InputError(f"--group-ranks {','.join(map(str, ranks))}: increasing ranks "
                             f"between 1 and {len(names) - 1} (the dataset has {len(names)} "
                             "classes)")
    bounds = [0, *cuts, len(names)]
    return [names[start:end] for start, end in zip(bounds, bounds[1:])]


def group_path(output, index: int, total: int):
    """OUTPUT's name for group INDEX (from 1) of TOTAL: labels.pbtxt -> labels-2-of-5.pbtxt."""
    from pathlib import Path

    output = Path(output)
    return output.with_name(f"{output.stem}-{index}-of-{total}{output.suffix}")
