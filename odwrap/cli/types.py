"""argparse types: a command-line value checked, or one line naming the value and what it may
be."""

import argparse
import math
from pathlib import Path

from odwrap.deploy.export import QUANTIZE, quantize_modes
from odwrap.errors import InputError

MAX_SIDE = 4096  # as a spec's model.image_size


def int_in(low: int, high: int):
    """An argparse type: an int in LOW..HIGH, else one line naming the value and the range."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer in {low}..{high}") \
                from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high}")
        return value
    return parse


def quantize_list(text: str) -> tuple:
    """An argparse type: quantize modes, one, comma-separated, or "all" (kept as it is: each
    format has its own all, odwrap.deploy.export.format_modes)."""
    try:
        modes = quantize_modes(text)
        return "all" if text.strip() == "all" else modes
    except InputError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not one of {', '.join(QUANTIZE)}, a comma-separated list of them, "
            "or all") from None


def number_in(low: float, high: float, low_open: bool = False):
    """An argparse type: a finite number in [LOW, HIGH] (or (LOW, HIGH])."""
    bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number in {bounds}") from None
        inside = low < value <= high if low_open else low <= value <= high
        if not inside or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not in {bounds}")
        return value
    return parse


def input_size(text):
    """An argparse type: SIZE or HEIGHTxWIDTH, each side in 1..MAX_SIDE."""
    parts = text.lower().split("x")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not SIZE or HEIGHTxWIDTH") from None
    if len(values) not in (1, 2) or not all(1 <= value <= MAX_SIDE for value in values):
        raise argparse.ArgumentTypeError(f"'{text}' is not SIZE or HEIGHTxWIDTH, each side in "
                                         f"1..{MAX_SIDE}")
    return (values[0], values[-1])


def weight_list(text: str) -> list[float]:
    """An argparse type: comma-separated positive finite numbers."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}' is not comma-separated positive numbers")
    return values


def rank_list(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated positive integers."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not comma-separated ranks (1, 2, ...)")
    return values


def path_or_url(value: str):
    """A local path, or a URL (gs://bucket/...) kept as it is for convert --runner beam."""
    from odwrap.data.remote import is_url

    return value if is_url(value) else Path(value)


def xla_setting(text: str) -> str | bool:
    """train.xla's values on the command line: auto, true or false."""
    values = {"auto": "auto", "true": True, "false": False}
    if text.lower() not in values:
        raise argparse.ArgumentTypeError(f"'{text}': one of auto, true, false")
    return values[text.lower()]
