#!/usr/bin/env bash
# Create the converters venv: converter libraries that no one here wrote (globox, supervision),
# which write YOLO, LabelMe, CVAT and Create ML datasets from a COCO file for
# tests/data/test_third_party_exports.py to read back with odwrap. The tests need them, odwrap
# does not, so they get a venv of their own (Python 3.11-3.13), without odwrap in it.
# Idempotent: a second run with nothing to do returns in a second.
#   ODWRAP_CONVERTERS_VENV=DIR    the venv's folder (default .venv-converters)
#   ODWRAP_CONVERTERS_PYTHON=PATH the Python 3.11-3.13 to build it from
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements"
VENV="${ODWRAP_CONVERTERS_VENV:-$ROOT/.venv-converters}"
case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
  "") ;;
  *) echo "setup-converters.sh: unknown option '$1'" >&2; exit 2 ;;
esac

supported() {
  "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null
}
find_python() {
  for candidate in "${ODWRAP_CONVERTERS_PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
      "$candidate" -c 'import sys; print(sys.executable)'; return 0
    fi
  done
  return 1
}

if [ -x "$VENV/bin/python" ] && ! supported "$VENV/bin/python"; then
  echo "setup-converters.sh: $VENV is not Python 3.11-3.13; recreating it" >&2
  rm -rf "$VENV"
fi
STAMP="$VENV/.odwrap-installed"
WANT="converters $(cat "$REQ/converters.txt" "$REQ/constraints-converters.txt" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "setup-converters.sh: $VENV is up to date"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  PY="$(find_python)" || {
    echo "setup-converters.sh: no Python 3.11-3.13 found; install one or set ODWRAP_CONVERTERS_PYTHON=/path/to/python" >&2
    exit 1
  }
  echo "setup-converters.sh: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
echo "setup-converters.sh: installing globox and supervision into $VENV"
"$VENV/bin/python" -m pip --disable-pip-version-check -q install \
  -c "$REQ/constraints-converters.txt" -r "$REQ/converters.txt"
"$VENV/bin/python" -W ignore -c 'import globox, supervision' >/dev/null
echo "$WANT" > "$STAMP"
echo "setup-converters.sh: done"
