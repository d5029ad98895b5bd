"""How well ``index/verify.py`` tells supported sentences from unsupported ones.

Labelled claims in ``data/claims-*.jsonl``, one a line: the claim, its kind
("paraphrase", "passive", "swap", "number", ...), whether its evidence supports
it, and which corpus it is about. The ``claims-tune*`` files are the ones the
rules and thresholds were tuned on; the ``claims-heldout*`` files were written
before any tuning and are never tuned on (``claims-heldout.jsonl``: invented
texts; ``-article``/``-solana``: the two real corpora).

Evidence is either the quotes themselves (``"quotes"``: the sample article,
which the repository bundles, and the invented texts) or, for a document that
is not ours to copy, character spans into the text Footnotes' own loader
(:func:`footnotes.ingest.loaders.load`) extracts from it: ``"document"`` and
``"evidence": [{"start", "end"}]``. Such documents are read from the project's
sibling ``../shared`` (``data/blockchain_solana/source_files``); when it is
absent their claims are skipped, saying so.

Unsupported is the positive class. Prints, per split and corpus: faithful claims
passed, corrupted claims caught (recall), the precision of an "unsupported"
verdict, and the misses by kind (``--misses``: each miss with its reason).

    python benchmarks/verify.py [--threshold T] [--floor F] [--misses]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from footnotes.index.coverage import WordVectors
from footnotes.index.embedding import load_embedding
from footnotes.index.lexical import LexicalIndex
from footnotes.index.verify import SUPPORT_THRESHOLD, WORD_FLOOR, Verdict, check
from footnotes.ingest.loaders import load
from footnotes.ingest.sentences import split_sentences
from footnotes.settings import Settings

DATA = Path(__file__).parent / "data"
ARTICLE = Path(__file__).parents[1] / "samples" / "belarus-russia-security-alliance.txt"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SOURCES = SHARED / "data" / "blockchain_solana" / "source_files"


@dataclass(frozen=True)
class Row:
    """One labelled claim with its evidence resolved to text."""

    split: str  # "tune" or "heldout"
    corpus: str
    kind: str
    supported: bool
    claim: str
    quotes: list[str]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=SUPPORT_THRESHOLD)
    parser.add_argument("--floor", type=float, default=WORD_FLOOR)
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    rows, documents = _rows(sorted(DATA.glob("claims-*.jsonl")))
    words_of = WordVectors(load_embedding(Settings()))
    article = ARTICLE.read_text(encoding="utf-8")
    texts = [article[a:b] for a, b in split_sentences(article)]
    texts += [text[a:b] for text in documents.values() for a, b in split_sentences(text)]
    texts += [q for r in rows for q in r.quotes]
    idf = LexicalIndex.of_texts(texts).idf_function()
    print(f"threshold {args.threshold}, word floor {args.floor}")
    groups: dict[tuple[str, str], list[tuple[Row, Verdict]]] = defaultdict(list)
    for row in rows:
        verdict = check(row.claim, row.quotes, words_of, idf, args.threshold, args.floor)
        groups[(row.split, row.corpus)].append((row, verdict))
        groups[(row.split, "all")].append((row, verdict))
    for split in ("tune", "heldout"):
        corpora = sorted(c for s, c in groups if s == split and c != "all")
        for corpus in [*corpora, "all"]:
            _report(f"{split}/{corpus}", groups[(split, corpus)], args.misses and corpus != "all")


def _report(name: str, judged: list[tuple[Row, Verdict]], misses: bool) -> None:
    faithful = [(r, v) for r, v in judged if r.supported]
    corrupted = [(r, v) for r, v in judged if not r.supported]
    passed = sum(v.supported for _, v in faithful)
    caught = sum(not v.supported for _, v in corrupted)
    flagged = caught + len(faithful) - passed
    wrong = [(r, v) for r, v in judged if r.supported != v.supported]
    by_kind = Counter(r.kind for r, _ in wrong)
    print(
        f"{name:17} n={len(judged):3}  faithful passed {passed}/{len(faithful)} "
        f"({_share(passed, len(faithful))})  corrupted caught {caught}/{len(corrupted)} "
        f"(recall {_share(caught, len(corrupted))})  precision {_share(caught, flagged)}  "
        f"misses by kind {dict(sorted(by_kind.items()))}"
    )
    if misses:
        for row, verdict in wrong:
            label = "PASSED" if verdict.supported else "FLAGGED"
            print(
                f"    {label} ({row.kind}): {row.claim}  -- {verdict.reason or '-'} "
                f"(coverage {verdict.coverage:.2f})"
            )


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def _rows(paths: list[Path]) -> tuple[list[Row], dict[str, str]]:
    """Every labelled claim of ``paths`` with its evidence as text, and the text of each
    outside document read; claims on a document that is absent are skipped, saying so."""
    rows: list[Row] = []
    documents: dict[str, str] = {}
    skipped: Counter[str] = Counter()
    for path in paths:
        split = "tune" if path.stem.startswith("claims-tune") else "heldout"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw: dict[str, Any] = json.loads(line)
            if "quotes" in raw:
                quotes = list(raw["quotes"])
            else:
                name = raw["document"]
                if name not in documents and not skipped[name]:
                    source = SOURCES / name
                    if source.is_file():
                        documents[name] = load(source, name).text
                if name not in documents:
                    skipped[name] += 1
                    continue
                text = documents[name]
                quotes = [" ".join(text[e["start"] : e["end"]].split()) for e in raw["evidence"]]
            rows.append(
                Row(split, raw["corpus"], raw["kind"], raw["supported"], raw["claim"], quotes)
            )
    for name, count in skipped.items():
        print(
            f"skipped {count} claims on {name}: it is not at {SOURCES / name} (the outside "
            "dataset lives in the project's sibling shared/ folder, not in the repository)"
        )
    return rows, documents


if __name__ == "__main__":
    main()
