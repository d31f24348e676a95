#!/usr/bin/env bash
# Create the consumers venv: the programs that run odwrap's .tflite exports where users deploy
# them, to check the exports with (tests/deploy/test_consumers.py, benchmarks/bench_runtime.py):
# the TFLite Task Library (tflite-support 0.4.4) and MediaPipe Tasks (mediapipe 0.10.9). They
# need protobuf < 4, which the TF 2.21 stack cannot have, so they get a venv of their own, on
# Python 3.11. tflite-support's import needs the system library libusb-1.0 (Debian package
# libusb-1.0-0): installed with apt-get when missing and this runs as root, else named.
# Idempotent: a second run with nothing to do returns in a second.
#   ODWRAP_CONSUMERS_VENV=DIR    the venv's folder (default .venv-consumers)
#   ODWRAP_CONSUMERS_PYTHON=PATH the Python 3.11 to build it from
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements"
VENV="${ODWRAP_CONSUMERS_VENV:-$ROOT/.venv-consumers}"
case "${1:-}" in
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  "") ;;
  *) echo "setup-consumers.sh: unknown option '$1'" >&2; exit 2 ;;
esac

has_libusb() {
  ldconfig -p 2>/dev/null | grep -q 'libusb-1\.0\.so\.0' ||
    ls /lib/*/libusb-1.0.so.0 /usr/lib/*/libusb-1.0.so.0 >/dev/null 2>&1
}
if ! has_libusb; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-consumers.sh: installing libusb-1.0-0 (tflite-support's import needs it)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q libusb-1.0-0 >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q libusb-1.0-0 >/dev/null; }
  fi
  if ! has_libusb; then
    echo "setup-consumers.sh: the system library libusb-1.0 is missing and cannot be installed from here; install it (Debian/Ubuntu: sudo apt-get install libusb-1.0-0; Fedora: sudo dnf install libusb1) and run this again" >&2
    exit 1
  fi
fi

supported() {
  "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null
}
find_python() {
  for candidate in "${ODWRAP_CONSUMERS_PYTHON:-}" python3.11 "$HOME"/.pyenv/versions/3.11.*/bin/python python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
      "$candidate" -c 'import sys; print(sys.executable)'; return 0
    fi
  done
  return 1
}

if [ -x "$VENV/bin/python" ] && ! supported "$VENV/bin/python"; then
  echo "setup-consumers.sh: $VENV is not Python 3.11; recreating it" >&2
  rm -rf "$VENV"
fi
STAMP="$VENV/.odwrap-installed"
WANT="consumers $(cat "$REQ/consumers.txt" "$REQ/constraints-consumers.txt" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "setup-consumers.sh: $VENV is up to date"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  PY="$(find_python)" || {
    echo "setup-consumers.sh: no Python 3.11 found (tflite-support 0.4.4 and mediapipe 0.10.9 have wheels up to 3.11); install one or set ODWRAP_CONSUMERS_PYTHON=/path/to/python3.11" >&2
    exit 1
  }
  echo "setup-consumers.sh: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
echo "setup-consumers.sh: installing tflite-support and mediapipe into $VENV"
"$VENV/bin/python" -m pip --disable-pip-version-check -q install \
  -c "$REQ/constraints-consumers.txt" -r "$REQ/consumers.txt"
"$VENV/bin/python" -c 'import tflite_support.task.vision, mediapipe.tasks.python.vision' >/dev/null
echo "$WANT" > "$STAMP"
echo "setup-consumers.sh: done"
