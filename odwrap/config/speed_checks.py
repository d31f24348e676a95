"""The checks of what a config asks of the training step's speed: `train.xla: true` for a family
whose step XLA cannot compile (or that it slows) on the target device, and mixed precision off
a GPU or on Mask R-CNN. Registered with the same registry as odwrap.config.checks, which imports this module."""

from odwrap.config.findings import ERROR, WARNING, Finding, check
from odwrap.odapi import facts, speed


@check("ODW033", "xla")
def _xla(config, target):
    if target.xla is not True or not config.model.WhichOneof("model"):
        return []
    if target.device == "tpu":
        return [Finding("ODW033", WARNING, "train.xla",
                        "a TPU compiles every step with XLA already: train.xla changes nothing",
                        "leave train.xla at auto")]
    found = speed.measured(config, target.device)
    family, device = speed.family(config), target.device.upper()
    if found is not None and found.speedup is None:
        return [Finding("ODW033", ERROR, "train.xla",
                        f"XLA cannot compile the training step of {family} on {device} "
                        f"({found.note}): training would fail at its first step",
                        "set train.xla: auto or false")]
    if found is not None and not found.same_loss:
        return [Finding("ODW033", WARNING, "train.xla",
                        f"with XLA the losses of {family} on {device} differed beyond the noise "
                        f"over {found.steps} steps (benchmarks/bench_xla.py)",
                        "set train.xla: auto or false")]
    if found is not None and found.speedup < 1.0:
        return [Finding("ODW033", WARNING, "train.xla",
                        f"XLA measured {found.speedup:.2f}x the steps/s of {family} on {device}: "
                        "slower than without", "set train.xla: auto or false")]
    return []


@check("ODW034", "mixed-precision")
def _mixed_precision(config, target):
    if not target.mixed_precision:
        return []
    if facts.predicts_masks(config):  # bench_xla.py --mixed, on a CPU
        return [Finding("ODW034", WARNING, "train.mixed_precision",
                        "Mask R-CNN under mixed_float16 gave first losses of 98 and 170 where "
                        "float32 gave 0.84 and 21 (measured on a CPU; no GPU measured)",
                        "set mixed_precision: false for Mask R-CNN")]
    if target.device == "gpu":
        return []
    if target.device == "tpu":
        return [Finding("ODW034", ERROR, "train.mixed_precision",
                        "mixed_float16 is for GPUs; train refuses it on a TPU",
                        "use train.use_bfloat16 on a TPU, and set mixed_precision: false")]
    return [Finding("ODW034", WARNING, "train.mixed_precision",
                    f"mixed_float16 is for GPUs, and train.device is {target.device}: train "
                    "refuses it where TensorFlow sees no GPU (float16 is emulated on a CPU)",
                    "set train.device: gpu, or mixed_precision: false")]
