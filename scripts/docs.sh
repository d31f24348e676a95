#!/usr/bin/env bash
# Build the documentation site with MkDocs (Material theme) into site/: docs/*.md, with
# README.md as its home page. Creates .venv-docs (requirements/constraints-docs.txt) first.
#   ./scripts/docs.sh          build, failing on a warning (a broken link or anchor in docs/)
#   ./scripts/docs.sh serve    serve it on http://127.0.0.1:8000 while you edit
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/requirements"
VENV="${ODWRAP_DOCS_VENV:-$ROOT/.venv-docs}"
case "${1:-build}" in
  build|serve) ;;
  -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
  *) echo "docs.sh: unknown command '$1' (build or serve)" >&2; exit 2 ;;
esac

STAMP="$VENV/.odwrap-installed"
WANT="docs $(cat "$REQ/docs.txt" "$REQ/constraints-docs.txt" | sha256sum | cut -d' ' -f1)"
if ! [ -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip --disable-pip-version-check -q install \
    -r "$REQ/docs.txt" -c "$REQ/constraints-docs.txt"
  echo "$WANT" > "$STAMP"
fi

# The site's sources: docs/ as it is, and README.md as index.md with its docs/ links made
# relative to docs/.
SOURCES="$ROOT/build/docs-site"
rm -rf "$SOURCES"
mkdir -p "$SOURCES"
cp -R "$ROOT/docs/." "$SOURCES/"
sed -e 's#](docs/#](#g' "$ROOT/README.md" > "$SOURCES/index.md"

cd "$ROOT"
export NO_MKDOCS_2_WARNING=1  # the theme's notice about its successor, at every build
if [ "${1:-build}" = serve ]; then
  exec "$VENV/bin/mkdocs" serve
fi
"$VENV/bin/mkdocs" build --strict --quiet
echo "docs.sh: the site is in $ROOT/site (open site/index.html)"
