"""The store at scale, in miniature: paged reads, the change log, and the lexical index
kept in step by delta. A page size of 3 makes a few dozen documents cross many pages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from footnotes.errors import ConfigError, NotFound
from footnotes.index.lexical import LexicalIndex
from footnotes.index.replica import Replica
from footnotes.index.store import OWN_SUFFIXES, SentenceHit, Store
from footnotes.index.sync import Ingestor
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

pytestmark = pytest.mark.slow

DOCS = 25  # with 3 sentences each and pages of 3: every read crosses page boundaries
PAGE = 3


def _doc(i: int) -> str:
    return (
        f"Ledger {i} is kept in the archive of the borough of Quarnby number {i}. "
        f"The keeper of ledger {i} is called Warden{i}. "
        f"Ledger {i} lists {i * 7} entries for the year {1900 + i}.\n"
    )


@pytest.fixture
def paged(tmp_path: Path) -> Settings:
    return Settings(store=tmp_path / "store", collection="paged", read_batch_size=PAGE)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    for i in range(DOCS):
        (folder / f"ledger-{i:02d}.txt").write_text(_doc(i), encoding="utf-8")
    return folder


def _ingest(settings: Settings, embed_model: HuggingFaceEmbedding, folder: Path) -> Replica:
    replica = Replica.open(Store.from_settings(settings), settings)
    report = Ingestor(replica, lambda: embed_model, settings).sync([folder])
    assert report.ok, report.outcomes
    return replica


def _sentences(store: Store) -> dict[str, SentenceHit]:
    return {
        s.id: s for d in store.list_documents() for s in store.sentences_of(d.id, d.content_hash)
    }


def test_every_read_is_paged_and_sees_every_row(
    paged: Settings, corpus: Path, embed_model: HuggingFaceEmbedding
) -> None:
    replica = _ingest(paged, embed_model, corpus)
    store = replica.store
    records = store.list_documents()
    assert [r.id for r in records] == [f"ledger-{i:02d}.txt" for i in range(DOCS)]
    sentences = _sentences(store)
    assert len(sentences) == store.sentence_count() == 3 * DOCS
    passages = list(store.iter_passages())
    assert len(passages) == store.passage_count() == sum(r.passages for r in records)
    # Batched reads by id, past one page, in the order asked.
    ids = sorted(sentences)[: PAGE * 4 + 1]
    vectors = store.sentence_embeddings([*ids, "missing"])
    assert [len(v) for v in vectors] == [384] * len(ids) + [0]
    assert set(store.passages_by_id([p.id for p in passages])) == {p.id for p in passages}
    assert set(store.documents([r.id for r in records] + ["nope"])) == {r.id for r in records}
    # The change log: one change per document written, read back across pages.
    changes = store.changes_since(0)
    assert store.version() == len(changes) == DOCS
    assert sorted(c.document_id for c in changes) == [r.id for r in records]
    # Sync reads the catalogue page by page: a second run finds every file unchanged.
    again = Ingestor(replica, lambda: embed_model, paged).sync([corpus])
    assert again.counts["unchanged"] == DOCS and again.embedded == 0
    assert store.version() == DOCS  # nothing written, so the version did not move


def test_a_new_process_builds_its_index_once_then_follows_by_delta(
    paged: Settings, corpus: Path, embed_model: HuggingFaceEmbedding, tmp_path: Path
) -> None:
    writer = _ingest(paged, embed_model, corpus)
    store = writer.store
    # Another process: its own lexical index file, the same store.
    reader = Replica(Store.from_settings(paged), LexicalIndex(tmp_path / "reader.sqlite"))
    assert reader.refresh() == DOCS  # a new index is built from the catalogue, once
    assert reader.refresh() == 0  # nothing changed: one version read, nothing re-read
    assert reader.lexical.size() == 3 * DOCS
    hits = reader.lexical.search("Warden7 keeper", 3)
    assert hits[0].document_id == "ledger-07.txt" and "Warden7" in hits[0].text

    # A change by the writer: the reader re-reads that one document and nothing else.
    (corpus / "ledger-07.txt").write_text(_doc(7).replace("Warden7", "Steward7"), "utf-8")
    (corpus / "ledger-03.txt").unlink()
    report = Ingestor(writer, lambda: embed_model, paged).sync([corpus])
    assert report.counts["updated"] == 1 and report.counts["removed"] == 1
    assert reader.refresh() == 1  # ledger-07 re-read; ledger-03 only dropped
    assert not reader.lexical.search("Warden7", 5)
    assert reader.lexical.search("Steward7", 5)[0].document_id == "ledger-07.txt"
    quarnby = reader.lexical.search("Quarnby", 100)
    assert not [h for h in quarnby if h.document_id == "ledger-03.txt"]
    assert reader.lexical.size() == 3 * (DOCS - 1)
    assert reader.document_count() == DOCS - 1

    # The index matches the store row for row, as a clean build would.
    stored = _sentences(store)
    rows = {h.id: h for h in reader.lexical.search("ledger", 1000)}
    assert set(rows) == set(stored)
    for sid, hit in rows.items():
        s = stored[sid]
        assert (hit.document_id, hit.passage_id, hit.position, hit.start, hit.end, hit.text) == (
            s.document_id, s.passage_id, s.position, s.start, s.end, s.text
        )  # fmt: skip


def test_a_restart_reopens_the_index_without_rereading_the_store(
    paged: Settings, corpus: Path, embed_model: HuggingFaceEmbedding
) -> None:
    writer = _ingest(paged, embed_model, corpus)
    before = writer.lexical.search("Warden12 keeper ledger", 5)
    # A new process on the same store folder: same index file, already current.
    restarted = Replica.open(Store.from_settings(paged, create=False), paged)
    assert restarted.refresh() == 0
    assert restarted.lexical.search("Warden12 keeper ledger", 5) == before
    # A store made anew under the same name (a wiped server) is not mistaken for the old one.
    client = restarted.store.client
    for suffix in ("", *OWN_SUFFIXES):
        client.delete_collection("paged" + suffix)
    fresh = Replica.open(Store.from_settings(paged), paged)
    assert fresh.refresh() == 0
    assert fresh.document_count() == 0 and fresh.lexical.search("Warden12", 5) == []


def test_lexical_index_add_replace_remove(tmp_path: Path) -> None:
    path = tmp_path / "lexical.sqlite"
    index = LexicalIndex(path)

    def rows(doc: str, texts: list[str]) -> list[SentenceHit]:
        return [
            SentenceHit(f"{doc}/{i}", doc, f"{doc}:0", i, doc.title(), None, None, i, i + 1, t)
            for i, t in enumerate(texts)
        ]

    index.replace_document("a", "h1", "m", rows("a", ["The otter swims.", "Otters eat fish."]))
    index.replace_document("b", "h1", "m", rows("b", ["The heron waits.", "Herons eat fish."]))
    assert {h.document_id for h in index.search("fish", 10)} == {"a", "b"}
    assert index.size() == 4 and index.idf("fish") < index.idf("swim")
    assert index.following(["a/0", "a/1"]) == {"a/0": rows("a", ["", "Otters eat fish."])[1]}
    # One query for many ids, across documents, each id once however often asked.
    assert index.preceding(["b/1", "a/1", "a/0", "b/1"]) == {
        "a/1": rows("a", ["The otter swims."])[0],
        "b/1": rows("b", ["The heron waits."])[0],
    }
    # Replace touches only that document's rows.
    index.replace_document("a", "h2", "m", rows("a", ["The beaver builds."]), "2/160")
    assert [h.document_id for h in index.search("fish", 10)] == ["b"]
    assert index.search("otter", 10) == []
    assert index.document_version("a") == ("h2", "m", "2/160") and index.size() == 3
    index.remove_document("b")
    assert index.search("fish heron", 10) == [] and index.size() == 1
    # A restart opens the file as it was.
    reopened = LexicalIndex(path)
    assert [h.id for h in reopened.search("beaver", 10)] == ["a/0"]
    assert reopened.documents() == {"a": ("h2", "m", "2/160")}


def test_the_passages_collection_is_a_llama_index_vector_store(
    paged: Settings, corpus: Path, embed_model: HuggingFaceEmbedding
) -> None:
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import MetadataMode
    from llama_index.vector_stores.chroma import ChromaVectorStore

    store = _ingest(paged, embed_model, corpus).store
    vectors = ChromaVectorStore(chroma_collection=store.client.get_collection("paged"))
    index = VectorStoreIndex.from_vector_store(vectors, embed_model=embed_model)
    (found,) = index.as_retriever(similarity_top_k=1).retrieve("Who is the keeper Warden11?")
    node = found.node
    assert node.ref_doc_id == "ledger-11.txt"
    text = store.document_text("ledger-11.txt")
    assert node.start_char_idx is not None and node.end_char_idx is not None
    assert text[node.start_char_idx : node.end_char_idx] == node.get_content(MetadataMode.NONE)


def test_a_backend_change_re_embeds_and_a_mismatched_backend_is_refused(
    tmp_path: Path, corpus: Path, embed_model: HuggingFaceEmbedding, onnx_encoders: dict[str, Any]
) -> None:
    from footnotes.index.ask import Asker

    torch_settings = Settings(store=tmp_path / "store", collection="backend", read_batch_size=PAGE)
    int8_settings = torch_settings.model_copy(update={"embed_backend": "onnx-int8"})
    int8 = onnx_encoders["onnx-int8"]
    store = _ingest(torch_settings, embed_model, corpus).store
    ids = sorted(_sentences(store))[:5]
    before = np.asarray(store.sentence_embeddings(ids))
    passages = store.passage_count()
    question = "Who is the keeper Warden11?"

    with pytest.raises(ConfigError, match="embedded with"):
        Asker(Replica.open(store, int8_settings), int8, int8_settings).ask(question)

    report = Ingestor(Replica.open(store, int8_settings), lambda: int8, int8_settings).sync(
        [corpus]
    )
    assert report.counts["updated"] == DOCS and report.embedded == 3 * DOCS
    assert store.sentence_count() == 3 * DOCS and store.passage_count() == passages
    assert {r.embed_model for r in store.list_documents()} == {"bundled:all-MiniLM-L6-v2+onnx-int8"}
    after = np.asarray(store.sentence_embeddings(ids))
    cosines = (before * after).sum(axis=1)
    assert (cosines < 0.99999).any() and (cosines > 0.9).all()  # new vectors, the same meaning

    with pytest.raises(ConfigError, match="embedded with"):
        Asker(Replica.open(store, torch_settings), embed_model, torch_settings).ask(question)
    answer = Asker(Replica.open(store, int8_settings), int8, int8_settings).ask(question)
    assert answer.answered and answer.citations[0].document == "ledger-11.txt"


def test_the_catalogue_holds_no_text_and_each_document_keeps_one_text(
    paged: Settings, corpus: Path, embed_model: HuggingFaceEmbedding
) -> None:
    replica = _ingest(paged, embed_model, corpus)
    store = replica.store
    client = store.client
    catalogue = client.get_collection("paged.documents").get(include=["documents"])
    assert set(catalogue["documents"] or []) == {""}  # a listing reads no document's text
    assert store.document_text("ledger-03.txt") == _doc(3)
    # A new version replaces the text; the old one is dropped.
    (corpus / "ledger-03.txt").write_text(_doc(3) + "Ledger 3 was rebound.\n", encoding="utf-8")
    _ingest(paged, embed_model, corpus)
    assert store.document_text("ledger-03.txt").endswith("Ledger 3 was rebound.\n")
    texts = client.get_collection("paged.texts")
    assert len(texts.get(where={"document_id": "ledger-03.txt"})["ids"]) == 1
    assert texts.count() == DOCS
    assert replica.remove("ledger-03.txt")
    assert texts.get(where={"document_id": "ledger-03.txt"})["ids"] == []
    with pytest.raises(NotFound):
        store.document_text("ledger-03.txt")


def test_a_store_that_kept_texts_in_its_catalogue_is_read_and_moved_by_the_next_sync(
    paged: Settings, corpus: Path, embed_model: HuggingFaceEmbedding
) -> None:
    replica = _ingest(paged, embed_model, corpus)
    client = replica.store.client
    catalogue = client.get_collection("paged.documents")
    texts = client.get_collection("paged.texts")
    # The layout before texts had their own collection: the text in the catalogue row.
    moved = [f"ledger-{i:02d}.txt" for i in range(PAGE + 2)]  # across a page boundary
    rows = catalogue.get(ids=moved, include=["metadatas", "embeddings"])
    catalogue.upsert(
        ids=rows["ids"],
        documents=[_doc(int(i[7:9])) for i in rows["ids"]],
        metadatas=rows["metadatas"],
        embeddings=rows["embeddings"],
    )
    texts.delete(ids=[f"{r.id}#{r.content_hash}" for r in replica.store.documents(moved).values()])
    assert texts.count() == DOCS - len(moved)
    old = Store.from_settings(paged, create=False)
    assert old.document_text("ledger-04.txt") == _doc(4)  # read from the catalogue row
    _ingest(paged, embed_model, corpus)  # nothing changed: the texts are moved, not re-read
    assert texts.count() == DOCS
    assert set(catalogue.get(ids=moved, include=["documents"])["documents"] or []) == {""}
    assert [old.document_text(i) for i in moved] == [_doc(int(i[7:9])) for i in moved]
    assert old.move_texts() == 0
