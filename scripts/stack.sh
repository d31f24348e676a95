# Sourced by setup.sh, test.sh and demo.sh: which stack, and which venv holds it.
#   stack_args ARGS...  takes --stack NAME / --stack=NAME out of ARGS into STACK (default:
#                       $ODWRAP_STACK, else tf221); the other arguments stay in REST.
#   VENV                $ODWRAP_VENV, else .venv for tf221 and .venv-tf215 for tf215.
stack_args() {
  STACK="${ODWRAP_STACK:-tf221}"
  REST=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --stack) [ $# -ge 2 ] || { echo "odwrap: --stack needs a name (tf221 or tf215)" >&2; exit 2; }
               STACK="$2"; shift ;;
      --stack=*) STACK="${1#--stack=}" ;;
      *) REST+=("$1") ;;
    esac
    shift
  done
  case "$STACK" in
    tf221) PYTHONS="3.13 3.12 3.11 3.10"; VENV="${ODWRAP_VENV:-$ROOT/.venv}" ;;
    tf215) PYTHONS="3.11"; VENV="${ODWRAP_VENV:-$ROOT/.venv-tf215}" ;;
    *) echo "odwrap: unknown stack '$STACK' (tf221 or tf215)" >&2; exit 2 ;;
  esac
}
