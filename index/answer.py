"""Answers composed from the documents' own sentences, each cited to its offsets.

Hand-written because no well-kept library cites at sentence level: llama-index's
``CitationQueryEngine`` re-chunks text and needs an LLM to write the answer,
and cites whole chunks. Here the answer *is* a few sentences of the
documents, so every word of it can be checked against its quote.

Contract: :func:`compose` takes the question and retrieved passages and
returns an :class:`Answer` whose markers ``[n]`` all resolve to a citation whose
``quote == document_text[start:end]``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from footnotes.index.store import PassageHit
from footnotes.ingest.sentences import split_sentences

_WORD = re.compile(r"[A-Za-z0-9\u00C0-\u024F\u0400-\u04FF]+")
_STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been
    being do does did done have has had having it its this that these those there here
    what which who whom whose when where why how i you he she we they me him her us them
    my your his our their not no yes so than then too very can could should would will
    shall may might must about into over under again further once any all both each few
    more most other some such only own same just also up down out off s t""".split()
)


@dataclass(frozen=True)
class Citation:
    """One cited quote: an exact span of a stored document."""

    n: int
    document: str
    title: str
    page: int | None
    section: str | None
    start: int
    end: int
    quote: str
    passage: str
    score: float


@dataclass(frozen=True)
class Answer:
    """The answer to one question, and the citations its markers point to."""

    question: str
    answer: str
    answered: bool
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that carry meaning (no stopwords)."""
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in _STOPWORDS]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class _Candidate:
    hit: PassageHit
    start: int  # offsets into the document text
    end: int
    text: str
    score: float


def compose(question: str, hits: list[PassageHit], min_score: float = 0.3,
            max_sentences: int = 3) -> Answer:
    """Answer ``question`` from ``hits`` (best first) with at most ``max_sentences`` sentences."""
    if not hits or hits[0].score < min_score:
        related = _citations([_whole(h) for h in hits[:3]])
        return Answer(question, _abstention(question), False, [], related)
    terms = {_stem(w) for w in content_words(question)}
    candidates: list[_Candidate] = []
    for rank, hit in enumerate(hits):
        for s, e in split_sentences(hit.text):
            text = hit.text[s:e]
            words = {_stem(w) for w in content_words(text)}
            overlap = len(terms & words) / max(1, len(terms))
            score = hit.score * (0.6 + overlap) / (1 + 0.15 * rank)
            if len(words) < 3:
                score *= 0.5  # headings and fragments state nothing
            candidates.append(_Candidate(hit, hit.start + s, hit.start + e, text, score))
    best = sorted(candidates, key=lambda c: -c.score)
    chosen: list[_Candidate] = []
    for cand in best:
        if len(chosen) == max_sentences or cand.score < best[0].score * 0.6:
            break
        if any(_similar(cand.text, c.text) for c in chosen):
            continue
        chosen.append(cand)
    # Keep the documents' order among sentences of one passage.
    first_use: dict[str, int] = {}
    for i, c in enumerate(chosen):
        first_use.setdefault(c.hit.id, i)
    chosen.sort(key=lambda c: (first_use[c.hit.id], c.start))
    citations = _citations(chosen)
    by_span = {(c.document, c.start): c.n for c in citations}
    parts = [f"{c.text} [{by_span[(c.hit.document_id, c.start)]}]" for c in chosen]
    return Answer(question, " ".join(parts), True, citations, [])


def _whole(hit: PassageHit) -> _Candidate:
    return _Candidate(hit, hit.start, hit.end, hit.text, hit.score)


def _citations(chosen: list[_Candidate]) -> list[Citation]:
    out: list[Citation] = []
    seen: dict[tuple[str, int], int] = {}
    for c in chosen:
        key = (c.hit.document_id, c.start)
        if key in seen:
            continue
        seen[key] = len(out) + 1
        out.append(
            Citation(
                n=len(out) + 1,
                document=c.hit.document_id,
                title=c.hit.title,
                page=c.hit.page,
                section=c.hit.section,
                start=c.start,
                end=c.end,
                quote=c.text,
                passage=c.hit.text,
                score=round(c.score, 4),
            )
        )
    return out


def _similar(a: str, b: str) -> bool:
    wa, wb = set(content_words(a)), set(content_words(b))
    if not wa or not wb:
        return False
    return len(wa & wb) / math.sqrt(len(wa) * len(wb)) > 0.8


def _abstention(question: str) -> str:
    topic = " ".join(content_words(question)[:8]) or question.strip()
    return f"The documents do not say: nothing in them answers a question about {topic}."
