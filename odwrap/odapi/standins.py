"""Stand-in modules for what TensorFlow >= 2.16 no longer ships and the OD API still imports.

Each holds only what the OD API's TF2 code paths use: `ModeKeys` of the estimator (inputs.py
compares modes against it) and tensorflow-io's `rgb_to_lab` (DeepMAC's colour consistency loss).
"""

import types

# CIE L*a*b* with the D65 white point and the 2-degree observer, as tensorflow-io computes it.
_SRGB_TO_XYZ = ((0.412453, 0.357580, 0.180423),
                (0.212671, 0.715160, 0.072169),
                (0.019334, 0.119193, 0.950227))
_D65_WHITE = (0.95047, 1.0, 1.08883)
_EPSILON, _KAPPA = 0.008856, 7.787  # CIE's cube-root threshold and the slope below it


def estimator() -> types.ModuleType:
    """`tensorflow.compat.v1.estimator` with the mode keys (the Estimator itself is gone)."""
    module = types.ModuleType("tensorflow.compat.v1.estimator",
                              "odwrap's stand-in: ModeKeys only (TensorFlow >= 2.16)")

    class ModeKeys:
        TRAIN = "train"
        EVAL = "eval"
        PREDICT = "infer"

    module.ModeKeys = ModeKeys
    return module


def rgb_to_lab(images, name=None):
    """sRGB in [0, 1] (..., 3) to CIE L*a*b* (L in [0, 100]), in plain TensorFlow."""
    import tensorflow as tf

    with tf.name_scope(name or "rgb_to_lab"):
        rgb = tf.convert_to_tensor(images)
        linear = tf.where(rgb > 0.04045, tf.pow((rgb + 0.055) / 1.055, 2.4), rgb / 12.92)
        matrix = tf.constant(_SRGB_TO_XYZ, dtype=rgb.dtype)
        xyz = tf.tensordot(linear, tf.transpose(matrix), axes=1)
        xyz = xyz / tf.constant(_D65_WHITE, dtype=rgb.dtype)
        f = tf.where(xyz > _EPSILON, tf.pow(tf.maximum(xyz, _EPSILON), 1.0 / 3.0),
                     xyz * _KAPPA + 16.0 / 116.0)
        fx, fy, fz = tf.unstack(f, axis=-1)
        return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def tensorflow_io() -> types.ModuleType:
    """`tensorflow_io` with `experimental.color.rgb_to_lab` only."""
    module = types.ModuleType("tensorflow_io", "odwrap's stand-in: experimental.color.rgb_to_lab")
    color = types.SimpleNamespace(rgb_to_lab=rgb_to_lab)
    module.experimental = types.SimpleNamespace(color=color)
    return module
