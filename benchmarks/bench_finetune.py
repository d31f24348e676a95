"""What a detection checkpoint is worth: fine-tuning against training from scratch, in one run.

The demo model (templates/specs/demo_shapes.yaml) is pretrained on two shapes (squares and
circles, --pretrain-images images, --pretrain-steps steps). A new task then adds a class:
squares, circles and triangles, drawn with another seed (--task-images images, split 85/15).
The task is trained for --steps steps twice with the same config: once fine-tuned from the
pretrained model's checkpoint (fine_tune_checkpoint_type detection, as model.pretrained writes
it for a zoo model), once from scratch; both are evaluated (COCO mAP@0.5 on the task's
validation images) every --every steps (the demo's warmup of 100 steps, or a tenth
of shorter runs). Reported: mAP@0.5 against steps for both, and the
first evaluated step at which fine-tuning reaches the from-scratch run's final mAP, as a fraction
of the steps (target: a third or less). Each training run is its own process.
    .venv/bin/python benchmarks/bench_finetune.py [--pretrain-steps 1000] [--steps 1500]
                                                  [--every 250] [--out DIR]
1500 steps is what the demo trains from scratch; in 600 the from-scratch run learns nothing yet
(mAP@0.5 0.001 against 0.939 fine-tuned), which makes the comparison empty.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "templates" / "specs" / "demo_shapes.yaml"
MAP50 = "DetectionBoxes_Precision/mAP@.50IOU"

# One training run, evaluated every EVERY steps: run in a child process so that each run has a
# TensorFlow of its own. Prints one JSON line per evaluation.
CHILD = """
import json, sys
from odwrap import api
config, model_dir, steps, every = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for target in range(every, steps + 1, every):
    result = api.train(config, model_dir, steps=target, checkpoint_every=every)
    if result.restored is not None:
        print("RESTORED", result.restored.summary(), flush=True)
    metrics = api.evaluate(model_dir).metrics
    print(json.dumps({"step": target, "map50": metrics[%r]}), flush=True)
""" % MAP50


def odwrap(*args) -> None:
    subprocess.run([sys.executable, "-m", "odwrap", *map(str, args)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def dataset(work: Path, name: str, shapes: str, images: int, seed: int) -> Path:
    if (work / name).is_dir():  # kept by an earlier run with --out
        return work / name
    odwrap("demo-data", work / f"{name}-voc", "--images", images, "--seed", seed,
           "--shapes", shapes)
    odwrap("convert", "voc", work / f"{name}-voc", "-o", work / name,
           "--split", "train=0.85,val=0.15", "--seed", seed)
    return work / name


def config(work: Path, name: str, data: Path, classes: str, steps: int, extra=()) -> Path:
    odwrap("generate", SPEC, "-o", work / f"{name}-config", "--force",
           "--set", f"data.classes=[{classes}]", "--set", f"train.steps={steps}",
           "--set", f"train.warmup_steps={min(100, steps // 10)}",
           "--set", f"data.train={data}/train-*.tfrecord",
           "--set", f"data.eval={data}/val-*.tfrecord", *extra)
    return work / f"{name}-config" / "pipeline.config"


def run(config_path: Path, model_dir: Path, steps: int, every: int, fresh=True) -> list[dict]:
    if fresh:
        shutil.rmtree(model_dir, ignore_errors=True)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(config_path), str(model_dir),
                           str(steps), str(every)], check=True, cwd=ROOT, capture_output=True,
                          text=True)
    points = []
    for line in proc.stdout.splitlines():
        if line.startswith("RESTORED "):
            print(f"  fine-tune checkpoint: {line[len('RESTORED '):]}")
        elif line.startswith("{"):
            points.append(json.loads(line))
    return points


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=1000)
    parser.add_argument("--pretrain-images", type=int, default=450)
    parser.add_argument("--task-images", type=int, default=300)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--out", type=Path, help="keep the work here (default: a temporary "
                                                 "folder) and write results.json into it")
    args = parser.parse_args(argv)
    if args.steps % args.every:
        parser.error("--steps must be a multiple of --every")
    with tempfile.TemporaryDirectory() as temporary:
        work = args.out or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        two = dataset(work, "two", "square,circle", args.pretrain_images, seed=1)
        three = dataset(work, "three", "square,circle,triangle", args.task_images, seed=2)
        pretrain = config(work, "pretrain", two, "square,circle", args.pretrain_steps)
        print(f"pretraining on two shapes: {args.pretrain_steps} steps")
        before = run(pretrain, work / "pretrained", args.pretrain_steps, args.pretrain_steps,
                     fresh=False)  # an earlier run's with --out is reused
        print(f"  mAP@0.5 on the two shapes: {before[-1]['map50']:.3f}")
        checkpoint = work / "pretrained" / f"ckpt-{args.pretrain_steps}"
        scratch = config(work, "scratch", three, "square,circle,triangle", args.steps)
        tuned = config(work, "finetune", three, "square,circle,triangle", args.steps,
                       ("--set", f"train.fine_tune_checkpoint={checkpoint}",
                        "--set", "train.fine_tune_checkpoint_type=detection"))
        print(f"three shapes, {args.steps} steps: fine-tuned")
        fine = run(tuned, work / "finetuned", args.steps, args.every)
        print(f"three shapes, {args.steps} steps: from scratch")
        bare = run(scratch, work / "scratch", args.steps, args.every)
        minutes = (time.perf_counter() - started) / 60
        print(f"\n{'step':>6} {'fine-tuned':>11} {'scratch':>9}")
        for tuned_point, bare_point in zip(fine, bare):
            print(f"{tuned_point['step']:>6} {tuned_point['map50']:>11.3f} "
                  f"{bare_point['map50']:>9.3f}")
        goal = bare[-1]["map50"]
        reached = next((p["step"] for p in fine if p["map50"] >= goal), None)
        if reached is None:
            verdict = (f"fine-tuning did not reach the from-scratch final mAP@0.5 {goal:.3f} in "
                       f"{args.steps} steps (target: {args.steps // 3} or fewer)")
        else:
            verdict = (f"fine-tuning reached the from-scratch final mAP@0.5 {goal:.3f} at step "
                       f"{reached}: {reached / args.steps:.2f} of the steps (target: 0.33 or "
                       "less)")
        print(f"\n{verdict}\n({minutes:.1f} minutes in all)")
        if args.out:
            (work / "results.json").write_text(json.dumps(
                {"pretrain": before, "finetuned": fine, "scratch": bare, "reached": reached,
                 "steps": args.steps, "minutes": minutes}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
