"""One object for the long-running edges (chat, HTTP API): every collection of a store.

Loads the embedding model once and opens a :class:`Replica` (the store and
this process's lexical index of it) and an :class:`Asker` per collection on
first use; the Chroma client is made on first use too, and again after a
server that was down comes back. It holds no per-user state:
conversations and selections live with the caller (``gr.State``, the request).

Locks are held only as long as they must be, so one slow or hostile file
delays no one else: store writes (a document put or removed) take turns on
one lock, held for the write alone, never while a file is read, parsed or
embedded; an upload or removal also holds a lock on its file names, so two
uploads of one name cannot interleave, while uploads of other names go on.
Files are parsed in worker processes (``ingest/worker.py``), so a hostile
file cannot grow this process. Asking takes no lock of its own, since each
question only reads (questions take turns on the encoder, in
``embedding.single_thread``). Uploaded files are kept in
``Settings.uploads()/<collection>/`` under their names (the document ids),
in step with the store.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from footnotes.errors import ConfigError, DocumentError, FootnotesError
from footnotes.index.answer import Answer, Delta
from footnotes.index.ask import Asker, Turn
from footnotes.index.replica import Replica
from footnotes.index.store import OWN_SUFFIXES, DocumentRecord, Store, make_client, reachable
from footnotes.index.sync import (
    FileOutcome,
    FileProgress,
    FileProgressCallback,
    Ingestor,
    SyncReport,
)
from footnotes.ingest.loaders import content_hash
from footnotes.ingest.worker import make_parser
from footnotes.settings import Settings, check_collection_name

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from footnotes.index.llm import Writer


class Library:
    """The collections of one store, ready to be asked and synced."""

    def __init__(
        self,
        settings: Settings,
        embed_model: BaseEmbedding,
        client: ClientAPI | None = None,
        writer: Writer | None = None,
    ) -> None:
        self.settings = settings
        self.embed_model = embed_model
        self.writer = writer  # the language model that writes answers, if one is configured
        self._client = client
        self._replicas: dict[str, Replica] = {}
        self._askers: dict[str, Asker] = {}
        self._open = threading.Lock()
        self._write = threading.Lock()
        self._names = _NameLocks()
        self.parser = make_parser(settings)  # uploads are untrusted: parsed in worker processes

    @classmethod
    def from_settings(cls, settings: Settings) -> Library:
        from footnotes.index.embedding import load_embedding
        from footnotes.index.llm import make_writer

        return cls(settings, load_embedding(settings), writer=make_writer(settings))

    @property
    def client(self) -> ClientAPI:
        """The Chroma client, made on first use: a server down at start is no reason to
        fail for good, so it is tried again on the next request."""
        with self._open:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def _name(self, collection: str | None) -> str:
        name = collection or self.settings.collection
        try:
            check_collection_name(name)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        return name

    def replica(self, collection: str | None = None) -> Replica:
        name = self._name(collection)
        client = self.client
        with self._open:
            if name not in self._replicas:
                store = Store(client, name, create=True, page_size=self.settings.read_batch_size)
                self._replicas[name] = Replica.open(store, self.settings)
            return self._replicas[name]

    def store(self, collection: str | None = None) -> Store:
        return self.replica(collection).store

    @reachable
    def collections(self) -> list[str]:
        """Names of the collections in the store (always including the configured one)."""
        names = {self.settings.collection}
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if not name.endswith(OWN_SUFFIXES):
                names.add(name)
        return sorted(names)

    def ask(
        self, question: str, history: list[Turn] | None = None, collection: str | None = None
    ) -> Answer:
        return self._asker(collection).ask(question, history)

    def ask_stream(
        self, question: str, history: list[Turn] | None = None, collection: str | None = None
    ) -> Iterator[Delta | Answer]:
        """:meth:`Asker.ask_stream` on ``collection``: the model's words, then the answer."""
        return self._asker(collection).ask_stream(question, history)

    def _asker(self, collection: str | None) -> Asker:
        replica = self.replica(collection)
        with self._open:
            asker = self._askers.get(replica.store.name)
            if asker is None:
                asker = Asker(replica, self.embed_model, self.settings, self.writer)
                self._askers[replica.store.name] = asker
        return asker

    def documents(self, collection: str | None = None) -> list[DocumentRecord]:
        return self.store(collection).list_documents()

    def document_text(self, doc_id: str, collection: str | None = None) -> str:
        return self.store(collection).document_text(doc_id)

    def _ingestor(self, replica: Replica) -> Ingestor:
        return Ingestor(
            replica, lambda: self.embed_model, self.settings, self.parser, write_lock=self._write
        )

    def close(self) -> None:
        """Stop the parser's worker processes (they also stop when this process ends)."""
        self.parser.close()

    def ingest(self, paths: list[Path], collection: str | None = None) -> SyncReport:
        return self._ingestor(self.replica(collection)).sync(paths)

    def add_files(
        self,
        files: list[tuple[str, Path]],
        collection: str | None = None,
        *,
        copy: bool = False,
        progress: FileProgressCallback | None = None,
    ) -> SyncReport:
        """Keep each ``(name, source)`` as the uploaded file ``name`` and ingest them.

        ``name`` must be a plain file name (the edges make one with
        ``ui.uploads.safe_name``); it becomes the document id. Sources are
        moved, or copied with ``copy``. A file that is not ingested (failed,
        or skipped as unsupported) is taken out again, back to its source if
        it was moved, and the file it replaced is put back; so the uploads
        folder holds exactly the uploaded files the store holds. Outcomes name
        each file by ``name``, never by its path on the server.

        ``progress`` hears each file move on (reading, embedding n of its N
        sentences, then done or failed: :class:`FileProgress`), named the same way,
        as the sync goes, in this thread.

        Raises :class:`ConfigError` for a name that is not a plain file name or
        appears twice, and :class:`DocumentError` when a source cannot be read.
        """
        replica = self.replica(collection)
        store = replica.store
        folder = self.settings.uploads() / store.name
        names = [name for name, _ in files]
        for name in names:
            if name.startswith(".") or (folder / name).resolve().parent != folder.resolve():
                raise ConfigError(f"{name!r} is not a plain file name")
            if names.count(name) > 1:
                raise ConfigError(f"{name!r} appears more than once among the files to add")
        folder.mkdir(parents=True, exist_ok=True)
        with self._names.hold(store.name, names):
            placed: list[_Placed] = []
            try:
                for name, source in files:
                    placed.append(_Placed.put(name, source, folder / name, copy))
                told = _public_progress(progress, placed, store) if progress else None
                report = self._ingestor(replica).sync(
                    [p.target for p in placed], file_progress=told
                )
            except BaseException:
                for p in placed:  # keep what was stored before the error, undo the rest
                    if _stored(store, p):
                        p.keep()
                    else:
                        p.undo()
                raise
            by_document = {o.document: o for o in report.outcomes}
            outcomes = []
            for p in placed:
                missing = FileOutcome(p.name, "failed", "", f"{p.name}: not ingested")
                got = by_document.get(p.name, missing)
                if got.status in _INGESTED:
                    p.keep()
                else:
                    p.undo()
                reason = _public_reason(got.reason, p, store)
                outcomes.append(FileOutcome(p.name, got.status, p.name, reason, got.passages))
            return SyncReport(outcomes, report.embedded)

    def remove(self, doc_id: str, collection: str | None = None) -> bool:
        """Remove a document, and its file if it was uploaded; False if it is not stored."""
        replica = self.replica(collection)
        store = replica.store
        with self._names.hold(store.name, [doc_id]), self._write:
            record = store.get_document(doc_id)
            if record is None or not replica.remove(doc_id):
                return False
            uploaded = self.settings.uploads() / store.name / doc_id
            if record.source_path and Path(record.source_path) == uploaded.resolve():
                uploaded.unlink(missing_ok=True)
            return True


_INGESTED = ("added", "updated", "unchanged")


@dataclass
class _Held:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class _NameLocks:
    """A lock per (collection, document name), made on demand and dropped when unused."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[tuple[str, str], _Held] = {}

    @contextmanager
    def hold(self, collection: str, names: Iterable[str]) -> Iterator[None]:
        """Hold the locks of ``names`` (taken in sorted order, so two callers cannot deadlock)."""
        keys = sorted({(collection, name) for name in names})
        with self._guard:
            entries = [self._held.setdefault(key, _Held()) for key in keys]
            for entry in entries:
                entry.users += 1
        taken: list[_Held] = []
        try:
            for entry in entries:
                entry.lock.acquire()
                taken.append(entry)
            yield
        finally:
            for entry in reversed(taken):
                entry.lock.release()
            with self._guard:
                for key, entry in zip(keys, entries):
                    entry.users -= 1
                    if entry.users == 0:
                        del self._held[key]


@dataclass(frozen=True)
class _Placed:
    """A file put in the uploads folder, and how to take it out again."""

    name: str
    source: Path
    target: Path
    backup: Path | None
    moved: bool

    @classmethod
    def put(cls, name: str, source: Path, target: Path, copy: bool) -> _Placed:
        """Move or copy ``source`` to ``target``, setting aside the file it replaces."""
        if source.resolve() == target.resolve():  # already in place: ingest it as it is
            return cls(name, source, target, None, moved=False)
        if not source.is_file():
            raise DocumentError(f"{name}: the uploaded file is gone")
        backup = None
        if target.exists() or target.is_symlink():
            backup = target.with_name(f".{name}.previous")
            os.replace(target, backup)
        try:
            (shutil.copyfile if copy else shutil.move)(source, target)
        except OSError as exc:
            if backup is not None:
                os.replace(backup, target)
            raise DocumentError(f"{name}: cannot store the uploaded file ({exc})") from exc
        return cls(name, source, target, backup, moved=not copy)

    def keep(self) -> None:
        if self.backup is not None:
            self.backup.unlink(missing_ok=True)

    def undo(self) -> None:
        """Take the file out (back to its source if it was moved); restore the one replaced."""
        if self.source.resolve() == self.target.resolve():
            return  # it was there before this call
        if self.moved:
            shutil.move(self.target, self.source)
        else:
            self.target.unlink(missing_ok=True)
        if self.backup is not None:
            os.replace(self.backup, self.target)


def _public_reason(reason: str, placed: _Placed, store: Store) -> str:
    """A sync's reason for an uploaded file, naming no path on the server."""
    if not reason:
        return reason
    other = store.get_document(placed.name)
    target = str(placed.target.resolve())
    held_elsewhere = other is not None and other.source_path not in ("", target)
    if held_elsewhere and other is not None and other.source_path in reason:
        return (  # the id is held by a file ingested from a folder on the server
            f"{placed.name}: a document of this name, ingested from another source, is "
            "already in the collection; upload it under another name, or remove that one"
        )
    return reason.replace(target, placed.name).replace(str(placed.target), placed.name)


def _public_progress(
    progress: FileProgressCallback, placed: list[_Placed], store: Store
) -> FileProgressCallback:
    """``progress`` hearing a sync's events for these uploaded files by their names."""
    by_name = {p.name: p for p in placed}

    def tell(event: FileProgress) -> None:
        p = by_name.get(event.document)
        if p is None:
            return  # not one of these files (nothing else is synced here)
        reason = _public_reason(event.reason, p, store)
        progress(replace(event, document=p.name, path=p.name, reason=reason))

    return tell


def _stored(store: Store, placed: _Placed) -> bool:
    """Whether the store holds exactly this placed file (checked after an error)."""
    try:
        record = store.get_document(placed.name)
        return record is not None and record.content_hash == content_hash(
            placed.target.read_bytes()
        )
    except (FootnotesError, OSError):
        return False
