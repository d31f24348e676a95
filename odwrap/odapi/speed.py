"""XLA and mixed precision for the training step: the measured table of XLA for each family and
device, the choice `train.xla: auto` makes from it with the line that says why, and the one
change that mixed_float16 needs in the OD API's models (their predictions back to float32
before the losses, which mix them with float32 targets).

The table holds what benchmarks/bench_xla.py measured (docs/benchmarks.md): steps/s with XLA
over steps/s without, and whether the losses of the same steps from one seed stayed within
the noise. `auto` turns XLA on only where both say it pays; anything unmeasured stays off.
"""

from dataclasses import dataclass

from odwrap.errors import InputError
from odwrap.odapi import facts

AUTO_MIN_SPEEDUP = 1.1  # below this a measured gain is within the noise of a shared machine


@dataclass(frozen=True)
class Measured:
    """What bench_xla.py found for one family on one device."""

    speedup: float | None  # steps/s with XLA / without; None: the step did not compile
    same_loss: bool  # the losses of the same steps agreed within the tolerance
    steps: int  # the steps timed and compared
    note: str = ""  # why it does not compile, or what else was seen


# (family, device) -> Measured; family as `family()` names it. CPU figures: tf221, 2 shared
# cores, 2026-12-07 (docs/benchmarks.md); no GPU was available to measure. On the CPU every
# family that compiled was slower with XLA (with TensorFlow's oneDNN kernels off too).
XLA_MEASURED: dict[tuple[str, str], Measured] = {
    ("ssd/ssd_mobilenet_v2_fpn_keras", "cpu"): Measured(0.53, True, 300),
    ("ssd/ssd_mobilenet_v2_keras", "cpu"): Measured(0.52, True, 300),
    ("ssd/ssd_mobilenet_v1_fpn_keras", "cpu"): Measured(0.48, True, 300),
    ("ssd/ssd_efficientnet-b0_bifpn_keras", "cpu"): Measured(0.13, True, 300),
    ("ssd/ssd_resnet50_v1_fpn_keras", "cpu"): Measured(0.65, True, 30),
    ("faster_rcnn/faster_rcnn_resnet50_keras", "cpu"): Measured(0.45, True, 30),
    ("faster_rcnn/faster_rcnn_resnet50_keras+masks", "cpu"): Measured(
        None, False, 30, "no XLA_CPU_JIT kernel for NonMaxSuppressionV5, which the mask "
        "head's training runs"),
    ("center_net/resnet_v1_50_fpn", "cpu"): Measured(
        None, False, 30, "no XLA_CPU_JIT kernel for ResizeNearestNeighborGrad, the gradient "
        "of the FPN's nearest-neighbour upsampling"),
    ("center_net/mobilenet_v2_fpn_sep_conv", "cpu"): Measured(
        None, False, 30, "no XLA_CPU_JIT kernel for ResizeNearestNeighborGrad, the gradient "
        "of the FPN's nearest-neighbour upsampling"),
}


def family(config) -> str:
    """The meta-architecture and feature extractor of CONFIG ('ssd/ssd_mobilenet_v2_fpn_keras';
    a Mask R-CNN's ends in '+masks'): the key of XLA_MEASURED."""
    arch = facts.meta_architecture(config)
    kind = facts.model_config(config).feature_extractor.type if arch else ""
    return f"{arch}/{kind}" + ("+masks" if facts.predicts_masks(config) else "")


def measured(config, device: str) -> Measured | None:
    return XLA_MEASURED.get((family(config), device))


@dataclass(frozen=True)
class XlaChoice:
    on: bool
    why: str

    def line(self) -> str:
        return f"XLA {'on' if self.on else 'off'}: {self.why}"


def choose_xla(setting, config, device: str, replicas: int = 1) -> XlaChoice:
    """Whether the training step compiles with XLA: SETTING (train.xla: 'auto', True or False)
    for CONFIG on DEVICE (cpu | gpu | tpu) with REPLICAS replicas in sync."""
    name = family(config)
    if setting is False:
        return XlaChoice(False, "train.xla is false")
    if device == "tpu":
        return XlaChoice(False, "a TPU compiles every step with XLA already")
    if setting is True:
        return XlaChoice(True, "train.xla is true")
    if replicas > 1:
        return XlaChoice(False, f"train.xla auto: not measured with {replicas} replicas in "
                                "sync (set train.xla: true to try it)")
    found = measured(config, device)
    if found is None:
        return XlaChoice(False, f"train.xla auto: not measured for {name} on {device.upper()} "
                                "(set train.xla: true to try it)")
    if found.speedup is None:
        return XlaChoice(False, f"train.xla auto: the step of {name} does not compile with "
                                f"XLA on {device.upper()} ({found.note})")
    if not found.same_loss:
        return XlaChoice(False, f"train.xla auto: with XLA the losses of {name} on "
                                f"{device.upper()} differed beyond the noise over "
                                f"{found.steps} steps")
    if found.speedup < AUTO_MIN_SPEEDUP:
        return XlaChoice(False, f"train.xla auto: XLA measured {found.speedup:.2f}x the steps/s "
                                f"of {name} on {device.upper()}, under {AUTO_MIN_SPEEDUP}x")
    return XlaChoice(True, f"train.xla auto: XLA measured {found.speedup:.2f}x the steps/s of "
                           f"{name} on {device.upper()} with the same losses over {found.steps} "
                           "steps (set train.xla: false to turn it off)")


def require_mixed_precision_device(mixed_precision: bool, device: str) -> None:
    """InputError when train.mixed_precision asks for mixed_float16 off a GPU."""
    if not mixed_precision or device == "gpu":
        return
    if device == "tpu":
        raise InputError("train.mixed_precision (--mixed-precision) is mixed_float16, for GPUs: "
                         "a TPU's mixed precision is train.use_bfloat16")
    raise InputError("train.mixed_precision (--mixed-precision) needs a GPU, and TensorFlow sees "
                     "none: on a CPU float16 is emulated, slower than float32")


def float32_outputs(function, tf):
    """FUNCTION with its float16 tensors cast to float32: under mixed_float16 the OD API's
    losses mix a model's predictions with float32 targets (ssd_meta_arch's localization loss
    fails with 'Select Op has type float32 that does not match type float16')."""
    def cast(value):
        return tf.cast(value, tf.float32) if getattr(value, "dtype", None) == tf.float16 \
            else value

    def run(*args, **kwargs):
        return tf.nest.map_structure(cast, function(*args, **kwargs))
    return run
