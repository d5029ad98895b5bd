"""The store: passages with their embeddings, and every document's full text.

Three Chroma collections per Footnotes collection: ``NAME`` holds passages
(written through llama-index's ``ChromaVectorStore``, as ``TextNode`` with
character offsets; a passage's vector is the normalised mean of its
sentences'), ``NAME.sentences`` holds every sentence with its own embedding
(the unit of retrieval and citation), and ``NAME.documents`` holds one record
per document with its full text and catalogue entry (hash, format, pages,
source folder), so a citation can always be shown in context, from an
embedded store or a server alike. Reads go to Chroma directly, so scores are
plain cosine similarities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

from footnotes.errors import StoreError
from footnotes.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import BaseNode, TextNode

DOCS_SUFFIX = ".documents"
SENTENCES_SUFFIX = ".sentences"


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

    def public(self) -> dict[str, Any]:
        """What ``footnotes docs --json`` and ``GET /api/documents`` show: no server paths."""
        return {name: getattr(self, name) for name in PUBLIC_FIELDS}


PUBLIC_FIELDS = ("id", "title", "format", "pages", "passages", "content_hash", "ingested_at")


@dataclass(frozen=True)
class PassageHit:
    """A stored passage returned by a search, with its cosine similarity."""

    id: str
    document_id: str
    title: str
    section: str | None
    page: int | None
    start: int
    end: int
    text: str
    score: float


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


@dataclass(frozen=True)
class SentenceRow:
    """A sentence to store: its id, text, embedding and position metadata."""

    id: str
    text: str
    embedding: list[float]
    metadata: dict[str, str | int]


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
            raise StoreError(f"cannot reach Chroma server at {settings.chroma_url}: {exc}") from exc
    settings.store.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.store), settings=chroma_settings)


class Store:
    """Passages and documents of one collection."""

    def __init__(self, client: ClientAPI, name: str, create: bool = True) -> None:
        self.client = client
        self.name = name
        self._passages = self._collection(name, create)
        self._documents = self._collection(name + DOCS_SUFFIX, create)
        self._sentences = self._collection(name + SENTENCES_SUFFIX, create)

    @classmethod
    def from_settings(cls, settings: Settings, create: bool = True) -> Store:
        """Open (or, with ``create``, create) the configured collection."""
        return cls(make_client(settings), settings.collection, create=create)

    def _collection(self, name: str, create: bool) -> Collection:
        config: Any = {"hnsw": {"space": "cosine"}}
        try:
            if create:
                return self.client.get_or_create_collection(
                    name, configuration=config, embedding_function=None
                )
            return self.client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if not create and "does not exist" in str(exc).lower():
                raise StoreError(
                    f"collection {self.name!r} does not exist; ingest documents into it first"
                ) from exc
            raise StoreError(f"cannot open collection {name!r}: {exc}") from exc

    # --- documents --------------------------------------------------------

    def get_document(self, doc_id: str) -> DocumentRecord | None:
        got = self._documents.get(ids=[doc_id], include=["metadatas"])
        metas = got["metadatas"] or []
        return _record(doc_id, metas[0]) if metas else None

    def list_documents(self) -> list[DocumentRecord]:
        got = self._documents.get(include=["metadatas"])
        records = [_record(i, m) for i, m in zip(got["ids"], got["metadatas"] or [])]
        return sorted(records, key=lambda r: r.id)

    def document_text(self, doc_id: str) -> str:
        got = self._documents.get(ids=[doc_id], include=["documents"])
        docs = got["documents"] or []
        if not docs or docs[0] is None:
            raise StoreError(f"document {doc_id!r} is not in collection {self.name!r}")
        return docs[0]

    def passage_count(self) -> int:
        return self._passages.count()

    def sentence_count(self) -> int:
        return self._sentences.count()

    # --- writes -----------------------------------------------------------

    def put_document(
        self, record: DocumentRecord, text: str, nodes: list[TextNode], sentences: list[SentenceRow]
    ) -> None:
        """Store a document's passages and sentences, drop those of an older version, then
        write its record.

        New rows carry the new content hash in their ids, so a crash midway
        leaves the old version whole, and a rerun finishes the job.
        """
        from llama_index.vector_stores.chroma import ChromaVectorStore

        for start in range(0, len(sentences), _WRITE_BATCH):
            rows = sentences[start : start + _WRITE_BATCH]
            self._sentences.upsert(
                ids=[r.id for r in rows],
                embeddings=_vectors([r.embedding for r in rows]),
                documents=[r.text for r in rows],
                metadatas=[r.metadata for r in rows],
            )
        if nodes:
            ChromaVectorStore(chroma_collection=self._passages).add(cast("list[BaseNode]", nodes))
        for collection, keep in (
            (self._passages, {n.node_id for n in nodes}),
            (self._sentences, {r.id for r in sentences}),
        ):
            old = collection.get(where={"document_id": record.id}, include=[])
            stale = [i for i in old["ids"] if i not in keep]
            if stale:
                collection.delete(ids=stale)
        meta = {k: ("" if v is None else v) for k, v in asdict(record).items() if k != "id"}
        self._documents.upsert(
            ids=[record.id], documents=[text], metadatas=[meta], embeddings=_vectors([[1.0]])
        )

    def remove_document(self, doc_id: str) -> bool:
        """Remove a document and all its passages; False if it was not stored."""
        known = self.get_document(doc_id) is not None
        self._passages.delete(where={"document_id": doc_id})
        self._sentences.delete(where={"document_id": doc_id})
        self._documents.delete(ids=[doc_id])
        return known

    # --- reads for retrieval ---------------------------------------------

    def signature(self) -> str:
        """Changes whenever a document is added, changed, re-ingested or removed."""
        import hashlib

        got = self._documents.get(include=["metadatas"])
        pairs = sorted(
            f"{i}\0{m.get('content_hash', '')}\0{m.get('ingested_at', '')}"
            for i, m in zip(got["ids"], got["metadatas"] or [])
        )
        return hashlib.sha256("\n".join(pairs).encode()).hexdigest()

    def search_sentences(self, embedding: list[float], k: int) -> list[SentenceHit]:
        """The ``k`` sentences most similar to ``embedding`` (cosine in ``dense``)."""
        count = self._sentences.count()
        if count == 0:
            return []
        got = self._sentences.query(
            query_embeddings=_vectors([embedding]),
            n_results=min(k, count),
            include=["documents", "metadatas", "distances"],
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

    def all_sentences(self) -> list[SentenceHit]:
        """Every stored sentence, in a stable order, e.g. to build the lexical index."""
        got = self._sentences.get(include=["documents", "metadatas"])
        rows = [
            _sentence(sid, text or "", meta, 0.0)
            for sid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        ]
        return sorted(rows, key=lambda r: (r.document_id, r.position))

    def sentence_embeddings(self, ids: list[str]) -> list[list[float]]:
        """Stored embeddings of the given sentences, in the order asked ([] where gone)."""
        got = self._sentences.get(ids=ids, include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"] if got["embeddings"] is not None else []))
        return [list(by_id[i]) if i in by_id else [] for i in ids]

    def passages_by_id(self, ids: list[str]) -> dict[str, PassageHit]:
        """The stored passages with these ids (missing ones are left out)."""
        if not ids:
            return {}
        got = self._passages.get(ids=ids, include=["documents", "metadatas"])
        return {
            pid: _hit(pid, text or "", meta, 0.0)
            for pid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        }

    def all_passages(self) -> list[PassageHit]:
        """Every stored passage (text and position)."""
        got = self._passages.get(include=["documents", "metadatas"])
        return [
            _hit(pid, text or "", meta, 0.0)
            for pid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        ]


_WRITE_BATCH = 1000


def _vectors(rows: list[list[float]]) -> Any:
    """Embeddings as the float32 matrix Chroma takes."""
    import numpy as np

    return np.asarray(rows, dtype=np.float32)


def _optional_int(value: Any) -> int | None:
    """A metadata value Chroma stores as "" when absent (it has no null)."""
    return int(value) if value not in (None, "") else None


def _optional_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _sentence(sid: str, text: str, meta: Any, dense: float) -> SentenceHit:
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
        embed_model=str(meta.get("embed_model", "")),
    )


def _hit(pid: str, text: str, meta: Any, score: float) -> PassageHit:
    return PassageHit(
        id=pid,
        document_id=str(meta.get("document_id", "")),
        title=str(meta.get("title", "")),
        section=_optional_str(meta.get("section")),
        page=_optional_int(meta.get("page")),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=text,
        score=score,
    )


def passage_node(
    passage_id: str,
    text: str,
    embedding: list[float],
    metadata: dict[str, Any],
    document_id: str,
    start: int,
    end: int,
) -> TextNode:
    """A llama-index node for a passage, tied to its document for deletion."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    return TextNode(
        id_=passage_id,
        text=text,
        embedding=embedding,
        metadata=metadata,
        start_char_idx=start,
        end_char_idx=end,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=document_id)},
    )
