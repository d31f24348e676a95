#!/usr/bin/env bash
# Create the Beam venv for `odwrap convert --runner beam` and `predict --runner beam`:
# apache-beam[gcp] (constraints-beam.txt) with odwrap's own requirements, ai-edge-litert and the
# OD API's protos, without TensorFlow. No apache-beam release installs beside the TF 2.21 stack,
# so it gets a venv of its own; odwrap, run from any venv, finds it here (or through
# ODWRAP_BEAM_PYTHON) and runs the pipeline with its Python.
# Idempotent: a second run with nothing to do returns in a second.
#   --tensorflow              also TensorFlow 2.21 (CPU) and tf-keras, for `predict --runner beam`
#                             of a SavedModel (about 1.5 GB more); a venv that has them is up to
#                             date for a run without the option too
#   ODWRAP_BEAM_VENV=DIR      the venv's folder (default .venv-beam)
#   ODWRAP_BEAM_PYTHON3=PATH  the Python 3.10-3.13 to build it from
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements"
VENV="${ODWRAP_BEAM_VENV:-$ROOT/.venv-beam}"
TENSORFLOW=0
case "${1:-}" in
  -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
  --tensorflow) TENSORFLOW=1 ;;
  "") ;;
  *) echo "setup-beam.sh: unknown option '$1'" >&2; exit 2 ;;
esac

supported() {
  "$1" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null
}
find_python() {
  for candidate in "${ODWRAP_BEAM_PYTHON3:-}" python3.11 python3.12 python3.13 python3.10 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
      "$candidate" -c 'import sys; print(sys.executable)'; return 0
    fi
  done
  return 1
}

if [ -x "$VENV/bin/python" ] && ! supported "$VENV/bin/python"; then
  echo "setup-beam.sh: $VENV has a Python apache-beam does not support; recreating it" >&2
  rm -rf "$VENV"
fi
STAMP="$VENV/.odwrap-installed"
WANT="beam $(cat "$REQ/base.txt" "$REQ/beam.txt" "$REQ/beam-tensorflow.txt" "$REQ/nodeps-tf221.txt" "$REQ/constraints-beam.txt" "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"
HAVE="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$TENSORFLOW" = 1 ]; then
  WANT="$WANT tensorflow"
elif [ "$HAVE" = "$WANT tensorflow" ]; then
  WANT="$HAVE"  # TensorFlow is more than asked, not less
fi
if [ "$HAVE" = "$WANT" ] && "$VENV/bin/python" -c 'import odwrap' 2>/dev/null; then
  echo "setup-beam.sh: $VENV is up to date"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  PY="$(find_python)" || {
    echo "setup-beam.sh: no Python 3.10-3.13 found; install one or set ODWRAP_BEAM_PYTHON3=/path/to/python" >&2
    exit 1
  }
  echo "setup-beam.sh: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
echo "setup-beam.sh: installing apache-beam into $VENV"
"${PIP[@]}" install -c "$REQ/constraints-beam.txt" -r "$REQ/base.txt" -r "$REQ/beam.txt" wheel
# The label map's protos (the driver writes label_map.pbtxt), without their TensorFlow.
"${PIP[@]}" install --no-deps -c "$REQ/constraints-beam.txt" tf-models-research-object-detection
if [ "$TENSORFLOW" = 1 ]; then
  echo "setup-beam.sh: installing TensorFlow into $VENV"
  "${PIP[@]}" install -c "$REQ/constraints-beam.txt" -r "$REQ/beam-tensorflow.txt"
  # tf-keras (Keras 2, which odwrap's SavedModel loading sets up) declares the full tensorflow.
  "${PIP[@]}" install --no-deps -c "$REQ/constraints-beam.txt" -r "$REQ/nodeps-tf221.txt"
fi
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"
"$VENV/bin/python" -c 'import apache_beam, odwrap.data.beam_pipeline, odwrap.deploy.beam_predict_pipeline' >/dev/null
if [ "$TENSORFLOW" = 1 ]; then
  "$VENV/bin/python" -c 'import tensorflow, tf_keras' >/dev/null 2>&1
fi
echo "$WANT" > "$STAMP"
echo "setup-beam.sh: done"
