"""Answer-engine figures: eval of both question sets, abstention calibration, latency.

Builds a temporary store with the sample article and the BlockchainSolana PDF
(from ``../shared``) each in its own collection, and a mixed collection of
both plus the Python tutorial (``apt-get install python3.11-doc``; left out
if missing). Prints, for each set, what ``footnotes eval`` prints, in its own
collection and in the mixed one, and a calibration table: the confidence of
every in-corpus question (each set against its own collection and the mixed
one) and of every out-of-corpus question (the sample article's unanswerable
questions, in both collections, and each set's questions asked of the
*other* document). A sweep of thresholds shows, for each, the
share of in-corpus questions answered and of out-of-corpus questions
abstained on; the best threshold is the middle of the range that maximises
their sum (Youden's J), and the setting's default is taken from it.

Run::

    python benchmarks/answers.py [--threshold T] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from footnotes.index.ask import Asker
from footnotes.index.embedding import load_embedding
from footnotes.index.evaluate import EvalRow, evaluate, load_rows
from footnotes.index.replica import Replica
from footnotes.index.store import Store
from footnotes.index.sync import Ingestor
from footnotes.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SOLANA = SHARED / "data" / "blockchain_solana"
# Distractors for the mixed collection, if Debian's python3.11-doc is installed.
TUTORIAL = Path("/usr/share/doc/python3.11/html/_sources/tutorial")


def solana_rows() -> list[EvalRow]:
    """The 58 BlockchainSolana questions, matched by the gold context's page (1-based)."""
    gold = json.loads((SOLANA / "gold_context_offsets.json").read_text(encoding="utf-8"))
    return [EvalRow(question=g["query"], pages=[p + 1 for p in g["pages_0based"]]) for g in gold]


def _effective(asker: Asker, row: EvalRow, threshold: float) -> float:
    """The full confidence, or 0 when the answer-type check vetoed it (abstained above
    threshold)."""
    answered = asker.ask(row.question, row.history).answered
    sure = asker.confidence(row.question, row.history)
    return 0.0 if not answered and sure >= threshold else sure


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
        article, solana = ROOT / "samples", SOLANA / "source_files" / "BlockchainSolana.pdf"
        corpora = {
            "article": [article],
            "solana": [solana],
            "mixed": [article, solana] + ([TUTORIAL] if TUTORIAL.is_dir() else []),
        }
        askers = {}
        for name, paths in corpora.items():
            settings = base.model_copy(update={"collection": name})
            store = Store.from_settings(settings)
            Ingestor(Replica.open(store, settings), lambda: embed, settings).sync(paths)
            askers[name] = Asker(Replica.open(store, settings), embed, settings)
        sets = {
            "article": load_rows(ROOT / "benchmarks" / "data" / "sample_article.jsonl"),
            "solana": solana_rows(),
        }
        for asker in askers.values():  # warm up: first query builds the lexical index
            asker.ask("warm up")
        results = {}
        for name, rows in sets.items():
            results[name] = evaluate(askers[name], rows).summary()
        for name, rows in sets.items():
            results[f"{name} in the mixed collection"] = evaluate(askers["mixed"], rows).summary()

        # Calibration: confidence of in-corpus and out-of-corpus questions.
        inside: list[float] = []
        same_topic: list[float] = []
        other_corpus: list[float] = []
        for name, rows in sets.items():
            other = "solana" if name == "article" else "article"
            for row in rows:
                for collection in (name, "mixed"):
                    conf = _effective(askers[collection], row, base.abstain_threshold)
                    (inside if row.answerable else same_topic).append(conf)
                if row.answerable and not row.history:
                    alone = EvalRow(question=row.question)
                    other_corpus.append(_effective(askers[other], alone, base.abstain_threshold))
        outside = same_topic + other_corpus
        sweep = []
        for step in range(20, 61):
            t = step / 100
            sweep.append(
                {
                    "threshold": t,
                    "answered_in_corpus": round(sum(c >= t for c in inside) / len(inside), 3),
                    "abstained_same_topic": round(
                        sum(c < t for c in same_topic) / len(same_topic), 3
                    ),
                    "abstained_other_corpus": round(
                        sum(c < t for c in other_corpus) / len(other_corpus), 3
                    ),
                }
            )

        # Of the thresholds with the best Youden's J, the middle one: the widest margin
        # on both sides, rather than the edge that just lets in the worst case.
        def youden(r: dict[str, float]) -> float:
            kept = sum(c < r["threshold"] for c in outside) / len(outside)
            return round(r["answered_in_corpus"] + kept, 6)

        top = max(youden(r) for r in sweep)
        tied = [r["threshold"] for r in sweep if youden(r) == top]
        best = {"threshold": tied[len(tied) // 2]}
        calibration = {
            "in_corpus": len(inside),
            "same_topic_unanswerable": len(same_topic),
            "other_corpus": len(other_corpus),
            "best_threshold": best["threshold"],
            "best_range": [tied[0], tied[-1]],
            "setting": base.abstain_threshold,
            "sweep": sweep,
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
            if key != "sweep":
                print(f"  {key:<24} {value}")
        print("  threshold  answered-in-corpus  abstained-same-topic  abstained-other-corpus")
        for r in calibration["sweep"]:
            print(
                f"  {r['threshold']:>9.2f}  {r['answered_in_corpus']:>18}  "
                f"{r['abstained_same_topic']:>20}  {r['abstained_other_corpus']:>22}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
