"""One object for the long-running edges (chat, HTTP API): every collection of a store.

Loads the embedding model once and opens a :class:`Store`, :class:`Asker` and
:class:`Ingestor` per collection on first use. It holds no per-user state:
conversations and selections live with the caller (``gr.State``, the request).
Ingest, upload and remove are serialised by a lock, so two uploads of one
file name cannot interleave; asking needs none, since each question only
reads. Uploaded files are kept in ``Settings.uploads()/<collection>/`` under
their names (the document ids), in step with the store.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from footnotes.errors import ConfigError, StoreError
from footnotes.index.answer import Answer
from footnotes.index.ask import Asker, Turn
from footnotes.index.store import DOCS_SUFFIX, SENTENCES_SUFFIX, DocumentRecord, Store, make_client
from footnotes.index.sync import FileOutcome, Ingestor, SyncReport
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

    def add_files(
        self, files: list[tuple[str, Path]], collection: str | None = None, *, copy: bool = False
    ) -> SyncReport:
        """Keep each ``(name, source)`` as the uploaded file ``name`` and ingest them.

        ``name`` must already be a safe base name (``ui.uploads.safe_name``); it
        becomes the document id. Sources are moved, or copied with ``copy``. A
        file that fails to ingest is taken out again and the file it replaced
        (if any) put back, so the uploads folder keeps matching the store.
        Outcomes name each file by ``name``, never by its path on the server.
        """
        store = self.store(collection)
        folder = self.settings.uploads() / store.name
        folder.mkdir(parents=True, exist_ok=True)
        with self._write:
            placed: dict[str, Path] = {}
            backups: dict[str, Path] = {}
            try:
                for name, source in files:
                    target = folder / name
                    if target.resolve().parent != folder.resolve() or name in placed:
                        raise ConfigError(f"{name!r} is not a file name of its own in {folder}")
                    if target.exists() or target.is_symlink():
                        backups[name] = folder / f".{name}.previous"
                        os.replace(target, backups[name])
                    placed[name] = target
                    (shutil.copyfile if copy else shutil.move)(source, target)
                report = Ingestor(store, lambda: self.embed_model, self.settings).sync(
                    list(placed.values())
                )
            except BaseException:
                for name in placed:
                    _put_back(placed[name], backups.get(name))
                raise
            by_document = {o.document: o for o in report.outcomes}
            outcomes = []
            for name, target in placed.items():
                missing = FileOutcome(name, "failed", "", f"{name}: not ingested")
                got = by_document.get(name, missing)
                if got.status == "failed":
                    _put_back(target, backups.get(name))
                elif name in backups:
                    backups[name].unlink(missing_ok=True)
                reason = got.reason.replace(str(target.resolve()), name).replace(str(target), name)
                outcomes.append(FileOutcome(name, got.status, name, reason, got.passages))
            return SyncReport(outcomes, report.embedded)

    def remove(self, doc_id: str, collection: str | None = None) -> bool:
        """Remove a document, and its file if it was uploaded; False if it is not stored."""
        store = self.store(collection)
        with self._write:
            record = store.get_document(doc_id)
            if record is None or not store.remove_document(doc_id):
                return False
            uploaded = self.settings.uploads() / store.name / doc_id
            if record.source_path and Path(record.source_path) == uploaded.resolve():
                uploaded.unlink(missing_ok=True)
            return True


def _put_back(target: Path, backup: Path | None) -> None:
    """Undo placing ``target``: remove it, and restore the file it replaced."""
    target.unlink(missing_ok=True)
    if backup is not None:
        os.replace(backup, target)
