#!/usr/bin/env bash
# Install everything if needed (scripts/setup.sh, setup-consumers.sh, setup-beam.sh, docs.sh's
# venv), then run the whole test suite.
#   --stack tf215   on the TF 2.15 stack (.venv-tf215) instead of the default TF 2.21 (.venv)
#   --fuzz          only the fuzz tests (tests marked fuzz), with many more generated cases
# Other arguments go to pytest, e.g. ./scripts/test.sh -m "not tf" for the fast subset.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/stack.sh"
stack_args "$@"
FUZZ=()
for arg in ${REST[@]+"${REST[@]}"}; do
  if [[ "$arg" == --fuzz ]]; then
    export HYPOTHESIS_PROFILE=fuzz
    FUZZ=(-m fuzz)
  fi
done
"$ROOT/scripts/setup.sh" --stack "$STACK"
# The Task Library and MediaPipe in their own venv, for tests/deploy/test_consumers.py (which
# fails under CI without it, and is skipped elsewhere).
"$ROOT/scripts/setup-consumers.sh" ||
  echo "test.sh: no consumers venv; the tests that need it will be skipped (or fail under CI)" >&2
# Apache Beam in its own venv, for tests/data/test_beam.py (the same: fails under CI without it).
"$ROOT/scripts/setup-beam.sh" ||
  echo "test.sh: no Beam venv; the tests that need it will be skipped (or fail under CI)" >&2
# MkDocs in its own venv, for tests/test_docs.py's site build (the same: fails under CI without it).
"$ROOT/scripts/docs.sh" >/dev/null ||
  echo "test.sh: the documentation site did not build; tests/test_docs.py says why" >&2
cd "$ROOT"
ARGS=()
for arg in ${REST[@]+"${REST[@]}"}; do [[ "$arg" == --fuzz ]] || ARGS+=("$arg"); done
exec "$VENV/bin/python" -m pytest ${FUZZ[@]+"${FUZZ[@]}"} ${ARGS[@]+"${ARGS[@]}"}
