"""How far the keypoint demo gets on 2 CPU cores: OKS AP of the squares' corners against minutes
of training, then the same of its TFLite model.

The keypoint demo (`demo-data --keypoints --shapes square`, --images images of 128x128, split
85/15, `convert coco --keypoints`) trains templates/specs/centernet_keypoints_squares.yaml (the
mobile CenterNet, from scratch: no zoo download, the machine may be offline) --every steps at a
time, each followed by an evaluation (box mAP, and the OKS keypoint AP and AP@.50 on the
validation images). Reported: each against the training minutes (evaluation left out) and
steps; then the last checkpoint exported to TFLite (fp32) and evaluated as a phone runs it
(`eval --model`), and four annotated validation images (predict: boxes, points, skeletons) in
--out's annotated.png. Run
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



def annotated_grid(work: Path, tflite: Path, count: int = 4) -> Path:
    """The first COUNT validation images as `predict` TFLITE annotates them (boxes, points and
    skeletons), side by side at twice their size (nearest neighbour): WORK/predicted/grid.png."""
    from PIL import Image

    from odwrap.odapi.tfexample import decode_example, read_records

    records = read_records(next((work / "records").glob("val-*.tfrecord")))
    names = [decode_example(record)["image/filename"][0].decode()
             for record, _ in zip(records, range(count))]
    out = work / "predicted"
    shutil.rmtree(out, ignore_errors=True)  # an earlier run's, in --out
    odwrap("predict", tflite, *(work / "shapes" / name for name in names), "-o", out)
    tiles = [Image.open(out / f"{Path(name).stem}.annotated.png") for name in names]
    width, height = tiles[0].size
    grid = Image.new("RGB", (2 * width * len(tiles) + 8 * (len(tiles) - 1), 2 * height), "white")
    for index, tile in enumerate(tiles):
        grid.paste(tile.resize((2 * width, 2 * height), Image.NEAREST),
                   (index * (2 * width + 8), 0))
    grid.save(out / "grid.png")
    return out / "grid.png"


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
        grid = annotated_grid(work, tflite)
        if args.out:
            shutil.copy(grid, work / "annotated.png")
            (work / "results.json").write_text(json.dumps(
                {"points": points, "tflite": phone, "tflite_ms": exported["median_ms"]},
                indent=2))
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({(time.perf_counter() - started) / 60:.1f} minutes in all)")
    sys.exit(code)
