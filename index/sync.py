"""Ingest as a sync: make the store match the files, embedding only what changed.

Files are discovered, hashed and compared with the store's catalogue; only
new or changed files are parsed, and their passages are embedded together in
large batches (the encoder is the whole cost of ingest, so it is kept busy
across documents). Each document is written as soon as its embeddings are
ready, old passages dropped only after new ones are stored. A folder ingested
again loses the documents whose files are gone. A bad file fails alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from footnotes.errors import FootnotesError
from footnotes.index.embedding import token_lengths
from footnotes.index.store import DocumentRecord, SentenceRow, Store, passage_node
from footnotes.ingest.loaders import FORMATS, content_hash, file_format, load
from footnotes.ingest.model import Document, Passage
from footnotes.ingest.passages import split_passages
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

Status = Literal["added", "updated", "unchanged", "removed", "failed", "skipped"]
Progress = Callable[[int, int], None]
"""Called with (sentences embedded so far, sentences to embed in all)."""


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


@dataclass(frozen=True)
class _Source:
    path: Path
    doc_id: str
    root: str  # the folder it was found in, "" for a file named directly


@dataclass
class _Pending:
    source: _Source
    document: Document
    passages: list[Passage]
    status: Status
    embeddings: list[list[float]] = field(default_factory=list)


def discover(paths: Iterable[Path], report: SyncReport) -> tuple[list[_Source], list[Path]]:
    """Files to ingest (supported types, folders walked recursively) and the folders given."""
    sources: list[_Source] = []
    folders: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            root = path.resolve()
            folders.append(root)
            for file in sorted(_walk(root)):
                rel = file.relative_to(root).as_posix()
                if file.suffix.lower() not in FORMATS:
                    report.outcomes.append(
                        FileOutcome(
                            rel,
                            "skipped",
                            str(file),
                            f"unsupported type {file.suffix or '(none)'!r}",
                        )
                    )
                    continue
                sources.append(_Source(file, rel, str(root)))
        elif path.is_file():
            try:
                file_format(path)
            except FootnotesError as exc:
                report.outcomes.append(FileOutcome(path.name, "skipped", str(path), str(exc)))
                continue
            sources.append(_Source(path.resolve(), path.name, ""))
        else:
            report.outcomes.append(
                FileOutcome(path.name, "failed", str(path), f"{path}: no such file or folder")
            )
    return sources, folders


def _walk(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath) / name


class Ingestor:
    """Syncs files into a :class:`Store` with an embedding model."""

    def __init__(
        self, store: Store, embed_model: Callable[[], BaseEmbedding], settings: Settings
    ) -> None:
        """``embed_model`` is a factory: the model loads only if something must be embedded."""
        self.store = store
        self._load_embed_model = embed_model
        self._embed_model: BaseEmbedding | None = None
        self.settings = settings

    @property
    def embed_model(self) -> BaseEmbedding:
        if self._embed_model is None:
            self._embed_model = self._load_embed_model()
        return self._embed_model

    def sync(self, paths: Iterable[Path], progress: Progress | None = None) -> SyncReport:
        report = SyncReport()
        sources, folders = discover(paths, report)
        seen: set[str] = set()
        pending: list[_Pending] = []
        for source in sources:
            if source.doc_id in seen:
                report.outcomes.append(
                    FileOutcome(
                        source.doc_id,
                        "failed",
                        str(source.path),
                        f"{source.path}: duplicate document id {source.doc_id!r} in this run",
                    )
                )
                continue
            seen.add(source.doc_id)
            item = self._prepare(source, report)
            if item is not None:
                pending.append(item)
        self._embed_and_store(pending, report, progress)
        for folder in folders:
            self._remove_gone(str(folder), seen, report)
        return report

    def _prepare(self, source: _Source, report: SyncReport) -> _Pending | None:
        """Hash the file; parse and split it only when it is new or changed."""
        try:
            data = source.path.read_bytes()
        except FileNotFoundError:
            report.outcomes.append(
                FileOutcome(
                    source.doc_id,
                    "failed",
                    str(source.path),
                    f"{source.path}: file vanished before it was read",
                )
            )
            return None
        except OSError as exc:
            report.outcomes.append(
                FileOutcome(
                    source.doc_id,
                    "failed",
                    str(source.path),
                    f"{source.path}: cannot read ({exc.strerror})",
                )
            )
            return None
        stored = self.store.get_document(source.doc_id)
        if stored is not None and _claimed_elsewhere(stored.source_path, source.path):
            reason = (
                f"{source.path}: document id {source.doc_id!r} already belongs to "
                f"{stored.source_path}, which still exists; ingest one of them under another "
                "name or into another collection"
            )
            report.outcomes.append(FileOutcome(source.doc_id, "failed", str(source.path), reason))
            return None
        if (
            stored is not None
            and stored.content_hash == content_hash(data)
            and stored.passage_words == self.settings.passage_words
            and stored.embed_model == self.settings.embed_model
        ):
            report.outcomes.append(
                FileOutcome(source.doc_id, "unchanged", str(source.path), passages=stored.passages)
            )
            return None
        try:
            document = load(source.path, source.doc_id, data)
            passages = split_passages(document, self.settings.passage_words)
        except FootnotesError as exc:
            report.outcomes.append(FileOutcome(source.doc_id, "failed", str(source.path), str(exc)))
            return None
        except Exception as exc:  # a parser's own bug on a strange file: that file fails alone
            reason = f"{source.path}: cannot read ({exc.__class__.__name__}: {exc})"
            report.outcomes.append(FileOutcome(source.doc_id, "failed", str(source.path), reason))
            return None
        return _Pending(source, document, passages, "added" if stored is None else "updated")

    def _embed_and_store(
        self, pending: list[_Pending], report: SyncReport, progress: Progress | None
    ) -> None:
        queue = [(item, text) for item in pending for text in sentence_texts(item)]
        total = len(queue)
        size = self.settings.embed_batch_size
        # Texts are embedded a window at a time, longest first: each encoder batch is padded
        # to its longest text, so batches cut in document order cost about twice the compute.
        # Length is counted in tokens (see embedding.token_lengths): sorting by characters, as
        # SentenceTransformer.encode does, still leaves ~1.7x on sentences of prose and code.
        # A window of 64 batches sorts about as well as sorting everything, yet documents
        # are still written as each window ends.
        window = max(size * 64, 64)
        done = 0
        written = 0
        if progress:
            progress(0, total)
        while done < total:
            chunk = queue[done : done + window]
            lengths = token_lengths(self.embed_model, [text for _, text in chunk])
            order = sorted(range(len(chunk)), key=lambda i: -lengths[i])
            vectors: list[list[float]] = [[] for _ in chunk]
            for start in range(0, len(order), size):
                part = order[start : start + size]
                embedded = self.embed_model.get_text_embedding_batch([chunk[i][1] for i in part])
                for i, vector in zip(part, embedded, strict=True):
                    vectors[i] = vector
                if progress and start + len(part) < len(chunk):
                    progress(done + start + len(part), total)
            for (item, _), vector in zip(chunk, vectors, strict=True):
                item.embeddings.append(vector)
            done += len(chunk)
            report.embedded = done
            while written < len(pending) and (
                len(pending[written].embeddings)
                == sum(len(p.sentences) for p in pending[written].passages)
            ):
                self._write(pending[written], report)
                written += 1
            if progress:
                progress(done, total)
        for item in pending[written:]:  # documents with nothing to embed
            self._write(item, report)

    def _write(self, item: _Pending, report: SyncReport) -> None:
        import numpy as np

        doc = item.document
        prefix = f"{doc.id}#{doc.content_hash[:12]}"
        vectors = iter(item.embeddings)
        nodes = []
        rows: list[SentenceRow] = []
        for p in item.passages:
            passage_id = f"{prefix}:{p.index}"
            shared: dict[str, str | int] = {
                "title": doc.title,
                "section": p.section or "",
                "page": p.page if p.page is not None else "",
                "format": doc.format,
                "content_hash": doc.content_hash,
            }
            sentence_vectors = []
            for s_start, s_end in p.sentences:
                vector = next(vectors)
                sentence_vectors.append(vector)
                rows.append(
                    SentenceRow(
                        id=f"{passage_id}/{s_start}",
                        text=doc.text[s_start:s_end],
                        embedding=vector,
                        metadata={
                            **shared,
                            "document_id": doc.id,
                            "passage_id": passage_id,
                            "position": len(rows),
                            "start": s_start,
                            "end": s_end,
                        },
                    )
                )
            mean = np.mean(np.asarray(sentence_vectors, dtype=np.float32), axis=0)
            mean /= max(float(np.linalg.norm(mean)), 1e-12)
            nodes.append(
                passage_node(
                    passage_id=passage_id,
                    text=p.text,
                    embedding=[float(x) for x in mean],
                    metadata={**shared, "start": p.start, "end": p.end},
                    document_id=doc.id,
                    start=p.start,
                    end=p.end,
                )
            )
        record = DocumentRecord(
            id=doc.id,
            title=doc.title,
            format=doc.format,
            pages=doc.pages,
            passages=len(nodes),
            content_hash=doc.content_hash,
            ingested_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            source_root=item.source.root,
            source_path=str(item.source.path),
            passage_words=self.settings.passage_words,
            embed_model=self.settings.embed_model,
        )
        self.store.put_document(record, doc.text, nodes, rows)
        report.outcomes.append(
            FileOutcome(doc.id, item.status, str(item.source.path), passages=len(nodes))
        )

    def _remove_gone(self, root: str, present: set[str], report: SyncReport) -> None:
        for record in self.store.list_documents():
            if record.source_root == root and record.id not in present:
                self.store.remove_document(record.id)
                report.outcomes.append(FileOutcome(record.id, "removed", record.source_path))


def _claimed_elsewhere(stored_path: str, path: Path) -> bool:
    """Whether a stored document with this id came from another file that is still there.

    Ids are relative paths, so two folders (or a folder and a file named
    directly) can produce the same id; the second must not silently replace the
    first. A stored file that is gone (moved, renamed) may be replaced.
    """
    if not stored_path or Path(stored_path) == path:
        return False
    return Path(stored_path).exists()


def sentence_texts(item: _Pending) -> list[str]:
    """What is embedded for a document: each of its sentences, in order."""
    text = item.document.text
    return [text[a:b] for p in item.passages for a, b in p.sentences]
