"""The question-answering service: embed, retrieve, compose. Loaded once, asked many times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from footnotes.errors import FootnotesError, StoreError
from footnotes.index.answer import Answer, compose
from footnotes.index.store import Store
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str
    content: str


class Asker:
    """Answers questions from one store collection."""

    def __init__(self, store: Store, embed_model: BaseEmbedding, settings: Settings) -> None:
        self.store = store
        self.embed_model = embed_model
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings) -> Asker:
        from footnotes.index.embedding import load_embedding

        store = Store.from_settings(settings, create=False)
        if store.passage_count() == 0:
            raise StoreError(f"collection {settings.collection!r} is empty; ingest documents first")
        return cls(store, load_embedding(settings), settings)

    def ask(self, question: str, history: list[Turn] | None = None) -> Answer:
        question = question.strip()
        if not question:
            raise FootnotesError("the question is empty")
        query = question
        embedding = self.embed_model.get_query_embedding(query)
        hits = self.store.search(embedding, self.settings.top_k)
        return compose(question, hits, max_sentences=self.settings.max_answer_sentences)


def parse_history(raw: object) -> list[Turn]:
    """History from JSON: a list of ``{"role": "user"|"assistant", "content": str}``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise FootnotesError("history must be a list of {role, content} objects")
    turns = []
    for item in raw:
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            raise FootnotesError("each history item needs role 'user' or 'assistant' and content")
        turns.append(Turn(str(item["role"]), str(item.get("content", ""))))
    return turns
