#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the pinned OD API stack and odwrap (editable).
# Idempotent: a second run with nothing to do returns in seconds.
#   ODWRAP_GPU=1 or --gpu   install the CUDA build of TensorFlow instead of tensorflow-cpu
#   ODWRAP_PYTHON=PATH      the Python 3.11 interpreter to build the venv from
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/requirements"
GPU="${ODWRAP_GPU:-0}"
for arg in "$@"; do
  case "$arg" in
    --gpu) GPU=1 ;;
    --cpu) GPU=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (use --gpu or --cpu)" >&2; exit 2 ;;
  esac
done
FLAVOUR=cpu; [ "$GPU" = "1" ] && FLAVOUR=gpu

find_python() {
  for candidate in "${ODWRAP_PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      "$candidate" -c 'import sys; print(sys.executable)'; return 0
    fi
  done
  return 1
}

if [ -x "$VENV/bin/python" ] &&
   ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
  echo "setup.sh: $VENV is not Python 3.11; recreating it" >&2
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  PY="$(find_python)" || {
    echo "setup.sh: Python 3.11 not found (TensorFlow 2.15 and the OD API need it); install it or set ODWRAP_PYTHON=/path/to/python3.11" >&2
    exit 1
  }
  echo "setup.sh: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi

# The stamp records what was installed; unchanged inputs mean nothing to do.
STAMP="$VENV/.odwrap-installed"
WANT="$FLAVOUR $(cat "$REQ"/*.txt "$ROOT/setup.py" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/python" -c 'import odwrap' 2>/dev/null; then
  echo "setup.sh: $VENV is up to date ($FLAVOUR)"
  exit 0
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
OTHER=gpu; TF_OUT=tensorflow; [ "$FLAVOUR" = gpu ] && { OTHER=cpu; TF_OUT=tensorflow-cpu; }
# Switching flavour: both TensorFlow builds in one venv overwrite each other's files.
if "$VENV/bin/python" -m pip show "$TF_OUT" >/dev/null 2>&1; then
  echo "setup.sh: removing the $OTHER build of TensorFlow"
  "${PIP[@]}" uninstall -y "$TF_OUT"
fi
echo "setup.sh: installing the pinned stack ($FLAVOUR) into $VENV"
"${PIP[@]}" install -c "$REQ/constraints.txt" \
  -r "$REQ/base.txt" -r "$REQ/tensorflow-$FLAVOUR.txt" -r "$REQ/dev.txt"
# Last, without their declared dependencies (requirements/nodeps.txt says why).
"${PIP[@]}" install --no-deps -c "$REQ/constraints.txt" -r "$REQ/nodeps.txt"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"
echo "$WANT" > "$STAMP"
echo "setup.sh: done; run '$VENV/bin/odwrap doctor' to check the stack"
