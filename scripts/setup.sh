#!/usr/bin/env bash
# Create a venv and install one pinned OD API stack and odwrap (editable) into it.
# Idempotent: a second run with nothing to do returns in seconds.
#   --stack tf221 (default)  TensorFlow 2.21 + tf-keras, Python 3.10-3.13, venv .venv
#   --stack tf215            TensorFlow 2.15, Python 3.11, with tflite-runtime, venv .venv-tf215
#   --gpu / ODWRAP_GPU=1     the CUDA build of TensorFlow instead of tensorflow-cpu
#   ODWRAP_STACK=NAME        the stack, as --stack
#   ODWRAP_PYTHON=PATH       the interpreter to build the venv from
#   ODWRAP_VENV=DIR          the venv's folder instead of the stack's default
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements"
GPU="${ODWRAP_GPU:-0}"
source "$ROOT/scripts/stack.sh"
stack_args "$@"
for arg in ${REST[@]+"${REST[@]}"}; do
  case "$arg" in
    --gpu) GPU=1 ;;
    --cpu) GPU=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (use --stack tf221|tf215, --gpu or --cpu)" >&2; exit 2 ;;
  esac
done
FLAVOUR=cpu; [ "$GPU" = "1" ] && FLAVOUR=gpu

# Whether PYTHON is one of the stack's versions.
supported() {
  "$1" -c "import sys; sys.exit(f'{sys.version_info[0]}.{sys.version_info[1]}' not in '$PYTHONS'.split())" 2>/dev/null
}

find_python() {
  local candidates=("${ODWRAP_PYTHON:-}")
  for version in $PYTHONS; do candidates+=("python$version"); done
  candidates+=(python3)
  for candidate in "${candidates[@]}"; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
      "$candidate" -c 'import sys; print(sys.executable)'; return 0
    fi
  done
  return 1
}

# A venv of another stack (or an unsupported Python) is rebuilt, not installed over.
STAMP="$VENV/.odwrap-installed"
if [ -x "$VENV/bin/python" ]; then
  if ! supported "$VENV/bin/python"; then
    echo "setup.sh: $VENV has a Python that the $STACK stack does not support; recreating it" >&2
    rm -rf "$VENV"
  elif [ -f "$STAMP" ] && [ "$(cut -d' ' -f1 "$STAMP")" != "$STACK" ]; then
    echo "setup.sh: $VENV holds another stack ($(cut -d' ' -f1 "$STAMP")); recreating it for $STACK" >&2
    rm -rf "$VENV"
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  PY="$(find_python)" || {
    echo "setup.sh: no Python ${PYTHONS// /, } found (the $STACK stack needs one); install one or set ODWRAP_PYTHON=/path/to/python" >&2
    exit 1
  }
  echo "setup.sh: creating $VENV with $PY ($STACK)"
  "$PY" -m venv "$VENV"
fi

# The stamp records what was installed; unchanged inputs mean nothing to do.
# The consumers' and converters' venvs' pins (scripts/setup-consumers.sh, setup-converters.sh)
# are not this venv's inputs.
INPUTS=()
for file in "$REQ"/*.txt; do
  case "$(basename "$file")" in *consumers*|*converters*) ;; *) INPUTS+=("$file") ;; esac
done
WANT="$STACK $FLAVOUR $(cat "${INPUTS[@]}" "$ROOT/setup.py" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
# Every program in the venv applies the OD API's fixes on its first import of object_detection
# (odwrap/odapi/hook.py): a path-configuration file in site-packages.
install_hook() {
  "$VENV/bin/python" -c 'from odwrap.odapi import hook; hook.pth_installed() or hook.write_pth()'
}
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && "$VENV/bin/python" -c 'import odwrap' 2>/dev/null; then
  install_hook
  echo "setup.sh: $VENV is up to date ($STACK, $FLAVOUR)"
  exit 0
fi

PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
CONSTRAINTS=(-c "$REQ/constraints-$STACK.txt")
OTHER=gpu; TF_OUT=tensorflow; [ "$FLAVOUR" = gpu ] && { OTHER=cpu; TF_OUT=tensorflow-cpu; }
# Switching flavour: both TensorFlow builds in one venv overwrite each other's files.
if "$VENV/bin/python" -m pip show "$TF_OUT" >/dev/null 2>&1; then
  echo "setup.sh: removing the $OTHER build of TensorFlow"
  "${PIP[@]}" uninstall -y "$TF_OUT"
fi
echo "setup.sh: installing the $STACK stack ($FLAVOUR) into $VENV"
"${PIP[@]}" install "${CONSTRAINTS[@]}" -r "$REQ/base.txt" -r "$REQ/stack-$STACK.txt" \
  -r "$REQ/tensorflow-$FLAVOUR.txt" -r "$REQ/dev.txt"
# Last, without their declared dependencies (requirements/nodeps*.txt say why).
NODEPS=(-r "$REQ/nodeps.txt")
[ -f "$REQ/nodeps-$STACK.txt" ] && NODEPS+=(-r "$REQ/nodeps-$STACK.txt")
"${PIP[@]}" install --no-deps "${CONSTRAINTS[@]}" "${NODEPS[@]}"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"
install_hook
echo "$WANT" > "$STAMP"
echo "setup.sh: done; run '$VENV/bin/odwrap doctor' to check the stack"
