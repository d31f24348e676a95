"""Deterministic, stratified train/val/test splits and shard planning."""

import math
import random
import re
from collections import Counter

from odwrap.errors import InputError

SPLIT_NAME = re.compile(r"[a-z][a-z0-9_]*")
# A dataset's own split folders and data.yaml keys, by the names odwrap gives them (Roboflow
# writes valid/, Ultralytics val:); these come first, in this order, the others by name.
SOURCE_SPLITS = {"train": "train", "training": "train", "valid": "val", "val": "val",
                 "validation": "val", "test": "test", "testing": "test"}
SOURCE_ORDER = ("train", "val", "test")


def source_split(name: str, where: str) -> str:
    """The split that a dataset's own split NAME (a folder, a data.yaml key) becomes; an
    InputError naming WHERE when it is no usable name."""
    lowered = name.strip().lower()
    if lowered in SOURCE_SPLITS:
        return SOURCE_SPLITS[lowered]
    if not SPLIT_NAME.fullmatch(lowered) or len(lowered) > 64:
        raise InputError(f"{where}: split '{name}' is not a name of lower-case letters, digits "
                         "and _ (train, val, test...)")
    return lowered


def source_fractions(text: str | None, samples) -> dict[str, float] | None:
    """None when the dataset's own splits are kept (it has them and no --split TEXT is
    given), else the fractions of parse_split(TEXT)."""
    if text is None and any(sample.split for sample in samples):
        unsplit = next((s for s in samples if not s.split), None)
        if unsplit is not None:
            raise InputError(f"{unsplit.source}: {unsplit.image} is in none of the dataset's "
                             "splits (give --split to split the whole dataset anew)")
        return None
    return parse_split(text)


def parse_split(text: str | None) -> dict[str, float]:
    """'train=0.8,val=0.1,test=0.1' -> {'train': 0.8, ...}; fractions must sum to 1."""
    if not text:
        return {"data": 1.0}
    fractions = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not SPLIT_NAME.fullmatch(name):
            raise InputError(f"--split {text}: expected NAME=FRACTION,... with lower-case names, "
                             "e.g. train=0.8,val=0.1,test=0.1")
        if name in fractions:
            raise InputError(f"--split {text}: '{name}' is given twice")
        try:
            fraction = float(value)
        except ValueError:
            raise InputError(f"--split {text}: '{value}' is not a number") from None
        if not 0.0 < fraction <= 1.0:
            raise InputError(f"--split {text}: {name}={value} must be in (0, 1]")
        fractions[name] = fraction
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise InputError(f"--split {text}: the fractions add up to {sum(fractions.values()):g}, "
                         "not 1")
    return fractions


def _quotas(count: int, fractions: dict[str, float]) -> dict[str, int]:
    """Images per split, by the largest remainder, so they add up to `count`."""
    exact = {name: count * fraction for name, fraction in fractions.items()}
    quotas = {name: math.floor(value) for name, value in exact.items()}
    left = count - sum(quotas.values())
    for name in sorted(exact, key=lambda n: (quotas[n] - exact[n], list(fractions).index(n))):
        if left <= 0:
            break
        quotas[name] += 1
        left -= 1
    return quotas


def split_sizes(samples, fractions: dict[str, float] | None) -> dict[str, int]:
    """Images per split that assign_splits gives SAMPLES, without assigning them."""
    if fractions is None:
        return _by_source(Counter(sample.split for sample in samples))
    count = len(samples)
    return {name: count for name in fractions} if len(fractions) == 1 else \
        _quotas(count, fractions)


def _by_source(splits: dict) -> dict:
    """SPLITS ({a dataset's own split: anything}) in their order: train, val, test, others."""
    rank = {name: index for index, name in enumerate(SOURCE_ORDER)}
    return {name: splits[name] for name in sorted(
        splits, key=lambda name: (rank.get(name, len(rank)), name))}


def split_images(entries, fractions: dict[str, float] | None,
                 seed: int) -> dict[str, list[str]]:
    """ENTRIES, (image, its class names, the dataset's own split) with unique images, split
    with a seed; each class reaches every split where it has images enough. FRACTIONS None:
    each image stays in its own split. Per split, its images in the shuffled order. Needs every
    entry at once: a Beam pipeline gathers them first."""
    order = sorted(entries, key=lambda entry: entry[0])
    random.Random(seed).shuffle(order)
    if fractions is None:
        kept: dict[str, list] = {}
        for image, _, split in order:
            kept.setdefault(split, []).append(image)
        return _by_source(kept)
    order = [(image, classes) for image, classes, _ in order]
    names = list(fractions)
    if len(names) == 1:
        return {names[0]: [image for image, _ in order]}
    quotas = _quotas(len(order), fractions)
    assigned: dict[int, str] = {}
    result: dict[str, list] = {name: [] for name in names}

    def put(index, name):
        assigned[index] = name
        result[name].append(index)

    classes_of = [set(classes) for _, classes in order]
    frequency = Counter(name for classes in classes_of for name in classes)
    for cls in sorted(frequency, key=lambda c: (frequency[c], c)):  # rarest first
        holders = [i for i, classes in enumerate(classes_of) if cls in classes]
        for name in names:
            if any(assigned.get(i) == name for i in holders):
                continue
            free = [i for i in holders if i not in assigned]
            if not free or len(result[name]) >= quotas[name]:
                continue
            put(free[0], name)
    for index in range(len(order)):
        if index in assigned:
            continue
        name = max(names, key=lambda n: (quotas[n] - len(result[n]), -names.index(n)))
        put(index, name)
    # Keep each split in the shuffled order, whatever order the images were assigned in.
    return {name: [order[i][0] for i in sorted(result[name])] for name in names}


def assign_splits(samples, fractions: dict[str, float] | None,
                  seed: int) -> dict[str, list]:
    """split_images of samples (each image once): the samples of each split, in order."""
    by_image = {sample.image: sample for sample in samples}
    entries = [(sample.image, {obj.name for obj in sample.objects}, sample.split)
               for sample in samples]
    return {name: [by_image[image] for image in images]
            for name, images in split_images(entries, fractions, seed).items()}


def plan_shards(count: int, shards: int | None, per_shard: int = 500) -> list[range]:
    """Contiguous index ranges, one per shard; independent of the number of workers."""
    total = shards or max(1, math.ceil(count / per_shard))
    total = max(1, min(total, count)) if count else 1
    bounds = [round(count * k / total) for k in range(total + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(total)]
