#!/usr/bin/env bash
# Install everything if needed (scripts/setup.sh), then run the whole test suite.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -m "not tf" for the fast subset.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
