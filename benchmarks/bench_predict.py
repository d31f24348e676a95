"""Local `predict` throughput, images per second with --workers 1 and 2, against the bare
interpreter's invoke rate on the same images, as ratios (issue 29's target: at least 0.9).

The bare rate: the same .tflite on ai-edge-litert with the same --threads, every image
preprocessed once beforehand, then set_tensor and invoke in a loop: what the model alone can
do. `predict` is timed around the whole `odwrap.predict` call (model load, reading and decoding
each JPEG, resizing, inference, detection lines, the files), in this process, with and
without annotated images (PNG encoding is the most expensive step of a run). Rounds alternate
the order of the configurations so that drift of the machine spreads over all of them; the
median of the rounds counts, and each round's figure is printed too.

The model: --model, else the demo spec at 320x320 trained 2 steps and exported as int8
(latency does not depend on the weights). The images: --images (files, folders, globs), else
--count generated JPEGs of --size (shapes on a noisy gradient).
    .venv/bin/python benchmarks/bench_predict.py [--model MODEL.tflite] [--images DIR]
                                                 [--count 100] [--rounds 4] [--threads 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def odwrap(*argv) -> None:
    subprocess.run([sys.executable, "-m", "odwrap", *map(str, argv)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def demo_int8(tmp: Path, size: int = 320) -> Path:
    """The demo spec at SIZE, trained 2 steps, exported as int8 TFLite."""
    odwrap("demo-data", tmp / "voc", "--images", 40, "--size", size)
    odwrap("convert", "voc", tmp / "voc", "-o", tmp / "data", "--split", "train=0.8,val=0.2")
    odwrap("generate", ROOT / "templates" / "specs" / "demo_shapes.yaml", "-o", tmp / "config",
           "--set", f"data.train={tmp}/data/train-*.tfrecord",
           "--set", f"data.eval={tmp}/data/val-*.tfrecord",
           "--set", f"model.image_size={size}", "--set", "train.batch_size=4")
    odwrap("train", tmp / "config" / "pipeline.config", "--model-dir", tmp / "model",
           "--steps", 2)
    odwrap("export", tmp / "model", "--format", "tflite", "--quantize", "int8",
           "--representative", 8, "-o", tmp / "export")
    return tmp / "export" / "model_int8.tflite"


def generate_images(folder: Path, count: int, width: int, height: int) -> list[Path]:
    import numpy as np
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(29)
    ramp = np.add.outer(np.linspace(40, 200, height), np.linspace(0, 50, width))
    paths = []
    for index in range(count):
        noisy = ramp[..., None] + rng.normal(0, 6, (height, width, 3))
        picture = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(picture)
        for _ in range(3):
            x, y = rng.integers(0, width - 80), rng.integers(0, height - 80)
            side = int(rng.integers(30, 80))
            fill = tuple(int(v) for v in rng.integers(0, 255, 3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape((x, y, x + side, y + side), fill=fill)
        path = folder / f"image{index:05d}.jpg"
        picture.save(path, quality=90)
        paths.append(path)
    return paths


def bare_rate(model: Path, images: list[Path], threads: int, interpreters: int = 1) -> float:
    """Images per second of INTERPRETERS interpreters invoking side by side (a thread each) on
    the images, preprocessed beforehand."""
    from odwrap.deploy.runtime import TFLiteDetector

    first = TFLiteDetector(model, runtime="ai-edge-litert", threads=threads)
    detectors = [first] + [first.replica() for _ in range(interpreters - 1)]
    tensors = [first.input_tensor(first_read(path)) for path in images]
    for detector in detectors:  # warm up
        detector.interpreter.set_tensor(detector.input["index"], tensors[0])
        detector.interpreter.invoke()

    def loop(detector, share):
        for tensor in share:
            detector.interpreter.set_tensor(detector.input["index"], tensor)
            detector.interpreter.invoke()

    shares = [tensors[index::interpreters] for index in range(interpreters)]
    workers = [threading.Thread(target=loop, args=pair) for pair in zip(detectors, shares)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return len(tensors) / (time.perf_counter() - start)


def first_read(path: Path):
    from odwrap.deploy.runtime import load_rgb

    return load_rgb(path)


def predict_rate(model: Path, images: list, output: Path, threads: int, workers: int,
                 annotate: bool) -> float:
    import odwrap

    start = time.perf_counter()
    result = odwrap.predict(model, images, output, threshold=0.5, threads=threads,
                            workers=workers, annotate=annotate, restart=True, jsonl=True)
    elapsed = time.perf_counter() - start
    return result.images / elapsed


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, load average {load:.1f} at the start"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a .tflite (default: the demo at 320, int8)")
    parser.add_argument("--images", nargs="+", help="image files, folders or globs "
                                                    "(default: --count generated JPEGs)")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--size", default="640x480", help="generated images' WIDTHxHEIGHT")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--workers", default="1,2", help="the --workers values to time")
    args = parser.parse_args(argv)
    from odwrap.deploy import sources

    workers = [int(value) for value in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model or demo_int8(tmp / "demo")
        if args.images:
            images = [source.path for source in sources.iterate(args.images)]
        else:
            width, height = (int(value) for value in args.size.split("x"))
            images = generate_images(tmp / "images", args.count, width, height)
        configurations = [("bare", 1, False), ("bare", 2, False)] + \
            [("predict", count, annotate) for count in workers for annotate in (False, True)]
        rates = {configuration: [] for configuration in configurations}
        for round_index in range(args.rounds):
            order = configurations if round_index % 2 == 0 else configurations[::-1]
            for kind, count, annotate in order:
                if kind == "bare":
                    rate = bare_rate(model, images, args.threads, interpreters=count)
                else:
                    rate = predict_rate(model, images, tmp / "out", args.threads, count,
                                        annotate)
                rates[kind, count, annotate].append(rate)
    median = {key: statistics.median(values) for key, values in rates.items()}
    base = median["bare", 1, False]
    names = {("bare", 1, False): "bare invoke, 1 interpreter",
             ("bare", 2, False): "bare invoke, 2 interpreters side by side"}
    for count in workers:
        names["predict", count, False] = f"predict --workers {count} --no-annotate"
        names["predict", count, True] = f"predict --workers {count} (annotated PNGs)"
    print(json.dumps({
        "machine": machine(), "model": str(args.model or "demo spec at 320x320, int8"),
        "images": len(images), "image_size": "given" if args.images else args.size,
        "threads": args.threads, "rounds": args.rounds,
        "images_per_second": {names[key]: round(value, 1) for key, value in median.items()},
        "each_round": {names[key]: [round(value, 1) for value in values]
                       for key, values in rates.items()},
        "ratio_to_bare_invoke": {names[key]: round(value / base, 3)
                                 for key, value in median.items()},
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
