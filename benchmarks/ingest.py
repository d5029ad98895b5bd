"""Benchmark of the full ``footnotes ingest`` path against the raw encoder.

What it measures, in one process and on one set of texts:

* **ingest**: ``Ingestor.sync([folder])`` exactly as ``footnotes ingest FOLDER`` runs it
  (discover, hash, parse, split, embed in batches, write to a real Chroma store), timed
  without the model load: the model is loaded first and handed to the ``Ingestor``.
  Reported as passages/s and tokens/s, with the time spent inside the encoder and in
  ``Store.put_document`` (Chroma writes).
* **raw encode**: ``Encoder.encode`` in batches of ``--batch-size`` on exactly the
  texts the ingest sent to the encoder (recorded by shadowing ``Encoder.encode`` during
  the ingest, a pass-through), with the very same encoder object, on the backend
  ``FOOTNOTES_EMBED_BACKEND`` names.
* **ratio** raw encode time / ingest time: the ingest's throughput as a share of the
  encoder's on the same work. Target: >= 0.85.
* **RSS**: resident memory before the ingest and the peak (``ru_maxrss``) after it.

Tokens are counted with the model's own tokenizer on the encoder's texts, capped at the
model's ``max_seq_length`` (what the encoder actually processes); the uncapped count is
reported too.

The corpus: a real, large set of text files, the reStructuredText sources of the Python
documentation from Debian's ``python3.11-doc`` package::

    sudo apt-get install python3.11-doc     # -> /usr/share/doc/python3.11/html/_sources

Its files end in ``.rst.txt``, so Footnotes ingests them as plain text. Any other folder
of supported files works with ``--corpus``. A subset of files is chosen (a fixed shuffle,
``--seed``) until ``--max-passages`` passages are reached, copied to a temporary folder
and ingested into a temporary store; nothing outside the temporary folder is touched.

Run::

    python benchmarks/ingest.py                # 800 passages (~5,000 sentences), 2-3 minutes
    python benchmarks/ingest.py --max-passages 500 --json
    python benchmarks/ingest.py --rounds 3      # a busy machine: alternate the order, average
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path("/usr/share/doc/python3.11/html/_sources")
TARGET_RATIO = 0.85


def _rss_mb() -> float:
    """Current resident set size in MB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds (user + system, all threads) used by this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def select_files(
    corpus: Path, passage_words: int, max_passages: int, limit_files: int | None, seed: int
) -> tuple[list[tuple[Path, str]], int]:
    """Files of ``corpus`` (in a fixed shuffled order) until ``max_passages`` are reached.

    Returns (file, relative path) pairs and the number of passages they split into.
    """
    from footnotes.errors import FootnotesError
    from footnotes.ingest.loaders import FORMATS, load
    from footnotes.ingest.passages import split_passages

    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
    random.Random(seed).shuffle(files)
    chosen: list[tuple[Path, str]] = []
    passages = 0
    for path in files:
        if limit_files is not None and len(chosen) >= limit_files:
            break
        if passages >= max_passages:
            break
        rel = path.relative_to(corpus).as_posix()
        try:
            count = len(split_passages(load(path, rel), passage_words))
        except FootnotesError:
            continue
        chosen.append((path, rel))
        passages += count
    return chosen, passages


class _Recorder:
    """Shadows ``Encoder.encode`` for one encoder: same call, texts recorded.

    Whatever route the ingest takes to the encoder (llama-index batching or not), every text
    it embeds is kept, and the time spent inside the encoder is summed. ``Encoder`` is a
    pydantic model, which refuses new instance attributes, so the method is swapped on the
    class for the duration and passes other instances straight through.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.texts: list[str] = []
        self.calls = 0
        self.seconds = 0.0
        self._cls = type(model)
        self._encode = self._cls.encode

    def __enter__(self) -> _Recorder:
        original = self._encode

        def encode(this: Any, texts: Any) -> Any:
            if this is not self.model:
                return original(this, texts)
            self.texts.extend(texts)
            self.calls += 1
            t = time.perf_counter()
            try:
                return original(this, texts)
            finally:
                self.seconds += time.perf_counter() - t

        self._cls.encode = encode
        return self

    def __exit__(self, *exc: object) -> None:
        self._cls.encode = self._encode


@dataclass
class _Timing:
    seconds: float
    cpu: float
    encoder: float = 0.0
    writes: float = 0.0


def ingest_once(settings: Any, embed: Any, folder: Path) -> tuple[_Timing, list[str], int]:
    """The real ingest of ``folder`` into the store of ``settings``, timed.

    Returns the timing, the texts the encoder was given, and the passages stored.
    """
    from footnotes.index.replica import Replica
    from footnotes.index.store import Store
    from footnotes.index.sync import Ingestor

    store = Store.from_settings(settings)
    writes = 0.0
    put_document = store.put_document

    def timed_put(*a: Any, **kw: Any) -> Any:
        nonlocal writes
        t = time.perf_counter()
        try:
            return put_document(*a, **kw)
        finally:
            writes += time.perf_counter() - t

    store.put_document = timed_put  # type: ignore[method-assign,unused-ignore]
    ingestor = Ingestor(Replica.open(store, settings), lambda: embed, settings)
    with _Recorder(embed) as recorder:
        c0, t0 = _cpu_s(), time.perf_counter()
        report = ingestor.sync([folder])
        timing = _Timing(time.perf_counter() - t0, _cpu_s() - c0, recorder.seconds, writes)
    failed = [o for o in report.outcomes if o.status == "failed"]
    if failed:
        sys.exit(f"ingest failed for {len(failed)} files, e.g. {failed[0]}")
    if not recorder.texts:
        sys.exit("the ingest embedded nothing through Encoder.encode")
    return timing, recorder.texts, store.passage_count()


def raw_once(model: Any, texts: list[str], batch_size: int) -> _Timing:
    """One plain ``Encoder.encode`` of ``texts`` (in batches of ``batch_size``), timed."""
    c0, t0 = _cpu_s(), time.perf_counter()
    for start in range(0, len(texts), batch_size):
        model.encode(texts[start : start + batch_size])
    return _Timing(time.perf_counter() - t0, _cpu_s() - c0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from footnotes.index.embedding import load_embedding
    from footnotes.settings import Settings

    corpus: Path = args.corpus
    if not corpus.is_dir():
        sys.exit(
            f"corpus folder {corpus} not found; install it with "
            "`sudo apt-get install python3.11-doc` or pass --corpus DIR"
        )
    chosen, planned = select_files(
        corpus, args.passage_words, args.max_passages, args.limit_files, args.seed
    )
    if not chosen:
        sys.exit(f"no ingestible files in {corpus}")

    with tempfile.TemporaryDirectory(prefix="footnotes-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        for path, rel in chosen:
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        corpus_bytes = sum(p.stat().st_size for p, _ in chosen)

        def settings(round_: int) -> Settings:
            return Settings(
                store=Path(tmp) / f"store{round_}",
                collection="bench",
                passage_words=args.passage_words,
                embed_batch_size=args.batch_size,
            )

        t0 = time.perf_counter()
        embed = load_embedding(settings(0))
        model = embed  # the Encoder itself: same weights for both runs
        model_load_s = time.perf_counter() - t0
        model.encode(["warm up the encoder"] * 8)

        rss_before = _rss_mb()
        peak_before = _peak_rss_mb()
        ingests: list[_Timing] = []
        raws: list[_Timing] = []
        texts: list[str] = []
        passages = 0
        peak_ingest = 0.0
        for round_ in range(args.rounds):
            # Odd rounds run the raw encode first, so a drift in machine load hits both.
            if round_ % 2:
                raws.append(raw_once(model, texts, args.batch_size))
            timing, texts, passages = ingest_once(settings(round_), embed, folder)
            ingests.append(timing)
            if round_ == 0:
                peak_ingest = _peak_rss_mb()
            if not round_ % 2:
                raws.append(raw_once(model, texts, args.batch_size))

    from transformers import AutoTokenizer

    from footnotes.index.embedding import resolve_model_path

    max_len = model.max_seq_length
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(settings(0).embed_model))
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]
    tokens = sum(min(n, max_len) for n in lengths)
    ingest_s = sum(t.seconds for t in ingests) / len(ingests)
    raw_s = sum(t.seconds for t in raws) / len(raws)
    ingest_cpu = sum(t.cpu for t in ingests) / len(ingests)
    raw_cpu = sum(t.cpu for t in raws) / len(raws)
    return {
        "corpus": str(corpus),
        "files": len(chosen),
        "corpus_mb": round(corpus_bytes / 1e6, 2),
        "passage_words": args.passage_words,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "passages": passages,
        "passages_planned": planned,
        "encoder_texts": len(texts),
        "tokens": tokens,
        "tokens_uncapped": sum(lengths),
        "max_seq_length": max_len,
        "texts_truncated": sum(1 for n in lengths if n > max_len),
        "model_load_s": round(model_load_s, 2),
        "ingest_s": round(ingest_s, 2),
        "ingest_encoder_s": round(sum(t.encoder for t in ingests) / len(ingests), 2),
        "ingest_store_write_s": round(sum(t.writes for t in ingests) / len(ingests), 2),
        "ingest_passages_per_s": round(passages / ingest_s, 2),
        "ingest_tokens_per_s": round(tokens / ingest_s, 1),
        "raw_encode_s": round(raw_s, 2),
        "raw_passages_per_s": round(passages / raw_s, 2),
        "raw_tokens_per_s": round(tokens / raw_s, 1),
        "ratio_ingest_over_raw": round(raw_s / ingest_s, 3),
        "ratio_per_round": [
            round(r.seconds / i.seconds, 3) for i, r in zip(ingests, raws, strict=True)
        ],
        "target_ratio": TARGET_RATIO,
        "ingest_cpu_s": round(ingest_cpu, 2),
        "raw_encode_cpu_s": round(raw_cpu, 2),
        "ratio_cpu_ingest_over_raw": round(raw_cpu / ingest_cpu, 3),
        "rss_before_ingest_mb": round(rss_before, 1),
        "peak_rss_before_ingest_mb": round(peak_before, 1),
        "peak_rss_ingest_mb": round(peak_ingest, 1),
        "peak_rss_end_mb": round(_peak_rss_mb(), 1),
    }


def print_table(r: dict[str, Any]) -> None:
    rows = [
        ("corpus", f"{r['corpus']} ({r['files']} files, {r['corpus_mb']} MB)"),
        ("passages", f"{r['passages']} stored ({r['passage_words']} words target)"),
        ("encoder texts", r["encoder_texts"]),
        (
            "tokens",
            f"{r['tokens']} (capped at {r['max_seq_length']}; uncapped "
            f"{r['tokens_uncapped']}, {r['texts_truncated']} texts truncated)",
        ),
        ("model load s (excluded)", r["model_load_s"]),
        ("ingest s", r["ingest_s"]),
        ("  in the encoder s", r["ingest_encoder_s"]),
        ("  in Chroma writes s", r["ingest_store_write_s"]),
        ("ingest passages/s", r["ingest_passages_per_s"]),
        ("ingest tokens/s", r["ingest_tokens_per_s"]),
        ("raw encode s", r["raw_encode_s"]),
        ("raw passages/s", r["raw_passages_per_s"]),
        ("raw tokens/s", r["raw_tokens_per_s"]),
        (
            "ratio ingest/raw",
            f"{r['ratio_ingest_over_raw']:.3f} (target >= {r['target_ratio']}; per round "
            f"{r['ratio_per_round']})",
        ),
        (
            "CPU s ingest / raw",
            f"{r['ingest_cpu_s']} / {r['raw_encode_cpu_s']} "
            f"(ratio {r['ratio_cpu_ingest_over_raw']:.3f})",
        ),
        ("RSS before ingest MB", r["rss_before_ingest_mb"]),
        ("peak RSS after ingest MB", r["peak_rss_ingest_mb"]),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help=f"folder of documents (default {DEFAULT_CORPUS})",
    )
    parser.add_argument(
        "--max-passages",
        type=int,
        default=800,
        help="stop adding files once this many passages are reached "
        "(default 800: ~5,000 sentences, about a minute of embedding on 2 idle cores)",
    )
    parser.add_argument("--limit-files", type=int, default=None, help="use at most this many files")
    parser.add_argument(
        "--passage-words", type=int, default=160, help="target passage size in words (default 160)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="encoder batch size for both runs (default 64)"
    )
    parser.add_argument("--seed", type=int, default=0, help="file shuffle seed (default 0)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="ingest/raw pairs to run, alternating which goes first; times are averaged "
        "(default 1; use 2-3 on a busy machine)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.max_passages < 1:
        parser.error("--rounds and --max-passages must be positive")
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
