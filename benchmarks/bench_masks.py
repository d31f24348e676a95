"""How far the light mask model gets on 2 CPU cores: box and mask mAP against minutes of training.

The shapes demo with instance masks (`demo-data --masks`, --images images of 128x128, split
85/15, `convert coco --masks`) trains `mask_rcnn_resnet50_v1` at 128 from scratch (no zoo
download: the machine may be offline), --every steps at a time, each followed by an evaluation
(COCO box and mask mAP@0.5 and mAP on the validation images). Reported: both against the
training minutes (evaluation time left out) and steps. One child process runs the training.
    .venv/bin/python benchmarks/bench_masks.py [--steps 600] [--every 150] [--out DIR]
"""

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from curves import curve, odwrap, parse_arguments, work_folder  # noqa: E402

METRICS = {"box50": "DetectionBoxes_Precision/mAP@.50IOU", "box": "DetectionBoxes_Precision/mAP",
           "mask50": "DetectionMasks_Precision/mAP@.50IOU", "mask": "DetectionMasks_Precision/mAP"}
SPEC = """\
model:
  architecture: mask_rcnn_resnet50_v1
  image_size: 128
  proposals: 64
  mask_size: 14
data:
  classes: [square, circle]
  train: {data}/train-*.tfrecord
  eval: {data}/val-*.tfrecord
train:
  device: cpu
  batch_size: 4
  steps: {steps}
  learning_rate: 0.01
  warmup_steps: {warmup}
eval:
  num_examples: {val}
"""



def main(argv=None) -> int:
    args = parse_arguments(__doc__.splitlines()[0], argv, 300, 600, 150)
    with tempfile.TemporaryDirectory() as temporary:
        work = work_folder(args, temporary)
        odwrap("demo-data", work / "shapes", "--images", args.images, "--masks")
        odwrap("convert", "coco", work / "shapes" / "annotations.json", "-o", work / "data",
               "--masks", "--split", "train=0.85,val=0.15")
        val = json.loads((work / "data" / "report.json").read_text())
        (work / "spec.yaml").write_text(SPEC.format(
            data=work / "data", steps=args.steps, warmup=min(100, args.steps // 10),
            val=val.get("splits", {}).get("val", {}).get("images", 45)))
        odwrap("generate", work / "spec.yaml", "-o", work / "config", "--force")
        print(f"mask_rcnn_resnet50_v1 at 128 from scratch, {args.steps} steps, batch 4")
        points = curve(work / "config" / "pipeline.config", work / "model", args.steps,
                       args.every, METRICS)
        print(f"\n{'step':>6} {'minutes':>8} {'box@0.5':>8} {'box':>6} {'mask@0.5':>9} "
              f"{'mask':>6}")
        for point in points:
            print(f"{point['step']:>6} {point['minutes']:>8.1f} {point['box50']:>8.3f} "
                  f"{point['box']:>6.3f} {point['mask50']:>9.3f} {point['mask']:>6.3f}")
        if args.out:
            (work / "results.json").write_text(json.dumps(points, indent=2))
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({(time.perf_counter() - started) / 60:.1f} minutes in all)")
    sys.exit(code)
