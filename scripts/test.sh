#!/usr/bin/env bash
# Set up and run the test suite. This is the README's test command and what CI runs:
#   scripts/test.sh [pytest args...]
# Creates .venv if missing, installs the project with its dev extras (torch pinned by
# constraints.txt to the CPU build), installs Debian's chromium for the browser tests if
# it is missing, then runs pytest. Nothing here or in the tests downloads model weights.
set -euo pipefail
cd "$(dirname "$0")/.."

export HF_HUB_OFFLINE=1
export ANONYMIZED_TELEMETRY=False
export GRADIO_ANALYTICS_ENABLED=False

if [[ ! -x .venv/bin/python ]]; then
    "${PYTHON:-python3}" -m venv .venv
fi
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
python -m pip install --quiet -c constraints.txt -e '.[dev]'

if ! command -v chromium >/dev/null; then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

exec python -m pytest -q "$@"
