"""Answer-engine figures: eval of both question sets, abstention calibration, latency.

Builds a temporary store with the sample article and the BlockchainSolana PDF
(from ``../shared``), then prints, for each set, what ``footnotes eval``
prints, and a calibration table: the confidence of every in-corpus question
(each set against its own document) and of every out-of-corpus question (the
sample article's unanswerable questions, and each set's questions asked of
the *other* document). The threshold is the highest one that still answers
95% of in-corpus questions; the table shows what share of out-of-corpus
questions it abstains on.

Run::

    python benchmarks/answers.py [--threshold T] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from footnotes.index.ask import Asker
from footnotes.index.embedding import load_embedding
from footnotes.index.evaluate import EvalRow, evaluate, load_rows
from footnotes.index.store import Store
from footnotes.index.sync import Ingestor
from footnotes.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SOLANA = SHARED / "data" / "blockchain_solana"


def solana_rows() -> list[EvalRow]:
    """The 58 BlockchainSolana questions, matched by the gold context's page (1-based)."""
    gold = json.loads((SOLANA / "gold_context_offsets.json").read_text(encoding="utf-8"))
    return [EvalRow(question=g["query"], pages=[p + 1 for p in g["pages_0based"]]) for g in gold]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=None, help="override the setting")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="footnotes-answers-"))
    try:
        base = Settings(store=tmp / "store")
        if args.threshold is not None:
            base = base.model_copy(update={"abstain_threshold": args.threshold})
        embed = load_embedding(base)
        corpora = {"article": ROOT / "samples", "solana": SOLANA / "source_files" / "BlockchainSolana.pdf"}
        askers = {}
        for name, path in corpora.items():
            settings = base.model_copy(update={"collection": name})
            store = Store.from_settings(settings)
            Ingestor(store, lambda: embed, settings).sync([path])
            askers[name] = Asker(store, embed, settings)
        sets = {
            "article": load_rows(ROOT / "benchmarks" / "data" / "sample_article.jsonl"),
            "solana": solana_rows(),
        }
        for asker in askers.values():  # warm up: first query builds the lexical index
            asker.ask("warm up")
        results = {}
        for name, rows in sets.items():
            results[name] = evaluate(askers[name], rows).summary()

        # Calibration: confidence of in-corpus and out-of-corpus questions.
        inside, outside = [], []
        for name, rows in sets.items():
            other = "solana" if name == "article" else "article"
            for row in rows:
                conf = askers[name].ask(row.question, row.history).confidence
                (inside if row.answerable else outside).append(conf)
                if row.answerable and not row.history:
                    outside.append(askers[other].ask(row.question).confidence)
        inside.sort()
        cut = inside[int(0.05 * len(inside))]
        calibration = {
            "in_corpus": len(inside),
            "out_of_corpus": len(outside),
            "threshold_answering_95pct": round(cut, 3),
            "abstained_out_of_corpus_at_that_threshold": round(
                sum(c < cut for c in outside) / len(outside), 3
            ),
            "setting": base.abstain_threshold,
            "answered_in_corpus_at_setting": round(
                sum(c >= base.abstain_threshold for c in inside) / len(inside), 3
            ),
            "abstained_out_of_corpus_at_setting": round(
                sum(c < base.abstain_threshold for c in outside) / len(outside), 3
            ),
        }
        if args.json:
            print(json.dumps({"eval": results, "calibration": calibration}, indent=1))
            return
        for name, summary in results.items():
            print(f"== {name}")
            for key, value in summary.items():
                print(f"  {key:<22} {'-' if value is None else value}")
        print("== abstention calibration")
        for key, value in calibration.items():
            print(f"  {key:<42} {value}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
