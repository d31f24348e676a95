"""Checkpoints read in full before a run uses them, so that a truncated or corrupt one is one
line naming it instead of a TensorFlow traceback half-way through the run."""

from odwrap.errors import InputError
from odwrap.odapi import compat


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, short enough for a one-line report."""
    text = str(getattr(exc, "message", "") or exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def verified(prefix: str, earlier: str | None = None) -> str:
    """PREFIX, once every tensor of the checkpoint has been read (TensorFlow checks each
    one's CRC); InputError naming it otherwise, and EARLIER (a complete older one) if given."""
    tf = compat.import_tensorflow()
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    # IndexError: a short read (TensorFlow's OUT_OF_RANGE through pybind)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError) as exc:
        fallback = (f"remove its files ({prefix}.*) to go on from {earlier}" if earlier else
                    f"remove its files ({prefix}.*) and train again")
        raise InputError(f"{prefix}: the checkpoint cannot be read ({first_line(exc)}); it is "
                         f"truncated or corrupt: {fallback}") from None
    return prefix
