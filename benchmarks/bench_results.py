"""Throughput and peak memory of `odwrap trim` and `odwrap merge` on generated Open Images
submission files.

Two "models" predict --rows detections in all (half each) over --rows / 100 images, 50
detections an image in each file, of 20 classes, random boxes and scores with 4 decimals. Timed,
each in its own process (peak RSS from getrusage): trim --max-total 1% of one file's rows
(three passes), merge of both with Soft-NMS, with weighted boxes fusion, and --join. Reported:
rows per second (input rows over wall time), as a ratio to the baseline (the same process
reading one file's rows and doing nothing with them: rows.read), and peak memory against the
inputs' size.
    .venv/bin/python benchmarks/bench_results.py [--rows 10000000] [--out DIR]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import resource, sys, time
from odwrap import cli
from odwrap.results import rows
started = time.perf_counter()
if sys.argv[1] == "read":
    count = sum(1 for row in rows.read(sys.argv[2]) if row.label is not None)
    code = 0
else:
    code = cli.main(sys.argv[1:])
print("SECONDS", time.perf_counter() - started)
print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def write_submission(path: Path, images: int, per_image: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write("ImageId,PredictionString\n")
        for image in range(images):
            corner = rng.random((per_image, 2)) * 0.7
            size = rng.random((per_image, 2)) * 0.3
            labels = rng.integers(0, 20, per_image)
            scores = rng.random(per_image)
            groups = " ".join(
                f"/m/{label:02d} {score:.4f} {x:.4f} {y:.4f} {x + w:.4f} {y + h:.4f}"
                for label, score, (x, y), (w, h) in zip(labels, scores, corner, size))
            handle.write(f"img{image:08d},{groups}\n")
    return images * per_image


def timed(*argv) -> tuple[float, float]:
    """(seconds, peak MiB) of one child run."""
    result = subprocess.run([sys.executable, "-c", CHILD, *map(str, argv)], cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    seconds = float(result.stdout.split("SECONDS")[-1].split()[0])
    return seconds, int(result.stdout.split("PEAK")[-1]) / 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, help="keep the files here (default: temporary)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        work = args.out or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        images, per_image = args.rows // 100, 50
        first, second = work / "model1.csv", work / "model2.csv"
        started = time.perf_counter()
        rows = write_submission(first, images, per_image, 1)
        rows += write_submission(second, images, per_image, 2)
        size = (first.stat().st_size + second.stat().st_size) / 2**20
        print(f"generated {rows:,} rows over {images:,} images ({size:.0f} MiB) in "
              f"{time.perf_counter() - started:.0f} s")
        runs = [("read one file (baseline)", rows // 2, ("read", first)),
                ("trim --max-total 1%", rows // 2,
                 ("trim", first, "-o", work / "trimmed.csv", "--max-total", rows // 200)),
                ("merge soft-nms", rows, ("merge", work / "soft.csv", first, second)),
                ("merge wbf", rows, ("merge", work / "wbf.csv", first, second,
                                     "--method", "wbf")),
                ("merge --join", rows, ("merge", work / "join.csv", first, second, "--join"))]
        print(f"\n{'run':26} {'rows/s':>10} {'x read':>7} {'seconds':>8} {'peak MiB':>9}")
        baseline = None
        for name, count, argv in runs:
            seconds, peak = timed(*argv)
            rate = count / seconds
            baseline = baseline or rate
            print(f"{name:26} {rate:>10,.0f} {rate / baseline:>7.2f} {seconds:>8.1f} "
                  f"{peak:>9.0f}")
        print(f"(inputs {size:.0f} MiB; peak memory is the whole process: Python, numpy, odwrap)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
