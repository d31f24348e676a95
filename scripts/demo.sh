#!/usr/bin/env bash
# The main job end to end on the built-in demo dataset, from a fresh clone.
# Today: set-up, a health check of the OD API stack, and a spec rendered into a validated
# pipeline.config that the real OD API builds. Later steps (convert, train, export) are added
# as they land.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
ODWRAP="$ROOT/.venv/bin/odwrap"
OUT="${ODWRAP_DEMO_DIR:-$ROOT/demo_out}"
mkdir -p "$OUT"

echo "== 1. the stack"
"$ODWRAP" doctor

echo "== 2. a spec becomes a validated pipeline.config (no TensorFlow import)"
"$ODWRAP" generate "$ROOT/templates/specs/ssd_mobilenet_v2_fpnlite_320.yaml" -o "$OUT/config"

echo "== 3. the OD API's model_builder builds it and runs it once"
"$ODWRAP" check "$OUT/config/pipeline.config" --build --target edgetpu
echo "demo: the pipeline.config is in $OUT/config"
