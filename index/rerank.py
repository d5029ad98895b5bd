"""Which of the fused candidates answers: the order an answer cites them in.

Reciprocal-rank fusion (``index/retrieve.py``) is the best way measured to
*find* candidates, but it ranks by position only: a sentence that BM25 ranks
first for one rare word beats the one that states every word the question
asks about. The composer and the language model's evidence therefore put
first the candidate with the best dense similarity to the question plus the
question's word coverage by the sentence read with its section heading (the
IDF-weighted share of the question's content stems it states, as
:func:`coverage.coverage` with exact matches only). A sentence that opens by
pointing back ("This remapping can be disabled with ...") is read with the
sentence before it, which names what it is about; a sentence of a document
the question names by title states that title. A candidate whose score is near the
best (:data:`SECOND_READING_MARGIN`) is encoded a second time, read the other way from
its stored vector (``Retrieval.second_reading``: with its title and heading, or alone),
and counts the better of its two cosines. "The default is 30 days." under "Refund
window" says more with its heading than without; on one document, where every sentence
shares the title, a sentence alone is told apart better.
Only the best two move (:data:`LEADING`): the others keep their fused order,
and any is cited only when nearly as relevant as the best
(``answer._close_to_best``). Ordering them all by that score favours long
sentences: on BlockchainSolana the cited characters rose from 326 to 406, and
one unanswerable article question was answered.

Measured with ``python benchmarks/retrieval.py --answering`` (README): the
answering sentence cited first for 0.944 / 0.879 of the tuned article and
BlockchainSolana questions (0.944 / 0.776 in fused order), and on question
sets never tuned on, 0.923 (0.846) on the article, 0.80 (0.70) on Debian's
Python tutorial and 0.688 (0.494) on the Python HOWTOs and two kernel pages.
Word coverage by contextual token vectors measured alike or worse on
BlockchainSolana and costs 0.2 s (top 10) to 1 s (top 30) a question here.

Hand-written: llama-index's rerankers are cross-encoders or LLM calls, and
neither is available offline here.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from footnotes.index.coverage import Word, content_words, coverage, question_parts
from footnotes.index.lexical import tokenize
from footnotes.index.retrieve import Retrieval
from footnotes.index.store import SentenceHit

_POINTS_BACK = re.compile(
    r"\s*(?:This|These|That|Those|Such|It|Its|They|Their|Them|He|She|His|Her)\b"
)

_PRONOUN_SUBJECT = re.compile(
    r"\s*(?:(?:It|They|He|She)\b|(?:This|That|These|Those)\s+(?:is|are|was|were|has|have|"
    r"had|can|could|will|would|may|might|must|should|does|do|did|means|allows?)\b)"
)


def points_back(sentence: str) -> bool:
    """Whether ``sentence`` opens with a word that points back ("This", "It", "They")."""
    return bool(_POINTS_BACK.match(sentence))


def stands_for_another(sentence: str) -> bool:
    """Whether ``sentence``'s subject is only a pronoun ("It allows ...", "This is ..."):
    what it is about is said by the sentence before it."""
    return bool(_PRONOUN_SUBJECT.match(sentence))


LEADING = 2
"""How many candidates move to the front. Two measured better than one on the tuned
BlockchainSolana set (citation precision 0.563 -> 0.582, page hit 0.966 either way, cited
characters 342 -> 362) and alike on the tuned article; all (re-ordering every candidate)
worse (see the module's docstring)."""


SECOND_READING_MARGIN = 0.2
"""A candidate scoring within this of the best is read a second time, and counts the
better of its two cosines. Encoding all 30 costs 0.45 s a question here; within 0.2,
about six sentences a question (90 ms), the figures were the same but one HOWTO answer
(README)."""


def answering_order(asked: str, retrieval: Retrieval) -> list[SentenceHit]:
    """The retrieved hits (fused order) with the :data:`LEADING` best by dense similarity
    plus :func:`stated` first (the first of equals first); the others keep their fused
    order. A sentence of a document the question names by its title states its title too,
    and one that points back is read with the sentence before it. The dense similarity
    of a candidate near the best is the better of its two readings (alone, and with its
    title and heading: ``Retrieval.second_reading``)."""
    hits, named, idf = retrieval.hits, retrieval.named, retrieval.idf
    if not hits:
        return hits
    titled = frozenset(t for h in hits if h.document_id in named for t in tokenize(h.title))
    words = question_parts(asked, content_words(asked), titled)[0]
    scores = {
        h.id: h.dense + stated(words, h, idf, h.document_id in named, retrieval.preceding.get(h.id))
        for h in hits
    }
    if retrieval.second_reading is not None:
        best = max(scores.values())
        near = [h for h in hits if scores[h.id] >= best - SECOND_READING_MARGIN]
        for hit, cosine in zip(near, retrieval.second_reading(near)):
            scores[hit.id] += max(0.0, cosine - hit.dense)
    first = sorted(hits, key=lambda h: -scores[h.id])[:LEADING]
    return [*first, *(h for h in hits if h not in first)]


def stated(
    words: list[Word],
    hit: SentenceHit,
    idf: Callable[[str], float],
    titled: bool = False,
    before: SentenceHit | None = None,
) -> float:
    """The IDF-weighted share of the question's ``words`` whose stems the sentence or its
    section heading (and, ``titled``, its document's title) states, in [0, 1]. A sentence
    that opens by pointing back ("This remapping ...") is read with the one ``before`` it."""
    context = f"{hit.text} {hit.section or ''} {hit.title if titled else ''}"
    if before is not None and points_back(hit.text):
        context += f" {before.text}"
    return coverage(words, set(tokenize(context)), [], idf)
