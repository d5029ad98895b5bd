"""A process's local derived data, kept in step with the shared store by its change log.

The store (Chroma, embedded or a server that several processes share) is
the truth; each process keeps a lexical index (:mod:`index.lexical`, an
SQLite file in its store folder) derived from it. Before each question the
process reads the store's version (one call); if it moved, it reads the
changes logged since its own last one and re-reads only the documents they
name, never the whole store. A process that writes applies its own writes
at once, from the rows it just stored.

Applying a change means "make this document match the store now": the
current record decides (gone: drop it; another version: fetch that
version's sentences), so applying twice, late or out of order converges.
That is what lets the log be read with a margin (:data:`CLOCK_MARGIN_NS`)
for writers whose clocks differ, and a new replica start from the
catalogue. Hand-written because llama-index's docstore/ingestion cache
tracks one writer's own inputs, not other processes' writes to a store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from footnotes.index.lexical import LexicalIndex
from footnotes.index.store import DocumentRecord, Store
from footnotes.ingest.model import Document, Passage
from footnotes.settings import Settings

CLOCK_MARGIN_NS = 300 * 10**9
"""Changes are re-read from this long before the newest one applied (5 minutes): a writer
whose clock is behind may log a change that sorts before one already seen."""


class Replica:
    """The store of one collection, and this process's lexical index of it."""

    def __init__(self, store: Store, lexical: LexicalIndex) -> None:
        self.store = store
        self.lexical = lexical
        self._seen: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, store: Store, settings: Settings) -> Replica:
        return cls(store, LexicalIndex(settings.lexical_index(store.name)))

    # --- following the store ----------------------------------------------

    def refresh(self) -> int:
        """Catch up with the store's writes since the last look; how many documents were
        re-read. Costs one call to the store when nothing changed."""
        version = self.store.version()
        if version == self._seen:
            return 0
        with self._lock:
            if version == self._seen:
                return 0
            applied = self._catch_up()
            self._seen = version
            return applied

    def _catch_up(self) -> int:
        applied = 0
        identity = self.store.identity
        if self.lexical.state("store") != identity:  # new, or the store was made anew
            self.lexical.reset()
            started = time.time_ns()
            documents = [r.id for r in self.store.iter_documents()]
            applied += self._apply(documents)
            self.lexical.mark_applied([], {"store": identity, "seq": str(started)})
        since = int(self.lexical.state("seq") or 0)
        changes = self.store.changes_since(since - CLOCK_MARGIN_NS)
        done = self.lexical.applied([c.id for c in changes])
        new = [c for c in changes if c.id not in done]
        if new:
            applied += self._apply(list(dict.fromkeys(c.document_id for c in new)))
            newest = max([since] + [c.seq for c in new])
            self.lexical.mark_applied([(c.id, c.seq) for c in new], {"seq": str(newest)})
        return applied

    def _apply(self, document_ids: Sequence[str]) -> int:
        """Make the index match the store for these documents; how many were re-read."""
        reread = 0
        page = self.store.page_size
        for start in range(0, len(document_ids), page):
            batch = document_ids[start : start + page]
            records = self.store.documents(batch)
            for doc_id in batch:
                record = records.get(doc_id)
                local = self.lexical.document_version(doc_id)
                if record is None:
                    if local is not None:
                        self.lexical.remove_document(doc_id)
                elif local != record.version:
                    rows = self.store.sentences_of(doc_id, record.content_hash)
                    self.lexical.replace_document(
                        doc_id, record.content_hash, record.embed_model, rows, record.reading
                    )
                    reread += 1
        return reread

    # --- writes -----------------------------------------------------------

    def put(
        self, record: DocumentRecord, document: Document, passages: Sequence[Passage], vectors: Any
    ) -> None:
        """Store a document (see :meth:`Store.put_document`) and index it here at once."""
        self._start()
        written = self.store.put_document(record, document, passages, vectors)
        self.lexical.replace_document(
            record.id, record.content_hash, record.embed_model, written.sentences, record.reading
        )
        self.lexical.mark_applied([(written.change.id, written.change.seq)], {})

    def remove(self, doc_id: str) -> bool:
        """Remove a document from the store and from the index; False if it was not stored."""
        self._start()
        change = self.store.remove_document(doc_id)
        self.lexical.remove_document(doc_id)
        if change is None:
            return False
        self.lexical.mark_applied([(change.id, change.seq)], {})
        return True

    def reconcile(self, records: Iterable[DocumentRecord]) -> int:
        """Repair the change log from the catalogue ``records`` (all of them, as a writer
        reads them before a sync); how many documents needed it.

        A writer killed between a document's write and the change that announces it
        (or between a removal and its change) leaves the store right but the log short,
        so other processes would never re-read that document; its own index still
        holds the version before the write. So after catching up, every document whose
        indexed version differs from its record (or that has no record any more) is
        announced again and applied here. Harmless if another writer is merely midway:
        a change applied twice converges.
        """
        self._start()
        local = self.lexical.documents()
        stored = {r.id: r.version for r in records}
        unannounced = [d for d, version in stored.items() if local.get(d) != version]
        unannounced += [d for d in local if d not in stored]
        changes = [self.store.announce(doc_id) for doc_id in unannounced]
        self._apply(unannounced)
        self.lexical.mark_applied([(c.id, c.seq) for c in changes], {})
        return len(unannounced)

    def _start(self) -> None:
        """Follow the store before the first write, so that a new index is not later
        rebuilt from the store for want of knowing which store it follows."""
        if self._seen is None:
            self.refresh()

    # --- what the index knows ---------------------------------------------

    def document_count(self) -> int:
        return self.lexical.document_count()

    def embed_models(self) -> set[str]:
        return self.lexical.embed_models()
