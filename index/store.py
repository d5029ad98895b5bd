"""The store: every document's passages, sentences, full text and catalogue entry, in Chroma.

Five Chroma collections per Footnotes collection:

* ``NAME``: passages, as llama-index ``TextNode`` with character offsets,
  written, read and deleted through llama-index's public ``ChromaVectorStore``
  API (``add``, ``get_nodes``, ``delete_nodes``, ``delete``). A passage's
  vector is the normalised mean of its sentences'. Footnotes retrieves
  sentences, not passages (passage similarity fused in lowered the page hit,
  README), but keeps this collection a valid llama-index vector store so any
  llama-index retriever or query engine can be pointed at it
  (``VectorStoreIndex.from_vector_store``); it costs one row per eight
  sentences.
* ``NAME.sentences``: every sentence with its own embedding, the unit of
  retrieval and citation.
* ``NAME.documents``: one catalogue entry per document (metadata only).
* ``NAME.texts``: every document's full text, one row per document version (its
  id names the content hash), so a citation can be shown in context from any
  process. Not in the catalogue's rows: Chroma reads a row's document with its
  metadata, so at 30k passages every catalogue read (each upload, each listing)
  carried 16 MB of text and took 0.65 s; without it, 0.01 s. A store written
  before keeps the text in the catalogue row until the document is written again
  (:meth:`Store.document_text` reads either).
* ``NAME.changes``: one row per write (document put or removed). Its count is
  the store's **version**, read in one call; a process whose derived data
  (the lexical index, :mod:`index.replica`) is at an older version reads the
  changes since then, never the whole store.

This module owns the rows' schema in both directions: what a row's metadata
holds, and how it is read back (Chroma has no null: absent values are "").
Every read is paged or batched (``page_size`` rows or ids a call), within
SQLite's variable limit; no call fetches a whole collection. A Chroma server
that cannot be reached raises :class:`StoreUnavailable`, never "not found".
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast
from urllib.parse import urlparse

from footnotes.errors import NotFound, StoreError, StoreUnavailable
from footnotes.ingest.model import Document, Passage
from footnotes.settings import RESERVED_SUFFIXES, Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import BaseNode
    from llama_index.vector_stores.chroma import ChromaVectorStore

OWN_SUFFIXES = RESERVED_SUFFIXES
DOCS_SUFFIX, SENTENCES_SUFFIX, CHANGES_SUFFIX, TEXTS_SUFFIX = OWN_SUFFIXES

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class DocumentRecord:
    """The catalogue entry of one stored document."""

    id: str
    title: str
    format: str
    pages: int | None
    passages: int
    content_hash: str
    ingested_at: str
    source_root: str
    source_path: str
    passage_words: int
    embed_model: str = ""
    reader: int = 0
    """The loaders' ``READER_VERSION`` that read it (0: a store older than the field)."""

    @property
    def reading(self) -> str:
        """How the file was read into passages (reader version, passage size): with the
        content hash and the model, what makes one stored version differ from another."""
        return f"{self.reader}/{self.passage_words}"

    @property
    def version(self) -> tuple[str, str, str]:
        """What a replica compares with the version it indexed (``LexicalIndex``)."""
        return (self.content_hash, self.embed_model, self.reading)

    def public(self) -> dict[str, Any]:
        """What ``footnotes docs --json`` and ``GET /api/documents`` show: no server paths."""
        return {name: getattr(self, name) for name in PUBLIC_FIELDS}


PUBLIC_FIELDS = ("id", "title", "format", "pages", "passages", "content_hash", "ingested_at")


@dataclass(frozen=True)
class PassageHit:
    """A stored passage, with its cosine similarity when it came from a search."""

    id: str
    document_id: str
    title: str
    section: str | None
    page: int | None
    start: int
    end: int
    text: str
    score: float = 0.0
    format: str = ""  # the document's format (``txt``, ``md``...); "" where not read


@dataclass(frozen=True)
class SentenceHit:
    """A stored sentence, the unit of retrieval and citation, with its scores."""

    id: str
    document_id: str
    passage_id: str
    position: int  # the sentence's index in its document
    title: str
    section: str | None
    page: int | None
    start: int
    end: int
    text: str
    dense: float = 0.0
    lexical: float = 0.0
    score: float = 0.0
    content_hash: str = ""  # the document version the row belongs to ("" where not read)


@dataclass(frozen=True)
class Change:
    """One write to the store: a document put (added, replaced) or removed."""

    id: str
    seq: int  # the writer's clock, in nanoseconds
    document_id: str


@dataclass(frozen=True)
class Written:
    """What :meth:`Store.put_document` stored: its change and the sentences, in order."""

    change: Change
    sentences: list[SentenceHit]


def reachable(call: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn a failure to reach a Chroma server into :class:`StoreUnavailable`."""

    @functools.wraps(call)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return call(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            if _is_unreachable(exc):
                raise StoreUnavailable(f"the Chroma server cannot be reached ({exc})") from exc
            raise

    return wrapper


def _is_unreachable(exc: BaseException) -> bool:
    import httpx

    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return True
    text = str(exc).lower()
    return "could not connect" in text or "connection refused" in text


@reachable
def make_client(settings: Settings) -> ClientAPI:
    """A Chroma client for the settings: embedded by default, HTTP with a URL. Telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"chroma URL {settings.chroma_url!r} is not an http(s) URL")
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises ValueError/ConnectionError variants
            raise StoreUnavailable(
                f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
            ) from exc
    settings.store.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.store), settings=chroma_settings)


class Store:
    """The passages, sentences, documents and change log of one collection."""

    @reachable
    def __init__(
        self, client: ClientAPI, name: str, create: bool = True, page_size: int = 1000
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be positive (got {page_size})")
        self.client = client
        self.name = name
        self.page_size = page_size
        self._passages = self._collection(name, create)
        self._documents = self._collection(name + DOCS_SUFFIX, create)
        self._sentences = self._collection(name + SENTENCES_SUFFIX, create)
        self._changes = self._collection(name + CHANGES_SUFFIX, True)
        self._texts = self._collection(name + TEXTS_SUFFIX, True)  # new in stores before it

    @classmethod
    def from_settings(
        cls, settings: Settings, create: bool = True, client: ClientAPI | None = None
    ) -> Store:
        """Open (or, with ``create``, create) the configured collection."""
        return cls(
            client if client is not None else make_client(settings),
            settings.collection,
            create=create,
            page_size=settings.read_batch_size,
        )

    def _collection(self, name: str, create: bool) -> Collection:
        config: Any = {"hnsw": {"space": "cosine"}}
        try:
            if create:
                return self.client.get_or_create_collection(
                    name, configuration=config, embedding_function=None
                )
            return self.client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if _is_unreachable(exc):
                raise
            if not create and "does not exist" in str(exc).lower():
                raise NotFound(
                    f"collection {self.name!r} does not exist; ingest documents into it first"
                ) from exc
            raise StoreError(f"cannot open collection {name!r}: {exc}") from exc

    def _vector_store(self) -> ChromaVectorStore:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self._passages)

    @property
    def identity(self) -> str:
        """Names this store's history: a collection made anew (a wiped server) has another."""
        return str(self._changes.id)

    # --- paging -----------------------------------------------------------

    def _pages(
        self, collection: Collection, where: dict[str, Any] | None, include: list[str]
    ) -> Iterator[dict[str, Any]]:
        """A ``get`` of every matching row, ``page_size`` rows a call."""
        offset = 0
        while True:
            got = collection.get(
                where=cast("Any", where),
                include=cast("Any", include),
                limit=self.page_size,
                offset=offset,
            )
            ids = got["ids"]
            if ids:
                yield cast("dict[str, Any]", got)
            if len(ids) < self.page_size:
                return
            offset += len(ids)

    def _by_ids(
        self, collection: Collection, ids: Sequence[str], include: list[str]
    ) -> Iterator[dict[str, Any]]:
        """A ``get`` of the rows with these ids, ``page_size`` ids a call."""
        for start in range(0, len(ids), self.page_size):
            part = list(ids[start : start + self.page_size])
            yield cast("dict[str, Any]", collection.get(ids=part, include=cast("Any", include)))

    # --- documents --------------------------------------------------------

    @reachable
    def get_document(self, doc_id: str) -> DocumentRecord | None:
        return self.documents([doc_id]).get(doc_id)

    @reachable
    def documents(self, ids: Sequence[str]) -> dict[str, DocumentRecord]:
        """The records of the stored documents among ``ids`` (batched reads)."""
        out = {}
        for got in self._by_ids(self._documents, ids, ["metadatas"]):
            for doc_id, meta in zip(got["ids"], got["metadatas"] or []):
                out[doc_id] = _record(doc_id, meta)
        return out

    @reachable
    def iter_documents(self) -> Iterator[DocumentRecord]:
        """Every document record, a page at a time (metadata only, never the texts)."""
        for got in self._pages(self._documents, None, ["metadatas"]):
            for doc_id, meta in zip(got["ids"], got["metadatas"] or []):
                yield _record(doc_id, meta)

    def list_documents(self) -> list[DocumentRecord]:
        """The catalogue, sorted by id: O(documents) records, for listings and sync."""
        return sorted(self.iter_documents(), key=lambda r: r.id)

    @reachable
    def document_text(self, doc_id: str) -> str:
        """The stored document's full text, the one its passages' offsets point into."""
        record = self.get_document(doc_id)
        if record is not None:
            got = self._texts.get(ids=[_text_id(record)], include=["documents"])
            texts = got["documents"] or []
            if texts and texts[0] is not None:
                return texts[0]
            got = self._documents.get(ids=[doc_id], include=["documents"])  # an older store
            texts = got["documents"] or []
            if texts and texts[0]:
                return texts[0]
        raise NotFound(f"document {doc_id!r} is not in collection {self.name!r}")

    @reachable
    def passage_count(self) -> int:
        return self._passages.count()

    @reachable
    def sentence_count(self) -> int:
        return self._sentences.count()

    # --- writes -----------------------------------------------------------

    @reachable
    def put_document(
        self, record: DocumentRecord, document: Document, passages: Sequence[Passage], vectors: Any
    ) -> Written:
        """Store a document's passages and sentences (``vectors``: one per sentence, in
        order), drop those of an older version, write its record, then log the change.

        New rows carry the new content hash in their ids, so a crash midway
        leaves the old version whole, and a rerun finishes the job. Readers
        that follow the change log see the document only once all is written.
        """
        import numpy as np

        matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, _dimension(vectors))
        sentences, metas, nodes = _rows(record, document, passages, matrix)
        ids = [s.id for s in sentences]
        previous = self.get_document(record.id)
        # Row ids name the content, not the model or the reading: only a new model's vectors
        # or a new reading (another reader version or passage size: other text at the same
        # ids) replace rows of the same ids (upsert); otherwise an id already stored holds
        # these very rows (a rerun after a crash), and ``add``, which skips it, is cheaper.
        remodel = previous is not None and (
            previous.embed_model != record.embed_model or previous.reading != record.reading
        )
        store = self._vector_store()
        if remodel:
            store.delete_nodes(node_ids=[n.node_id for n in nodes])
        write = self._sentences.upsert if remodel else self._sentences.add
        for start in range(0, len(sentences), _WRITE_BATCH):
            end = start + _WRITE_BATCH
            write(
                ids=ids[start:end],
                embeddings=matrix[start:end],
                metadatas=cast("Any", metas[start:end]),
            )
        for start in range(0, len(nodes), _WRITE_BATCH):
            store.add(cast("list[BaseNode]", nodes[start : start + _WRITE_BATCH]))
        keep_passages = {n.node_id for n in nodes}
        keep_sentences = set(ids)
        for collection, keep in (
            (self._passages, keep_passages),
            (self._sentences, keep_sentences),
        ):
            stale = [
                i
                for got in self._pages(collection, {"document_id": record.id}, [])
                for i in got["ids"]
                if i not in keep
            ]
            for start in range(0, len(stale), self.page_size):
                collection.delete(ids=stale[start : start + self.page_size])
        text_id = _text_id(record)
        self._texts.upsert(
            ids=[text_id],
            documents=[document.text],
            metadatas=[{"document_id": record.id}],
            embeddings=_ONE,
        )
        meta = {k: ("" if v is None else v) for k, v in asdict(record).items() if k != "id"}
        # The record points at the new text and rows from here on. Its row holds no text
        # (documents=[""] clears what an older store kept there; an upsert without
        # documents would keep it).
        self._documents.upsert(ids=[record.id], documents=[""], metadatas=[meta], embeddings=_ONE)
        stale = [
            i
            for got in self._pages(self._texts, {"document_id": record.id}, [])
            for i in got["ids"]
            if i != text_id
        ]
        if stale:
            self._texts.delete(ids=stale)
        return Written(self._log(record.id), sentences)

    @reachable
    def remove_document(self, doc_id: str) -> Change | None:
        """Remove a document and all its rows; ``None`` if it was not stored."""
        if self.get_document(doc_id) is None:
            return None
        self._vector_store().delete(ref_doc_id=doc_id)
        self._sentences.delete(where={"document_id": doc_id})
        self._documents.delete(ids=[doc_id])
        self._texts.delete(where={"document_id": doc_id})
        return self._log(doc_id)

    @reachable
    def move_texts(self) -> int:
        """Move the texts a store written before ``NAME.texts`` kept in its catalogue rows
        into ``NAME.texts``; how many were moved. One count per collection when there is
        nothing to move; otherwise a page at a time, each text written before its
        catalogue row is cleared, so a crash midway loses none."""
        if self._texts.count() >= self._documents.count():
            return 0
        moved = 0
        for got in self._pages(self._documents, None, ["documents", "metadatas"]):
            ids, texts, metas = [], [], []
            for doc_id, text, meta in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
            ):
                if text:
                    ids.append(doc_id)
                    texts.append(text)
                    metas.append(meta)
            if not ids:
                continue
            records = [_record(doc_id, meta) for doc_id, meta in zip(ids, metas, strict=True)]
            self._texts.upsert(
                ids=[_text_id(r) for r in records],
                documents=texts,
                metadatas=[{"document_id": r.id} for r in records],
                embeddings=_ONE * len(ids),
            )
            # ``update`` leaves the metadata as it is now (another process may have written)
            self._documents.update(ids=ids, documents=[""] * len(ids), embeddings=_ONE * len(ids))
            moved += len(ids)
        return moved

    @reachable
    def announce(self, doc_id: str) -> Change:
        """Log a change for a document without writing it: how a writer repairs the log
        when it finds a write that was never logged (its writer killed in between)."""
        return self._log(doc_id)

    def _log(self, doc_id: str) -> Change:
        seq = time.time_ns()
        change = Change(f"{seq:020d}-{uuid.uuid4().hex[:12]}", seq, doc_id)
        self._changes.add(
            ids=[change.id],
            metadatas=[{"seq": seq, "document_id": doc_id}],
            embeddings=_ONE,
        )
        return change

    # --- the change log ---------------------------------------------------

    @reachable
    def version(self) -> int:
        """Bumped by every write; one cheap call."""
        return self._changes.count()

    @reachable
    def changes_since(self, seq: int) -> list[Change]:
        """The changes logged at or after ``seq`` (writer clock, ns), oldest first."""
        out = [
            Change(cid, int(meta["seq"]), str(meta["document_id"]))
            for got in self._pages(self._changes, {"seq": {"$gte": seq}}, ["metadatas"])
            for cid, meta in zip(got["ids"], got["metadatas"] or [])
        ]
        return sorted(out, key=lambda c: (c.seq, c.id))

    # --- reads for retrieval ---------------------------------------------

    @reachable
    def search_sentences(
        self, embedding: Sequence[float], k: int, within: Sequence[str] | None = None
    ) -> list[SentenceHit]:
        """The ``k`` sentences most similar to ``embedding`` (cosine in ``dense``); ``within``:
        only those of these documents."""
        import numpy as np

        got = self._sentences.query(
            query_embeddings=np.asarray([embedding], dtype=np.float32),
            n_results=k,
            where=cast("Any", {"document_id": {"$in": list(within)}}) if within else None,
            include=cast("Any", ["documents", "metadatas", "distances"]),
        )
        return [
            _sentence(sid, text or "", meta, 1.0 - float(dist))
            for sid, text, meta, dist in zip(
                got["ids"][0],
                (got["documents"] or [[]])[0],
                (got["metadatas"] or [[]])[0],
                (got["distances"] or [[]])[0],
            )
        ]

    @reachable
    def sentences_of(self, doc_id: str, content_hash: str) -> Iterator[SentenceHit]:
        """The stored sentences of one version of a document, a page at a time."""
        where = {"$and": [{"document_id": doc_id}, {"content_hash": content_hash}]}
        for got in self._pages(self._sentences, where, ["documents", "metadatas"]):
            for sid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or []):
                yield _sentence(sid, text or "", meta, 0.0)

    @reachable
    def sentence_embeddings(self, ids: Sequence[str]) -> list[list[float]]:
        """Stored embeddings of the given sentences, in the order asked ([] where gone)."""
        by_id: dict[str, list[float]] = {}
        for got in self._by_ids(self._sentences, ids, ["embeddings"]):
            vectors = got["embeddings"] if got["embeddings"] is not None else []
            by_id.update((i, list(v)) for i, v in zip(got["ids"], vectors))
        return [by_id.get(i, []) for i in ids]

    @reachable
    def passages_by_id(self, ids: Sequence[str]) -> dict[str, PassageHit]:
        """The stored passages with these ids (missing ones are left out)."""
        out: dict[str, PassageHit] = {}
        store = self._vector_store()
        for start in range(0, len(ids), self.page_size):
            for node in store.get_nodes(node_ids=list(ids[start : start + self.page_size])):
                out[node.node_id] = _passage(node)
        return out

    @reachable
    def iter_passages(self) -> Iterator[PassageHit]:
        """Every stored passage, a page at a time (checks and tests)."""
        for got in self._pages(self._passages, None, ["documents", "metadatas"]):
            for pid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or []):
                yield PassageHit(
                    id=pid,
                    document_id=str(meta.get("document_id", "")),
                    title=str(meta.get("title", "")),
                    section=_optional_str(meta.get("section")),
                    page=_optional_int(meta.get("page")),
                    start=int(meta["start"]),
                    end=int(meta["end"]),
                    text=text or "",
                    format=str(meta.get("format", "")),
                )


_WRITE_BATCH = 1000
_ONE: Any = [[1.0]]  # the documents and changes collections need a vector; they are never queried


def _dimension(vectors: Any) -> int:
    import numpy as np

    shape = np.shape(vectors)
    return int(shape[-1]) if len(shape) == 2 and shape[0] else 1


def _text_id(record: DocumentRecord) -> str:
    return f"{record.id}#{record.content_hash}"


def _sentence_id(passage_id: str, start: int) -> str:
    return f"{passage_id}/{start}"


def _passage_id(document: Document, index: int) -> str:
    return f"{document.id}#{document.content_hash[:12]}:{index}"


def _rows(
    record: DocumentRecord, document: Document, passages: Sequence[Passage], matrix: Any
) -> tuple[list[SentenceHit], list[dict[str, str | int]], list[Any]]:
    """The sentence rows (typed and as Chroma metadata) and passage nodes of a document."""
    import numpy as np
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    sentences: list[SentenceHit] = []
    metas: list[dict[str, str | int]] = []
    nodes = []
    for p in passages:
        pid = _passage_id(document, p.index)
        shared: dict[str, str | int] = {
            "title": document.title,
            "section": p.section or "",
            "page": p.page if p.page is not None else "",
            "format": document.format,
            "content_hash": document.content_hash,
        }
        first = len(sentences)
        for start, end in p.sentences:
            sentences.append(
                SentenceHit(
                    id=_sentence_id(pid, start),
                    document_id=document.id,
                    passage_id=pid,
                    position=len(sentences),
                    title=document.title,
                    section=p.section,
                    page=p.page,
                    start=start,
                    end=end,
                    text=document.text[start:end],
                )
            )
            metas.append(_sentence_meta(sentences[-1], document.content_hash))
        mean = matrix[first : len(sentences)].mean(axis=0)
        mean = mean / max(float(np.linalg.norm(mean)), 1e-12)
        nodes.append(
            TextNode(
                id_=pid,
                text=p.text,
                embedding=[float(x) for x in mean],
                metadata={**shared, "start": p.start, "end": p.end},
                start_char_idx=p.start,
                end_char_idx=p.end,
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=record.id)},
            )
        )
    if len(sentences) != len(matrix):
        raise ValueError(f"{len(matrix)} vectors for {len(sentences)} sentences of {record.id}")
    return sentences, metas, nodes


def _optional_int(value: Any) -> int | None:
    """A metadata value Chroma stores as "" when absent (it has no null)."""
    return int(value) if value not in (None, "") else None


def _optional_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _sentence_meta(hit: SentenceHit, content_hash: str) -> dict[str, str | int]:
    """A sentence row's metadata: the two keys reads filter on, and the rest in one JSON
    string with the text. Chroma writes each metadata key as a row of its own and indexes
    ``documents`` for full-text search (which Footnotes does not use: ``index.lexical``
    ranks): at 384 dimensions this shape wrote 1.4-1.5x the rows/s of ten keys and the
    text as a document (1,983 against 1,322, alternated runs on this machine)."""
    row = [hit.passage_id, hit.position, hit.start, hit.end, hit.page, hit.section, hit.title]
    return {
        "document_id": hit.document_id,
        "content_hash": content_hash,
        "row": json.dumps([*row, hit.text], ensure_ascii=False),
    }


def _sentence(sid: str, text: str, meta: Any, dense: float) -> SentenceHit:
    if "row" in meta:
        passage, position, start, end, page, section, title, text = json.loads(meta["row"])
        return SentenceHit(
            id=sid,
            document_id=str(meta["document_id"]),
            passage_id=str(passage),
            position=int(position),
            title=str(title),
            section=section,
            page=page,
            start=int(start),
            end=int(end),
            text=str(text),
            dense=dense,
            content_hash=str(meta.get("content_hash", "")),
        )
    # A row written before this shape: the text in ``documents``, each field a key.
    return SentenceHit(
        id=sid,
        document_id=str(meta.get("document_id", "")),
        passage_id=str(meta.get("passage_id", "")),
        position=int(meta.get("position", 0)),
        title=str(meta.get("title", "")),
        section=_optional_str(meta.get("section")),
        page=_optional_int(meta.get("page")),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=text,
        dense=dense,
        content_hash=str(meta.get("content_hash", "")),
    )


def _passage(node: BaseNode) -> PassageHit:
    from llama_index.core.schema import MetadataMode

    meta = node.metadata
    return PassageHit(
        id=node.node_id,
        document_id=str(node.ref_doc_id or ""),
        title=str(meta.get("title", "")),
        section=_optional_str(meta.get("section")),
        page=_optional_int(meta.get("page")),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=node.get_content(metadata_mode=MetadataMode.NONE),
        format=str(meta.get("format", "")),
    )


def _record(doc_id: str, meta: Any) -> DocumentRecord:
    return DocumentRecord(
        id=doc_id,
        title=str(meta.get("title", "")),
        format=str(meta.get("format", "")),
        pages=_optional_int(meta.get("pages")),
        passages=int(meta.get("passages", 0)),
        content_hash=str(meta.get("content_hash", "")),
        ingested_at=str(meta.get("ingested_at", "")),
        source_root=str(meta.get("source_root", "")),
        source_path=str(meta.get("source_path", "")),
        passage_words=int(meta.get("passage_words", 0)),
        reader=int(meta.get("reader", 0)),
        embed_model=str(meta.get("embed_model", "")),
    )
