"""The question-answering service: contextualise, retrieve, compose (or have a language
model write the answer from the evidence, and check it: ``index/written.py``).

Loaded once (model, store, lexical index) and asked many times; holds no
per-user state, so one instance serves every CLI batch line and every chat
session. A follow-up question ("What threat did he cite?") is retrieved
together with the previous question when it leans on it (a pronoun, a
leading "and", or too few words of its own), so it finds the passage the
conversation is about.

The bounds of a request (question length, history turns and characters) are
checked here, before any work, so every entry point (CLI, batch, eval, API,
chat) shares them; the edges only map :class:`InputError` to their message.
A 1 MB question used to hold a core for 14 minutes in retrieval while every
other request waited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from footnotes.errors import InputError, ModelMismatch, NotFound
from footnotes.index.answer import Answer, Delta, compose, confidence, evidence
from footnotes.index.coverage import POINTING, WordVectors
from footnotes.index.lexical import tokenize
from footnotes.index.llm import ModelFailed, Writer
from footnotes.index.replica import Replica
from footnotes.index.retrieve import Retrieval, Retriever, fuse
from footnotes.index.store import Store
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

_LEANS_ON_CONTEXT = re.compile(
    r"\b(?:he|she|it|its|they|them|their|theirs|him|his|her|hers|there|then|that one|"
    r"these|those|the same|this)\b|^\s*(?:and|but|also|what about|how about|why)\b",
    re.IGNORECASE,
)


_CHECKING = frozenset(tokenize("true correct right accurate really real sure so"))
"""Words of a follow-up that asks to check the answer ("Is that true?"): its subject is
the conversation's, so the conversation's words are what an answer must cover."""


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: Literal["user", "assistant"]
    content: str


def check_question(question: str, settings: Settings) -> str:
    """``question`` stripped; :class:`InputError` if it is empty or longer than
    ``max_question_chars`` (measured before stripping: the length is what was sent)."""
    limit = settings.max_question_chars
    if len(question) > limit:
        raise InputError(
            f"the question is {len(question):,} characters long; at most {limit:,} are allowed "
            "(FOOTNOTES_MAX_QUESTION_CHARS)"
        )
    question = question.strip()
    if not question:
        raise InputError("the question is empty")
    return question


def check_history(history: Sequence[Turn], settings: Settings) -> None:
    """:class:`InputError` if ``history`` has more turns than ``max_history_turns`` or more
    characters than ``max_history_chars``; send only the most recent (:func:`recent_history`)."""
    turns, chars = len(history), sum(len(t.content) for t in history)
    if turns > settings.max_history_turns:
        raise InputError(
            f"the history has {turns} messages; at most {settings.max_history_turns} are "
            "allowed (FOOTNOTES_MAX_HISTORY_TURNS): send the most recent ones"
        )
    if chars > settings.max_history_chars:
        raise InputError(
            f"the history has {chars:,} characters; at most {settings.max_history_chars:,} are "
            "allowed (FOOTNOTES_MAX_HISTORY_CHARS): send the most recent messages"
        )


def recent_history(history: Sequence[Turn], settings: Settings) -> list[Turn]:
    """The longest tail of ``history`` within both history bounds that starts with a user
    turn (so a conversation of question-answer pairs keeps whole pairs)."""
    kept, chars = 0, 0
    for turn in reversed(history):
        if kept + 1 > settings.max_history_turns or chars + len(turn.content) > (
            settings.max_history_chars
        ):
            break
        kept, chars = kept + 1, chars + len(turn.content)
    tail = list(history[len(history) - kept :]) if kept else []
    while tail and tail[0].role != "user":
        tail.pop(0)
    return tail


def leans_on_context(question: str) -> bool:
    """Whether ``question`` cannot stand alone: a pronoun ("he", "it", "that"), a word
    that points back as one does ("otherwise", "something similar"), a leading "and" or
    "why", or fewer than two words of its own ("Where?")."""
    return (
        bool(_LEANS_ON_CONTEXT.search(question) or POINTING.search(question))
        or len(tokenize(question)) < 2
    )


def subject(history: Sequence[Turn]) -> list[str]:
    """What the conversation is about: its latest user question that stands alone, and
    the follow-ups asked since (so "Why?" then "What did he ask for?" keep the first
    question's subject); the last three questions when none stands alone."""
    asked = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    for i in range(len(asked) - 1, -1, -1):
        if not leans_on_context(asked[i]):
            return asked[i:]
    return asked[-3:]


def contextualise(question: str, history: list[Turn]) -> str:
    """The retrieval query for ``question`` read in the conversation: the questions of its
    :func:`subject`, then ``question``."""
    return " ".join([*subject(history), question])


def previous_answer(history: Sequence[Turn]) -> str:
    """The last answer of the conversation (what a follow-up's answer should add to)."""
    return next((t.content for t in reversed(history) if t.role == "assistant"), "")


class Asker:
    """Answers questions from one store collection: with quoted sentences, or, when a
    ``writer`` (a language model) is given, with its sentences, each checked."""

    def __init__(
        self,
        replica: Replica,
        embed_model: BaseEmbedding,
        settings: Settings,
        writer: Writer | None = None,
    ) -> None:
        self.replica = replica
        self.store = replica.store
        self.settings = settings
        self.retriever = Retriever(replica, embed_model, settings)
        self.words_of = WordVectors(embed_model)
        self.writer = writer

    @classmethod
    def from_settings(cls, settings: Settings) -> Asker:
        from footnotes.index.embedding import load_embedding
        from footnotes.index.llm import make_writer

        store = Store.from_settings(settings, create=False)
        return cls(
            Replica.open(store, settings), load_embedding(settings), settings, make_writer(settings)
        )

    def check(self) -> None:
        """Catch up with the store, then raise :class:`NotFound` if the collection is empty
        and :class:`ModelMismatch` if it was embedded with another model than this one's."""
        self.replica.refresh()
        if self.replica.document_count() == 0:
            raise NotFound(f"collection {self.store.name!r} is empty; add documents first")
        stored = self.replica.embed_models() - {""}
        identity = self.settings.embed_identity()
        if stored - {identity}:
            raise ModelMismatch(
                f"collection {self.store.name!r} was embedded with {', '.join(sorted(stored))}, "
                f"not {identity}; ingest again with this model, backend and context setting, or "
                "ask with those (FOOTNOTES_EMBED_MODEL, FOOTNOTES_EMBED_BACKEND, "
                "FOOTNOTES_EMBED_CONTEXT)"
            )

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        """Answer ``question`` (with the conversation so far) from the documents.

        Raises :class:`InputError` for an empty or over-long question or history (before
        any work), :class:`NotFound` for an empty collection."""
        for event in self.ask_stream(question, history):
            if isinstance(event, Answer):
                return event
        raise AssertionError("ask_stream ended without an answer")  # pragma: no cover

    def ask_stream(
        self, question: str, history: list[Turn] | None = None
    ) -> Iterator[Delta | Answer]:
        """:meth:`ask`, as the model's words while it writes them (:class:`Delta`), then
        the checked :class:`Answer`, always last; extractive, the answer alone.

        The question is retrieved and checked by the call, so its errors (those of
        :meth:`ask`) are raised before anything is yielded. The model is asked only
        when the documents hold an answer (the extractive confidence is above its
        threshold): below it, the answer abstains as without a model. When the model
        fails (:class:`ModelFailed`), the extractive answer is the answer, with a
        ``notice`` saying why."""
        question, asked, retrieval = self._retrieve(question, history)
        quoted = compose(
            question,
            asked,
            retrieval,
            self.store.passages_by_id,
            self.words_of,
            threshold=self.settings.abstain_threshold,
            max_sentences=self.settings.max_answer_sentences,
            previous=previous_answer(history or []),
        )
        if self.writer is None or not quoted.answered:
            return iter([quoted])
        return self._written(question, asked, history or [], retrieval, quoted)

    def _written(
        self, question: str, asked: str, history: list[Turn], retrieval: Retrieval, quoted: Answer
    ) -> Iterator[Delta | Answer]:
        from footnotes.index import prompt
        from footnotes.index.written import written_answer

        assert self.writer is not None
        given = evidence(asked, retrieval, self.store.passages_by_id, self.settings.llm_evidence)
        pieces: list[str] = []
        try:
            for piece in self.writer.stream(prompt.messages(question, history, given)):
                pieces.append(piece)
                yield Delta(piece)
            yield written_answer(
                question,
                "".join(pieces),
                given,
                self.words_of,
                retrieval.idf,
                flag=self.settings.llm_unsupported == "flag",
            )
        except ModelFailed as exc:
            notice = f"the language model did not answer ({exc}); showing quoted sentences instead"
            yield replace(quoted, notice=notice)

    def confidence(self, question: str, history: list[Turn] | None = None) -> float:
        """The full confidence for ``question``, which :meth:`ask` computes only as far
        as its threshold needs (for calibration)."""
        _, asked, retrieval = self._retrieve(question, history)
        return confidence(asked, retrieval, self.words_of, by_clause=True)

    def _retrieve(self, question: str, history: list[Turn] | None) -> tuple[str, str, Retrieval]:
        """The stripped question, the text whose words an answer must cover, and the hits."""
        question = check_question(question, self.settings)
        history = history or []
        check_history(history, self.settings)
        self.check()
        k = self.settings.candidates
        if not history or not any(t.role == "user" for t in history):
            return question, question, self.retriever.retrieve(question, k=k)
        query = contextualise(question, history)
        if leans_on_context(question):
            # Read in the conversation, and alone when it has words of its own: what ranks
            # high in both is what it asks about its subject ("Has its text been published?").
            within = self.retriever.retrieve(query, k=k)
            own = [w for w in tokenize(question) if w not in _CHECKING]
            if not own:  # "Why?", "Is that true?": the conversation's words are the question
                return question, query, within
            return question, question, fuse(within, self.retriever.retrieve(question, k=k), k)
        # A question with words of its own and nothing pointing back may still be a
        # follow-up ("What did Putin announce?" after one on the missiles): read alone and
        # in the conversation, the better supported wins.
        alone = self.retriever.retrieve(question, k=k)
        within = self.retriever.retrieve(query, k=k)
        if confidence(question, within, self.words_of) > confidence(question, alone, self.words_of):
            return question, question, within
        return question, question, alone


def parse_history(raw: object) -> list[Turn]:
    """History from JSON: a list of ``{"role": "user"|"assistant", "content": str}``;
    :class:`InputError` naming what is wrong otherwise."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError("history must be a list of {role, content} objects")
    turns = []
    for item in raw:
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            raise InputError("each history item needs role 'user' or 'assistant' and content")
        content = item.get("content", "")
        if not isinstance(content, str):
            raise InputError("each history item's content must be a string")
        turns.append(Turn("user" if item["role"] == "user" else "assistant", content))
    return turns


def parse_request(raw: object) -> tuple[str, list[Turn]]:
    """The question and history of a ``{"question": str, "history"?: [...]}`` object (a
    batch line); :class:`InputError` naming what is wrong otherwise."""
    if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
        raise InputError('not a question line: expected {"question": str, "history"?: [...]}')
    return raw["question"], parse_history(raw.get("history"))
