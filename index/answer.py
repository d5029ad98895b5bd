"""Answers composed from the documents' own sentences, each cited to its offsets.

Hand-written because no well-kept library cites at sentence level:
llama-index's ``CitationQueryEngine`` cites whole re-chunked passages and needs
an LLM to write the answer. Here, with no LLM, the answer *is* a few
sentences of the documents, so every word of it can be checked against its
quote; and the decision to abstain is a measured signal, not a guess.

Contract: :func:`compose` returns an :class:`Answer` whose markers ``[n]`` all
resolve to a citation with ``quote == document_text[start:end]``; an
abstention has ``answered=False``, no citations, and may list ``related``.
:class:`Answer`, :class:`Sentence` and :class:`Citation` are the one
definition of an answer: the CLI prints them, the API serves them (and its
OpenAPI schema is made from them), the chat renders their sentences, and an
answer a language model wrote (``index/written.py``) is one too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from pydantic import ConfigDict

from footnotes.index.coverage import Word, WordsOf, WordVectors, coverage, question_parts
from footnotes.index.lexical import tokenize
from footnotes.index.rerank import answering_order, stands_for_another
from footnotes.index.retrieve import Retrieval
from footnotes.index.store import PassageHit, SentenceHit
from footnotes.ingest.headings import md_heading

_BULLET = re.compile(r"[\u2022\u25aa\u25cf\u2023\u2043*\-\u2013]\s+")
_FIELD = re.compile(r":?[^\W\d_][\w -]{0,30}:[ \t]+\S")
"""A field: a label of a few words, a colon and its value (reStructuredText's ``:Author:``)."""
_OWN_REFERENCE = re.compile(r"\[(\d{1,4})\]")
_QUANTITY_QUESTION = re.compile(
    r"\b(?:how (?:many|much|long|far|old|big|large)|population|price|cost|percentage|"
    r"proportion|range|number of|amount of)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|(?:hundred|thousand|million|billion|dozen)s?|half|several|once|twice|"
    r"thrice|zero|single|couple)\b",
    re.IGNORECASE,
)
# Month names only capitalised: "may" and "march" are also ordinary words.
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_YEAR = r"(?:1[5-9]|20)\d\d"
# A year after "in", "since"... is a date unless a noun or unit follows ("in 2000 soldiers");
# a function word may follow ("from 1500 to 2000 soldiers": 1500 is stripped, 2000 stays).
_NOT_A_COUNT = r"(?!\s*(?:%|(?!(?:and|or|to|the|a|an|when|as|with|but|which|that)\b)[^\W\d_]))"
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+{_YEAR})?"
    rf"|{_MONTH}\s+{_YEAR}"
    rf"|{_YEAR}-\d\d-\d\d|\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}"
    rf"|(?i:in|since|by|until|till|from|during|before|after|between)\s+(?:the\s+)?"
    rf"(?:(?i:at\s+least|early|late|mid)[\s-]+)?{_YEAR}s?\b{_NOT_A_COUNT})\b"
)
_REASON_QUESTION = re.compile(r"^\s*(?:(?:and|but|so)\s+)?(?:why|for what reason)\b", re.I)
_REASON = re.compile(
    r"\b(?:because|since|as (?:it|they|this|that|a result)|due to|owing to|citing|cited|"
    r"in order to|so that|so as to|reasons?|therefore|thus|hence|consequently|given that)\b",
    re.IGNORECASE,
)
_TIME_QUESTION = re.compile(r"\bhow (?:long|old)\b", re.IGNORECASE)
_DATE_QUESTION = re.compile(
    r"\b(?:what|which)\s+(?:year|date|day|month|decade|century)\b", re.IGNORECASE
)
_A_DATE = re.compile(rf"\b(?:{_YEAR}s?|{_MONTH}|\d{{1,2}}(?:st|nd|rd|th)\s+century)\b")
_LEAD = re.compile(
    r"^\s*(?:(?:and|but|so|then|also)\s+)?(?:what|which|who|whom|whose|when|where|why|how"
    r"(?:\s+(?:many|much|long|often|far))?)?\s*(?:is|are|was|were|do|does|did|has|have|had|"
    r"can|could|will|would|should|may|might)?\s+",
    re.IGNORECASE,
)


# The answer's types are the API's schema too (``ui/api.py``): their attribute docstrings
# are the field descriptions of ``/openapi.json``.
_SCHEMA = ConfigDict(use_attribute_docstrings=True)


@dataclass(frozen=True)
class Citation:
    """One cited quote: an exact span of a stored document, ``quote == text[start:end]``."""

    __pydantic_config__ = _SCHEMA

    n: int
    """The marker [n] in the answer, counted from 1."""
    document: str
    """The document's id."""
    title: str
    format: str
    """The document's format (txt, md, rst, html, pdf, docx): how its text is marked up,
    e.g. which lines of an md document are headings ("# Team notes")."""
    page: int | None
    """The page the quote starts on (1-based), for paged formats."""
    section: str | None
    """The heading the quote is under."""
    start: int
    """The quote's offsets in the document's text (``/api/documents/{id}/text``)."""
    end: int
    quote: str
    passage: str
    """The passage around the quote."""
    score: float


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer and the citations it carries.

    Extractive: a cited quote as shown, supported by construction. Written by a
    model: its sentence without markers, ``supported`` as the check found it, and
    when not, ``reason``. An unsupported sentence is ``dropped`` from ``answer``
    (by default; it then cites nothing) or kept and flagged.
    """

    __pydantic_config__ = _SCHEMA

    text: str
    """The sentence as shown, without its markers."""
    citations: list[int] = field(default_factory=list)
    """The ``n`` of each citation it carries."""
    supported: bool = True
    """Whether the quotes it cites support it (always, for a quoted sentence)."""
    reason: str | None = None
    """Why it is not supported."""
    dropped: bool = False
    """Left out of ``answer`` because it is not supported (FOOTNOTES_LLM_UNSUPPORTED=drop)."""


Mode = Literal["extractive", "llm"]


@dataclass(frozen=True)
class Answer:
    """The answer to one question, and the citations its markers point to.

    ``answer`` is the text shown: the shown ``sentences`` each followed by its
    markers ``[n]`` (:func:`joined`). ``mode`` says who wrote it; ``notice``, when
    set, says in one line why it is not what was asked for (the model failed).
    """

    __pydantic_config__ = _SCHEMA

    question: str
    answer: str
    """The answer's text, each sentence followed by its markers [n]."""
    answered: bool
    """False when the documents do not answer it (abstention)."""
    citations: list[Citation] = field(default_factory=list)
    """What the answer's markers [n] point to, numbered in order of first use."""
    related: list[Citation] = field(default_factory=list)
    """On abstention, the nearest sentences."""
    mode: Mode = "extractive"
    """Who wrote the answer: "llm" (a language model, every sentence checked) or
    "extractive" (sentences quoted from the documents)."""
    notice: str | None = None
    """Why the answer is not what was asked for, in one line (e.g. the model failed)."""
    sentences: list[Sentence] = field(default_factory=list)
    """The answer's sentences, with their citations and whether they are supported."""

    def to_dict(self) -> dict[str, Any]:
        """The ``ask --json`` object."""
        return asdict(self)

    def shown(self) -> list[Sentence]:
        """The sentences ``answer`` is made of, in order (a dropped one is not shown)."""
        return [s for s in self.sentences if not s.dropped]


@dataclass(frozen=True)
class Delta:
    """A piece of an answer as a language model writes it, before it is checked."""

    text: str


FLAG = "(not supported by its sources)"
"""Written after a flagged sentence's markers (``FOOTNOTES_LLM_UNSUPPORTED=flag``)."""


def joined(sentences: list[Sentence]) -> str:
    """The answer text: each sentence, then its markers, then :data:`FLAG` if unsupported."""
    parts = []
    for s in sentences:
        if s.dropped:
            continue
        markers = "".join(f" [{n}]" for n in s.citations)
        parts.append(s.text + markers + ("" if s.supported else f" {FLAG}"))
    return " ".join(parts)


EXACT_DEPTH = 10
"""Sentences searched for a question word's exact stem."""
SOFT_DEPTH = 3
"""Sentences whose words a question word may match by meaning."""
DENSE_DEPTH = 5
"""Sentences whose best dense similarity counts."""
EXACT_WORDS: WordsOf = WordVectors(None)
"""Content words without vectors: only exact (stemmed) matches count toward coverage."""
DENSE_MARGIN = 0.06
"""A cited sentence is at most this far below the best chosen one in dense similarity...
(0.06, chosen on the tuned sets: against 0.10, article citation precision 0.631 -> 0.651 at
333 -> 310 cited characters, BlockchainSolana 0.582 -> 0.591, answers unchanged)"""
LEXICAL_SHARE = 0.5
"""...or has at least this share of the best chosen one's BM25 score."""


def confidence(
    asked: str, retrieval: Retrieval, words_of: WordsOf, by_clause: bool = False
) -> float:
    """How well the top sentences support the question ``asked``, in [0, 1].

    The best dense similarity among the top five sentences, times the square
    root of the question's word coverage (:func:`coverage.coverage`) by one
    document: exact stems found in its share of the top ten sentences count
    in full, other words by meaning against the words of its share of the
    top three, when ``words_of`` gives vectors. The best-covered document
    and part of the question decide; a question pieced together from words
    of unrelated documents is not supported. Calibrated in
    ``benchmarks/answers.py`` (see README): with words matched by meaning,
    every in-corpus question there scores above every unanswerable one that
    asks no amount; with exact words only, a paraphrased one did not.
    """
    hits = retrieval.hits
    if not hits:
        return 0.0
    words = words_of([asked] + [h.text for h in hits[:SOFT_DEPTH]])
    found: dict[str, set[str]] = {}
    evidence: dict[str, list[Word]] = {}
    for hit in hits[:EXACT_DEPTH]:
        found.setdefault(hit.document_id, set()).update(tokenize(hit.text))
        if hit.document_id in retrieval.named:  # the question names it by its title
            found[hit.document_id].update(tokenize(hit.title))
    for hit, hit_words in zip(hits, words[1:]):
        evidence.setdefault(hit.document_id, []).extend(hit_words)
    idf = retrieval.idf
    parts = question_parts(asked, words[0])
    covered = max(
        (
            coverage(part, found[document], evidence.get(document, []), idf)
            for document in found
            for part in parts
        ),
        default=0.0,
    )
    return _best_dense(retrieval, by_clause) * math.sqrt(covered)


def _best_dense(retrieval: Retrieval, by_clause: bool = False) -> float:
    """The best dense similarity of the top sentences, each read alone and with its title
    and heading (``Retrieval.second_reading``: a sentence that leans on its heading,
    ":Author: A. Name" under "Logging HOWTO", is judged as a reader meets it, and one
    whose stored vector holds a title the question does not name, as itself);
    ``by_clause``: of their clauses too, so that a long sentence whose one clause answers
    is not judged by the rest."""
    top = retrieval.hits[:DENSE_DEPTH]
    scores = [h.dense for h in top]
    if retrieval.second_reading is not None:
        scores += retrieval.second_reading(top)
    if by_clause and retrieval.clause_similarity is not None:
        scores += retrieval.clause_similarity([h.text for h in top])
    return max((max(0.0, s) for s in scores), default=0.0)


def lacks_answer_type(question: str, chosen: list[SentenceHit]) -> bool:
    """A question asking for an amount or a date, answered by sentences that state none.

    "What is the population of Belarus?" retrieves sentences about Belarus
    that share its words; none states an amount, so none answers it. "In
    what year was the foundation set up?" is not answered by a sentence
    without a year or a month.
    """
    if _DATE_QUESTION.search(question):
        return not any(_A_DATE.search(h.text) for h in chosen)
    return asks_amount(question) and not any(states_amount(question, h) for h in chosen)


def asks_reason(question: str) -> bool:
    """Whether ``question`` asks why."""
    return bool(_REASON_QUESTION.search(question))


def asks_amount(question: str) -> bool:
    """Whether ``question`` asks how many, how much, how long...: an amount."""
    return bool(_QUANTITY_QUESTION.search(question))


def states_amount(question: str, hit: SentenceHit) -> bool:
    """Whether the sentence states a number that could answer ``question``.

    A date is not an amount ("adopted on 19 November" does not say how many
    soldiers), except for "how long" and "how old", which a year can answer.
    """
    text = hit.text if _TIME_QUESTION.search(question) else _DATE.sub(" ", hit.text)
    return bool(_NUMBER.search(text))


def compose(
    question: str,
    asked: str,
    retrieval: Retrieval,
    passages_for: Callable[[list[str]], dict[str, PassageHit]],
    words_of: WordsOf,
    threshold: float,
    max_sentences: int = 3,
    previous: str = "",
) -> Answer:
    """Answer ``question`` from ``retrieval`` (fused, best first), or abstain below ``threshold``.

    ``asked`` is the text whose words must be covered: the question, or for a
    follow-up with no content words of its own ("And then?"), the query it
    was retrieved with. The confidence is computed only as far as the
    threshold needs; :func:`confidence` gives the full one. ``previous`` is the
    conversation's last answer: a follow-up's answer adds to it (:func:`_adding_to`).
    """
    hits = retrieval.hits
    sure = confidence(asked, retrieval, EXACT_WORDS)
    if sure < threshold <= _best_dense(retrieval, by_clause=True):
        # Words matched by meaning and clauses can only raise the confidence, whose parts
        # are at most 1: the encoder runs only for the questions exact words leave undecided.
        sure = confidence(asked, retrieval, words_of, by_clause=True)
    limit = max_sentences * (3 if asks_reason(question) else 1)
    order = _with_best_in_words(answering_order(asked, retrieval), limit)
    chosen = _select(order, retrieval.following, limit)
    if retrieval.second_reading is not None and chosen:
        # Nearly as relevant as the best (below) by the reading the order counted.
        chosen = [
            replace(h, dense=max(h.dense, c))
            for h, c in zip(chosen, retrieval.second_reading(chosen))
        ]
    if asks_reason(question):
        # "Why?" is answered by the sentences that give a reason, if the top ones hold any.
        chosen = ([h for h in chosen if _REASON.search(h.text)] or chosen)[:max_sentences]
    if asks_amount(question) and chosen:
        # A sentence stating an amount stays, however it ranks, if it is in the document
        # of the best sentence: a number elsewhere answers nothing about this subject.
        best = max(chosen, key=lambda h: h.dense).document_id
        chosen = _close_to_best(
            chosen, keep=lambda h: h.document_id == best and states_amount(question, h)
        )
    else:
        chosen = _close_to_best(chosen)
    if sure < threshold or lacks_answer_type(question, chosen):
        related = _citations([[h] for h in hits[:3]], passages_for)
        return Answer(question, abstention(question), False, [], related)
    if previous:
        chosen = _adding_to(chosen, previous)
    chosen = _with_neighbours(chosen, retrieval.preceding, retrieval.following, asked)
    return quoted(question, _citations(_group(chosen), passages_for))


def _with_best_in_words(order: list[SentenceHit], limit: int) -> list[SentenceHit]:
    """``order`` with the sentence that shares the most of the question's words (the best
    BM25 score) among its first ``limit``, however it ranks: it takes the last place from
    one that shares less than half as much ("As a last resort, the current working
    directory." was fifth). On the development set of Debian pages 0.779 -> 0.794, on one
    never read 0.824 -> 0.838, no other set changed; taking the last place from any
    sentence lost two BlockchainSolana pages."""
    if len(order) <= limit:
        return order
    best = max(order, key=lambda h: h.lexical)
    if order.index(best) < limit or order[limit - 1].lexical >= LEXICAL_SHARE * best.lexical:
        return order
    rest = [h for h in order if h is not best]
    return [*rest[: limit - 1], best, *rest[limit - 1 :]]


def _with_neighbours(
    chosen: list[SentenceHit],
    preceding: dict[str, SentenceHit],
    following: dict[str, SentenceHit],
    asked: str,
) -> list[SentenceHit]:
    """The chosen sentences, each with the neighbour it leans on, so that its quote can be
    checked: one whose subject is a pronoun ("It allows us to ...") with the sentence before
    it, which says what "it" is; one that announces what follows it (ends with a colon:
    "you can set the default timeout globally for all sockets using ::") with the sentence
    after it, which holds what it announces (the code, the list). The best sentence is also
    quoted with the sentence after it when that one's subject is only a pronoun: it goes
    on about the same thing ("Another measure of the function is the number of local
    variables. It shouldn't exceed 5-10, ..."). On the development set of Debian pages
    this found 2 more answers of 68 (0.750 -> 0.779), and 2 on a set never read (0.794 ->
    0.824); no other set changed, at 3 to 12 more cited characters a question. A
    description that opens an API entry is quoted with the entry's signature before it
    ("raw_decode(s)" above "Decode a JSON document from *s* ..."), the name it is about:
    the first fresh set 0.853 -> 0.868, no other changed, 0 to 4 more characters. The best
    sentence is quoted with the one after it when it :func:`restates` the question: the
    first fresh set 0.882 -> 0.897 and the second (never read) 0.750 -> 0.765, no other
    changed, 0 to 9 more characters."""
    out: list[SentenceHit] = []
    ids = {h.id for h in chosen}

    def add(neighbour: SentenceHit | None, wanted: bool) -> None:
        if wanted and neighbour is not None and neighbour.id not in ids:
            out.append(neighbour)
            ids.add(neighbour.id)

    for n, hit in enumerate(chosen):
        # Not a heading: the citation names its section already.
        before = preceding.get(hit.id)
        pointed = before is not None and stands_for_another(hit.text) and _states_something(before)
        lead = before if pointed else None
        signature = preceding.get((lead or hit).id)
        add(signature, signature is not None and is_signature(signature.text))
        add(lead, True)
        out.append(hit)
        after = following.get(hit.id)
        add(
            after,
            hit.text.rstrip().endswith(":")
            or (n == 0 and after is not None and stands_for_another(after.text))
            or (n == 0 and restates(asked, hit)),
        )
    return out


_SIGNATURE = re.compile(r"\s*(?:class\s+)?[A-Za-z_][\w.]*\s*\(.*\)\s*", re.DOTALL)
_OPTION = r"--?[A-Za-z0-9][\w-]*(?:[ =](?:<[^<>\s]+>|\[[^\[\]\s]+\]|[A-Z_]+))?"
_OPTIONS = re.compile(rf"\s*{_OPTION}(?:\s*,\s*{_OPTION})*\s*")


RESTATES_NEW_WORDS = 1
"""A sentence with at most this many content words that neither the question nor its
heading has restates the question (see :func:`restates`). 2 changed no set more, at up
to 21 more cited characters a question."""


def restates(asked: str, hit: SentenceHit) -> bool:
    """Whether ``hit`` says hardly anything that the question ``asked`` (or its heading)
    does not: "The client sends a request and then does a shutdown(1)." for "... what
    does it tell the server when the client calls shutdown(1) after sending its
    request?". Its answer is the sentence after it."""
    known = set(tokenize(f"{asked} {hit.section or ''}"))
    return len(set(tokenize(hit.text)) - known) <= RESTATES_NEW_WORDS


def is_signature(sentence: str) -> bool:
    """Whether ``sentence`` is an API entry's signature ("raw_decode(s)", "class
    Shelf(dict)") or a command-line option's ("--json-lines", "-i, --indent N"): the
    name that the description after it is about."""
    return bool(_SIGNATURE.fullmatch(sentence) or _OPTIONS.fullmatch(sentence))


def _adding_to(chosen: list[SentenceHit], previous: str) -> list[SentenceHit]:
    """A follow-up's sentences with the new ones first: its answer adds to the previous
    one. The ones the previous answer showed stay, after them: "When?" after "What did
    they sign?" is answered by the sentence that already said both."""
    shown = _words(previous)
    return sorted(chosen, key=lambda h: _words(display(h.text)) in shown)


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def quoted(question: str, citations: list[Citation]) -> Answer:
    """The extractive answer made of ``citations``: each quote as shown, then its marker."""
    sentences = [Sentence(display(c.quote, c.format), [c.n]) for c in citations]
    return Answer(question, joined(sentences), True, citations, [], sentences=sentences)


def evidence(
    asked: str,
    retrieval: Retrieval,
    passages_for: Callable[[list[str]], dict[str, PassageHit]],
    limit: int,
) -> list[Citation]:
    """The best ``limit`` sentences for ``asked`` that state something, numbered from 1 in
    answering order (:func:`rerank.answering_order`), each a citation with exact offsets:
    what a language model is given to answer from."""
    chosen = _select(answering_order(asked, retrieval), retrieval.following, limit)
    return _citations([[h] for h in chosen], passages_for)


def _states_something(hit: SentenceHit) -> bool:
    """Headings, fragments and questions in the text answer nothing. A heading is known by
    its length, or by being its passage's section heading ("When to use logging"); a
    short field (":Author: A. Name") is a statement."""
    text = hit.text.rstrip()
    if hit.section and _unmarked(text) == hit.section.strip():
        return False
    if _FIELD.match(text):  # ":Author: A. Name", "Version: 2.1": a labelled value
        return True
    return len(text.split()) >= 4 and not _asks(hit)


def _asks(hit: SentenceHit) -> bool:
    """Whether the sentence is a question in the text (a FAQ's heading)."""
    return hit.text.rstrip().endswith("?")


def _is_title(hit: SentenceHit) -> bool:
    """The document's own title line: it names the whole document, so it answers nothing,
    and the sentence under it is no more likely than any other to answer."""
    return bool(hit.title) and _unmarked(hit.text) == hit.title.strip()


def _unmarked(line: str) -> str:
    """A line without a Markdown heading's ``#`` marks, as a title or section is named."""
    return line.strip().lstrip("#").strip()


def _select(
    hits: list[SentenceHit], following: dict[str, SentenceHit], limit: int
) -> list[SentenceHit]:
    """The best fused sentences that state something, without repeats.

    A heading or fragment that ranks high ("Scalability issues.") stands for
    the sentence under it, which is taken in its place. A question in the text (a
    FAQ's heading, "How do I solve the missing ... error?") stands for its answer only
    when it ranks first, asking what the reader asks; lower down it asks something else
    about the topic ("What is the magic SysRq key?" for "What other name does the SysRq
    key go by?"), and its answer would take the place of one that answers. Measured
    when reStructuredText titles came to share a passage with the text under them
    (README): the development set 0.794 -> 0.809, the Debian pages 0.906 -> 0.922, a
    set never read 0.721 -> 0.735; letting every heading stand in only when first lost a
    BlockchainSolana page, and letting a question stand in however it ranks gained the
    same two answers and lost two others.
    """
    chosen: list[SentenceHit] = []
    for hit in hits:
        if len(chosen) == limit:
            break
        if _is_title(hit):
            continue
        if not _states_something(hit):
            after = following.get(hit.id)
            if (
                (chosen and _asks(hit))
                or after is None
                or not _states_something(after)
                or _is_title(after)
            ):
                continue
            hit = replace(after, score=hit.score, dense=hit.dense, lexical=hit.lexical)
        if any(c.id == hit.id or _near_duplicate(hit.text, c.text) for c in chosen):
            continue
        chosen.append(hit)
    return chosen


def _close_to_best(
    chosen: list[SentenceHit], keep: Callable[[SentenceHit], bool] | None = None
) -> list[SentenceHit]:
    """The chosen sentences nearly as relevant as the best, in meaning or in words.

    The third-best sentence is often only on the topic; cited, it costs the
    reviewer a read and supports nothing. Measured with ``footnotes eval``
    (README): on the sample article this cut the citations an answer has from
    2.59 to 1.72 and raised the share that hold the answer (citation
    precision) from 0.41 to 0.61, with no answer lost; on BlockchainSolana
    the page hit stayed at 0.948, precision rose from 0.52 to 0.57 and cited
    characters fell from 449 to 378. Neighbouring margins (0.08 to 0.12,
    shares 0.4 to 0.6) measured alike. The first sentence (the answering
    order's best, ``index/rerank.py``) and those for which ``keep`` is true
    stay whatever their scores: "What are regular expressions also called?"
    lost its answer, first in that order, to a sentence 0.106 nearer in dense
    similarity (the tuned sets' figures are the same either way).
    """
    if not chosen:
        return chosen
    best_dense = max(h.dense for h in chosen)
    best_lexical = max(h.lexical for h in chosen)
    return [
        h
        for h in chosen
        if h is chosen[0]
        or h.dense >= best_dense - DENSE_MARGIN
        or (best_lexical > 0 and h.lexical >= LEXICAL_SHARE * best_lexical)
        or (keep is not None and keep(h))
    ]


def _group(chosen: list[SentenceHit]) -> list[list[SentenceHit]]:
    """Order by first use of each passage, document order inside it; merge neighbours."""
    first_use: dict[str, int] = {}
    for i, hit in enumerate(chosen):
        first_use.setdefault(hit.passage_id, i)
    ordered = sorted(chosen, key=lambda h: (first_use[h.passage_id], h.position))
    groups: list[list[SentenceHit]] = []
    for hit in ordered:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and last.passage_id == hit.passage_id
            and hit.position == last.position + 1
        ):
            groups[-1].append(hit)
        else:
            groups.append([hit])
    return groups


def _citations(
    groups: list[list[SentenceHit]], passages_for: Callable[[list[str]], dict[str, PassageHit]]
) -> list[Citation]:
    passages = passages_for(sorted({h.passage_id for g in groups for h in g}))
    out: list[Citation] = []
    for group in groups:
        first, last = group[0], group[-1]
        passage = passages.get(first.passage_id)
        if passage is None:
            continue  # removed between retrieval and composition
        start, end = first.start, last.end
        if not passage.start <= start < end <= passage.end:
            continue  # the passage changed between retrieval and composition
        quote = passage.text[start - passage.start : end - passage.start]
        out.append(
            Citation(
                n=len(out) + 1,
                document=first.document_id,
                title=first.title,
                format=passage.format,
                page=first.page,
                section=first.section,
                start=start,
                end=end,
                quote=quote,
                passage=passage.text,
                score=round(max(h.score for h in group), 5),
            )
        )
    return out


def display(quote: str, doc_format: str = "") -> str:
    """A quote as it reads in the answer: no leading bullet, an md heading line's words
    without its ``#`` marks (in a txt document a "#" is the text's own), and the
    document's own reference marks "[5]" shown as "(5)" so that every "[n]" in an
    answer is a citation."""
    heading = md_heading(quote) if doc_format == "md" else None
    if heading is not None and heading[1] < heading[2]:
        quote = quote[heading[1] : heading[2]]
    return _OWN_REFERENCE.sub(r"(\1)", _strip_bullet(quote))


def _strip_bullet(text: str) -> str:
    return _BULLET.sub("", text, count=1) if _BULLET.match(text) else text


def _near_duplicate(a: str, b: str) -> bool:
    wa, wb = set(tokenize(a)), set(tokenize(b))
    if not wa or not wb:
        return False
    return len(wa & wb) / math.sqrt(len(wa) * len(wb)) > 0.8


def topic(question: str) -> str:
    """The question's subject, for saying plainly what the documents do not cover."""
    text = question.strip().rstrip("?.! ").strip()
    stripped = _LEAD.sub("", text, count=1).strip()
    return stripped or text


def abstention(question: str) -> str:
    """The plain statement that the documents do not answer ``question``."""
    return (
        "The documents do not say. Nothing in them answers this question about "
        f"\u201c{topic(question)}\u201d."
    )
