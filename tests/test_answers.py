"""The answer engine through its Python API: the real model, a real Chroma store in ``tmp_path``.

Answers are checked against the store itself: every marker resolves to a citation,
every citation is an exact span of its document, and the answer says nothing that
is not one of its quotes. The pure parts (sentence selection, grouping, metrics) are
also checked on hand-built inputs, where the expected output is known exactly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from conftest import ROOT, SAMPLE_ARTICLE

from footnotes.errors import FootnotesError
from footnotes.index.answer import (
    DENSE_DEPTH,
    DENSE_MARGIN,
    EXACT_WORDS,
    Answer,
    Citation,
    _close_to_best,
    _group,
    _select,
    abstention,
    compose,
    confidence,
    lacks_answer_type,
)
from footnotes.index.ask import (
    Asker,
    Turn,
    contextualise,
    leans_on_context,
    parse_history,
    subject,
)
from footnotes.index.coverage import (
    Word,
    WordVectors,
    content_words,
    coverage,
    question_parts,
)
from footnotes.index.evaluate import EvalRow, evaluate, load_rows
from footnotes.index.lexical import LexicalIndex, tokenize
from footnotes.index.replica import Replica
from footnotes.index.retrieve import Retrieval, Retriever, without_words
from footnotes.index.store import PassageHit, SentenceHit, Store
from footnotes.index.sync import Ingestor
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

QUESTIONS = ROOT / "benchmarks" / "data" / "sample_article.jsonl"
FOOTNOTES = Path(sys.executable).with_name("footnotes")
ARTICLE_ID = SAMPLE_ARTICLE.name
ARTICLE_TITLE = "Security above all: A revised Belarus\u2013Russia alliance"
MARKER = re.compile(r"\[(\d+)\]")
BULLET = re.compile(r"[\u2022\u25aa\u25cf\u2023\u2043*\-\u2013]\s+")
NOT_SAID = "The documents do not say."

MISSILE_QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"
MISSILE_HISTORY = [
    Turn("user", MISSILE_QUESTION),
    Turn(
        "assistant",
        "Lukashenka requested that Putin deploy the Oreshnik strategic missile system "
        "in Belarus [1]",
    ),
]
NATO = "NATO units in Poland and Lithuania"


# --- fixtures -------------------------------------------------------------------------------


class CountingModel:
    """The real model, counting what it is asked to embed (documents vs. queries)."""

    def __init__(self, model: HuggingFaceEmbedding) -> None:
        self.model = model
        self.text_batches = 0
        self.texts: list[str] = []
        self.queries = 0

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        self.text_batches += 1
        self.texts += texts
        return self.model.get_text_embedding_batch(texts, **kwargs)

    def get_query_embedding(self, query: str) -> list[float]:
        self.queries += 1
        return self.model.get_query_embedding(query)


@dataclass(frozen=True)
class Corpus:
    """The sample article ingested into a store, and an asker on it."""

    settings: Settings
    store: Store
    asker: Asker


@pytest.fixture(scope="module")
def article(tmp_path_factory: pytest.TempPathFactory, embed_model: HuggingFaceEmbedding) -> Corpus:
    """The sample article, ingested once for the module."""
    settings = Settings(store=tmp_path_factory.mktemp("article") / "store", collection="article")
    store = Store.from_settings(settings)
    report = Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync(
        [SAMPLE_ARTICLE]
    )
    assert report.counts["added"] == 1
    return Corpus(settings, store, Asker(Replica.open(store, settings), embed_model, settings))


def question_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]


# --- the answer contract, checked against the store -----------------------------------------


def check_citation(citation: Citation, store: Store) -> None:
    """``citation`` is an exact span of its stored document, inside its stored passage."""
    text = store.document_text(citation.document)
    assert 0 <= citation.start < citation.end <= len(text)
    assert citation.quote == text[citation.start : citation.end]
    assert citation.quote.strip() == citation.quote and citation.quote
    assert citation.quote in citation.passage
    passages = [
        p
        for p in list(store.iter_passages())
        if p.document_id == citation.document and p.start <= citation.start
        and citation.end <= p.end
    ]  # fmt: skip
    assert len(passages) == 1, f"no single stored passage holds {citation.quote[:60]!r}"
    passage = passages[0]
    assert citation.passage == passage.text == text[passage.start : passage.end]
    record = store.get_document(citation.document)
    assert record is not None and citation.title == record.title


def strip_bullet(quote: str) -> str:
    return BULLET.sub("", quote, count=1) if BULLET.match(quote) else quote


def check_answer(answer: Answer, store: Store, settings: Settings) -> None:
    """The contract of :func:`compose`, for an answer or an abstention."""
    for related in answer.related:
        check_citation(related, store)
    if not answer.answered:
        assert answer.citations == []
        assert answer.answer.startswith(NOT_SAID)
        assert not MARKER.search(answer.answer)
        return
    citations = answer.citations
    assert 1 <= len(citations) <= settings.max_answer_sentences
    assert [c.n for c in citations] == list(range(1, len(citations) + 1))
    markers = [int(m) for m in MARKER.findall(answer.answer)]
    first_use = list(dict.fromkeys(markers))
    assert first_use == [c.n for c in citations], "markers not numbered 1..k by first use"
    spans = [(c.document, c.start, c.end) for c in citations]
    assert len(set(spans)) == len(spans), "the same span cited twice"
    for a in citations:  # no quote overlaps another
        for b in citations:
            if a is not b and a.document == b.document:
                assert a.end <= b.start or b.end <= a.start
    for citation in citations:
        check_citation(citation, store)
    # Every word of the answer is a cited quote: "quote [n]" segments, nothing else.
    segments = [s.strip() for s in MARKER.split(answer.answer)[0::2]]
    assert segments[-1] == "", "text after the last marker"
    by_n = {c.n: c for c in citations}
    for segment, n in zip(segments[:-1], markers, strict=True):
        quote = by_n[n].quote
        assert segment in (quote, strip_bullet(quote)), f"{segment[:80]!r} is not quote [{n}]"


def test_every_sample_question_answers_by_the_contract(article: Corpus) -> None:
    answered = 0
    for row in question_rows():
        answer = article.asker.ask(row["question"], parse_history(row.get("history")))
        check_answer(answer, article.store, article.settings)
        answered += answer.answered
        # The title line names the whole article; it answers no question.
        assert all(c.quote != ARTICLE_TITLE for c in answer.citations), row["question"]
    # The check above means nothing if (almost) everything abstains.
    assert answered >= 30


def test_bulleted_quote_is_cited_whole_and_shown_without_its_bullet(article: Corpus) -> None:
    answer = article.asker.ask("What policy toward the West do the declarations manifest?")
    bulleted = [c for c in answer.citations if c.quote.startswith("\u2022 ")]
    assert bulleted, "expected the bulleted commentary sentence to be cited"
    for citation in bulleted:
        assert citation.quote[2:] in answer.answer
        assert citation.quote not in answer.answer


@pytest.mark.parametrize(
    "question",
    [
        "How do I bake sourdough bread?",
        "What is the capital of France?",
        "What is the population of Belarus?",  # same topic, but no amount is stated
        "What is the range of the Oreshnik missile in kilometres?",
        # Same topic, and a date ("19 November") among the sentences, but no head count.
        "How many soldiers does the Russian army have in Belarus?",
        "Which company manufactures the Oreshnik missile?",
    ],
)
def test_unanswerable_question_abstains(article: Corpus, question: str) -> None:
    answer = article.asker.ask(question)
    assert not answer.answered
    assert answer.citations == []
    assert answer.answer == abstention(question)
    assert answer.answer.startswith(NOT_SAID)
    assert len(answer.related) <= 3
    for related in answer.related:
        check_citation(related, article.store)
    assert answer.to_dict()["citations"] == []


def test_abstention_names_the_topic_of_the_question() -> None:
    assert "\u201cthe capital of France\u201d" in abstention("What is the capital of France?")
    assert "\u201cthe population of Belarus\u201d" in abstention(
        "What is the population of Belarus?"
    )


def test_question_with_an_answer_in_the_article_is_answered(article: Corpus) -> None:
    answer = article.asker.ask(MISSILE_QUESTION)
    assert answer.answered
    assert "Oreshnik strategic missile system" in answer.citations[0].quote
    assert answer.related == []
    assert article.store.get_document(ARTICLE_ID).title == ARTICLE_TITLE  # type: ignore[union-attr]


def test_title_line_is_not_cited_ahead_of_the_answer(article: Corpus) -> None:
    # The title shares "Belarus" and "Security" with the question and ranked first,
    # so it used to be cited as [1] ahead of the sentence that answers.
    answer = article.asker.ask("Who is the Secretary of Belarus's Security Council?")
    assert answer.answered
    assert "Alexander Volfovich, the Secretary" in answer.citations[0].quote


def test_question_worded_unlike_the_text_is_answered(article: Corpus) -> None:
    # Every content word but "market" is paraphrased in the text ("electricity",
    # "nations", "establish", "joint"): exact words alone would abstain.
    question = "What energy market did the two countries agree to set up together?"
    answer = article.asker.ask(question)
    check_answer(answer, article.store, article.settings)
    assert answer.answered
    assert any("establish a joint electricity market" in c.quote for c in answer.citations)
    retrieval = article.asker.retriever.retrieve(question)
    exact = confidence(question, retrieval, EXACT_WORDS)
    assert exact < article.settings.abstain_threshold <= article.asker.confidence(question)


def test_asking_what_the_article_says_about_a_subject_is_answered(article: Corpus) -> None:
    answer = article.asker.ask("What does the article say about Poland?")
    check_answer(answer, article.store, article.settings)
    assert answer.answered
    assert "Poland" in answer.citations[0].quote


# --- follow-up questions --------------------------------------------------------------------


def test_follow_up_is_retrieved_with_the_conversations_subject() -> None:
    query = contextualise("What threat did he cite?", MISSILE_HISTORY)
    assert query == f"{MISSILE_QUESTION} What threat did he cite?"
    assert contextualise("What threat did he cite?", []) == "What threat did he cite?"
    # A follow-up after a follow-up keeps the subject of the question that stood alone.
    longer = [*MISSILE_HISTORY, Turn("user", "Why?"), Turn("assistant", "Because. [1]")]
    assert contextualise("What did he ask for?", longer) == (
        f"{MISSILE_QUESTION} Why? What did he ask for?"
    )
    # A new question that stands alone starts a new subject.
    standalone = "Who is the Secretary of Belarus's Security Council?"
    newer = [*longer, Turn("user", standalone), Turn("assistant", "Volfovich. [1]")]
    assert subject(newer) == [standalone]
    assert leans_on_context("Where?") and leans_on_context("Is that true?")
    assert not leans_on_context(standalone)


def test_follow_up_cites_the_sentence_the_conversation_is_about(article: Corpus) -> None:
    with_history = article.asker.ask("What threat did he cite?", MISSILE_HISTORY)
    check_answer(with_history, article.store, article.settings)
    assert with_history.answered
    assert NATO in with_history.citations[0].quote

    # Measured: the article names one threat, so even the bare question finds the NATO
    # sentence, but with less confidence; history raises it.
    alone = article.asker.ask("What threat did he cite?")
    check_answer(alone, article.store, article.settings)
    question = "What threat did he cite?"
    assert article.asker.confidence(question, MISSILE_HISTORY) > article.asker.confidence(question)


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        ("And when could it be deployed there?", MISSILE_HISTORY, "second half of next year"),
        (
            "Since when have they been discussing it?",
            [
                Turn("user", "What energy market did the two countries agree to set up together?"),
                Turn("assistant", "A joint electricity market [1]"),
            ],
            "since at least 2018",
        ),
    ],
)
def test_follow_up_needs_its_history(
    article: Corpus, question: str, history: list[Turn], expected: str
) -> None:
    with_history = article.asker.ask(question, history)
    assert with_history.answered
    assert any(expected in c.quote for c in with_history.citations)
    # Measured: with nothing to lean on, these questions have too few words to answer.
    alone = article.asker.ask(question)
    assert not alone.answered
    assert alone.citations == []


@pytest.mark.parametrize(
    ("first", "follow_up", "expected"),
    [
        (
            "Who holds the authority to use the nuclear weapons?",
            "Who claimed otherwise?",
            "Volfovich",
        ),
        (
            "What does the security guarantees agreement allow Russia to do in Belarus?",
            "When was something similar considered?",
            "2020 protests",
        ),
    ],
)
def test_a_follow_up_that_points_back_is_answered(
    article: Corpus, first: str, follow_up: str, expected: str
) -> None:
    # "otherwise" and "something similar" point to the answer before, as a pronoun does:
    # no sentence needs to say them, and the question is read in the conversation and
    # alone. Measured: read with them, "Who claimed otherwise?" had confidence 0.421, under
    # the threshold; read only within the conversation, the 2020 sentence ranked 17th.
    assert leans_on_context(follow_up)
    history = [Turn("user", first), Turn("assistant", article.asker.ask(first).answer)]
    answer = article.asker.ask(follow_up, history)
    check_answer(answer, article.store, article.settings)
    assert answer.answered
    assert any(expected in c.quote for c in answer.citations)


# --- the lexical index follows ingest, update and remove -----------------------------------

DOC_A = (
    "# Harbour notes\n\n"
    "The harbour at Velmora shelters a fleet of twelve fishing boats through the winter. "
    "Its lighthouse keeper paints the tower white every spring.\n"
)
DOC_B = (
    "# Workshop notes\n\n"
    "The zorblax is a brass instrument the glassmakers of Tiernach use to judge furnace heat. "
    "Apprentices learn to read the zorblax before they may touch molten glass.\n"
)


def docs_a_and_b(tmp_path: Path) -> Path:
    """A folder holding the two small documents A and B."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text(DOC_A, encoding="utf-8")
    (folder / "b.md").write_text(DOC_B, encoding="utf-8")
    return folder


def doc_b_ids(retrieval: Retrieval) -> set[str]:
    return {h.id for h in retrieval.hits if h.document_id == "b.md"}


def cited_documents(answer: Answer) -> set[str]:
    return {c.document for c in answer.citations + answer.related}


def test_lexical_index_follows_update_and_remove(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    folder = docs_a_and_b(tmp_path)
    store = Store.from_settings(settings)
    ingestor = Ingestor(Replica.open(store, settings), lambda: embed_model, settings)
    assert ingestor.sync([folder]).counts["added"] == 2
    asker = Asker(Replica.open(store, settings), embed_model, settings)

    answer = asker.ask("What is a zorblax?")
    check_answer(answer, store, settings)
    assert answer.answered
    assert answer.citations[0].document == "b.md"
    assert "zorblax" in answer.citations[0].quote
    # BM25 knows the rare word (dense similarity alone would give no lexical score).
    found = asker.retriever.retrieve("zorblax")
    assert any(h.document_id == "b.md" and h.lexical > 0 for h in found.hits)

    # Update B through the ingestor; the same asker must see the new text only.
    (folder / "b.md").write_text(DOC_B.replace("zorblax", "quintaria"), encoding="utf-8")
    assert ingestor.sync([folder]).counts["updated"] == 1
    stored_ids = {
        s.id for d in store.list_documents() for s in store.sentences_of(d.id, d.content_hash)
    }
    new = asker.ask("What is a quintaria?")
    check_answer(new, store, settings)
    assert new.answered
    assert new.citations[0].document == "b.md"
    assert "quintaria" in new.citations[0].quote
    assert new.citations[0].quote in store.document_text("b.md")
    retrieval = asker.retriever.retrieve("quintaria")
    assert any(h.document_id == "b.md" and h.lexical > 0 for h in retrieval.hits)
    assert {h.id for h in retrieval.hits} <= stored_ids, "retrieved a sentence no longer stored"

    old = asker.ask("What is a zorblax?")
    check_answer(old, store, settings)
    assert all("zorblax" not in c.quote for c in old.citations + old.related)
    stale = asker.retriever.retrieve("zorblax")
    assert all(h.lexical == 0 for h in stale.hits), "the lexical index kept the old word"
    assert {h.id for h in stale.hits} <= stored_ids

    # Remove B: the same asker never cites or retrieves it again.
    assert store.remove_document("b.md")
    for question in ("What is a quintaria?", "What is a zorblax?", "Where is the harbour?"):
        answer = asker.ask(question)
        check_answer(answer, store, settings)
        assert "b.md" not in cited_documents(answer)
        assert not doc_b_ids(asker.retriever.retrieve(question))

    # Put B back, then delete its file and sync the folder: gone again.
    (folder / "b.md").write_text(DOC_B, encoding="utf-8")
    assert ingestor.sync([folder]).counts["added"] == 1
    assert asker.ask("What is a zorblax?").citations[0].document == "b.md"
    (folder / "b.md").unlink()
    assert ingestor.sync([folder]).counts["removed"] == 1
    answer = asker.ask("What is a zorblax?")
    assert "b.md" not in cited_documents(answer)
    assert not doc_b_ids(asker.retriever.retrieve("zorblax"))


GUIDE = """Widget Assembly Guide
=====================

:Author: Jane Moreau

Widgets are assembled from three parts: a frame, a spring and a dial.
The frame is cut from aluminium sheet and bent at both ends.
The spring is wound twelve times around a steel pin before it is fitted.
The dial is glued last, once the frame has cooled for an hour.
A finished widget is tested by turning its dial through a full circle.
"""

REPORTS = """Gadget reports
==============

Every author of a gadget report signs it at the end of the last page.
Reports are filed with the workshop clerk on the first Monday of each month.
"""


def titled(document_id: str, title: str, *texts: str) -> list[SentenceHit]:
    return [
        SentenceHit(f"{document_id}:{i}", document_id, document_id, i, title, None, None, 0, 1, t)
        for i, t in enumerate(texts)
    ]


def test_a_question_names_a_document_by_its_title() -> None:
    index = LexicalIndex()
    index.replace_document("regex", "h1", "m", titled("regex", "Regular Expression HOWTO", "x"))
    index.replace_document("modules", "h2", "m", titled("modules", "Modules", "A module."))
    for n in range(3):
        index.replace_document(f"intro{n}", "h", "m", titled(f"intro{n}", "Introduction", "y"))

    named = index.named("Who is the author of the Regular Expression HOWTO?")
    assert named == {"regex": frozenset({"regular", "express", "howto"})}
    assert index.named("Which regular expressions does the HOWTO show?") == {}  # not all words
    assert index.named("What happens when a module is imported?") == {}  # not as written
    assert set(index.named("What do the Modules cover?")) == {"modules"}
    assert index.named("What is in the Introduction?") == {}  # three documents have that title

    index.replace_document("regex", "h3", "m", titled("regex", "Pattern Guide", "x"))
    assert index.named("Who is the author of the Regular Expression HOWTO?") == {}
    assert set(index.named("Who wrote the Pattern Guide?")) == {"regex"}
    index.remove_document("regex")
    assert index.named("Who wrote the Pattern Guide?") == {}
    # The second reading is the question without the title's words, in any inflection.
    assert without_words("Who authored the Regular Expressions HOWTO?", set(named["regex"])) == (
        "Who authored the ?"
    )


def _asking(
    folder: Path, settings: Settings, embed_model: HuggingFaceEmbedding, files: dict[str, str]
) -> tuple[Store, Asker]:
    """A store of ``files`` (name: text) written to ``folder``, and an asker over it."""
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = Store.from_settings(settings)
    Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync([folder])
    return store, Asker(Replica.open(store, settings), embed_model, settings)


def test_a_question_naming_a_document_is_answered_from_it(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    files = {"guide.rst": GUIDE, "reports.rst": REPORTS}
    store, asker = _asking(tmp_path / "docs", settings, embed_model, files)

    # Every sentence of the guide is about widgets; what the question asks of it is the
    # rest: its author, stated by a field of three words.
    answer = asker.ask("Who is the author of the Widget Assembly Guide?")
    check_answer(answer, store, settings)
    assert answer.answered
    assert answer.citations[0].quote.startswith(":Author: Jane Moreau")
    assert asker.retriever.retrieve("Who is the author of the Widget Assembly Guide?").named == {
        "guide.rst"
    }
    # "Who wrote ...?" asks for the same: no sentence says "wrote".
    wrote = asker.ask("Who wrote the Widget Assembly Guide?")
    check_answer(wrote, store, settings)
    assert wrote.answered
    assert wrote.citations[0].quote.startswith(":Author: Jane Moreau")
    # A word left beside the title that the guide's text says often ("dials", as "Python"
    # in "the Python Socket Programming HOWTO") does not turn the question into one about
    # that word: it still asks for the author.
    extra = asker.ask("Who is the author of the Widget Assembly Guide for dials?")
    check_answer(extra, store, settings)
    assert extra.answered and extra.citations[0].quote.startswith(":Author: Jane Moreau")
    # Described instead of named by its title, the guide is the best sentence's document,
    # and the question asks for its author there.
    question = "Who wrote the guide on assembling widgets?"
    assert asker.retriever.replica.lexical.named(question) == {}
    described = asker.ask(question)
    check_answer(described, store, settings)
    assert described.answered
    assert any(c.quote.startswith(":Author: Jane Moreau") for c in described.citations)
    # Not named, the guide's words are asked about as any others.
    plain = asker.retriever.retrieve("How many times is the widget spring wound?")
    assert plain.named == frozenset()


def test_a_retrieval_reads_its_sentences_with_their_title_and_heading_once(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    _, asker = _asking(tmp_path / "docs", settings, embed_model, {"guide.rst": GUIDE})
    question = "Who wrote the widget guide?"
    retrieval = asker.retriever.retrieve(question)
    author = next(h for h in retrieval.hits if h.text == ":Author: Jane Moreau")

    query = np.asarray(embed_model.get_query_embedding(question))
    read = np.asarray(embed_model.get_text_embedding("Widget Assembly Guide. :Author: Jane Moreau"))
    assert retrieval.second_reading is not None
    assert retrieval.second_reading([author]) == [pytest.approx(float(read @ query), abs=1e-5)]
    assert retrieval.second_reading([author])[0] > author.dense  # the title says whose
    counting = CountingModel(embed_model)
    counted = Retriever(asker.retriever.replica, counting, settings).retrieve(question)
    assert counted.second_reading is not None
    counted.second_reading([author])
    counted.second_reading([author, *counted.hits[:2]])
    calls = counting.texts
    assert sum(":Author: Jane Moreau" in t for t in calls) == 1  # read once a retrieval

    # With FOOTNOTES_EMBED_CONTEXT the stored vector is the sentence read so, and the
    # second reading is the sentence alone.
    context = settings.model_copy(update={"embed_context": True, "store": tmp_path / "ctx"})
    stored = _asking(tmp_path / "ctx-docs", context, embed_model, {"guide.rst": GUIDE})[1].retriever
    hits = stored.retrieve(question).hits
    again = next(h for h in hits if h.text == author.text)
    assert again.dense == pytest.approx(float(read @ query), abs=1e-5)
    alone = stored.retrieve(question).second_reading
    plain = np.asarray(embed_model.get_text_embedding(":Author: Jane Moreau"))
    assert alone is not None and alone([again]) == [pytest.approx(float(plain @ query), abs=1e-5)]


def test_confidence_reads_the_top_sentences_with_their_title_and_heading(parts: Any) -> None:
    hits, _ = parts
    lexical = LexicalIndex.of_texts([h.text for h in hits]).idf
    low = Retrieval(ranked(hits, [1, 2, 3], dense=0.2), lexical, following(hits))
    question = "How does Solana order transactions?"
    alone = confidence(question, low, EXACT_WORDS)
    assert alone > 0
    read: list[str] = []

    def second_reading(wanted: list[SentenceHit]) -> list[float]:
        read.extend(h.id for h in wanted)
        return [0.8 for _ in wanted]

    with_heading = confidence(question, replace(low, second_reading=second_reading), EXACT_WORDS)
    assert with_heading == pytest.approx(4 * alone)
    assert set(read) <= {h.id for h in low.hits[:DENSE_DEPTH]}


def test_restarted_asker_answers_alike_without_embedding_documents(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    folder = docs_a_and_b(tmp_path)
    shutil.copy(SAMPLE_ARTICLE, folder / ARTICLE_ID)
    store = Store.from_settings(settings)
    Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync([folder])
    questions = [
        "What is a zorblax?",
        "How many fishing boats shelter in the harbour at Velmora?",
        MISSILE_QUESTION,
        "What is the capital of France?",
    ]
    first = Asker(Replica.open(store, settings), embed_model, settings)
    before = [first.ask(q).to_dict() for q in questions]

    # A restart: a new store handle and asker on the same folder, and a sync that finds
    # everything unchanged. Only the questions are embedded (with, at most, the clauses of
    # its top sentences and its best candidates read with their title and heading: a
    # batch each for the answering order, the confidence and the clauses), never a document.
    counting = CountingModel(embed_model)
    reopened = Store.from_settings(settings, create=False)
    factory_calls: list[int] = []

    def factory() -> Any:
        factory_calls.append(1)
        return counting

    report = Ingestor(Replica.open(reopened, settings), factory, settings).sync([folder])
    assert report.counts["unchanged"] == 3
    assert report.embedded == 0 and factory_calls == []
    restarted = Asker(Replica.open(reopened, settings), counting, settings)  # type: ignore[arg-type]
    after = [restarted.ask(q).to_dict() for q in questions]
    assert after == before
    assert counting.queries == len(questions)
    assert counting.text_batches <= 3 * len(questions)
    assert len(counting.texts) <= 40 * len(questions)
    stored = {h.text for q in questions for h in first.retriever.retrieve(q, 30).hits}
    assert not stored & set(counting.texts)  # clauses and readings, not stored sentences
    assert restarted.ask("What is a zorblax?").citations[0].document == "b.md"


# --- sentence selection and grouping (pure functions, hand-built inputs) ------------------

TEXT = (
    "Scalability issues.\n\n"
    "Solana processes thousands of transactions per second on one shard. "
    "It orders them with a verifiable clock called proof of history. "
    "Validators vote on blocks every four hundred milliseconds.\n\n"
    "Fees on Solana stay low because blocks are produced quickly and cheaply. "
    "Fees on Solana stay low since blocks are produced quickly and cheaply."
)


def sentences_of(text: str, passage_breaks: tuple[int, ...]) -> list[SentenceHit]:
    """Hand-built sentence hits over ``text``, split on '. ' and blank lines."""
    hits = []
    for m in re.finditer(r"[^\n.]+\.", text):
        start = m.start() + len(m.group()) - len(m.group().lstrip())
        passage = sum(1 for b in passage_breaks if start >= b)
        hits.append(
            SentenceHit(
                id=f"doc#h:{passage}/{start}",
                document_id="doc",
                passage_id=f"doc#h:{passage}",
                position=len(hits),
                title="Notes",
                section=None,
                page=None,
                start=start,
                end=m.end(),
                text=text[start : m.end()],
            )
        )
    return hits


@pytest.fixture
def parts() -> tuple[list[SentenceHit], dict[str, PassageHit]]:
    breaks = (TEXT.index("Solana processes"), TEXT.index("Fees on Solana"))
    hits = sentences_of(TEXT, breaks)
    spans = [(0, breaks[0]), breaks, (breaks[1], len(TEXT))]
    passages = {}
    for i, (a, b) in enumerate(spans):
        text = TEXT[a:b].strip()
        a = TEXT.index(text, a)
        passages[f"doc#h:{i}"] = PassageHit(
            f"doc#h:{i}", "doc", "Notes", None, None, a, a + len(text), text, 0.0
        )
    return hits, passages


Saying = Callable[[str], list[SentenceHit]]


@pytest.fixture
def saying(parts: Any) -> Saying:
    """The retrieved sentences, as one sentence of the sample hits that says ``text``."""
    hits, _ = parts
    return lambda text: [replace(hits[1], text=text)]


def ranked(hits: list[SentenceHit], order: list[int], dense: float = 0.8) -> list[SentenceHit]:
    return [
        replace(h, score=1.0 / (60 + r), dense=dense) for r, h in enumerate(hits[i] for i in order)
    ]


def following(hits: list[SentenceHit]) -> dict[str, SentenceHit]:
    return {a.id: b for a, b in pairwise(hits) if a.passage_id == b.passage_id}


def test_sentence_hits_are_built_right(parts: Any) -> None:
    hits, passages = parts
    assert [h.text for h in hits][:2] == [
        "Scalability issues.",
        "Solana processes thousands of transactions per second on one shard.",
    ]
    assert [h.passage_id for h in hits] == ["doc#h:0"] + ["doc#h:1"] * 3 + ["doc#h:2"] * 2
    for hit in hits:
        passage = passages[hit.passage_id]
        assert TEXT[hit.start : hit.end] == hit.text
        assert passage.start <= hit.start and hit.end <= passage.end


def test_heading_stands_for_the_sentence_under_it(parts: Any) -> None:
    hits, _ = parts
    heading, stating = hits[0], hits[1]
    # The heading is alone in its passage: it has no sentence under it, so it is skipped.
    chosen = _select(ranked(hits, [0, 3]), following(hits), 3)
    assert [h.id for h in chosen] == [hits[3].id]
    # When the next sentence of its passage is known, it takes the heading's place and rank.
    chosen = _select(ranked(hits, [0, 3]), {heading.id: stating}, 3)
    assert [h.id for h in chosen] == [stating.id, hits[3].id]
    assert chosen[0].score == pytest.approx(1 / 60)
    # A question in the text answers nothing either.
    question = replace(stating, id="q", text="Is Solana fast?")
    assert _select([question, *ranked(hits, [2])], {}, 3) == ranked(hits, [2])
    # A question heading stands for its answer under it when it ranks first (it asks what
    # the reader asks); lower down it asks something else about the topic, and is skipped.
    answer_to_it = replace(hits[2], id="a", passage_id="doc#q")
    chosen = _select([question, *ranked(hits, [3])], {question.id: answer_to_it}, 3)
    assert [h.id for h in chosen] == ["a", hits[3].id]
    chosen = _select([*ranked(hits, [3]), question], {question.id: answer_to_it}, 3)
    assert [h.id for h in chosen] == [hits[3].id]
    # A heading that is not a question stands in however it ranks.
    chosen = _select([*ranked(hits, [3]), heading], {heading.id: stating}, 3)
    assert [h.id for h in chosen] == [hits[3].id, stating.id]
    # A heading of four words or more is known as its passage's section heading.
    long_heading = replace(heading, text="When to use logging", section="When to use logging")
    assert _select([long_heading, *ranked(hits, [2])], {}, 3) == ranked(hits, [2])
    chosen = _select([long_heading], {long_heading.id: stating}, 3)
    assert [h.id for h in chosen] == [stating.id]
    md_heading = replace(long_heading, text="## When to use logging")
    assert _select([md_heading, *ranked(hits, [2])], {}, 3) == ranked(hits, [2])
    under = replace(stating, section="When to use logging")  # a sentence under it stays
    assert _select([under], {}, 3) == [under]


def test_document_title_is_never_chosen_nor_a_stand_in(parts: Any) -> None:
    hits, _ = parts
    name = "Solana: a fast chain for everyone"
    title = replace(hits[0], id="t", text=name, title=name)
    others = [replace(h, title=name) for h in ranked(hits, [1, 2])]
    assert [h.id for h in _select([title, *others], {}, 3)] == [hits[1].id, hits[2].id]
    md_title = replace(title, text=f"# {name}")
    assert [h.id for h in _select([md_title, *others], {}, 3)] == [hits[1].id, hits[2].id]
    # A one-word heading above the title does not stand for the title either.
    heading = replace(hits[0], text="Analyses", title=name)
    assert [h.id for h in _select([heading, *others], {heading.id: title}, 3)] == [
        hits[1].id,
        hits[2].id,
    ]
    # A sentence that only resembles the title is kept.
    longer = replace(title, id="l", text=f"{name} since its launch.")
    assert [h.id for h in _select([longer], {}, 3)] == ["l"]


def test_near_duplicate_sentences_are_not_both_chosen(parts: Any) -> None:
    hits, _ = parts
    chosen = _select(ranked(hits, [4, 5, 1]), following(hits), 3)
    assert [h.id for h in chosen] == [hits[4].id, hits[1].id]
    # The same sentence twice (e.g. via a heading's stand-in) is chosen once.
    chosen = _select(ranked(hits, [1, 1, 2]), following(hits), 3)
    assert [h.id for h in chosen] == [hits[1].id, hits[2].id]
    assert len(_select(ranked(hits, [1, 2, 3, 4]), following(hits), 2)) == 2


def test_group_orders_by_passage_then_document_order_and_merges_neighbours(
    parts: Any,
) -> None:
    hits, _ = parts
    # Best first: the 3rd sentence of passage 1, then passage 2, then the 1st of passage 1.
    groups = _group(ranked(hits, [3, 4, 1]))
    assert [[h.id for h in g] for g in groups] == [[hits[1].id], [hits[3].id], [hits[4].id]]
    # Neighbours in one passage merge; order inside the passage is the document's.
    groups = _group(ranked(hits, [2, 4, 1]))
    assert [[h.id for h in g] for g in groups] == [[hits[1].id, hits[2].id], [hits[4].id]]
    groups = _group(ranked(hits, [3, 1, 2]))
    assert [[h.id for h in g] for g in groups] == [[hits[1].id, hits[2].id, hits[3].id]]
    # Sentences adjacent in the document but in different passages do not merge.
    groups = _group(ranked(hits, [3, 4]))
    assert [[h.id for h in g] for g in groups] == [[hits[3].id], [hits[4].id]]
    # The passage used first comes first, even when it is later in the document.
    groups = _group(ranked(hits, [4, 3]))
    assert [[h.id for h in g] for g in groups] == [[hits[4].id], [hits[3].id]]


def composed(
    passages: dict[str, PassageHit],
    retrieval: Retrieval,
    question: str,
    threshold: float = 0.1,
    max_sentences: int = 3,
) -> Answer:
    """The extractive answer to ``question`` from hand-built hits, with exact words only."""
    return compose(
        question,
        question,
        retrieval,
        lambda ids: {i: passages[i] for i in ids if i in passages},
        EXACT_WORDS,
        threshold=threshold,
        max_sentences=max_sentences,
    )


def test_compose_merges_adjacent_sentences_into_one_citation(parts: Any) -> None:
    hits, passages = parts
    lexical = LexicalIndex.of_texts([h.text for h in hits]).idf
    retrieval = Retrieval(ranked(hits, [2, 1, 4]), lexical, following(hits))
    answer = composed(passages, retrieval, "How does Solana order transactions?")
    assert answer.answered
    assert [(c.start, c.end) for c in answer.citations] == [
        (hits[1].start, hits[2].end),
        (hits[4].start, hits[4].end),
    ]
    first = answer.citations[0]
    assert first.quote == TEXT[hits[1].start : hits[2].end]
    assert hits[1].text in first.quote and hits[2].text in first.quote
    assert first.passage == passages["doc#h:1"].text
    assert first.score == round(1 / 60, 5)  # the better of the two, as stored (rounded)
    assert answer.answer == f"{first.quote} [1] {hits[4].text} [2]"


def test_a_further_sentence_is_cited_when_its_second_reading_is_nearly_as_relevant(
    parts: Any,
) -> None:
    hits, passages = parts
    idf = LexicalIndex.of_texts([h.text for h in hits]).idf
    best, further = replace(hits[2], dense=0.8), replace(hits[4], dense=0.5)
    question = "How does Solana order transactions?"

    def cited(second: dict[str, float] | None) -> list[str]:
        reading = None if second is None else (lambda hs: [second.get(h.id, 0.0) for h in hs])
        retrieval = Retrieval([best, further], idf, {}, second_reading=reading)
        return [c.quote for c in composed(passages, retrieval, question, threshold=0.0).citations]

    # Alone, the further sentence is 0.3 less relevant than the best: not cited.
    assert cited(None) == [best.text]
    assert cited({further.id: 0.3}) == [best.text]
    # Read with its title and heading it is within the margin: cited after the best.
    assert cited({further.id: 0.78}) == [best.text, further.text]


def test_a_cited_sentence_whose_subject_is_a_pronoun_is_quoted_with_the_one_before(
    parts: Any,
) -> None:
    hits, passages = parts
    idf = LexicalIndex.of_texts([h.text for h in hits]).idf
    before = {b.id: a for a, b in pairwise(hits) if a.passage_id == b.passage_id}

    def answer(order: list[int], preceding: dict[str, SentenceHit]) -> Answer:
        retrieval = Retrieval(ranked(hits, order), idf, following(hits), preceding=preceding)
        question = "How are transactions ordered with a verifiable clock?"
        return composed(passages, retrieval, question, threshold=0.0, max_sentences=1)

    # "It orders them ..." is cited from "Solana processes ...", which says what "it" is.
    quoted = answer([2], before)
    assert [(c.start, c.end) for c in quoted.citations] == [(hits[1].start, hits[2].end)]
    assert answer([2], {}).citations[0].quote == hits[2].text  # nothing known before it
    # A sentence with a subject of its own is quoted alone.
    assert answer([3], before).citations[0].quote == hits[3].text
    # So is one under a heading: the heading names its section, which the citation shows.
    heading = replace(hits[1], text="Ordering.", section="Ordering.")
    assert answer([2], {hits[2].id: heading}).citations[0].quote == hits[2].text


def test_a_cited_sentence_announcing_what_follows_is_quoted_with_it(parts: Any) -> None:
    hits, passages = parts
    idf = LexicalIndex.of_texts([h.text for h in hits]).idf

    def answer(sentences: list[SentenceHit]) -> Answer:
        retrieval = Retrieval(ranked(sentences, [1]), idf, following(sentences))
        question = "How does Solana process transactions?"
        return composed(passages, retrieval, question, threshold=0.0, max_sentences=1)

    # A sentence ending in a colon ("... using ::") announces the code or list after it.
    announcing = [hits[0], replace(hits[1], text="Solana processes transactions using:")]
    quoted = answer([*announcing, *hits[2:]])
    assert [(c.start, c.end) for c in quoted.citations] == [(hits[1].start, hits[2].end)]
    # One that ends its statement is quoted alone (when what follows has its own subject).
    own = [*hits[:2], replace(hits[2], text="Leaders order them with a clock."), *hits[3:]]
    assert [(c.start, c.end) for c in answer(own).citations] == [(hits[1].start, hits[1].end)]


def test_the_best_sentence_is_quoted_with_a_follower_that_goes_on_about_it(parts: Any) -> None:
    hits, passages = parts
    idf = LexicalIndex.of_texts([h.text for h in hits]).idf

    def answer(sentences: list[SentenceHit], order: list[int]) -> Answer:
        retrieval = Retrieval(ranked(sentences, order), idf, following(sentences))
        question = "How does Solana process transactions?"
        return composed(passages, retrieval, question, threshold=0.0, max_sentences=1)

    # "It shouldn't exceed 5-10" after "... the number of local variables.": the sentence
    # after the best one, whose subject is only a pronoun ("It orders them with a
    # verifiable clock"), says more about the same thing.
    assert hits[2].text.startswith("It ")
    quoted = answer(hits, [1])
    assert [(c.start, c.end) for c in quoted.citations] == [(hits[1].start, hits[2].end)]
    # A follower with a subject of its own is not.
    own = [*hits[:2], replace(hits[2], text="Leaders order them with a clock."), *hits[3:]]
    assert [(c.start, c.end) for c in answer(own, [1]).citations] == [(hits[1].start, hits[1].end)]
    # Nor is one after a sentence that is not the best.
    second = composed(
        passages,
        Retrieval(ranked(hits, [4, 1]), idf, following(hits)),
        "What keeps fees on Solana low?",
        threshold=0.0,
        max_sentences=2,
    )
    spans = [(c.start, c.end) for c in second.citations]
    assert spans == [(hits[4].start, hits[4].end), (hits[1].start, hits[1].end)]


def test_a_best_sentence_that_restates_the_question_is_quoted_with_the_next(parts: Any) -> None:
    hits, passages = parts
    idf = LexicalIndex.of_texts([h.text for h in hits]).idf
    # hits[2] has a subject of its own, so only the restating rule can bring it in.
    told = replace(hits[3], text="Validators vote on blocks every four hundred milliseconds.")
    sentences = [*hits[:3], told, *hits[4:]]

    def cited(question: str) -> list[tuple[int, int]]:
        retrieval = Retrieval(ranked(sentences, [2]), idf, following(sentences))
        answer = composed(passages, retrieval, question, threshold=0.0, max_sentences=1)
        return [(c.start, c.end) for c in answer.citations]

    # "It orders them with a verifiable clock called proof of history." says nothing this
    # question does not ask about but "orders": what it asks is in the sentence after.
    asking = "How often do validators vote after the clock called proof of history orders them?"
    assert cited(asking) == [(hits[2].start, hits[3].end)]
    # A question that the sentence adds to (verifiable, clock, called) gets it alone.
    assert cited("What does Solana use as its history?") == [(hits[2].start, hits[2].end)]


def test_a_description_is_quoted_with_the_signature_it_describes(parts: Any) -> None:
    hits, passages = parts
    idf = LexicalIndex.of_texts([h.text for h in hits]).idf

    def cited(signature: str) -> list[tuple[int, int]]:
        sentences = [
            hits[0],
            replace(hits[1], text=signature),
            replace(hits[2], text="Orders the transactions with a verifiable clock."),
            *hits[3:],
        ]
        before = {b.id: a for a, b in pairwise(sentences) if a.passage_id == b.passage_id}
        retrieval = Retrieval(ranked(sentences, [2]), idf, following(sentences), preceding=before)
        question = "Which function orders transactions?"  # the description adds to it
        answer = composed(passages, retrieval, question, threshold=0.0, max_sentences=1)
        return [(c.start, c.end) for c in answer.citations]

    # ".. method:: raw_decode(s)" then "Decode a JSON document from s ...": the name asked
    # for is the signature's, so the quote starts there.
    assert cited("process(transactions, clock=None)") == [(hits[1].start, hits[2].end)]
    assert cited("class Validator(clock)") == [(hits[1].start, hits[2].end)]
    # A command-line option (".. cmdoption:: --json-lines") is the name its text is about.
    assert cited("--verifiable-clock") == [(hits[1].start, hits[2].end)]
    assert cited("-c, --clock SECONDS") == [(hits[1].start, hits[2].end)]
    assert cited("-- the clock") == [(hits[2].start, hits[2].end)]
    # A sentence of prose before the description is not part of it.
    assert cited("Validators order transactions.") == [(hits[2].start, hits[2].end)]


def test_the_sentence_best_in_words_is_a_candidate_however_it_ranks(parts: Any) -> None:
    hits, passages = parts
    idf = LexicalIndex.of_texts([h.text for h in hits]).idf
    question = "How do validators order transactions with a clock?"

    def cited(lexical: list[float]) -> list[str]:
        order = [replace(h, lexical=w) for h, w in zip(ranked(hits, [1, 2, 3, 5]), lexical)]
        retrieval = Retrieval(order, idf, following(hits))
        return [c.quote for c in composed(passages, retrieval, question, 0.0).citations]

    # "As a last resort, the current working directory.": the sentence BM25 ranks first by
    # far, fourth in the answering order, takes the third place from one that shares
    # few of the question's words.
    assert any(hits[5].text in q for q in cited([1.0, 1.0, 1.0, 20.0]))
    # Not from one that shares about as many.
    assert not any(hits[5].text in q for q in cited([1.0, 1.0, 12.0, 20.0]))
    # Nor when it is not the best in words.
    assert not any(hits[5].text in q for q in cited([30.0, 1.0, 1.0, 20.0]))


def test_compose_abstains_below_threshold_and_on_missing_amounts(parts: Any) -> None:
    hits, passages = parts
    lexical = LexicalIndex.of_texts([h.text for h in hits]).idf
    retrieval = Retrieval(ranked(hits, [1, 2, 3]), lexical, following(hits))

    def passages_for(ids: list[str]) -> dict[str, PassageHit]:
        return {i: passages[i] for i in ids}

    question = "How does Solana order transactions?"
    below = compose(question, question, retrieval, passages_for, EXACT_WORDS, threshold=0.99)
    assert not below.answered and below.citations == []
    assert [r.quote for r in below.related] == [hits[i].text for i in (1, 2, 3)]
    # "How many" wants an amount: the chosen sentences state one ("one shard", "four").
    amount = "How many transactions does Solana process?"
    assert compose(amount, amount, retrieval, passages_for, EXACT_WORDS, threshold=0.1).answered
    # With no threshold at all, a sentence without any number still does not answer it,
    # though it answers a question that asks for no amount.
    no_number = Retrieval(ranked(hits, [2]), lexical, {})
    assert not compose(amount, amount, no_number, passages_for, EXACT_WORDS, threshold=0.0).answered
    how = "How are transactions ordered?"
    assert compose(how, how, no_number, passages_for, EXACT_WORDS, threshold=0.0).answered
    # The sentence with the amount ranks low in meaning, yet it is the one that answers.
    weak_amount = Retrieval(
        [replace(hits[2], dense=0.8), replace(hits[3], dense=0.3)], lexical, following(hits)
    )
    votes = "How many milliseconds pass between votes?"
    answer = compose(votes, votes, weak_amount, passages_for, EXACT_WORDS, threshold=0.0)
    assert answer.answered
    assert [c.quote for c in answer.citations] == [hits[2].text + " " + hits[3].text]
    # The same sentence in another document says nothing about this subject.
    elsewhere = Retrieval(
        [weak_amount.hits[0], replace(weak_amount.hits[1], document_id="other")], lexical, {}
    )
    assert not compose(votes, votes, elsewhere, passages_for, EXACT_WORDS, threshold=0.0).answered


def test_only_sentences_nearly_as_relevant_as_the_best_are_cited(parts: Any) -> None:
    hits, _ = parts
    a, b, c = (hits[i] for i in (1, 2, 4))

    def scored(hit: SentenceHit, dense: float, lexical: float) -> SentenceHit:
        return replace(hit, dense=dense, lexical=lexical)

    # Within DENSE_MARGIN of the best meaning, or with half the best BM25 score: kept.
    near, far = 0.70 - DENSE_MARGIN + 0.01, 0.70 - DENSE_MARGIN - 0.01
    kept = _close_to_best([scored(a, 0.70, 0.0), scored(b, near, 0.0), scored(c, 0.40, 3.0)])
    assert [h.id for h in kept] == [a.id, b.id, c.id]
    kept = _close_to_best([scored(a, 0.70, 0.0), scored(b, far, 0.0), scored(c, 0.40, 3.0)])
    assert [h.id for h in kept] == [a.id, c.id]
    # Far below in both: dropped, wherever it ranked.
    kept = _close_to_best([scored(a, 0.50, 4.0), scored(b, 0.70, 1.9), scored(c, 0.55, 0.0)])
    assert [h.id for h in kept] == [a.id, b.id]
    # A sentence that ``keep`` holds to (one stating an amount) stays whatever its scores.
    kept = _close_to_best([scored(a, 0.70, 2.0), scored(b, 0.40, 0.0)], keep=lambda h: h.id == b.id)
    assert [h.id for h in kept] == [a.id, b.id]
    # With no BM25 score at all, meaning alone decides (0 is not half of 0).
    kept = _close_to_best([scored(a, 0.70, 0.0), scored(b, 0.50, 0.0)])
    assert [h.id for h in kept] == [a.id]
    # The first (the answering order's best) stays however far below it is.
    kept = _close_to_best([scored(a, 0.50, 0.0), scored(b, 0.70, 0.0), scored(c, 0.45, 0.0)])
    assert [h.id for h in kept] == [a.id, b.id]
    assert _close_to_best([]) == []


def test_a_question_is_covered_by_one_document_not_pieced_together(parts: Any) -> None:
    hits, _ = parts
    lexical = LexicalIndex.of_texts([h.text for h in hits]).idf
    question = "Do Solana validators vote on blocks?"
    # "Solana" is in sentence 1, "validators vote on blocks" in sentence 3.
    one = Retrieval(ranked(hits, [1, 3]), lexical, {})
    two = Retrieval([one.hits[0], replace(one.hits[1], document_id="other")], lexical, {})
    assert confidence(question, one, EXACT_WORDS) == pytest.approx(0.8)  # every word found
    split = confidence(question, two, EXACT_WORDS)
    assert split < 0.8 * 0.95
    # The better of the two documents decides: the one with "validators vote on blocks".
    alone = Retrieval([replace(one.hits[1], document_id="other")], lexical, {})
    assert split == pytest.approx(confidence(question, alone, EXACT_WORDS))


def test_compose_runs_the_encoder_only_when_exact_words_leave_it_open(parts: Any) -> None:
    hits, passages = parts
    lexical = LexicalIndex.of_texts([h.text for h in hits]).idf
    retrieval = Retrieval(ranked(hits, [1, 2, 3], dense=0.8), lexical, following(hits))
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> list[list[Word]]:
        calls.append(texts)
        return EXACT_WORDS(texts)

    def ask(question: str, threshold: float) -> Answer:
        def passages_for(ids: list[str]) -> dict[str, PassageHit]:
            return {i: passages[i] for i in ids}

        return compose(question, question, retrieval, passages_for, counting, threshold=threshold)

    # Every word found: exact words already reach the threshold.
    assert ask("How does Solana order transactions?", 0.5).answered and calls == []
    # No coverage can lift the best dense similarity (0.8) over 0.9.
    assert not ask("How does Solana sequence payments?", 0.9).answered and calls == []
    # "sequence" and "payments" are not in the text: only meaning could lift it over 0.79.
    question = "How does Solana sequence payments?"
    assert not ask(question, 0.79).answered
    assert calls == [[question] + [hits[i].text for i in (1, 2, 3)]]


def test_a_date_is_not_an_amount(saying: Saying) -> None:
    soldiers = "How many soldiers are stationed in Belarus?"
    assert lacks_answer_type(soldiers, saying("The doctrine was adopted on 19 November."))
    assert lacks_answer_type(soldiers, saying("Talks on the matter have run since 2018."))
    assert lacks_answer_type(soldiers, saying("It was signed on December 6, 2024 in Minsk."))
    assert not lacks_answer_type(soldiers, saying("About 2000 soldiers are stationed there."))
    assert not lacks_answer_type(soldiers, saying("Ten battalions arrived on 6 December."))
    assert lacks_answer_type(soldiers, saying("Talks began on 2024-11-19 and resumed 19/11/2025."))
    assert lacks_answer_type(soldiers, saying("In March 2020 and in the mid-1990s, talks stalled."))
    # Numbers that only look like years or dates are amounts.
    for amount in (
        "Russia sent in 2000 soldiers.",
        "From 1500 to 2000 soldiers are there.",
        "It has a range of 1800 km.",
        "Up to 12 may be stationed there.",
        "The troops march 20 km a day.",
    ):
        assert not lacks_answer_type(soldiers, saying(amount)), amount
    # A year does answer how long something has gone on.
    assert not lacks_answer_type("How long have they talked?", saying("Talks have run since 2018."))
    assert not lacks_answer_type("Who signed it?", saying("The treaty was signed."))
    # Amounts said in words: "once", "twice", "hundreds".
    times = "How many times is the key function called?"
    assert not lacks_answer_type(
        times, saying("The key function is called exactly once per record.")
    )
    assert not lacks_answer_type(times, saying("It is called twice for each record."))
    assert not lacks_answer_type(soldiers, saying("Hundreds of soldiers are stationed there."))
    assert lacks_answer_type(times, saying("The key function is called for each record."))


def test_a_question_for_a_year_or_date_needs_a_sentence_that_gives_one(
    saying: Saying,
) -> None:
    founded = "In what year was the foundation set up?"
    assert lacks_answer_type(founded, saying("The foundation was set up by its members."))
    assert lacks_answer_type(founded, saying("Version 3.11.2 of the foundation's tool is out."))
    for dated in (
        "The foundation was set up in 2001.",
        "It was set up in the 1990s.",
        "It was set up on 6 December.",
        "It dates from the 19th century.",
    ):
        assert not lacks_answer_type(founded, saying(dated)), dated
    assert not lacks_answer_type("Who set it up?", saying("Its members set it up."))


def test_words_matched_by_meaning_count_toward_coverage(
    embed_model: HuggingFaceEmbedding,
) -> None:
    texts = [
        "What energy market was set up?",
        "They established a joint electricity market.",
        "Bread is baked in a hot oven.",
    ]
    question, related, unrelated = WordVectors(embed_model)(texts)
    for text, words in zip(texts, (question, related, unrelated), strict=True):
        assert [w.stem for w in words] == tokenize(text)
        for word in words:
            assert word.vector is not None
            assert np.linalg.norm(word.vector) == pytest.approx(1.0, abs=1e-5)
            assert tokenize(text[word.start : word.end]) == [word.stem]

    def idf(stem: str) -> float:
        return 1.0

    # "market" is found exactly in both cases; "energy" and "set" only by meaning.
    found = {"market"}
    near = coverage(question, found, related, idf)
    far = coverage(question, found, unrelated, idf)
    assert 1 / 3 < far < near < 1.0
    assert near - far > 0.1
    assert coverage(question, {w.stem for w in question}, [], idf) == 1.0
    # A word with a high IDF weighs more: "energy" rare, the rest common.
    weighted = coverage(question, {"energi"}, [], lambda t: 10.0 if t == "energi" else 1.0)
    assert weighted == pytest.approx(10 / 12)
    # A word whose lower case is longer than itself ("İ") is one word on both sides.
    turkish = "İzmir lies on the Aegean coast."
    assert [w.stem for w in content_words(turkish)] == tokenize(turkish)
    assert len(tokenize("Where does İzmir lie?")) == 2
    assert coverage(content_words("Where is İzmir?"), set(tokenize(turkish)), [], idf) == 1.0
    # Without an encoder, words carry no vectors and only exact matches count.
    plain = WordVectors(None)(texts[:1])[0]
    assert [w.stem for w in plain] == tokenize(texts[0])
    assert all(w.vector is None for w in plain)
    assert coverage(plain, found, related, idf) == pytest.approx(1 / 3)


def test_words_past_the_encoder_limit_have_no_vector(embed_model: HuggingFaceEmbedding) -> None:
    text = "alpha " * 400 + "omega"
    (words,) = WordVectors(embed_model)([text])
    assert words[0].vector is not None
    assert words[-1].stem == "omega" and words[-1].vector is None


def subject_stems(text: str) -> list[str]:
    """The stems of ``text``'s words that are the subject of the question."""
    return [w.stem for w in question_parts(text, content_words(text))[0]]


def test_request_words_are_not_the_subject_of_a_question() -> None:
    assert subject_stems("What does the article say about Poland?") == tokenize("Poland")
    assert subject_stems("Explain, according to the text, the missile range.") == tokenize(
        "missile range"
    )
    # Nothing but request words: they stay, rather than leaving nothing to cover.
    assert subject_stems("Summarise the article.") == tokenize("Summarise the article.")


def test_a_named_documents_author_is_the_subject_when_nothing_else_is_asked() -> None:
    def stems(question: str, title: str) -> list[str]:
        titled = frozenset(tokenize(title))
        return [w.stem for w in question_parts(question, content_words(question), titled)[0]]

    # "HOWTO" names the kind of document: the asking, not the subject.
    assert stems("Who is the author of the Logging HOWTO?", "Logging HOWTO") == tokenize(
        "author Logging"
    )
    # Asking who wrote it asks for its author: "wrote" is not what a sentence must say.
    assert stems("Who wrote the Logging HOWTO?", "Logging HOWTO") == tokenize("author Logging")
    # "guide" names the kind of document, too.
    title = "Annotations Best Practices"
    assert stems(f"Who is the author of the {title} guide?", title) == tokenize(f"author {title}")
    # Asked beside other words ("Python"), the author is still what is asked.
    assert stems("Who is the author of the Python Logging HOWTO?", "Logging HOWTO") == tokenize(
        "author Python Logging"
    )
    # Not of a named document, a verb of writing is the asking.
    assert stems("Who wrote to the maintainers?", "Logging HOWTO") == tokenize("maintainers")
    # With something else asked, the author is the asking again.
    assert stems(
        "What does the author of the Logging HOWTO say about levels?", "Logging HOWTO"
    ) == tokenize("Logging levels")


def test_words_pointing_back_are_not_the_subject_of_a_question() -> None:
    assert subject_stems("Who claimed otherwise?") == tokenize("claimed")
    assert subject_stems("When was something similar considered?") == tokenize("considered")
    assert subject_stems("What will the army focus on instead?") == tokenize("army focus")
    assert subject_stems("Besides level, what else is it called?") == tokenize(
        "besides level called"
    )
    # "instead of" and the else clause name something.
    assert "instead" in subject_stems("What is used instead of values?")
    assert subject_stems("Why is the else clause better?") == tokenize("else clause better")


def test_each_sentence_of_a_question_is_also_judged_alone() -> None:
    text = "What is proof of stake? Give examples of sharding."
    whole, first, second = question_parts(text, content_words(text))
    assert [w.stem for w in whole] == tokenize(text)
    assert [w.stem for w in first] == tokenize("What is proof of stake?")
    assert [w.stem for w in second] == tokenize("Give examples of sharding.")
    one = question_parts("What is sharding?", content_words("What is sharding?"))
    assert [[w.stem for w in part] for part in one] == [["shard"]]


# --- evaluate(): metrics on hand-built answers ----------------------------------------------


class ScriptedAsker:
    """Returns a prepared answer per question, and records the history it was given."""

    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.histories: dict[str, list[Turn] | None] = {}

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        self.histories[question] = history
        return self.answers[question]


def said(question: str, *quotes: tuple[str, int | None]) -> Answer:
    cites = [
        Citation(n, "doc", "Doc", "txt", page, None, 0, len(q), q, q, 0.5)
        for n, (q, page) in enumerate(quotes, start=1)
    ]
    text = " ".join(f"{c.quote} [{c.n}]" for c in cites)
    return Answer(question, text, True, cites)


def declined(question: str) -> Answer:
    return Answer(question, abstention(question), False)


def test_evaluate_computes_each_metric() -> None:
    rows = [
        # answered right: contained (case/space-insensitive), cited, on the right page
        EvalRow("q1", ["Ten  Agreements"], "package of TEN", pages=[2]),
        # answered wrong: not contained, not cited, wrong page
        EvalRow("q2", ["Minsk"], "signed in Minsk", pages=[1]),
        # answerable but abstained: a miss for containment and citation; no pages given
        EvalRow("q3", ["2018"], "since at least 2018"),
        # answerable, abstained, no expectations at all: counts for no rate
        EvalRow("q4"),
        # unanswerable: abstained, answered, abstained, abstained
        EvalRow("u1", answerable=False),
        EvalRow("u2", answerable=False),
        EvalRow("u3", answerable=False),
        EvalRow("u4", answerable=False, history=[Turn("user", "earlier")]),
    ]
    asker = ScriptedAsker(
        {
            "q1": said("q1", ("a package of ten\u00a0agreements\nin Minsk.", 2)),
            "q2": said("q2", ("They met in Moscow.", 3), ("It was cold.", 3)),
            "q3": declined("q3"),
            "q4": declined("q4"),
            "u1": declined("u1"),
            "u2": said("u2", ("Belarus is in Europe.", None)),
            "u3": declined("u3"),
            "u4": declined("u4"),
        }
    )
    report = evaluate(asker, rows)
    assert [r.contains for r in report.rows] == [True, False, False, None] + [None] * 4
    assert [r.cited for r in report.rows] == [True, False, False, None] + [None] * 4
    assert [r.page_hit for r in report.rows] == [True, False, None, None] + [None] * 4
    assert [r.supporting for r in report.rows] == [1, 0, None, None] + [None] * 4
    summary = report.summary()
    assert summary["questions"] == 8
    assert summary["answerable"] == 4
    assert summary["answer_containment"] == round(1 / 3, 3)
    assert summary["citation_hit"] == round(1 / 3, 3)
    assert summary["page_hit"] == 0.5
    assert summary["citation_precision"] == round(1 / 3, 3)  # q1's one of q1's and q2's three
    # abstained: q3, q4, u1, u3, u4 -> 3 of 5 right; unanswerable u1..u4 -> 3 of 4 caught
    assert summary["abstention_precision"] == 0.6
    assert summary["abstention_recall"] == 0.75
    # answered: q1 (1 citation), q2 (2), u2 (1)
    assert summary["mean_cited_sentences"] == round(4 / 3, 2)
    cited_chars = sum(len(c.quote) for q in ("q1", "q2", "u2") for c in asker.answers[q].citations)
    assert summary["mean_cited_chars"] == round(cited_chars / 3, 1)
    answer_chars = sum(len(a.answer) for a in asker.answers.values())
    assert summary["mean_answer_chars"] == round(answer_chars / 8, 1)
    assert asker.histories["u4"] == [Turn("user", "earlier")]
    assert asker.histories["q1"] == []


def test_evaluate_leaves_rates_without_data_empty() -> None:
    rows = [EvalRow("q1", ["x"]), EvalRow("q2", ["y"])]
    report = evaluate(ScriptedAsker({"q1": said("q1", ("x marks it", None)),
                                     "q2": said("q2", ("y not", None))}), rows)  # fmt: skip
    summary = report.summary()
    assert summary["answer_containment"] == 1.0
    assert summary["citation_hit"] == 1.0
    assert summary["page_hit"] is None
    assert summary["citation_precision"] == 1.0
    assert summary["abstention_precision"] is None  # nothing abstained
    assert summary["abstention_recall"] is None  # nothing unanswerable


def test_load_rows_parses_the_question_file_and_names_a_bad_line(tmp_path: Path) -> None:
    rows = load_rows(QUESTIONS)
    assert len(rows) == len(question_rows())
    follow = [r for r in rows if r.history]
    assert follow and all(isinstance(t, Turn) for r in follow for t in r.history)
    assert sum(not r.answerable for r in rows) == 8
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?"}\n\n{"answers": ["no question"]}\n', encoding="utf-8")
    with pytest.raises(FootnotesError, match=r"bad\.jsonl:3"):
        load_rows(bad)


# --- the eval command -----------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "FOOTNOTES_STORE": str(tmp_path / "cli-store")}
    for name in [n for n in env if n.startswith("FOOTNOTES_") and n != "FOOTNOTES_STORE"]:
        del env[name]
    yield env


def test_eval_command_reports_the_measured_figures(cli_env: dict[str, str]) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FOOTNOTES), *args],
            env=cli_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    ingest = run("ingest", "samples/")
    assert ingest.returncode == 0, ingest.stderr
    result = run("eval", str(QUESTIONS.relative_to(ROOT)), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in (
        "questions",
        "answerable",
        "answer_containment",
        "citation_hit",
        "page_hit",
        "abstention_precision",
        "abstention_recall",
        "mean_answer_chars",
        "mean_cited_chars",
        "mean_cited_sentences",
        "latency_p50_ms",
        "latency_p95_ms",
        "rows",
    ):
        assert key in summary
    assert summary["questions"] == len(question_rows()) == len(summary["rows"])
    assert summary["answer_containment"] >= 0.9
    assert summary["citation_hit"] >= 0.9
    assert summary["abstention_recall"] == 1.0
    assert summary["page_hit"] is None  # a text file has no pages
