"""Inference latency of one exported model, fp32 and int8, under ai-edge-litert, tflite-runtime
and TensorFlow's interpreter, in one run, as ratios.

The models are `odwrap export --format tflite` of a demo-spec model at --image-size (trained
for a few steps here; latency does not depend on the weights), or of --model-dir's model. Each runtime
runs in its own process (the three bundle their own TFLite), on the same preprocessed input,
with the same thread count: WARMUP invocations, then RUNS timed ones; the median counts. Rounds
alternate the order of the runtimes so that drift of the machine spreads over all of them.
Baseline: fp32 on ai-edge-litert, odwrap's default runtime.

When the consumers venv is there (scripts/setup-consumers.sh), the same models also run in the
TFLite Task Library's and MediaPipe Tasks' ObjectDetector, whose detect() does the whole job
(normalization, inference, decoding the detections) on an image of the input size; they are
compared with ai-edge-litert's invoke() and with odwrap's whole detect() on ai-edge-litert.
    .venv/bin/python benchmarks/bench_runtime.py [--model-dir DIR | --image-size 320]
                                                 [--runs 50] [--rounds 2]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from odwrap.deploy import installed_runtimes

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("fp32", "int8")
CONSUMER_SCRIPT = ROOT / "tests" / "deploy" / "consumer_detect.py"
CONSUMERS = ("task-library", "mediapipe")  # run by CONSUMER_SCRIPT as 'task', 'mediapipe'
ODWRAP_DETECT = "odwrap-detect"  # ai-edge-litert, timed around odwrap's whole detect()


def measure(model: str, runtime: str, runs: int, warmup: int, threads: int) -> list[float]:
    """Milliseconds of each timed invocation (run in a child process, one runtime per process)."""
    import numpy as np

    from odwrap.deploy.runtime import TFLiteDetector

    whole = runtime == ODWRAP_DETECT
    detector = TFLiteDetector(model, runtime="ai-edge-litert" if whole else runtime,
                              threads=threads)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (detector.height, detector.width, 3), dtype=np.uint8)
    if whole:
        for _ in range(warmup):
            detector.detect(image)
        return [_timed(lambda: detector.detect(image)) for _ in range(runs)]
    tensor = detector.input_tensor(image)
    interpreter = detector.interpreter
    interpreter.set_tensor(detector.input["index"], tensor)
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def odwrap(*argv) -> None:
    subprocess.run([sys.executable, "-m", "odwrap", *map(str, argv)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def demo_model(tmp: Path, steps: int, size: int) -> Path:
    odwrap("demo-data", tmp / "voc", "--images", 60, "--size", size)
    odwrap("convert", "voc", tmp / "voc", "-o", tmp / "data", "--split", "train=0.8,val=0.2")
    odwrap("generate", ROOT / "templates" / "specs" / "demo_shapes.yaml", "-o", tmp / "config",
           "--set", f"data.train={tmp}/data/train-*.tfrecord",
           "--set", f"data.eval={tmp}/data/val-*.tfrecord",
           "--set", f"model.image_size={size}")
    odwrap("train", tmp / "config" / "pipeline.config", "--model-dir", tmp / "model",
           "--steps", steps)
    return tmp / "model"


def export_models(model_dir: Path, output: Path) -> dict[str, Path]:
    odwrap("export", model_dir, "--format", "tflite", "-o", output)
    odwrap("export", model_dir, "--format", "tflite", "--quantize", "int8",
           "--representative", 20, "-o", output)
    return {name: output / f"model_{name}.tflite" for name in MODELS}


def child(model: Path, runtime: str, args) -> list[float]:
    if runtime in CONSUMERS:
        command = [str(args.consumers / "bin" / "python"), str(CONSUMER_SCRIPT), "time",
                   "task" if runtime == "task-library" else "mediapipe", str(model),
                   str(args.runs), str(args.warmup), str(args.threads)]
    else:
        command = [sys.executable, __file__, "--measure", str(model), runtime,
                   "--runs", str(args.runs), "--warmup", str(args.warmup),
                   "--threads", str(args.threads)]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if run.returncode != 0 and runtime in CONSUMERS:  # mediapipe may crash (README, Export)
        print(f"{runtime} on {model.name} failed (exit {run.returncode}): "
              f"{run.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return []
    run.check_returncode()
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a trained odwrap model directory")
    parser.add_argument("--steps", type=int, default=20, help="training steps of the demo model")
    parser.add_argument("--image-size", type=int, default=320,
                        help="input side of the demo model (the demo itself uses 128)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--consumers", type=Path, default=ROOT / ".venv-consumers",
                        help="the consumers venv (scripts/setup-consumers.sh)")
    parser.add_argument("--measure", nargs=2, metavar=("MODEL", "RUNTIME"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        model, runtime = args.measure
        print(json.dumps(measure(model, runtime, args.runs, args.warmup, args.threads)))
        return 0
    runtimes = installed_runtimes()  # tflite-runtime is in the tf215 stack only
    consumers = CONSUMERS if (args.consumers / "bin" / "python").exists() else ()
    runtimes += ((ODWRAP_DETECT, *consumers) if consumers else ())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = args.model_dir or demo_model(tmp, args.steps, args.image_size)
        models = export_models(model_dir, tmp / "export")
        sizes = {name: path.stat().st_size for name, path in models.items()}
        times = {(name, runtime): [] for name in MODELS for runtime in runtimes}
        for round_index in range(args.rounds):
            order = runtimes if round_index % 2 == 0 else tuple(reversed(runtimes))
            for runtime in order:
                for name in MODELS:
                    times[name, runtime] += child(models[name], runtime, args)
    median = {key: statistics.median(values) for key, values in times.items() if values}
    base = median["fp32", "ai-edge-litert"]
    report = {
        "model": str(args.model_dir) if args.model_dir else
        f"demo spec at {args.image_size}x{args.image_size}, {args.steps} steps",
        "threads": args.threads, "runs_per_round": args.runs, "rounds": args.rounds,
        "model_bytes": sizes,
        "median_ms": {f"{name}/{runtime}": round(ms, 3) for (name, runtime), ms in median.items()},
        "ratio_to_fp32_ai_edge_litert": {f"{name}/{runtime}": round(ms / base, 3)
                                         for (name, runtime), ms in median.items()},
        "int8_speedup_over_fp32": {runtime: round(median["fp32", runtime] /
                                                  median["int8", runtime], 3)
                                   for runtime in runtimes
                                   if ("fp32", runtime) in median and ("int8", runtime) in median},
    }
    if consumers:  # the whole detect() of each, against ai-edge-litert on the same model
        report["detect_ratio_to_ai_edge_litert_invoke"] = {
            f"{name}/{runtime}": round(median[name, runtime] / median[name, "ai-edge-litert"], 3)
            for name in MODELS for runtime in (ODWRAP_DETECT, *consumers)
            if (name, runtime) in median}
    if "tflite-runtime" in runtimes:
        report["int8_ai_edge_litert_vs_tflite_runtime"] = round(
            median["int8", "tflite-runtime"] / median["int8", "ai-edge-litert"], 3)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
