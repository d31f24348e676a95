"""What the evaluation's insight (per-class metrics, curves, the confusion matrix, the worst
images, the plots and the HTML report) adds to `odwrap eval`'s time, in one run, as a ratio.

One `odwrap eval` of MODEL_DIR's latest checkpoint (the demo's model: ./scripts/demo.sh leaves
it in demo_out/model) runs as a user runs it, ROUNDS times; each time the insight is then built
again, alone, from the same ground truth and detections the OD API's COCO evaluator held
(recorded during that evaluation). Baseline: the evaluation without its insight (the whole
evaluation's time less the insight's). Target: the insight costs at most 10 % of it.
    .venv/bin/python benchmarks/bench_eval.py [--model-dir demo_out/model] [--rounds 3]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "demo_out" / "model")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if not (args.model_dir / "pipeline.config").exists():
        sys.exit(f"{args.model_dir}: no trained model (./scripts/demo.sh makes one there)")
    from odwrap.evaluation.insight import insight
    from odwrap.odapi import evaluators
    from odwrap.training.checkpoint_eval import Evaluator

    evaluator = Evaluator(args.model_dir)
    whole, alone = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            started = time.perf_counter()
            with evaluators.recorded_coco_evaluations() as recorded:
                result = evaluator.evaluate()
            whole.append(time.perf_counter() - started)
            started = time.perf_counter()
            insight(*recorded["boxes"][-1], Path(tmp), result.metrics, "benchmark",
                    evaluator._pictures, (recorded["masks"] or [None])[-1])
            alone.append(time.perf_counter() - started)
    evaluation = statistics.median(w - a for w, a in zip(whole, alone))
    added = statistics.median(alone)
    print(json.dumps({"model_dir": str(args.model_dir), "rounds": args.rounds,
                      "images": len(result.insight.confusion.per_image),
                      "evaluation_without_insight_s": round(evaluation, 3),
                      "insight_s": round(added, 3),
                      "insight_over_evaluation": round(added / evaluation, 3)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
