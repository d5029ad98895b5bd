"""Write the BlockchainSolana questions as ``footnotes eval`` rows, matched by page.

The dataset lives in ``../shared/data/blockchain_solana`` (not copied into the
project). Each row is ``{"question", "pages"}`` with the gold context's
1-based pages::

    python benchmarks/solana_questions.py > /tmp/solana.jsonl
    footnotes ingest ../shared/data/blockchain_solana/source_files/BlockchainSolana.pdf \\
        --collection solana
    footnotes eval /tmp/solana.jsonl --collection solana
"""

from __future__ import annotations

import json
from pathlib import Path

GOLD = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "blockchain_solana"
    / "gold_context_offsets.json"
)


def main() -> None:
    for row in json.loads(GOLD.read_text(encoding="utf-8")):
        pages = [p + 1 for p in row["pages_0based"]]
        print(json.dumps({"question": row["query"], "pages": pages, "answerable": True}))


if __name__ == "__main__":
    main()
