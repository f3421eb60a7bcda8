#!/usr/bin/env bash
# Set up the development environment in ./.venv and run the whole test suite.
# This is the README's test command and exactly what CI runs (.ci/run).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the training check.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
exec .venv/bin/python -m pytest "$@"
