"""Fixes for the known breakages of the OD API on both stacks (TensorFlow 2.21 and 2.15).

Every odwrap path that runs `object_detection` code imports it through `load()`, which applies
every fix first; the protos (no TensorFlow) go through `apply(tensorflow=False)`. Each fix is
idempotent and applies only where the breakage is present, so an upstream that fixes itself
turns the fix into "not needed" instead of a second patch. `ODWRAP_COMPAT_DISABLE=name,name`
leaves fixes off; the tests use it to prove each one is needed.
"""

import functools
import importlib
import importlib.util
import os
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Callable

from odwrap.errors import StackError
from odwrap.odapi import legacy_protos, standins

DISABLE_ENV = "ODWRAP_COMPAT_DISABLE"
# The distributions that install the `tensorflow` module, in the order doctor looks for them.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow-cpu", "tensorflow", "tensorflow-gpu")


@dataclass(frozen=True)
class Fix:
    name: str
    breakage: str
    needed: Callable[[], bool]
    patch: Callable[[], None]
    tensorflow: bool = True  # whether checking or applying it imports TensorFlow


@functools.cache
def _installed(distribution: str) -> str | None:
    # Read once per process: apply() runs before every proto import.
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def installed_version(distributions) -> str | None:
    """The version of the first of DISTRIBUTIONS that is installed (package metadata only)."""
    return next((version for version in map(_installed, distributions) if version), None)


def major_minor(version: str) -> tuple[int, ...]:
    """'2.21.0' -> (2, 21); '2.15.0.post1' -> (2, 15)."""
    return tuple(int("".join(ch for ch in piece if ch.isdigit()) or 0)
                 for piece in version.split(".")[:2])


def tensorflow_version() -> tuple[int, ...] | None:
    """(major, minor) of the installed TensorFlow, read without importing it."""
    module = sys.modules.get("tensorflow")
    version = getattr(module, "__version__", None) or installed_version(TENSORFLOW_DISTRIBUTIONS)
    return major_minor(version) if version else None


LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"


def _legacy_keras_needed() -> bool:
    if os.environ.get(LEGACY_KERAS_ENV) in ("1", "true", "True"):
        return False
    version = tensorflow_version()
    return version is not None and version >= (2, 16)


def _legacy_keras_patch() -> None:
    # Read by tf.keras when it is first touched, so it also works after TensorFlow's import,
    # unless the process used tf.keras already: then it is Keras 3 for good.
    os.environ[LEGACY_KERAS_ENV] = "1"
    # tf.keras is a lazy loader until first used, then the Keras module it chose.
    keras = vars(sys.modules["tensorflow"]).get("keras") if "tensorflow" in sys.modules else None
    if isinstance(keras, types.ModuleType) and keras.__name__.startswith("keras."):
        raise StackError("this process used tf.keras as Keras 3 before odwrap could choose "
                         f"Keras 2, which the OD API needs; set {LEGACY_KERAS_ENV}=1 before "
                         "TensorFlow is imported")


def _estimator_needed() -> bool:
    import tensorflow.compat.v1 as v1

    try:
        return getattr(v1, "estimator", None) is None
    except ImportError:  # a lazy loader whose package is gone
        return True


def _estimator_patch() -> None:
    import tensorflow.compat.v1 as v1

    module = standins.estimator()
    sys.modules[module.__name__] = module
    v1.estimator = module


def _tensorflow_io_needed() -> bool:
    return "tensorflow_io" not in sys.modules and importlib.util.find_spec("tensorflow_io") is None


def _tensorflow_io_patch() -> None:
    sys.modules["tensorflow_io"] = standins.tensorflow_io()


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
                  "complex": complex, "NAN": float("nan")}


def _numpy_needed() -> bool:
    import numpy

    return any(name not in vars(numpy) for name in _NUMPY_ALIASES)


def _numpy_patch() -> None:
    import numpy

    for name, builtin in _NUMPY_ALIASES.items():
        if name not in vars(numpy):
            setattr(numpy, name, builtin)


RESNET_V1 = "object_detection.models.keras_models.resnet_v1"


def _keras_resnet_module():
    """The ResNet implementation module of the Keras 2 that tf.keras is (tf_keras on TF >= 2.16,
    keras 2.15 on 2.15), which has the private ResNet(stack_fn, ...) builder."""
    import tensorflow as tf

    return importlib.import_module(f"{tf.keras.__name__.split('.')[0]}.src.applications.resnet")


def _keras_resnet_needed() -> bool:
    return not hasattr(importlib.import_module(RESNET_V1).resnet, "ResNet")


def _keras_resnet_patch() -> None:
    importlib.import_module(RESNET_V1).resnet = _keras_resnet_module()


TARGET_UTILS = "object_detection.utils.target_assigner_utils"


def _keypoint_blackout_needed() -> bool:
    utils = importlib.import_module(TARGET_UTILS)
    return not getattr(utils.blackout_pixel_weights_by_box_regions, "odwrap_fix", False)


def _keypoint_blackout_patch() -> None:
    tf = importlib.import_module("tensorflow")
    utils = importlib.import_module(TARGET_UTILS)
    original = utils.blackout_pixel_weights_by_box_regions
    converted = tf.autograph.to_graph(original)  # its `if num_instances == 0` as a tf.cond

    def blackout(height, width, boxes, *args, **kwargs):
        static = tf.compat.dimension_value(boxes.shape[0]) is not None
        return (original if static else converted)(height, width, boxes, *args, **kwargs)

    blackout.odwrap_fix = True
    utils.blackout_pixel_weights_by_box_regions = blackout


FIXES = (
    Fix(
        "legacy_keras",
        # core/freezable_sync_batch_norm.py: keras.layers.experimental; tf-keras is Keras 2.
        "TF >= 2.16 makes Keras 3 tf.keras; the OD API needs Keras 2 (tf-keras), chosen by "
        "TF_USE_LEGACY_KERAS=1 before TensorFlow is imported",
        _legacy_keras_needed,
        _legacy_keras_patch,
        tensorflow=False,
    ),
    Fix(
        "protobuf_generated_code",
        # Every object_detection.protos import: "Descriptors cannot be created directly".
        "protobuf >= 4 refuses the OD API's old generated *_pb2 modules; each is rebuilt at "
        "import from the serialized descriptor it embeds",
        legacy_protos.needed,
        legacy_protos.install,
        tensorflow=False,
    ),
    Fix(
        "estimator_modekeys",
        # object_detection/inputs.py: from tensorflow.compat.v1 import estimator (ModeKeys only).
        "TF >= 2.16 has no tf.compat.v1.estimator, which object_detection/inputs.py imports for "
        "ModeKeys",
        _estimator_needed,
        _estimator_patch,
    ),
    Fix(
        "tensorflow_io_rgb_to_lab",
        # meta_architectures/deepmac_meta_arch.py imports it at the top; model_builder imports that.
        "tensorflow-io has no build for TF >= 2.17; DeepMAC imports it for rgb_to_lab, given "
        "here in plain TensorFlow",
        _tensorflow_io_needed,
        _tensorflow_io_patch,
        tensorflow=False,
    ),
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
        "NumPy >= 1.24 removed np.float, np.int and np.bool, and NumPy 2 np.NAN, which OD API "
        "metrics and lvis use",
        _numpy_needed,
        _numpy_patch,
    ),
    Fix(
        "keras_resnet_builder",
        # models/keras_models/resnet_v1.py: resnet_v1_18/34 (CenterNet ResNet18/34) call it.
        "the OD API builds ResNet18/34 with keras.applications.resnet.ResNet, which the public "
        "Keras modules no longer export (Keras 3 has none, 2.15 keeps it in keras.src); taken "
        "from the Keras 2 that tf.keras is",
        _keras_resnet_needed,
        _keras_resnet_patch,
    ),
    Fix(
        "center_net_keypoint_eval",
        # model_lib_v2.eager_eval_loop swallows the error and then fails on its evaluators: None.
        "evaluating a CenterNet keypoint model fails: eval unpads the ground truth, and the "
        "keypoint targets' blackout_pixel_weights_by_box_regions tests its number of boxes, "
        "then unknown, with a Python if that autograph leaves unconverted; called converted",
        _keypoint_blackout_needed,
        _keypoint_blackout_patch,
    ),
)

_FIX_NAMES = {fix.name for fix in FIXES}
# What this process patched; process-wide like the patches themselves.
_applied: set[str] = set()
_applying = False


def disabled() -> set[str]:
    """The fix names that ODWRAP_COMPAT_DISABLE leaves off ('all' for every one)."""
    names = {part.strip() for part in os.environ.get(DISABLE_ENV, "").split(",") if part.strip()}
    return set(_FIX_NAMES) if "all" in names else names


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up chatter off the terminal unless the user set the level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def apply(tensorflow: bool = True) -> dict[str, str]:
    """Apply every needed fix (only those that import no TensorFlow when TENSORFLOW is false);
    return each fix's state: applied, already applied, not needed or disabled."""
    global _applying
    quiet_tensorflow()
    off = disabled()
    states = {}
    _applying, outer = True, _applying
    try:
        _apply_each(tensorflow, off, states)
    finally:
        _applying = outer
    return states


def applying() -> bool:
    """Whether apply() is running: the venv's import hook (odwrap.odapi.hook) then leaves the
    OD API modules that a fix imports alone."""
    return _applying


def _apply_each(tensorflow: bool, off: set[str], states: dict) -> None:
    for fix in FIXES:
        if fix.tensorflow and not tensorflow:
            continue
        if fix.name in off:
            states[fix.name] = "disabled"
        elif fix.needed():
            fix.patch()
            states[fix.name] = "applied"
        else:
            states[fix.name] = "already applied" if fix.name in _applied else "not needed"
        if states[fix.name] == "applied":
            _applied.add(fix.name)


def import_tensorflow():
    """TensorFlow, imported after the fixes that must come first (Keras 2, quiet logs)."""
    apply(tensorflow=False)
    import tensorflow

    return tensorflow


def load(module: str):
    """Import an `object_detection` module with every fix applied first."""
    apply()
    return importlib.import_module(module)


@contextmanager
def saving_signatures_only():
    """tf.saved_model.save, within, of a module holding Keras layers (the OD API's exporters)
    keeps the module's own functions and every variable, but not Keras's trace of each layer's
    call, which only keras.models.load_model revives layers from (an exported detector is a
    tf.Module it cannot load anyway). Tracing those cost most of an export: EfficientDet-D0's
    SavedModel took 73 s with them and 42 s without, with the same detections."""
    tf = import_tensorflow()
    keras = tf.keras.__name__.split(".")[0]  # tf_keras on TF >= 2.16 (Keras 2), keras on 2.15
    utils = importlib.import_module(f"{keras}.src.saving.legacy.saved_model.utils")
    with utils.keras_option_scope(save_traces=False, in_tf_saved_model_scope=True):
        yield

