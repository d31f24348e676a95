"""What the evaluation's insight (per-class metrics, curves, the confusion matrix, the worst
images, the plots and the HTML report) adds to `odwrap eval`'s time, in one run, as a ratio.

Each round runs `odwrap eval MODEL_DIR` as a user runs it (a new process: TensorFlow's import,
the model's build, the evaluation, the insight), and then builds the insight alone in another
new process, so that it pays its own imports (matplotlib, pycocotools) as the command does,
from the ground truth, detections and pictures that the OD API's COCO evaluator held (recorded
once beforehand; reading the pictures from the records is timed there and added). Baseline: the
command's time less the insight's. Target: the insight costs at most 10 % of it. MODEL_DIR:
the demo's model (./scripts/demo.sh leaves it in demo_out/model).
    .venv/bin/python benchmarks/bench_eval.py [--model-dir demo_out/model] [--rounds 3]
"""

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def record(model_dir: Path, dump: Path) -> None:
    """One evaluation's recorded ground truth, detections and pictures, in DUMP."""
    from odwrap.odapi import evaluators
    from odwrap.training.checkpoint_eval import Evaluator

    evaluator = Evaluator(model_dir)
    with evaluators.recorded_coco_evaluations() as recorded:
        result = evaluator.evaluate()
    worst = result.insight.confusion.worst_images(16)
    started = time.perf_counter()
    pictures = evaluator._pictures(worst)
    reading = time.perf_counter() - started
    dump.write_bytes(pickle.dumps({
        "boxes": recorded["boxes"][-1], "masks": (recorded["masks"] or [None])[-1],
        "metrics": result.metrics, "pictures": pictures, "reading_s": reading,
        "images": len(result.insight.confusion.per_image)}))


def insight_alone(dump: Path, folder: Path) -> float:
    """Seconds of the insight of DUMP, in FOLDER, imports included (call it in a new process)."""
    data = pickle.loads(dump.read_bytes())
    started = time.perf_counter()
    from odwrap.evaluation.insight import insight

    insight(*data["boxes"], folder, data["metrics"], "benchmark",
            lambda ids: [item for item in data["pictures"] if item[0] in set(ids)],
            data["masks"])
    return time.perf_counter() - started + data["reading_s"]


def _python(*args) -> str:
    done = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True,
                          text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "demo_out" / "model")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)  # the steps' own
    parser.add_argument("--insight-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.record:
        record(args.model_dir, args.record)
        return 0
    if args.insight_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(insight_alone(args.insight_only, Path(tmp)))
        return 0
    if not (args.model_dir / "pipeline.config").exists():
        sys.exit(f"{args.model_dir}: no trained model (./scripts/demo.sh makes one there)")
    odwrap = Path(sys.executable).parent / "odwrap"
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "recorded.pickle"
        _python("--model-dir", args.model_dir, "--record", dump)
        commands, alone = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            done = subprocess.run([odwrap, "eval", args.model_dir], capture_output=True,
                                  text=True, check=False)
            commands.append(time.perf_counter() - started)
            if done.returncode:
                sys.exit(f"odwrap eval failed:\n{done.stderr[-3000:]}")
            alone.append(float(_python("--insight-only", dump).split()[-1]))
        images = pickle.loads(dump.read_bytes())["images"]
    command, added = statistics.median(commands), statistics.median(alone)
    print(json.dumps({"model_dir": str(args.model_dir), "rounds": args.rounds,
                      "images": images, "odwrap_eval_s": round(command, 3),
                      "evaluation_without_insight_s": round(command - added, 3),
                      "insight_s": round(added, 3),
                      "insight_over_evaluation": round(added / (command - added), 3)},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
