"""What the training-curve benchmarks share (bench_masks.py, bench_keypoints.py): the odwrap CLI
run quietly, and one child process that trains a config --every steps at a time to --steps and
evaluates after each, reporting the training minutes (evaluations left out) and the metrics."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
from odwrap import api
config, model_dir, steps, every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
metrics = json.loads(sys.argv[5])
trained = 0.0
for target in range(every, steps + 1, every):
    started = time.perf_counter()
    api.train(config, model_dir, steps=target, checkpoint_every=every)
    trained += time.perf_counter() - started
    found = api.evaluate(model_dir).metrics
    print(json.dumps({"step": target, "minutes": trained / 60,
                      **{key: found[name] for key, name in metrics.items()}}), flush=True)
"""


def odwrap(*args) -> str:
    """`odwrap ARGS` in a new process, from the repository root; its output."""
    return subprocess.run([sys.executable, "-m", "odwrap", *map(str, args)], check=True,
                          cwd=ROOT, capture_output=True, text=True).stdout


def curve(config: Path, model_dir: Path, steps: int, every: int, metrics: dict) -> list[dict]:
    """Train CONFIG into MODEL_DIR to STEPS, EVERY steps at a time, evaluating after each: a
    point a time, {"step", "minutes", and each of METRICS ({key: metric name})}."""
    proc = subprocess.run([sys.executable, "-c", CHILD, str(config), str(model_dir), str(steps),
                           str(every), json.dumps(metrics)],
                          check=True, cwd=ROOT, capture_output=True, text=True)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def parse_arguments(description: str, argv, images: int, steps: int, every: int):
    """The options every curve benchmark takes (--images, --steps, --every, --out), checked."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--images", type=int, default=images)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--every", type=int, default=every)
    parser.add_argument("--out", type=Path, help="keep the work here (default: a temporary "
                                                 "folder) and write results.json into it")
    args = parser.parse_args(argv)
    if args.steps % args.every:
        parser.error("--steps must be a multiple of --every")
    return args


def work_folder(args, temporary: str) -> Path:
    """--out, else TEMPORARY: the benchmark's folder, made."""
    work = args.out or Path(temporary)
    work.mkdir(parents=True, exist_ok=True)
    return work
