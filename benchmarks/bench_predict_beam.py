"""`odwrap predict --runner beam` (Beam's DirectRunner, multi-processing) against the local
`odwrap predict` on the same images, in one run: images/s, the ratio, and the peak memory of
each one's whole process tree (the sum of the processes' proportional set sizes, sampled every
50 ms, as bench_convert.py measures it: the Beam venv's child and its workers included).

The images are the demo shapes (odwrap.data.demo, JPEGs of --size pixels), default 10,000. The
model is --model (a .tflite or a SavedModel folder, e.g. demo_out/export/model_int8.tflite of
./scripts/demo.sh), else the demo spec trained for a few steps and exported to int8 here (the
rates do not depend on the weights). Both runs write JSON Lines without annotated images
(--annotate: with them) at --threshold, and their rows must be equal (after sorting: the
detections field by field, the image log but for the times), or the script fails.
    .venv/bin/python benchmarks/bench_predict_beam.py [--images 10000] [--size 128]
        [--model MODEL] [--threshold 0.3] [--beam-options "--direct_num_workers=2"] [--annotate]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_convert import _tree_pss  # noqa: E402
from benchmarks.bench_runtime import demo_model, odwrap  # noqa: E402


def run_predict(model: Path, images: Path, output: Path, args, beam: bool) -> tuple:
    """(seconds, peak bytes of the process tree, stdout) of one `odwrap predict`."""
    shutil.rmtree(output, ignore_errors=True)
    argv = [sys.executable, "-m", "odwrap", "predict", str(model), str(images), "-o",
            str(output), "--jsonl", "--threshold", str(args.threshold)]
    argv += [] if args.annotate else ["--no-annotate"]
    if beam:
        argv += ["--runner", "beam"] + ([f"--beam-options={args.beam_options}"]
                                        if args.beam_options else [])
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_pss(process.pid))
        time.sleep(0.05)
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"odwrap predict{' --runner beam' if beam else ''} failed: "
                         f"{err.decode()[-2000:]}")
    return seconds, peak, out.decode()


def rows(output: Path) -> tuple[list, list]:
    detections = sorted((json.loads(line) for line in open(output / "detections.jsonl")),
                        key=lambda row: row["id"])
    log = [{key: value for key, value in json.loads(line).items() if key != "milliseconds"}
           for line in open(output / "images.jsonl")]
    return detections, log


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--model", type=Path, help="default: the demo spec, a few steps, int8")
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--beam-options", default="",
                        help="Beam's options (default: odwrap's, the DirectRunner with a "
                             "process per 2 cores)")
    parser.add_argument("--annotate", action="store_true", help="also write annotated images")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from odwrap.data.demo import write_demo_dataset

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            model_dir = demo_model(tmp / "demo", steps=20, size=args.size)
            odwrap("export", model_dir, "--format", "tflite", "--quantize", "int8",
                   "--representative", 20, "-o", tmp / "export")
            model = tmp / "export" / "model_int8.tflite"
        dataset = write_demo_dataset(tmp / "voc", images=args.images, size=args.size)
        images = dataset / "JPEGImages"
        for path in images.iterdir():
            path.read_bytes()  # the page cache holds the files for both runs alike
        result = {"images": args.images, "image_size": args.size, "cores": os.cpu_count(),
                  "model": str(model), "annotate": args.annotate}
        for name, beam in (("local", False), ("beam", True)):
            seconds, peak, out = run_predict(model, images, tmp / name, args, beam)
            result[name] = {"images_per_second": round(args.images / seconds, 1),
                            "seconds": round(seconds, 1), "peak_mib": round(peak / 2**20)}
            result[name]["summary"] = out.strip().splitlines()[-1]
        local, beam = rows(tmp / "local"), rows(tmp / "beam")
        if local != beam:
            raise SystemExit("the Beam run's rows differ from the local run's")
        result["rows_equal"] = {"detections": len(local[0]), "images": len(local[1])}
    result["beam_vs_local"] = round(result["beam"]["images_per_second"] /
                                    result["local"]["images_per_second"], 2)
    result["beam_peak_vs_local"] = round(result["beam"]["peak_mib"] /
                                         max(1, result["local"]["peak_mib"]), 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
