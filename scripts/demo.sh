#!/usr/bin/env bash
# The main job end to end on the built-in demo dataset, from a fresh clone.
# Today: set-up and a health check of the OD API stack. Later steps are added as they land.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
ODWRAP="$ROOT/.venv/bin/odwrap"
OUT="${ODWRAP_DEMO_DIR:-$ROOT/demo_out}"
mkdir -p "$OUT"

echo "== 1. the stack"
"$ODWRAP" doctor
