"""The training step of each family odwrap renders, with and without XLA, on this machine's CPU:
steps/s of each and whether the losses of the same steps agree (the table `train.xla: auto`
reads, odwrap/odapi/speed.py's XLA_MEASURED).

Each family's example spec (templates/specs/) shrunk to a tiny size as the tests shrink them,
in its own process: the set-up `odwrap train` builds (odapi.setup.training, one seed), STEPS
batches of a shapes TFRecord read into memory first (the step alone is timed, not the input),
the weights and optimizer state kept, then the same STEPS steps on the same batches without
XLA and, from the kept state again, with XLA (each after one untimed call that traces or
compiles). The noise: the same steps without XLA once more, from the kept weights nudged by
one part in a million (a rounding-sized change, which training amplifies as it amplifies
XLA's other order of floating-point operations). The losses agree when the first step's
(the same computation) is within 1% of the plain run's and the mean of the last 50 within
5% or within twice the nudged run's difference, whichever is larger. --mixed: then, in
the same process, the family built under mixed_float16 (odwrap's train.mixed_precision) runs
two steps on the CPU: whether the OD API's model takes the policy (not a speed: float16 is
emulated on a CPU).
    .venv/bin/python benchmarks/bench_xla.py [--steps 300] [--family NAME ...] [--mixed]
"""

import argparse
import dataclasses
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# architecture -> (tiny image size, extra model keys) as tests/config/test_build_families.py
# and tests/training/test_families.py shrink them; the order: cheapest first.
TWO_STAGE = "  proposals: 32\n"
FAMILIES = {
    "ssd_mobilenet_v2_fpnlite": (64, "  depth_multiplier: 0.25\n  fpn_depth: 16\n"
                                     "  predictor_depth: 16\n  predictor_layers: 1\n"),
    "ssd_mobilenet_v2": (64, "  depth_multiplier: 0.25\n  predictor_depth: 16\n"),
    "ssd_mobilenet_v1_fpn": (64, "  depth_multiplier: 0.25\n  fpn_depth: 16\n"
                                 "  predictor_depth: 16\n  predictor_layers: 1\n"),
    "centernet_mobilenet_v2_fpn": (128, "  depth_multiplier: 0.5\n  resizer: fixed\n"),
    "efficientdet_d0": (192, "  resizer: fixed\n  fpn_levels: [3, 6]\n  fpn_depth: 16\n"),
    "faster_rcnn_resnet50_v1": (128, TWO_STAGE),
    "mask_rcnn_resnet50_v1": (128, TWO_STAGE + "  mask_size: 14\n"),
    "centernet_resnet50_v1_fpn": (128, ""),
    "retinanet_resnet50": (160, "  fpn_depth: 16\n  predictor_depth: 16\n"
                                "  predictor_layers: 1\n"),
    "retinanet_resnet101": (160, "  fpn_depth: 16\n  predictor_depth: 16\n"
                                 "  predictor_layers: 1\n"),
    "retinanet_resnet152": (160, "  fpn_depth: 16\n  predictor_depth: 16\n"
                                 "  predictor_layers: 1\n"),
    "mask_rcnn_inception_resnet_v2": (128, TWO_STAGE + "  mask_size: 14\n"),
}
FIRST_TOLERANCE, TAIL_TOLERANCE, TAIL = 0.01, 0.05, 50


def spec_architectures() -> list[str]:
    """The architectures of templates/specs/*.yaml, the families odwrap renders."""
    import yaml

    names = {yaml.safe_load(path.read_text())["model"]["architecture"]
             for path in (ROOT / "templates" / "specs").glob("*.yaml")}
    return [name for name in FAMILIES if name in names] + sorted(names - set(FAMILIES))


def measure_one(architecture: str, steps: int, folder: Path, mixed: bool = False) -> dict:
    """One family in this process: steps/s and losses without and with XLA."""
    import contextlib

    from odwrap.odapi import setup, speed
    from odwrap.training import trial
    from tests.tfdata import write_family_spec, write_shapes_tfrecord

    size, model = FAMILIES[architecture]
    records = write_shapes_tfrecord(folder / "train.tfrecord", count=8, size=size,
                                    masks=architecture.startswith("mask"))
    spec = write_family_spec(folder, architecture, size, model, steps=steps, train=records)
    with contextlib.ExitStack() as stack:
        config = trial.load(spec, (), None, stack)
        tf = setup.tensorflow()
        tf.keras.utils.set_random_seed(0)
        built = setup.training(config, setup.strategy())
        iterator = iter(built.dataset)
        batches = [next(iterator) for _ in range(steps)]
        built.ensure_built()
        built.optimizer._create_all_weights(built.model.trainable_variables)
        kept = {variable.ref(): variable.numpy() for variable in state(built)}
        result = {"architecture": architecture, "family": speed.family(config),
                  "size": size, "steps": steps}
        for name, xla in (("plain", False), ("nudged", False), ("xla", True)):
            if name != "nudged":
                step = tf.function(dataclasses.replace(built, xla=xla).step)
            started = time.perf_counter()
            try:
                float(step(*batches[0])["Loss/total_loss"])  # traced (and compiled) here
            except Exception as exc:  # noqa: BLE001 (the measured reason is the result)
                result[name] = {"error": reason(exc)}
                continue
            first_call = time.perf_counter() - started
            restore(built, kept)
            if name == "nudged":
                nudge(built.model.trainable_variables)
            losses = []
            started = time.perf_counter()
            for features, labels in batches:
                losses.append(step(features, labels)["Loss/total_loss"])
            losses = [float(loss) for loss in losses]
            seconds = time.perf_counter() - started
            restore(built, kept)
            result[name] = {"steps_per_s": round(steps / seconds, 3),
                            "first_call_s": round(first_call, 1), "losses": losses}
        if mixed:
            result["mixed"] = mixed_steps(tf, config, batches[:2])
    return result


def mixed_steps(tf, config, batches) -> dict:
    """Two steps of CONFIG's model built under mixed_float16: the losses, or the error."""
    from odwrap.odapi import setup

    try:
        built = setup.training(config, setup.strategy(), mixed_precision=True)
        step = tf.function(built.step)
        losses = [float(step(*batch)["Loss/total_loss"]) for batch in batches]
    except Exception as exc:  # noqa: BLE001 (the error is the result)
        return {"error": reason(exc)}
    float16 = sum(layer.compute_dtype == "float16" for layer in built.model.submodules
                  if getattr(layer, "weights", None) and hasattr(layer, "compute_dtype"))
    return {"losses": [round(loss, 4) for loss in losses],
            "float16_layers": float16, "loss_scale": float(built.optimizer.loss_scale)}


def reason(exc: Exception) -> str:
    """The line of EXC that says why (a graph error says it deep in its message)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    telling = [line for line in lines if re.search(
        r"unsupported|compile-time constant|not supported|XLA|No registered", line)]
    return f"{type(exc).__name__}: " + (telling or lines or [""])[0][:400]


def nudge(variables) -> None:
    """Each value times 1 +- 1e-6, the sign drawn from one seed."""
    import numpy as np

    rng = np.random.default_rng(0)
    for variable in variables:
        signs = np.where(rng.random(variable.shape) < 0.5, -1e-6, 1e-6)
        variable.assign(variable.numpy() * (1 + signs).astype(variable.dtype.as_numpy_dtype))


def state(built) -> list:
    """Every variable a step changes: the model's, the optimizer's and the global step."""
    return [*built.model.variables, *built.optimizer.variables(), built.global_step]


def restore(built, kept) -> None:
    """The state KEPT before the first step; a variable made since: RuntimeError (it would
    carry one run's values into the other)."""
    new = [variable.name for variable in state(built) if variable.ref() not in kept]
    if new:
        raise RuntimeError(f"variables made after the state was kept: {new[:5]}")
    for variable in state(built):
        variable.assign(kept[variable.ref()])


def compare(result: dict) -> dict:
    """The row of the table: speeds, the ratio and the same-loss check."""
    plain, xla, nudged = (result.get(name, {}) for name in ("plain", "xla", "nudged"))
    row = {key: result[key] for key in ("architecture", "family", "size", "steps")}
    row["plain_steps_per_s"] = plain.get("steps_per_s")
    row["xla_steps_per_s"] = xla.get("steps_per_s")
    row["xla_first_call_s"] = xla.get("first_call_s")
    if "mixed" in result:
        row["mixed_float16"] = result["mixed"]
    if plain.get("losses"):
        row["first_losses_without_xla"] = [round(loss, 4) for loss in plain["losses"][:2]]
    if "error" in plain or "error" in xla:
        row["error"] = (xla.get("error") or plain.get("error"))
        return row
    first = abs(xla["losses"][0] - plain["losses"][0]) / abs(plain["losses"][0])
    tail_plain, tail_xla, tail_nudged = (sum(run["losses"][-TAIL:]) / len(run["losses"][-TAIL:])
                                         for run in (plain, xla, nudged))
    tail = abs(tail_xla - tail_plain) / abs(tail_plain)
    noise = abs(tail_nudged - tail_plain) / abs(tail_plain)
    row.update(speedup=round(xla["steps_per_s"] / plain["steps_per_s"], 3),
               first_loss=[round(plain["losses"][0], 4), round(xla["losses"][0], 4)],
               first_loss_diff=round(first, 5),
               tail_loss=[round(tail_plain, 4), round(tail_xla, 4), round(tail_nudged, 4)],
               tail_loss_diff=round(tail, 4), tail_noise=round(noise, 4),
               same_loss=first <= FIRST_TOLERANCE and tail <= max(TAIL_TOLERANCE, 2 * noise))
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES),
                        help="measure only these (default: every family of templates/specs/)")
    parser.add_argument("--mixed", action="store_true",
                        help="also two steps of each under mixed_float16 (does it build and run)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child: measure this family
    args = parser.parse_args(argv)
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure_one(args.one, args.steps, Path(tmp), args.mixed)))
        return 0
    for architecture in args.family or spec_architectures():
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--one", architecture, "--steps",
                               str(args.steps)] + (["--mixed"] if args.mixed else []),
                              cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            row = {"architecture": architecture, "error": done.stderr.strip().splitlines()[-1]}
        else:
            row = compare(json.loads(done.stdout.strip().splitlines()[-1]))
        row["seconds"] = round(time.perf_counter() - started)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
