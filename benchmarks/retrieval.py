"""Which retrieval unit and fusion: the measurement behind ``index/retrieve.py``.

On the BlockchainSolana PDF (``../shared/data/blockchain_solana``, 58 questions with
the gold context's page), prints the page hit at depth 1/3/5 of:

* passages (Footnotes' ~160-word passages), dense, with the characters they cite;
* sentences, dense;  sentences, BM25;  sentences, RRF of dense and BM25 (k=60);
* that RRF with the passage-level dense ranking fused in as a third list.

With ``--answering``: is the sentence that answers the one cited first? For each
question, the rank among Footnotes' 30 fused candidates (``Asker``'s retrieval) of
the first sentence that answers it (holds an expected answer or the gold text; on
BlockchainSolana, lies on a gold page), as recall at 1/3/10, for the shipped order
(RRF of dense and BM25) before re-ranking, the shipped answering order
(``index/rerank.py``: dense plus exact word coverage by the sentence and its
heading), and the other re-rankings tried from the one encoder there is: the
question's word coverage per sentence (exact stems, else contextual token
vectors, IDF-weighted), late interaction (mean over question words of the best
token cosine), and dense times the square root of coverage. Tuned sets (the sample
article's, BlockchainSolana's) and held-out ones (written before tuning: the
article's and Debian's Python tutorial's) are reported apart.

Run::

    python benchmarks/retrieval.py [--answering [--set QUESTIONS PATH... ]...]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from footnotes.index.embedding import load_embedding
from footnotes.index.lexical import LexicalIndex
from footnotes.ingest.loaders import load
from footnotes.ingest.passages import split_passages
from footnotes.settings import Settings

SOLANA = Path(__file__).resolve().parents[2] / "shared" / "data" / "blockchain_solana"
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
TUTORIAL = Path("/usr/share/doc/python3.11/html/_sources/tutorial")


def rrf(n: int, *rankings: np.ndarray, k: int = 60) -> np.ndarray:
    scores = np.zeros(n)
    for ranking in rankings:
        for position, index in enumerate(ranking):
            scores[index] += 1.0 / (k + position + 1)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answering", action="store_true", help="the answering sentence")
    parser.add_argument(
        "--set",
        nargs="+",
        action="append",
        default=[],
        metavar=("QUESTIONS", "PATH"),
        help="with --answering, one more set: a question file (JSON lines) and the files or "
        "folders it asks about",
    )
    args = parser.parse_args()
    if args.answering:
        answering([(Path(q), [Path(p) for p in paths]) for q, *paths in args.set])
        return
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


Relevant = Callable[[str, "int | None"], bool]


def _question_rows(path: Path) -> list[tuple[str, Relevant]]:
    from footnotes.index.evaluate import normalise

    out: list[tuple[str, Relevant]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if not row.get("answerable", True) or row.get("history"):
            continue
        needles = [normalise(a) for a in row.get("answers") or []]
        needles += [normalise(row["gold"])] if row.get("gold") else []
        out.append(
            (row["question"], lambda text, page, n=needles: any(x in normalise(text) for x in n))
        )
    return out


def answering(more: list[tuple[Path, list[Path]]]) -> None:
    """The answering sentence's rank among the fused candidates, before and after re-ranking;
    ``more``: other sets, each a question file and the paths it asks about."""
    from footnotes.index.ask import Asker
    from footnotes.index.coverage import coverage, question_parts
    from footnotes.index.lexical import tokenize
    from footnotes.index.replica import Replica
    from footnotes.index.rerank import answering_order
    from footnotes.index.store import Store
    from footnotes.index.sync import Ingestor

    sets: dict[str, tuple[list[Path], list[tuple[str, Relevant]]]] = {
        "article (tuned)": ([ROOT / "samples"], _question_rows(DATA / "sample_article.jsonl")),
        "article (held out)": (
            [ROOT / "samples"], _question_rows(DATA / "sample_article-heldout.jsonl")
        ),
    }  # fmt: skip
    if SOLANA.is_dir():
        gold = json.loads((SOLANA / "gold_context_offsets.json").read_text(encoding="utf-8"))
        sets["BlockchainSolana (tuned; by page)"] = (
            [SOLANA / "source_files" / "BlockchainSolana.pdf"],
            [(g["query"], lambda text, page, p={x + 1 for x in g["pages_0based"]}: page in p)
             for g in gold],
        )  # fmt: skip
    else:
        print(f"BlockchainSolana left out: {SOLANA} is missing")
    if TUTORIAL.is_dir():
        sets["Python tutorial (held out)"] = (
            [TUTORIAL], _question_rows(DATA / "python_docs-heldout.jsonl")
        )  # fmt: skip
    else:
        print(f"Python tutorial left out: {TUTORIAL} is missing (apt-get install python3.11-doc)")
    for questions, paths in more:
        sets[f"{questions.stem} (given)"] = (paths, _question_rows(questions))
    with tempfile.TemporaryDirectory() as folder:
        base = Settings(store=Path(folder) / "store")
        embed = load_embedding(base)
        print(f"{'set':<40}{'ranking':<28}{'top-1':>7}{'top-3':>7}{'top-10':>7}")
        for number, (name, (paths, rows)) in enumerate(sets.items()):
            settings = base.model_copy(update={"collection": f"set{number}"})
            replica = Replica.open(Store.from_settings(settings), settings)
            Ingestor(replica, lambda: embed, settings).sync(paths)
            asker = Asker(replica, embed, settings)
            ranks: dict[str, list[int]] = {}
            spent = 0.0
            for question, relevant in rows:
                retrieval = asker.retriever.retrieve(question, k=settings.candidates)
                hits = retrieval.hits
                started = time.perf_counter()
                words = asker.words_of([question] + [h.text for h in hits])
                spent += time.perf_counter() - started
                asked = question_parts(question, words[0])[0]
                covered, late = [], []
                for hit, hit_words in zip(hits, words[1:]):
                    covered.append(
                        coverage(asked, set(tokenize(hit.text)), hit_words, retrieval.idf)
                    )
                    vectors = [w.vector for w in hit_words if w.vector is not None]
                    mine = [w.vector for w in asked if w.vector is not None]
                    if vectors and mine:
                        matrix = np.stack(vectors)
                        late.append(float(np.mean([(matrix @ v).max() for v in mine])))
                    else:
                        late.append(0.0)
                dense = [h.dense for h in hits]
                shipped = answering_order(question, retrieval)
                orders = {
                    "fused (before)": list(range(len(hits))),
                    "answering order (shipped)": [hits.index(h) for h in shipped],
                    "coverage": _by([c + 1e-3 * d for c, d in zip(covered, dense)]),
                    "late interaction": _by(late),
                    "dense x sqrt(coverage)": _by(
                        [max(d, 0.0) * math.sqrt(c) for d, c in zip(dense, covered)]
                    ),
                }
                for ranking, order in orders.items():
                    first = next(
                        (r for r, i in enumerate(order) if relevant(hits[i].text, hits[i].page)),
                        len(hits),
                    )
                    ranks.setdefault(ranking, []).append(first)
            for ranking, found in ranks.items():
                row = "".join(f"{np.mean([r < k for r in found]):>7.3f}" for k in (1, 3, 10))
                print(f"{name + f' ({len(rows)})':<40}{ranking:<28}{row}")
            print(f"{'':<40}token vectors of 30 candidates: {1000 * spent / len(rows):.0f} ms")


def _by(scores: list[float]) -> list[int]:
    return sorted(range(len(scores)), key=lambda i: -scores[i])


if __name__ == "__main__":
    main()
