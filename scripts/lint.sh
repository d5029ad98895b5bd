#!/usr/bin/env bash
# Lint and type-check: ruff (check + format) and mypy --strict on the footnotes packages.
# mypy cannot follow setuptools' package-dir mapping, so it checks a tree of symlinks
# that lays ingest/, index/ and ui/ out as footnotes.ingest, footnotes.index, footnotes.ui.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -x .venv/bin/python ]]; then export PATH="$PWD/.venv/bin:$PATH"; fi
ruff check .
ruff format --check .
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/footnotes"
for f in footnotes/*.py; do ln -s "$PWD/$f" "$tree/footnotes/"; done
for pkg in ingest index ui; do ln -s "$PWD/$pkg" "$tree/footnotes/$pkg"; done
(cd "$tree" && mypy --config-file "$OLDPWD/pyproject.toml" -p footnotes)
