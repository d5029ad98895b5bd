"""How well ``index/verify.py`` tells supported sentences from unsupported ones.

Labelled claims, each a sentence and the quotes it cites: ``claims-tune.jsonl``
(on the sample article; the rules and thresholds were tuned on it) and
``claims-heldout.jsonl`` (on texts written for this set, before any tuning, and
never tuned on). Prints, for each set apart: supported claims kept, unsupported
claims caught, and the misses with the reason given.

    python benchmarks/verify.py [--threshold T] [--floor F] [--misses]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from footnotes.index.coverage import WordVectors
from footnotes.index.embedding import load_embedding
from footnotes.index.lexical import LexicalIndex
from footnotes.index.verify import SUPPORT_THRESHOLD, WORD_FLOOR, check
from footnotes.ingest.sentences import split_sentences
from footnotes.settings import Settings

DATA = Path(__file__).parent / "data"
ARTICLE = Path(__file__).parents[1] / "samples" / "belarus-russia-security-alliance.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=SUPPORT_THRESHOLD)
    parser.add_argument("--floor", type=float, default=WORD_FLOOR)
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    words_of = WordVectors(load_embedding(Settings()))
    sets = {name: _rows(DATA / f"claims-{name}.jsonl") for name in ("tune", "heldout")}
    article = ARTICLE.read_text(encoding="utf-8")
    texts = [article[a:b] for a, b in split_sentences(article)]
    texts += [q for rows in sets.values() for r in rows for q in r["quotes"]]
    idf = LexicalIndex.of_texts(texts).idf_function()
    print(f"threshold {args.threshold}, word floor {args.floor}")
    for name, rows in sets.items():
        kept = caught = 0
        misses = []
        by_kind: Counter[str] = Counter()
        for row in rows:
            verdict = check(row["claim"], row["quotes"], words_of, idf, args.threshold, args.floor)
            right = verdict.supported == row["supported"]
            kept += right and row["supported"]
            caught += right and not row["supported"]
            if not right:
                by_kind[row["kind"]] += 1
                misses.append((row, verdict))
        supported = sum(r["supported"] for r in rows)
        print(
            f"{name:8} {len(rows)} claims: supported kept {kept}/{supported}, "
            f"unsupported caught {caught}/{len(rows) - supported}, "
            f"accuracy {(kept + caught) / len(rows):.3f}; misses by kind {dict(by_kind)}"
        )
        if args.misses:
            for row, verdict in misses:
                label = "KEPT" if verdict.supported else "DROPPED"
                print(
                    f"  {label} ({row['kind']}): {row['claim']}  -- {verdict.reason or '-'} "
                    f"(coverage {verdict.coverage:.2f})"
                )


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


if __name__ == "__main__":
    main()
