#!/usr/bin/env bash
# Install everything if needed (scripts/setup.sh, setup-consumers.sh, setup-beam.sh,
# setup-converters.sh, docs.sh's venv), then run the whole test suite.
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
# The venvs install side by side (each mostly waits on downloads); what one prints is shown
# when it fails. The Task Library and MediaPipe (tests/deploy/test_consumers.py), Apache Beam
# (tests/data/test_beam.py), the third-party converters (tests/data/test_third_party_exports.py)
# and MkDocs (tests/test_docs.py's site build) have venvs of their own; without one, the tests
# that need it are skipped, or fail under CI.
LOGS="$ROOT/build/setup-logs"
mkdir -p "$LOGS"
"$ROOT/scripts/setup-consumers.sh" >"$LOGS/consumers.log" 2>&1 & CONSUMERS=$!
"$ROOT/scripts/setup-beam.sh" --tensorflow >"$LOGS/beam.log" 2>&1 & BEAM=$!
"$ROOT/scripts/setup-converters.sh" >"$LOGS/converters.log" 2>&1 & CONVERTERS=$!
"$ROOT/scripts/docs.sh" >"$LOGS/docs.log" 2>&1 & DOCS=$!
"$ROOT/scripts/setup.sh" --stack "$STACK"
for job in "consumers $CONSUMERS" "beam $BEAM" "converters $CONVERTERS" "docs $DOCS"; do
  set -- $job
  if ! wait "$2"; then
    tail -n 20 "$LOGS/$1.log" >&2
    echo "test.sh: the $1 set-up failed ($LOGS/$1.log); the tests that need it will be skipped (or fail under CI)" >&2
  fi
done
cd "$ROOT"
ARGS=()
for arg in ${REST[@]+"${REST[@]}"}; do [[ "$arg" == --fuzz ]] || ARGS+=("$arg"); done
exec "$VENV/bin/python" -m pytest ${FUZZ[@]+"${FUZZ[@]}"} ${ARGS[@]+"${ARGS[@]}"}
