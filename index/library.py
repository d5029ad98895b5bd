"""One object for the long-running edges (chat, HTTP API): every collection of a store.

Loads the embedding model once and opens a :class:`Store`, :class:`Asker` and
:class:`Ingestor` per collection on first use. It holds no per-user state:
conversations and selections live with the caller (``gr.State``, the request).
Ingest and remove are serialised by a lock; asking needs none, since each
question only reads.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from footnotes.errors import ConfigError, StoreError
from footnotes.index.answer import Answer
from footnotes.index.ask import Asker, Turn
from footnotes.index.store import DOCS_SUFFIX, SENTENCES_SUFFIX, DocumentRecord, Store, make_client
from footnotes.index.sync import Ingestor, SyncReport
from footnotes.settings import Settings, check_collection_name

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from llama_index.core.base.embeddings.base import BaseEmbedding


class Library:
    """The collections of one store, ready to be asked and synced."""

    def __init__(
        self, settings: Settings, embed_model: BaseEmbedding, client: ClientAPI | None = None
    ) -> None:
        self.settings = settings
        self.embed_model = embed_model
        self.client = client if client is not None else make_client(settings)
        self._stores: dict[str, Store] = {}
        self._askers: dict[str, Asker] = {}
        self._open = threading.Lock()
        self._write = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Library:
        from footnotes.index.embedding import load_embedding

        return cls(settings, load_embedding(settings))

    def _name(self, collection: str | None) -> str:
        name = collection or self.settings.collection
        try:
            check_collection_name(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        return name

    def store(self, collection: str | None = None) -> Store:
        name = self._name(collection)
        with self._open:
            if name not in self._stores:
                self._stores[name] = Store(self.client, name, create=True)
            return self._stores[name]

    def collections(self) -> list[str]:
        """Names of the collections in the store (always including the configured one)."""
        names = {self.settings.collection}
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if not name.endswith((DOCS_SUFFIX, SENTENCES_SUFFIX)):
                names.add(name)
        return sorted(names)

    def ask(
        self, question: str, history: list[Turn] | None = None, collection: str | None = None
    ) -> Answer:
        store = self.store(collection)
        if store.passage_count() == 0:
            raise StoreError(f"collection {store.name!r} is empty; add documents first")
        with self._open:
            asker = self._askers.get(store.name)
            if asker is None:
                asker = self._askers[store.name] = Asker(store, self.embed_model, self.settings)
        return asker.ask(question, history)

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        return self.store(collection).list_documents()

    def document_text(self, doc_id: str, collection: str | None = None) -> str:
        return self.store(collection).document_text(doc_id)

    def ingest(self, paths: list[Path], collection: str | None = None) -> SyncReport:
        store = self.store(collection)
        with self._write:
            return Ingestor(store, lambda: self.embed_model, self.settings).sync(paths)

    def remove(self, doc_id: str, collection: str | None = None) -> bool:
        store = self.store(collection)
        with self._write:
            return store.remove_document(doc_id)
