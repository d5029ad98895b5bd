"""Guards found in review: reserved collection names, a document's own "[5]" marks,
a store embedded with another model, and a stale passage never quoted out of range."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from pydantic import ValidationError

from footnotes.errors import ConfigError
from footnotes.index.ask import Asker
from footnotes.index.replica import Replica
from footnotes.index.store import Store
from footnotes.index.sync import Ingestor
from footnotes.settings import Settings


@pytest.mark.parametrize("name", ["default.documents", "team.sentences", "team.texts"])
def test_collection_names_of_the_stores_own_collections_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="reserved"):
        Settings(collection=name)


def _ingest(settings: Settings, embed_model: HuggingFaceEmbedding, folder: Path) -> Store:
    store = Store.from_settings(settings)
    report = Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync([folder])
    assert report.ok
    return store


def test_a_documents_own_reference_marks_never_look_like_citations(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "paper.md").write_text(
        "# Consensus\n\nProof of work secures the ledger by costly hashing [5]. "
        "Proof of stake replaces hashing with deposits held at risk [12].\n",
        encoding="utf-8",
    )
    store = _ingest(settings, embed_model, folder)
    answer = Asker(Replica.open(store, settings), embed_model, settings).ask(
        "How does proof of stake secure a ledger?"
    )

    assert answer.answered
    numbers = {c.n for c in answer.citations}
    markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers and set(markers) <= numbers  # every [n] is a citation, none is "[12]"
    assert "(12)" in answer.answer  # the document's own mark, shown as itself
    assert any("[12]" in c.quote for c in answer.citations)  # the quote stays verbatim


def test_asking_with_another_model_than_the_store_was_embedded_with_is_refused(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "note.txt").write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    store = _ingest(settings, embed_model, folder)
    other = settings.model_copy(update={"embed_model": "/models/another"})

    with pytest.raises(ConfigError, match="embedded with"):
        Asker(Replica.open(store, other), embed_model, other).check()


def test_the_same_id_from_another_folder_does_not_replace_a_stored_document(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, colour in ((first, "blue"), (second, "green")):
        folder.mkdir()
        (folder / "notes.txt").write_text(f"The lamp in the hall is {colour}.\n", encoding="utf-8")
    store = _ingest(settings, embed_model, first)

    report = Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync([second])

    assert report.counts["failed"] == 1 and report.counts["updated"] == 0
    reason = report.outcomes[0].reason
    assert "notes.txt" in reason and "already belongs to" in reason and "\n" not in reason
    assert "blue" in store.document_text("notes.txt")  # the first one is kept whole
    (first / "notes.txt").unlink()  # once the first file is gone, the id may move
    moved = Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync([second])
    assert moved.counts["updated"] == 1
    assert "green" in store.document_text("notes.txt")
