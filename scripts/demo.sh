#!/usr/bin/env bash
# Set up, ingest the sample article, answer a sample question, and open the chat:
#   scripts/demo.sh            (then open the printed URL; Ctrl-C stops it)
# The store goes to $FOOTNOTES_STORE, by default ./.footnotes-demo-store.
set -euo pipefail
cd "$(dirname "$0")/.."

export HF_HUB_OFFLINE=1
export ANONYMIZED_TELEMETRY=False
export GRADIO_ANALYTICS_ENABLED=False
export FOOTNOTES_STORE="${FOOTNOTES_STORE:-$PWD/.footnotes-demo-store}"

if [[ ! -x .venv/bin/python ]]; then
    "${PYTHON:-python3}" -m venv .venv
fi
export VIRTUAL_ENV="$PWD/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
python -m pip install --quiet -c constraints.txt -e .

footnotes ingest samples/
footnotes ask "Which missile system did Lukashenka ask Putin to deploy?"
exec footnotes serve "$@"
