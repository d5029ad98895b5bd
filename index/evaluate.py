"""``footnotes eval``: measure answers against a question set.

Rows are JSON lines ``{"question", "answers"?, "gold"?, "answerable"?,
"history"?, "pages"?}``: ``answers`` are strings the answer should contain,
``gold`` a substring of the supporting passage, ``pages`` (1-based) the pages
where the support lies, for sets whose gold text does not match the extracted
text verbatim. Matching is case- and space-insensitive. The file is read a line
at a time and each row is held to the same bounds as a question asked anywhere
else (``index/ask.py``), so a bad row is named before any question is asked.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from footnotes.errors import FootnotesError, InputError
from footnotes.index.answer import Answer
from footnotes.index.ask import Turn, check_history, check_question, parse_history
from footnotes.index.jsonl import at, read_json_lines
from footnotes.settings import Settings


class _Asks(Protocol):
    def ask(self, question: str, history: list[Turn] | None = None) -> Answer: ...


@dataclass(frozen=True)
class EvalRow:
    question: str
    answers: list[str] = field(default_factory=list)
    gold: str | None = None
    answerable: bool = True
    history: list[Turn] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class RowResult:
    row: EvalRow
    answer: Answer
    latency_ms: float
    contains: bool | None
    cited: bool | None
    page_hit: bool | None
    supporting: int | None
    """How many of the answer's citations hold an expected answer or the gold text, or lie on
    a gold page (None when the row gives none of these, or the answer abstained)."""


@dataclass(frozen=True)
class EvalReport:
    rows: list[RowResult]
    answer_containment: float | None
    citation_hit: float | None
    page_hit: float | None
    citation_precision: float | None
    abstention_precision: float | None
    abstention_recall: float | None
    mean_answer_chars: float
    mean_cited_chars: float
    mean_cited_sentences: float
    latency_p50_ms: float
    latency_p95_ms: float
    written: int = 0
    """Answers a language model wrote (``mode: "llm"``)."""
    fell_back: int = 0
    """Answers with a notice: the model failed and quoted sentences stood in."""
    kept: float | None = None
    """Of the sentences the model wrote, the share supported by their quotes (shown)."""
    dropped: float | None = None
    """...the share left out as unsupported (``FOOTNOTES_LLM_UNSUPPORTED=drop``)."""
    flagged: float | None = None
    """...the share shown marked as unsupported (``flag``)."""

    def summary(self) -> dict[str, Any]:
        return {
            "questions": len(self.rows),
            "answerable": sum(1 for r in self.rows if r.row.answerable),
            "answer_containment": self.answer_containment,
            "citation_hit": self.citation_hit,
            "page_hit": self.page_hit,
            "citation_precision": self.citation_precision,
            "abstention_precision": self.abstention_precision,
            "abstention_recall": self.abstention_recall,
            "mean_answer_chars": round(self.mean_answer_chars, 1),
            "mean_cited_chars": round(self.mean_cited_chars, 1),
            "mean_cited_sentences": round(self.mean_cited_sentences, 2),
            "latency_p50_ms": round(self.latency_p50_ms, 1),
            "latency_p95_ms": round(self.latency_p95_ms, 1),
            "llm_answers": self.written,
            "llm_fallbacks": self.fell_back,
            "llm_sentences_kept": self.kept,
            "llm_sentences_dropped": self.dropped,
            "llm_sentences_flagged": self.flagged,
        }


def load_rows(path: Path, settings: Settings | None = None) -> list[EvalRow]:
    """Parse a question file a line at a time, or raise :class:`InputError` naming the
    first bad line (``FILE:N: reason``): not UTF-8 or JSON, not a row, a question or
    history over the limits of ``settings`` (the defaults when None)."""
    limits = settings if settings is not None else Settings.model_construct()
    rows = []
    for number, raw in read_json_lines(path, limits.max_body_kb * 1024):
        try:
            row = _row(raw)
        except (ValueError, TypeError, FootnotesError) as exc:
            raise at(path, number, f"not an eval row ({exc})") from exc
        try:
            check_question(row.question, limits)
            check_history(row.history, limits)
        except InputError as exc:
            raise at(path, number, exc) from exc
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no questions")
    return rows


def _row(raw: Any) -> EvalRow:
    if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
        raise InputError("expected an object with a 'question' string")
    return EvalRow(
        question=raw["question"],
        answers=[str(a) for a in raw.get("answers") or []],
        gold=str(raw["gold"]) if raw.get("gold") else None,
        answerable=bool(raw.get("answerable", True)),
        history=parse_history(raw.get("history")),
        pages=[int(p) for p in raw.get("pages") or []],
    )


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip().lower()


def evaluate(asker: _Asks, rows: list[EvalRow]) -> EvalReport:
    """Ask every row's question and score the answers."""
    results = []
    for row in rows:
        t0 = time.perf_counter()
        answer = asker.ask(row.question, row.history)
        latency = (time.perf_counter() - t0) * 1000
        results.append(_score(row, answer, latency))
    return _report(results)


def _score(row: EvalRow, answer: Answer, latency_ms: float) -> RowResult:
    text = normalise(answer.answer)
    quotes = [normalise(c.quote) for c in answer.citations]
    expected = [normalise(a) for a in row.answers]
    contains = any(a in text for a in expected) if row.answerable and expected else None
    needles = expected + ([normalise(row.gold)] if row.gold else [])
    cited = any(n in q for n in needles for q in quotes) if row.answerable and needles else None
    pages = set(row.pages)
    page_hit = any(c.page in pages for c in answer.citations) if row.answerable and pages else None
    supporting = None
    if answer.answered and row.answerable and (needles or pages):
        supporting = sum(
            1
            for c, q in zip(answer.citations, quotes)
            if c.page in pages or any(n in q for n in needles)
        )
    return RowResult(row, answer, latency_ms, contains, cited, page_hit, supporting)


def _rate(values: list[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 3) if known else None


def _precision(results: list[RowResult]) -> float | None:
    """Supporting citations over all citations, in the rows that can tell."""
    known = [r for r in results if r.supporting is not None]
    total = sum(len(r.answer.citations) for r in known)
    return round(sum(r.supporting or 0 for r in known) / total, 3) if total else None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _report(results: list[RowResult]) -> EvalReport:
    abstained = [r for r in results if not r.answer.answered]
    unanswerable = [r for r in results if not r.row.answerable]
    true_abstentions = sum(1 for r in abstained if not r.row.answerable)
    answered = [r for r in results if r.answer.answered]
    n = max(1, len(results))
    wrote = [s for r in results if r.answer.mode == "llm" for s in r.answer.sentences]
    return EvalReport(
        rows=results,
        answer_containment=_rate([r.contains for r in results]),
        citation_hit=_rate([r.cited for r in results]),
        page_hit=_rate([r.page_hit for r in results]),
        citation_precision=_precision(results),
        abstention_precision=round(true_abstentions / len(abstained), 3) if abstained else None,
        abstention_recall=round(true_abstentions / len(unanswerable), 3) if unanswerable else None,
        mean_answer_chars=sum(len(r.answer.answer) for r in results) / n,
        mean_cited_chars=sum(sum(len(c.quote) for c in r.answer.citations) for r in answered)
        / max(1, len(answered)),
        mean_cited_sentences=sum(len(r.answer.citations) for r in answered) / max(1, len(answered)),
        latency_p50_ms=_percentile([r.latency_ms for r in results], 0.5),
        latency_p95_ms=_percentile([r.latency_ms for r in results], 0.95),
        written=sum(1 for r in results if r.answer.mode == "llm"),
        fell_back=sum(1 for r in results if r.answer.notice),
        kept=_rate([s.supported for s in wrote]),
        dropped=_rate([not s.supported and s.dropped for s in wrote]),
        flagged=_rate([not s.supported and not s.dropped for s in wrote]),
    )
