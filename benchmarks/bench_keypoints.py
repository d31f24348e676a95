"""How far the keypoint demo gets on 2 CPU cores: OKS AP of the squares' corners against minutes
of training, then the same of its TFLite model.

The keypoint demo (`demo-data --keypoints --shapes square`, --images images of 128x128, split
85/15, `convert coco --keypoints`) trains templates/specs/centernet_keypoints_squares.yaml (the
mobile CenterNet, from scratch: no zoo download, the machine may be offline) --every steps at a
time, each followed by an evaluation (box mAP, and the OKS keypoint AP and AP@.50 on the
validation images). Reported: each against the training minutes (evaluation left out) and
steps; then the last checkpoint exported to TFLite (fp32) and evaluated as a phone runs it
(`eval --model`), and an annotated validation image (predict, skeleton drawn) in --out. Run
again with the same --out and more --steps, it trains on from the last checkpoint (the minutes
then count this run's training only).
    .venv/bin/python benchmarks/bench_keypoints.py [--steps 1500] [--every 500] [--out DIR]
"""

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from curves import curve, odwrap, parse_arguments, work_folder  # noqa: E402

SPEC = ROOT / "templates" / "specs" / "centernet_keypoints_squares.yaml"
METRICS = {"box": "DetectionBoxes_Precision/mAP", "oks": "Keypoints_Precision/mAP",
           "oks50": "Keypoints_Precision/mAP@.50IOU"}



def main(argv=None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], argv, 450, 1500, 500)
    with tempfile.TemporaryDirectory() as temporary:
        work = work_folder(args, temporary)
        if not (work / "records" / "report.json").exists():  # else --out's, to train on
            odwrap("demo-data", work / "shapes", "--images", args.images, "--keypoints",
                   "--shapes", "square")
            odwrap("convert", "coco", work / "shapes" / "annotations.json", "-o",
                   work / "records", "--keypoints", "--split", "train=0.85,val=0.15")
        if not (work / "config" / "pipeline.config").exists():  # the first run's, kept
            odwrap("generate", SPEC, "-o", work / "config",
                   "--set", f"data.train={work}/records/train-*.tfrecord",
                   "--set", f"data.eval={work}/records/val-*.tfrecord",
                   "--set", f"train.steps={args.steps}")
        print(f"{SPEC.name}: {args.steps} steps, batch 16, from scratch", flush=True)
        points = curve(work / "config" / "pipeline.config", work / "model", args.steps,
                       args.every, METRICS)
        print(f"\n{'step':>6} {'minutes':>8} {'box mAP':>8} {'OKS AP':>7} {'OKS AP@.50':>11}")
        for point in points:
            print(f"{point['step']:>6} {point['minutes']:>8.1f} {point['box']:>8.3f} "
                  f"{point['oks']:>7.3f} {point['oks50']:>11.3f}")
        odwrap("export", work / "model", "--format", "tflite", "-o", work / "export")
        tflite = work / "export" / "model_fp32.tflite"
        odwrap("eval", "--model", tflite)
        exported = json.loads((work / "export" / "model_fp32.metrics.json").read_text())
        phone = {key: exported["metrics"][name] for key, name in METRICS.items()}
        print(f"\nTFLite fp32 ({tflite.stat().st_size / 1e6:.1f} MB): box mAP {phone['box']:.3f}, "
              f"OKS AP {phone['oks']:.3f}, OKS AP@.50 {phone['oks50']:.3f}, "
              f"{exported['median_ms']:.1f} ms an image")
        from odwrap.odapi.tfexample import decode_example, read_records

        first = next(read_records(next((work / "records").glob("val-*.tfrecord"))))
        val = work / "shapes" / decode_example(first)["image/filename"][0].decode()
        odwrap("predict", tflite, val, "-o", work / "predicted")
        annotated = next((work / "predicted").glob("*.png"))
        if args.out:
            shutil.copy(annotated, work / "annotated.png")
            (work / "results.json").write_text(json.dumps(
                {"points": points, "tflite": phone, "tflite_ms": exported["median_ms"]},
                indent=2))
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({(time.perf_counter() - started) / 60:.1f} minutes in all)")
    sys.exit(code)
