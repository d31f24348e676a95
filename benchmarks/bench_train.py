"""Steps per second of `odwrap train` against the OD API's own model_main_tf2, in one run.

Same config (the demo spec), same data (the demo dataset), same machine, one after the other,
ROUNDS times. Both write a `steps_per_sec` summary for every loop of 100 steps; the median over
all loops but each run's first (tracing) is a tool's steady-state speed, which start-up,
tracing and pauses of the machine do not skew. model_main_tf2 runs through absl.app.run with
odwrap's compat fixes applied (without them its first step fails, see odwrap/odapi/compat.py).
Target: odwrap costs under 2 percent. With --xla each round also trains odwrap with
`--xla true` (the training step compiled with XLA), reported against the same model_main_tf2
runs (target: 1.2x).
    .venv/bin/python benchmarks/bench_train.py [--steps 600] [--rounds 2] [--xla]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_MAIN = """
import sys
from absl import app
from odwrap.odapi import compat
model_main_tf2 = compat.load("object_detection.model_main_tf2")
sys.argv = ["model_main_tf2"] + sys.argv[1:]
app.run(model_main_tf2.main)
"""


def run(argv) -> None:
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def odwrap_run(config: Path, model_dir: Path, steps: int, xla: str = "false") -> None:
    run([sys.executable, "-m", "odwrap", "train", str(config), "--model-dir", str(model_dir),
         "--steps", str(steps), "--checkpoint-every", "100000", "--xla", xla])


def odwrap_xla_run(config: Path, model_dir: Path, steps: int) -> None:
    odwrap_run(config, model_dir, steps, xla="true")


def model_main_run(config: Path, model_dir: Path, steps: int) -> None:
    run([sys.executable, "-c", MODEL_MAIN, f"--pipeline_config_path={config}",
         f"--model_dir={model_dir}", f"--num_train_steps={steps}",
         "--checkpoint_every_n=100000", "--alsologtostderr=false"])


def loop_speeds(model_dir: Path) -> list[float]:
    from odwrap.training.plot import read_scalars

    points = read_scalars(model_dir / "train").get("steps_per_sec", [])
    return [value for _, value in points[1:]]  # the first loop includes tracing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--xla", action="store_true",
                        help="also odwrap with the training step compiled with XLA")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "odwrap", "demo-data", str(tmp / "voc")],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "odwrap", "convert", "voc", str(tmp / "voc"),
                        "-o", str(tmp / "data")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "-m", "odwrap", "generate",
                        str(ROOT / "templates" / "specs" / "demo_shapes.yaml"), "-o",
                        str(tmp / "config"), "--set", f"data.train={tmp}/data/data-*.tfrecord"],
                       check=True, stdout=subprocess.DEVNULL)
        config = tmp / "config" / "pipeline.config"
        tools = [("model_main_tf2", model_main_run), ("odwrap", odwrap_run)]
        tools += [("odwrap_xla", odwrap_xla_run)] if args.xla else []
        speeds = {name: [] for name, _ in tools}
        for round_index in range(args.rounds):
            for name, train in tools:
                model_dir = tmp / f"{name}-{round_index}"
                train(config, model_dir, args.steps)
                speeds[name] += loop_speeds(model_dir)
    median = {name: round(statistics.median(values), 3) for name, values in speeds.items()}
    ratio = median["odwrap"] / median["model_main_tf2"]
    found = {"steps_per_run": args.steps, "rounds": args.rounds,
             "loops_measured": {name: len(v) for name, v in speeds.items()},
             "median_steps_per_s": median,
             "odwrap_vs_model_main_tf2": round(ratio, 3),
             "odwrap_overhead_percent": round((1 / ratio - 1) * 100, 1),
             "target_overhead_percent": 2.0}
    if args.xla:
        found["odwrap_xla_vs_model_main_tf2"] = round(
            median["odwrap_xla"] / median["model_main_tf2"], 3)
        found["target_xla_ratio"] = 1.2
    print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
