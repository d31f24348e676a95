"""pytest plugin for benchmarks/odapi_tests.py: the OD API's own unit tests, written for NumPy 1
and float64 habits, run under NumPy 2. It adapts the tests, never the library: the library's
breakages are odwrap's compat fixes, which the venv's import hook applies.

Three habits of the tests' own code fail under NumPy 2 (each failed on tf221 and passed on
tf215 in the measurement of 2026-12-07):
- `np.string_` (utils/ops_test.py, two tests): NumPy 2 removed the alias of `np.bytes_`.
- `int(x)` of a one-element array or eager tensor (two CenterNet postprocess tests): NumPy 2.4
  refuses it (TypeError, through TensorFlow's own EagerTensor.__int__); NumPy 1 gave the
  element. That test module gets an `int` that takes the element.
- `assertAlmostEqual` of two float32 numbers at 7 places (core/target_assigner_test.py): one
  float32 rounding step is 6e-8 at 0.6, more than 7 places allow; the tests get float32's own
  precision there (a few units in the last place), float64 and Python numbers keep 7 places.
"""

import builtins
import unittest

import numpy as np

# The modules whose `int` takes the element: only where the tests call it on arrays, since others
# use `int` as a dtype or compare types with it.
ELEMENT_INT = ("object_detection.meta_architectures.center_net_meta_arch_tf2_test",)
FLOAT32_STEPS = 4  # units in the last place of float32 that assertAlmostEqual allows


def _element_int(value=0, *args):
    """int() as NumPy 1 gave it: a one-element array (or eager tensor, whose __int__ goes
    through NumPy) is its element."""
    if hasattr(value, "__array__") and not args:
        array = np.asarray(value)
        if array.ndim and array.size == 1:
            value = array.reshape(()).item()
    return builtins.int(value, *args)


_original_almost_equal = unittest.TestCase.assertAlmostEqual


def _almost_equal(self, first, second, places=None, msg=None, delta=None):
    if places is None and delta is None and np.float32 in (type(first), type(second)):
        scale = max(abs(float(first)), abs(float(second)), 1.0)
        delta = FLOAT32_STEPS * float(np.finfo(np.float32).eps) * scale
    return _original_almost_equal(self, first, second, places=places, msg=msg, delta=delta)


def pytest_configure(config):
    if "string_" not in vars(np):
        np.string_ = np.bytes_
    unittest.TestCase.assertAlmostEqual = _almost_equal


def pytest_collection_modifyitems(session, config, items):
    for module in {getattr(item, "module", None) for item in items}:
        if module is not None and module.__name__ in ELEMENT_INT:
            module.int = _element_int
