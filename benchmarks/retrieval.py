"""Which retrieval unit and fusion: the measurement behind ``index/retrieve.py``.

On the BlockchainSolana PDF (``../shared/data/blockchain_solana``, 58 questions with
the gold context's page), prints the page hit at depth 1/3/5 of:

* passages (Footnotes' ~160-word passages), dense, with the characters they cite;
* sentences, dense;  sentences, BM25;  sentences, RRF of dense and BM25 (k=60);
* that RRF with the passage-level dense ranking fused in as a third list.

Run::

    python benchmarks/retrieval.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from footnotes.index.embedding import load_embedding
from footnotes.index.lexical import LexicalIndex
from footnotes.ingest.loaders import load
from footnotes.ingest.passages import split_passages
from footnotes.settings import Settings

SOLANA = Path(__file__).resolve().parents[2] / "shared" / "data" / "blockchain_solana"


def rrf(n: int, *rankings: np.ndarray, k: int = 60) -> np.ndarray:
    scores = np.zeros(n)
    for ranking in rankings:
        for position, index in enumerate(ranking):
            scores[index] += 1.0 / (k + position + 1)
    return scores


def main() -> None:
    settings = Settings()
    encoder = load_embedding(settings)
    doc = load(SOLANA / "source_files" / "BlockchainSolana.pdf", "solana")
    passages = split_passages(doc, settings.passage_words)
    sentences = [(i, a, b) for i, p in enumerate(passages) for a, b in p.sentences]
    texts = [doc.text[a:b] for _, a, b in sentences]
    gold = json.loads((SOLANA / "gold_context_offsets.json").read_text(encoding="utf-8"))
    questions = [g["query"] for g in gold]
    pages = [{p + 1 for p in g["pages_0based"]} for g in gold]

    def encode(items: list[str]) -> np.ndarray:
        return encoder.encode(items)

    s_vec, p_vec, q_vec = encode(texts), encode([p.text for p in passages]), encode(questions)
    lexical = LexicalIndex.of_texts(texts)
    s_page = np.array([passages[i].page for i, _, _ in sentences])
    s_passage = np.array([i for i, _, _ in sentences])
    n = len(sentences)

    def hit(rankings: list[np.ndarray], page_of: np.ndarray, k: int) -> float:
        return float(np.mean([bool(set(page_of[r[:k]]) & g) for r, g in zip(rankings, pages)]))

    dense = [np.argsort(-(s_vec @ q)) for q in q_vec]
    # BM25 as Footnotes runs it (SQLite FTS5, the top ``candidates`` matches), and as the
    # bm25s index it replaced ranked it (every sentence scored), for comparison.
    depth = settings.candidates
    bm25 = [np.array([int(h.id) for h in lexical.search(q, depth)], dtype=int) for q in questions]
    bm25s_rank = _bm25s_rankings(texts, questions)
    p_dense = [np.argsort(-(p_vec @ q)) for q in q_vec]
    p_page = np.array([p.page for p in passages])
    fused = [np.argsort(-rrf(n, d[:depth], b)) for d, b in zip(dense, bm25)]
    fused_bm25s = [np.argsort(-rrf(n, d, b)) for d, b in zip(dense, bm25s_rank)]
    with_passages = [
        np.argsort(-(rrf(n, d, b) + rrf(n, np.argsort(-(p_vec @ q)[s_passage]))))
        for d, b, q in zip(dense, bm25, q_vec)
    ]
    print(f"{len(passages)} passages, {n} sentences, {len(questions)} questions")
    print(f"{'ranking':<40}{'top-1':>7}{'top-3':>7}{'top-5':>7}")
    for name, rankings, page_of in [
        ("passages, dense", p_dense, p_page),
        ("sentences, dense", dense, s_page),
        ("sentences, BM25 (FTS5)", bm25, s_page),
        ("sentences, BM25 (bm25s, before)", bm25s_rank, s_page),
        ("sentences, RRF(dense, BM25 FTS5)", fused, s_page),
        ("sentences, RRF(dense, bm25s), before", fused_bm25s, s_page),
        ("sentences, RRF + passage dense", with_passages, s_page),
    ]:
        row = "".join(f"{hit(rankings, page_of, k):>7.3f}" for k in (1, 3, 5))
        print(f"{name:<40}{row}")
    chars = {
        k: np.mean([sum(len(passages[i].text) for i in r[:k]) for r in p_dense]) for k in (2, 5)
    }
    print(f"characters cited by dense passages: top-2 {chars[2]:.0f}, top-5 {chars[5]:.0f}")


def _bm25s_rankings(texts: list[str], questions: list[str]) -> list[np.ndarray]:
    """Every sentence ranked by the in-memory bm25s index Footnotes used before FTS5."""
    import bm25s

    from footnotes.index.lexical import tokenize

    index = bm25s.BM25()
    index.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
    out = []
    for q in questions:
        known = [t for t in tokenize(q) if t in index.vocab_dict]
        scores = index.get_scores(known) if known else np.zeros(len(texts))
        out.append(np.argsort(-np.asarray(scores)))
    return out


if __name__ == "__main__":
    main()
