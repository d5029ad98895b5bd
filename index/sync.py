"""Ingest as a sync: make the store match the files, embedding only what changed.

This module orchestrates; each step belongs elsewhere: discovery to
``ingest.discover``, parsing and splitting to ``ingest``, batching to
``index.batches``, rows and their schema to ``index.store``, the local
index to ``index.replica``. The catalogue is read once, a page at a time;
files are hashed and compared with it, and only new or changed files are
parsed. Ingest streams: sentences are embedded a window at a time across
documents (the encoder is the whole cost, so it is kept busy), and each
document is written as soon as its last sentence is embedded, so memory
holds one window and the documents it spans, whatever the corpus size. A
folder ingested again loses the documents whose files are gone. A bad file
fails alone.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from footnotes.errors import FootnotesError
from footnotes.index.batches import length_sorted_batches
from footnotes.index.embedding import token_lengths
from footnotes.index.replica import Replica
from footnotes.index.store import DocumentRecord
from footnotes.ingest.discover import Source, discover
from footnotes.ingest.limits import ParseLimits
from footnotes.ingest.loaders import READER_VERSION, file_hash
from footnotes.ingest.model import Document, Passage
from footnotes.ingest.passages import embedding_text
from footnotes.ingest.worker import InProcessParser, ParseJob, Parser
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

Status = Literal["added", "updated", "unchanged", "removed", "failed", "skipped"]
Progress = Callable[[int, int, int], None]
"""Called with (files done, files in all, sentences embedded so far)."""
Stage = Literal["reading", "embedding", "done", "failed", "skipped", "unchanged"]


@dataclass(frozen=True)
class FileProgress:
    """Where one file of a sync stands, as it moves on.

    A file to ingest is ``reading`` (hashed, compared, parsed), then ``embedding``
    (``embedded`` of its ``sentences`` so far, after every encoder batch that held
    some of them), then ``done`` once it is stored; or it ends ``failed`` or
    ``skipped`` with its ``reason``, or ``unchanged`` (nothing to embed). Files share
    encoder batches, so two files can be embedding at once.
    """

    document: str
    path: str
    stage: Stage
    embedded: int = 0
    sentences: int = 0
    reason: str = ""


FileProgressCallback = Callable[[FileProgress], None]
"""Called with each :class:`FileProgress` of a sync, in the thread that syncs."""

WINDOW_BATCHES = 64
"""Encoder batches in one window of texts sorted by length (see ``index.batches``)."""


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file or document in a sync."""

    document: str
    status: Status
    path: str = ""
    reason: str = ""
    passages: int = 0


@dataclass
class SyncReport:
    """Everything a sync did, file by file."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    embedded: int = 0

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def counts(self) -> dict[str, int]:
        names: tuple[Status, ...] = (
            "added",
            "updated",
            "unchanged",
            "removed",
            "failed",
            "skipped",
        )
        return {name: self.count(name) for name in names}

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0


@dataclass
class _Pending:
    """A parsed document waiting for its sentences' vectors."""

    source: Source
    document: Document
    passages: list[Passage]
    status: Status
    texts: int
    vectors: list[Any] = field(default_factory=list)
    embedded: int = 0  # sentences whose vectors are in ``vectors``
    told: int = 0  # sentences embedded so far, as reported batch by batch


class Ingestor:
    """Syncs files into a collection (its :class:`Replica`) with an embedding model."""

    def __init__(
        self,
        replica: Replica,
        embed_model: Callable[[], BaseEmbedding],
        settings: Settings,
        parser: Parser | None = None,
        write_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        """``embed_model`` is a factory: the model loads only if something must be embedded.

        ``parser`` parses each new or changed file (default: in this process); the edges
        that take untrusted files pass a :class:`~footnotes.ingest.worker.ParserPool` they
        own, and close it themselves. ``write_lock`` is held around each store write (a
        document put or removed), and only there: reading, parsing and embedding run
        outside it, so a slow or hostile file delays nobody else's writes (the server
        passes its library's lock).
        """
        self.replica = replica
        self.store = replica.store
        self._load_embed_model = embed_model
        self._embed_model: BaseEmbedding | None = None
        self.settings = settings
        self.parser: Parser = parser if parser is not None else InProcessParser()
        self.limits = ParseLimits.from_settings(settings)
        self._write_lock = write_lock if write_lock is not None else nullcontext()

    @property
    def embed_model(self) -> BaseEmbedding:
        if self._embed_model is None:
            self._embed_model = self._load_embed_model()
        return self._embed_model

    def sync(
        self,
        paths: Iterable[Path],
        progress: Progress | None = None,
        file_progress: FileProgressCallback | None = None,
    ) -> SyncReport:
        """Make the store match ``paths``; the report says what happened to each file.

        ``progress`` hears the whole run (files done, files, sentences embedded);
        ``file_progress`` hears each file move on (:class:`FileProgress`). Both are
        called in this thread, between steps, so they should be quick.
        """
        report = SyncReport()
        run = _Run(self, report, progress, file_progress)
        found = discover(paths)
        for r in found.rejected:
            status: Literal["failed", "skipped"] = "failed" if r.missing else "skipped"
            report.outcomes.append(FileOutcome(r.document, status, r.path, r.reason))
            run.tell(FileProgress(r.document, r.path, status, reason=r.reason))
        catalogue = {r.id: r for r in self.store.iter_documents()}
        self.replica.refresh()  # a first build of the local index can be long: not under the lock
        with self._write_lock:  # a writer killed before logging its last write: log it now
            self.replica.reconcile(catalogue.values())
            self.store.move_texts()  # once, from a store older than its texts collection
        run.start(len(found.sources))
        seen: set[str] = set()
        for source in found.sources:
            if source.doc_id in seen:
                reason = f"{source.path}: duplicate document id {source.doc_id!r} in this run"
                report.outcomes.append(
                    FileOutcome(source.doc_id, "failed", str(source.path), reason)
                )
                run.tell(FileProgress(source.doc_id, str(source.path), "failed", reason=reason))
            else:
                seen.add(source.doc_id)
                run.tell(FileProgress(source.doc_id, str(source.path), "reading"))
                item = self._prepare(source, catalogue.get(source.doc_id), run)
                if item is not None:
                    run.add(item)
            run.file_done()
        run.finish()
        for folder in found.folders:
            for record in catalogue.values():
                if record.source_root != str(folder) or record.id in seen:
                    continue
                with self._write_lock:
                    removed = self.replica.remove(record.id)
                if removed:
                    report.outcomes.append(FileOutcome(record.id, "removed", record.source_path))
        return report

    def _prepare(self, source: Source, stored: DocumentRecord | None, run: _Run) -> _Pending | None:
        """Hash the file; parse and split it only when it is new or changed. The file is
        hashed as it is read, never held whole here: a parser in a worker process reads it
        itself (an upload of 30 MB left the server 28 MB larger when it was read whole)."""

        report = run.report

        def fail(reason: str) -> None:
            report.outcomes.append(FileOutcome(source.doc_id, "failed", str(source.path), reason))
            run.tell(FileProgress(source.doc_id, str(source.path), "failed", reason=reason))

        try:
            digest = file_hash(source.path)
        except FileNotFoundError:
            fail(f"{source.path}: file vanished before it was read")
            return None
        except OSError as exc:
            fail(f"{source.path}: cannot read ({exc.strerror})")
            return None
        if stored is not None and _claimed_elsewhere(stored.source_path, source.path):
            fail(
                f"{source.path}: document id {source.doc_id!r} already belongs to "
                f"{stored.source_path}, which still exists; ingest one of them under another "
                "name or into another collection"
            )
            return None
        if (
            stored is not None
            and stored.content_hash == digest
            and stored.passage_words == self.settings.passage_words
            and stored.embed_model == self.settings.embed_identity()
            and stored.reader == READER_VERSION
        ):
            report.outcomes.append(
                FileOutcome(source.doc_id, "unchanged", str(source.path), passages=stored.passages)
            )
            run.tell(FileProgress(source.doc_id, str(source.path), "unchanged"))
            return None
        job = ParseJob(source.path, source.doc_id, self.limits, self.settings.passage_words)
        try:
            parsed = self.parser.parse(job)
            document, passages = parsed.document, parsed.passages
        except FootnotesError as exc:
            fail(str(exc))
            return None
        except Exception as exc:  # a parser's own bug on a strange file: that file fails alone
            fail(f"{source.path}: cannot read ({exc.__class__.__name__}: {exc})")
            return None
        texts = sum(len(p.sentences) for p in passages)
        return _Pending(source, document, passages, "added" if stored is None else "updated", texts)

    def _write(self, item: _Pending, run: _Run) -> None:
        import numpy as np

        doc = item.document
        record = DocumentRecord(
            id=doc.id,
            title=doc.title,
            format=doc.format,
            pages=doc.pages,
            passages=len(item.passages),
            content_hash=doc.content_hash,
            ingested_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source_root=item.source.root,
            source_path=str(item.source.path),
            passage_words=self.settings.passage_words,
            embed_model=self.settings.embed_identity(),
            reader=READER_VERSION,
        )
        vectors = np.concatenate(item.vectors) if item.vectors else np.zeros((0, 1), np.float32)
        with self._write_lock:
            self.replica.put(record, doc, item.passages, vectors)
        run.report.outcomes.append(
            FileOutcome(doc.id, item.status, str(item.source.path), passages=len(item.passages))
        )
        path = str(item.source.path)
        run.tell(FileProgress(item.source.doc_id, path, "done", item.texts, item.texts))


class _Run:
    """One sync's stream: texts queued across documents, embedded a window at a time,
    each document written once all its sentences are embedded (in file order)."""

    def __init__(
        self,
        ingestor: Ingestor,
        report: SyncReport,
        progress: Progress | None,
        file_progress: FileProgressCallback | None,
    ) -> None:
        self.ingestor = ingestor
        self.report = report
        self.progress = progress
        self.file_progress = file_progress
        self.files = 0
        self.files_done = 0
        self.window = max(ingestor.settings.embed_batch_size * WINDOW_BATCHES, 64)
        self.pending: deque[_Pending] = deque()  # in file order, each awaiting vectors
        self.queue: deque[tuple[_Pending, str]] = deque()  # texts not yet embedded

    def start(self, files: int) -> None:
        self.files = files
        if self.progress:
            self.progress(0, files, 0)

    def tell(self, event: FileProgress) -> None:
        if self.file_progress:
            self.file_progress(event)

    def add(self, item: _Pending) -> None:
        self.tell(
            FileProgress(item.source.doc_id, str(item.source.path), "embedding", 0, item.texts)
        )
        self.pending.append(item)
        text = item.document.text
        context = self.ingestor.settings.embed_context
        self.queue.extend(
            (item, embedding_text(p, text[a:b]) if context else text[a:b])
            for p in item.passages
            for a, b in p.sentences
        )
        while len(self.queue) >= self.window:
            self._embed(self.window)
        self._write_ready()

    def file_done(self) -> None:
        self.files_done += 1
        if self.progress:
            self.progress(self.files_done, self.files, self.report.embedded)

    def finish(self) -> None:
        while self.queue:
            self._embed(self.window)
        self._write_ready()

    def _embed(self, count: int) -> None:
        import numpy as np

        chunk = [self.queue.popleft() for _ in range(min(count, len(self.queue)))]
        texts = [text for _, text in chunk]
        model = self.ingestor.embed_model
        size = self.ingestor.settings.embed_batch_size
        vectors: list[Any] = [None] * len(chunk)
        for batch in length_sorted_batches(token_lengths(model, texts), size):
            embedded = model.get_text_embedding_batch([texts[i] for i in batch])
            for i, vector in zip(batch, embedded, strict=True):
                vectors[i] = vector
            self.report.embedded += len(batch)
            if self.progress:
                self.progress(self.files_done, self.files, self.report.embedded)
            if self.file_progress:
                self._tell_embedded([chunk[i][0] for i in batch])
        # Texts are queued in document order, so each document's vectors arrive in order.
        start = 0
        while start < len(chunk):
            item = chunk[start][0]
            end = start
            while end < len(chunk) and chunk[end][0] is item:
                end += 1
            item.vectors.append(np.asarray(vectors[start:end], dtype=np.float32))
            item.embedded += end - start
            start = end

    def _tell_embedded(self, items: list[_Pending]) -> None:
        """An ``embedding`` event for each document with sentences in this batch."""
        touched: dict[int, _Pending] = {}
        for item in items:
            item.told += 1
            touched[id(item)] = item
        for item in touched.values():
            doc, path = item.source.doc_id, str(item.source.path)
            self.tell(FileProgress(doc, path, "embedding", item.told, item.texts))

    def _write_ready(self) -> None:
        while self.pending and self.pending[0].embedded == self.pending[0].texts:
            self.ingestor._write(self.pending.popleft(), self)


def _claimed_elsewhere(stored_path: str, path: Path) -> bool:
    """Whether a stored document with this id came from another file that is still there.

    Ids are relative paths, so two folders (or a folder and a file named
    directly) can produce the same id; the second must not silently replace the
    first. A stored file that is gone (moved, renamed) may be replaced.
    """
    if not stored_path or Path(stored_path) == path:
        return False
    return Path(stored_path).exists()
