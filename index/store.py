"""The store: passages with their embeddings, and every document's full text.

Two Chroma collections per Footnotes collection: ``NAME`` holds passages
(written through llama-index's ``ChromaVectorStore``, as ``TextNode`` with
character offsets), ``NAME.documents`` holds one record per document with its
full text and its catalogue entry (hash, format, pages, source folder), so a
citation can always be shown in context, from an embedded store or a server
alike. Reads go to Chroma directly, so scores are plain cosine similarities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from footnotes.errors import StoreError
from footnotes.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from llama_index.core.schema import TextNode

DOCS_SUFFIX = ".documents"


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

    # --- writes -----------------------------------------------------------

    def put_document(self, record: DocumentRecord, text: str, nodes: list[TextNode]) -> None:
        """Store a document's passages, then drop any of an older version, then its record.

        New passages carry the new content hash in their ids, so a crash
        midway leaves the old version whole, and a rerun finishes the job.
        """
        from llama_index.vector_stores.chroma import ChromaVectorStore

        vector_store = ChromaVectorStore(chroma_collection=self._passages)
        if nodes:
            vector_store.add(nodes)
        keep = {n.node_id for n in nodes}
        old = self._passages.get(where={"document_id": record.id}, include=[])
        stale = [i for i in old["ids"] if i not in keep]
        if stale:
            self._passages.delete(ids=stale)
        meta = {k: ("" if v is None else v) for k, v in asdict(record).items() if k != "id"}
        self._documents.upsert(ids=[record.id], documents=[text], metadatas=[meta],
                               embeddings=[[1.0]])

    def remove_document(self, doc_id: str) -> bool:
        """Remove a document and all its passages; False if it was not stored."""
        known = self.get_document(doc_id) is not None
        self._passages.delete(where={"document_id": doc_id})
        self._documents.delete(ids=[doc_id])
        return known

    # --- reads for retrieval ---------------------------------------------

    def search(self, embedding: list[float], k: int) -> list[PassageHit]:
        """The ``k`` passages most similar to ``embedding``."""
        count = self._passages.count()
        if count == 0:
            return []
        got = self._passages.query(
            query_embeddings=[embedding],
            n_results=min(k, count),
            include=["documents", "metadatas", "distances"],
        )
        hits = []
        for pid, text, meta, dist in zip(
            got["ids"][0], (got["documents"] or [[]])[0], (got["metadatas"] or [[]])[0],
            (got["distances"] or [[]])[0],
        ):
            hits.append(_hit(pid, text or "", meta, 1.0 - float(dist)))
        return hits

    def all_passages(self) -> list[PassageHit]:
        """Every passage (text and position), e.g. to build a lexical index."""
        got = self._passages.get(include=["documents", "metadatas"])
        return [
            _hit(pid, text or "", meta, 0.0)
            for pid, text, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [])
        ]


def _record(doc_id: str, meta: Any) -> DocumentRecord:
    pages = meta.get("pages")
    return DocumentRecord(
        id=doc_id,
        title=str(meta.get("title", "")),
        format=str(meta.get("format", "")),
        pages=int(pages) if pages not in (None, "") else None,
        passages=int(meta.get("passages", 0)),
        content_hash=str(meta.get("content_hash", "")),
        ingested_at=str(meta.get("ingested_at", "")),
        source_root=str(meta.get("source_root", "")),
        source_path=str(meta.get("source_path", "")),
        passage_words=int(meta.get("passage_words", 0)),
    )


def _hit(pid: str, text: str, meta: Any, score: float) -> PassageHit:
    page = meta.get("page")
    section = meta.get("section")
    return PassageHit(
        id=pid,
        document_id=str(meta.get("document_id", "")),
        title=str(meta.get("title", "")),
        section=str(section) if section not in (None, "") else None,
        page=int(page) if page not in (None, "") else None,
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=text,
        score=score,
    )


def passage_node(passage_id: str, text: str, embedding: list[float], metadata: dict[str, Any],
                 document_id: str, start: int, end: int) -> TextNode:
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

