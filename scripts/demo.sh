#!/usr/bin/env bash
# The main job end to end on the built-in demo dataset, from a fresh clone.
# Set-up, a health check of the stack, the demo dataset converted to TFRecords, a spec rendered
# into a validated pipeline.config, training from scratch, a COCO evaluation, an int8 TFLite
# export with its Edge TPU report and its mAP against fp32, and predictions on a few validation
# images at the evaluation's best-F1 threshold; it ends naming the evaluation's HTML report.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/stack.sh"
stack_args "$@"  # --stack tf215 runs it on the TF 2.15 stack
"$ROOT/scripts/setup.sh" --stack "$STACK"
ODWRAP="$VENV/bin/odwrap"
OUT="${ODWRAP_DEMO_DIR:-$ROOT/demo_out}"
mkdir -p "$OUT"

echo "== 1. the stack"
"$ODWRAP" doctor

echo "== 2. the demo dataset: shapes on noisy backgrounds, written as Pascal VOC"
"$ODWRAP" demo-data "$OUT/voc" --images 450 --size 128

echo "== 3. Pascal VOC -> sharded TFRecords with a stratified split"
"$ODWRAP" convert voc "$OUT/voc" -o "$OUT/data" --split train=0.89,val=0.11 --seed 0
"$ODWRAP" stats "$OUT/data/train-*.tfrecord" --input-size 128 --histogram "$OUT/data/stats.png"

echo "== 4. a spec becomes a validated pipeline.config (no TensorFlow import)"
"$ODWRAP" generate "$ROOT/templates/specs/demo_shapes.yaml" -o "$OUT/config" \
  --set "data.train=$OUT/data/train-*.tfrecord" --set "data.eval=$OUT/data/val-*.tfrecord"

echo "== 5. the OD API's model_builder builds it and runs it once"
"$ODWRAP" check "$OUT/config/pipeline.config" --build --target edgetpu

echo "== 6. train from scratch on the CPU (1500 steps; rerunning resumes)"
"$ODWRAP" train "$OUT/config/pipeline.config" --model-dir "$OUT/model"

echo "== 7. evaluate the final checkpoint: COCO metrics, per class, the best-F1 threshold, a report"
"$ODWRAP" eval "$OUT/model"
"$ODWRAP" plot "$OUT/model"

echo "== 8. export a full-integer TFLite model with its Edge TPU op report, and compare its"
echo "      COCO mAP with the fp32 model's on the validation images"
"$ODWRAP" export "$OUT/model" --format edgetpu --compare -o "$OUT/export"

echo "== 9. detect on a few validation images with the int8 model, at the threshold the export"
echo "      carries (the evaluation's best F1)"
"$ODWRAP" predict "$OUT/export/model_int8.tflite" "$OUT/data/val-*.tfrecord" --max-images 6 \
  -o "$OUT/predictions"
"$VENV/bin/python" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
key = "DetectionBoxes_Precision/mAP@.50IOU"
checkpoint = json.loads((out / "model" / "metrics.json").read_text())["metrics"]
compared = json.loads((out / "export" / "compare.json").read_text())
int8 = out / "export" / "model_int8.tflite"
print(f"demo: checkpoint COCO mAP@0.5 {checkpoint[key]:.3f}; TFLite fp32 "
      f"{compared['fp32']['metrics'][key]:.3f}, int8 {compared['int8']['metrics'][key]:.3f}; "
      f"int8 model {int8.stat().st_size / 1e6:.2f} MB, {compared['int8']['median_ms']:.1f} ms "
      f"per image ({compared['runtime']})")
PY
echo "demo: TFRecords in $OUT/data, config in $OUT/config, model and metrics.json in $OUT/model,"
echo "      curves in $OUT/model/training.png, int8 model in $OUT/export,"
echo "      annotated images in $OUT/predictions"
echo "demo: the evaluation's report (per class, curves, confusion matrix, worst images):"
echo "      $OUT/model/analysis/report.html"
