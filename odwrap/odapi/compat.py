"""Fixes for the known breakages of the pinned TensorFlow 2.15 / OD API stack.

Every odwrap path that runs `object_detection` code imports it through `load()`, which applies
every fix first. Each fix is idempotent and applies only where the breakage is present, so an
upstream that fixes itself turns the fix into "not needed" instead of a second patch.
`ODWRAP_COMPAT_DISABLE=name,name` leaves fixes off; the tests use it to prove each one is needed.
"""

import importlib
import os
from dataclasses import dataclass
from typing import Callable

DISABLE_ENV = "ODWRAP_COMPAT_DISABLE"


@dataclass(frozen=True)
class Fix:
    name: str
    breakage: str
    needed: Callable[[], bool]
    patch: Callable[[], None]


def _tf_control_flow_ops():
    from tensorflow.python.ops import control_flow_ops

    return control_flow_ops


def _tf_slim_needed() -> bool:
    ops = _tf_control_flow_ops()
    return not (hasattr(ops, "case") and hasattr(ops, "cond"))


def _tf_slim_patch() -> None:
    from tensorflow.python.ops import cond, control_flow_case

    ops = _tf_control_flow_ops()
    if not hasattr(ops, "case"):
        ops.case = control_flow_case.case
    if not hasattr(ops, "cond"):
        ops.cond = cond.cond


def _font_classes():
    from PIL import ImageFont

    return [ImageFont.ImageFont, ImageFont.FreeTypeFont, ImageFont.TransposedFont]


def _getsize(font, text, *args, **kwargs):
    # Pillow < 10 measured from the origin: (right, bottom) of the text's bounding box.
    _, _, right, bottom = font.getbbox(text, *args, **kwargs)
    return right, bottom


def _pillow_needed() -> bool:
    return any(not hasattr(cls, "getsize") for cls in _font_classes())


def _pillow_patch() -> None:
    for cls in _font_classes():
        if not hasattr(cls, "getsize"):
            cls.getsize = _getsize


_NUMPY_ALIASES = {"float": float, "int": int, "bool": bool, "object": object, "str": str,
                  "complex": complex}


def _numpy_needed() -> bool:
    import numpy

    return any(name not in vars(numpy) for name in _NUMPY_ALIASES)


def _numpy_patch() -> None:
    import numpy

    for name, builtin in _NUMPY_ALIASES.items():
        if name not in vars(numpy):
            setattr(numpy, name, builtin)


FIXES = (
    Fix(
        "tf_slim_control_flow",
        # tensorflow/models #11113: tf-slim's TfExampleDecoder fails on the first training step.
        "tf-slim 1.1.0 calls control_flow_ops.case/cond, which TF 2.15 moved to control_flow_case "
        "and cond",
        _tf_slim_needed,
        _tf_slim_patch,
    ),
    Fix(
        "pillow_getsize",
        # Evaluation draws its image summaries with visualization_utils, which calls getsize.
        "Pillow >= 10 removed FreeTypeFont.getsize, which the OD API's visualization_utils calls",
        _pillow_needed,
        _pillow_patch,
    ),
    Fix(
        "numpy_aliases",
        # utils/metrics.py (Pascal VOC metrics), coco_evaluation and lvis still use them.
        "NumPy >= 1.24 removed np.float, np.int and np.bool, which OD API metrics and lvis use",
        _numpy_needed,
        _numpy_patch,
    ),
)

_FIX_NAMES = {fix.name for fix in FIXES}
# What this process patched; process-wide like the patches themselves.
_applied: set[str] = set()


def disabled() -> set[str]:
    """The fix names that ODWRAP_COMPAT_DISABLE leaves off ('all' for every one)."""
    names = {part.strip() for part in os.environ.get(DISABLE_ENV, "").split(",") if part.strip()}
    return set(_FIX_NAMES) if "all" in names else names


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter off the terminal unless the user set the level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def apply() -> dict[str, str]:
    """Apply every needed fix; return each fix's state: applied, not needed or disabled."""
    quiet_tensorflow()
    off = disabled()
    states = {}
    for fix in FIXES:
        if fix.name in off:
            states[fix.name] = "disabled"
        elif fix.needed():
            fix.patch()
            states[fix.name] = "applied"
        else:
            states[fix.name] = "already applied" if fix.name in _applied else "not needed"
        if states[fix.name] == "applied":
            _applied.add(fix.name)
    return states


def load(module: str):
    """Import an `object_detection` module with every fix applied first."""
    apply()
    return importlib.import_module(module)
