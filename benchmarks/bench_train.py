"""Steps per second of `odwrap train` against the OD API's own model_main_tf2, in one run.

Same config (the demo spec), same data (the demo dataset), same machine. Each tool trains
SHORT and LONG steps in fresh model directories; (LONG - SHORT) / (time(LONG) - time(SHORT)) is
its steady-state speed, without start-up and tracing. model_main_tf2 runs through absl.app.run
with odwrap's compat fixes applied (without them its first step fails, see odwrap/compat.py);
it trains in chunks of 100 steps, so SHORT and LONG are multiples of 100.
Target: odwrap costs under 2 percent.
    .venv/bin/python benchmarks/bench_train.py [--short 100] [--long 400]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL_MAIN = """
import sys
from absl import app
from odwrap import compat
model_main_tf2 = compat.load("object_detection.model_main_tf2")
sys.argv = ["model_main_tf2"] + sys.argv[1:]
app.run(model_main_tf2.main)
"""


def timed(argv) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def odwrap_run(config: Path, model_dir: Path, steps: int) -> float:
    return timed([sys.executable, "-m", "odwrap", "train", str(config), "--model-dir",
                  str(model_dir), "--steps", str(steps), "--checkpoint-every", "100000"])


def model_main_run(config: Path, model_dir: Path, steps: int) -> float:
    return timed([sys.executable, "-c", MODEL_MAIN, f"--pipeline_config_path={config}",
                  f"--model_dir={model_dir}", f"--num_train_steps={steps}",
                  "--checkpoint_every_n=100000", "--alsologtostderr=false"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=100)
    parser.add_argument("--long", type=int, default=400)
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
        seconds = {}
        for name, run in (("model_main_tf2", model_main_run), ("odwrap", odwrap_run)):
            short = run(config, tmp / f"{name}-short", args.short)
            long = run(config, tmp / f"{name}-long", args.long)
            seconds[name] = {"short_s": round(short, 2), "long_s": round(long, 2),
                             "steps_per_s": round((args.long - args.short) / (long - short), 3)}
    ratio = seconds["odwrap"]["steps_per_s"] / seconds["model_main_tf2"]["steps_per_s"]
    print(json.dumps({"steps": [args.short, args.long], "runs": seconds,
                      "odwrap_vs_model_main_tf2": round(ratio, 3),
                      "odwrap_overhead_percent": round((1 / ratio - 1) * 100, 1),
                      "target_overhead_percent": 2.0}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
