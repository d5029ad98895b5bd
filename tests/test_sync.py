"""Ingest as a sync, through the Python API: a real Chroma store in ``tmp_path``, the real model.

Each test builds a small folder of real files (the sample article, a page range of
the Solana PDF, a DOCX written with python-docx) and checks what the store holds
afterwards, not only what the report says.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import SAMPLE_ARTICLE, SOLANA_PDF, needs_shared

from footnotes.errors import StoreError
from footnotes.index import sync as sync_module
from footnotes.index.replica import Replica
from footnotes.index.store import PassageHit, Store
from footnotes.index.sync import Ingestor, SyncReport
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

ARTICLE_ID = SAMPLE_ARTICLE.name
OLD_SENTENCE = (
    "He also claimed that Poland\u2019s defence spending poses a security threat "
    "to the Union State."
)
ARTICLE_TITLE = "Security above all: A revised Belarus\u2013Russia alliance"
NEW_SENTENCE = "He also claimed that the lighthouse on the Neman keeps its lamp lit all winter."


class CountingFactory:
    """An embed-model factory that counts how often the ingestor asks for the model."""

    def __init__(self, model: HuggingFaceEmbedding) -> None:
        self.model = model
        self.calls = 0

    def __call__(self) -> HuggingFaceEmbedding:
        self.calls += 1
        return self.model


Run = Callable[..., "tuple[SyncReport, CountingFactory]"]


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store.from_settings(settings)


@pytest.fixture
def run(store: Store, settings: Settings, embed_model: HuggingFaceEmbedding) -> Run:
    """Sync paths with a fresh :class:`Ingestor`; returns the report and the factory used."""

    def _run(*paths: Path) -> tuple[SyncReport, CountingFactory]:
        factory = CountingFactory(embed_model)
        report = Ingestor(Replica.open(store, settings), factory, settings).sync(list(paths))
        return report, factory

    return _run


def docx_bytes(heading: str, *paragraphs: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(heading, 1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes(pages: Iterable[int]) -> bytes:
    """Some pages of the Solana PDF, as a new PDF file."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(SOLANA_PDF)
    writer = PdfWriter()
    for number in pages:
        writer.add_page(reader.pages[number - 1])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def passages_of(store: Store, doc_id: str) -> list[PassageHit]:
    return [p for p in list(store.iter_passages()) if p.document_id == doc_id]


def with_article(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(SAMPLE_ARTICLE, folder / ARTICLE_ID))


def test_second_sync_of_an_unchanged_folder_embeds_nothing(
    tmp_path: Path, run: Run, store: Store
) -> None:
    folder = tmp_path / "docs"
    with_article(folder)

    first, first_factory = run(folder)
    assert first.counts["added"] == 1
    assert first.embedded == store.sentence_count() > store.passage_count() > 0
    assert first_factory.calls == 1
    stored_ids = {p.id for p in list(store.iter_passages())}

    second, second_factory = run(folder)
    assert (second.counts["added"], second.counts["updated"], second.counts["unchanged"]) == (
        0,
        0,
        1,
    )
    assert second.embedded == 0
    assert second_factory.calls == 0, "the model must not even load when nothing changed"
    assert second.ok
    assert {p.id for p in list(store.iter_passages())} == stored_ids


def test_an_edited_file_replaces_its_passages(tmp_path: Path, run: Run, store: Store) -> None:
    path = with_article(tmp_path / "docs")
    run(path.parent)
    original = path.read_text(encoding="utf-8-sig")
    assert OLD_SENTENCE in original
    edited = original.replace(OLD_SENTENCE, NEW_SENTENCE)
    path.write_text(edited, encoding="utf-8")

    report, _ = run(path.parent)

    assert report.counts["updated"] == 1
    assert report.counts["added"] == 0
    assert report.embedded > 0
    record = store.get_document(ARTICLE_ID)
    assert record is not None
    new_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    assert record.content_hash == new_hash
    passages = list(store.iter_passages())
    assert not [p for p in passages if OLD_SENTENCE in p.text], "a stale passage survived"
    assert len([p for p in passages if NEW_SENTENCE in p.text]) == 1
    assert all(f"#{new_hash[:12]}:" in p.id for p in passages)
    assert len(passages) == record.passages == store.passage_count()
    assert store.document_text(ARTICLE_ID) == edited


def test_a_deleted_file_leaves_the_store(tmp_path: Path, run: Run, store: Store) -> None:
    path = with_article(tmp_path / "docs")
    run(path.parent)
    assert store.passage_count() > 0
    path.unlink()

    report, factory = run(path.parent)

    assert report.counts["removed"] == 1
    assert [o.document for o in report.outcomes] == [ARTICLE_ID]
    assert store.passage_count() == 0
    assert store.list_documents() == []
    assert factory.calls == 0


def test_ids_are_relative_paths_and_a_named_file_keeps_its_name(
    tmp_path: Path, run: Run, store: Store
) -> None:
    folder = tmp_path / "docs"
    (folder / "guides" / "deep").mkdir(parents=True)
    (folder / "guides" / "deep" / "lamp.md").write_text(
        "# Lamp care\n\nTrim the wick before dusk and polish the lens weekly.\n", encoding="utf-8"
    )
    (folder / "top.txt").write_text(
        "The tide tables are kept in the top drawer.\n", encoding="utf-8"
    )
    loose = tmp_path / "elsewhere" / "memo.txt"
    loose.parent.mkdir()
    loose.write_text("Order more lamp oil before the winter storms.\n", encoding="utf-8")

    report, _ = run(folder, loose)

    expected = {"guides/deep/lamp.md", "top.txt", "memo.txt"}
    assert report.counts["added"] == 3
    assert {r.id for r in store.list_documents()} == expected
    assert {p.document_id for p in list(store.iter_passages())} == expected
    memo = store.get_document("memo.txt")
    assert memo is not None and memo.source_root == ""

    # Syncing the folder alone again must not drop the file that was named directly.
    again, _ = run(folder)
    assert again.counts["removed"] == 0
    assert {r.id for r in store.list_documents()} == expected


def test_bad_files_fail_alone_with_a_one_line_reason(
    tmp_path: Path, run: Run, store: Store
) -> None:
    folder = tmp_path / "docs"
    with_article(folder)
    (folder / "notes.md").write_text("# Notes\n\nThe ferry leaves at nine.\n", encoding="utf-8")
    (folder / "drawing.xyz").write_bytes(b"not a format footnotes reads")
    bad = {
        "broken.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage\n%%EOF\n",
        "broken.docx": b"PK\x03\x04 this is no zip archive",
        "empty.txt": b"",
        "archive.txt": gzip.compress(SAMPLE_ARTICLE.read_bytes()),
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)

    report, _ = run(folder)

    assert not report.ok
    assert report.counts == {
        "added": 2,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "failed": 4,
        "skipped": 1,
    }
    failed = {o.document: o.reason for o in report.outcomes if o.status == "failed"}
    assert set(failed) == set(bad)
    for name, reason in failed.items():
        assert name in reason
        assert reason.strip() and "\n" not in reason
        assert "Traceback" not in reason
    (skipped,) = [o for o in report.outcomes if o.status == "skipped"]
    assert skipped.document == "drawing.xyz"
    assert ".xyz" in skipped.reason and "\n" not in skipped.reason
    assert {r.id for r in store.list_documents()} == {ARTICLE_ID, "notes.md"}
    assert {p.document_id for p in list(store.iter_passages())} == {ARTICLE_ID, "notes.md"}


@needs_shared
def test_a_stored_file_turned_corrupt_keeps_its_old_passages(
    tmp_path: Path, run: Run, store: Store
) -> None:
    folder = tmp_path / "docs"
    with_article(folder)
    (folder / "field-notes.docx").write_bytes(
        docx_bytes("Field notes", "The keeper logs the tide twice a day.", "Oil comes by boat.")
    )
    (folder / "solana.pdf").write_bytes(pdf_bytes([2]))
    first, _ = run(folder)
    assert first.counts["added"] == 3
    before = {
        doc: sorted(p.id for p in passages_of(store, doc))
        for doc in ("field-notes.docx", "solana.pdf")
    }
    records = {doc: store.get_document(doc) for doc in before}
    total = store.passage_count()

    (folder / "field-notes.docx").write_bytes(b"\x00garbage where a zip archive was")
    (folder / "solana.pdf").write_bytes(b"%PDF-1.7\ntruncated in transit")
    report, _ = run(folder)

    assert not report.ok
    assert report.counts["failed"] == 2
    assert report.counts["unchanged"] == 1
    assert report.counts["removed"] == 0
    for o in report.outcomes:
        if o.status == "failed":
            assert o.document in o.reason and "\n" not in o.reason
    assert store.passage_count() == total
    for doc, ids in before.items():
        after = sorted(p.id for p in passages_of(store, doc))
        assert after == ids, f"{doc}: old passages lost or duplicated"
        assert len(set(after)) == len(after)
        assert store.get_document(doc) == records[doc]


def test_a_file_vanishing_mid_run_fails_alone(
    tmp_path: Path, run: Run, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "docs"
    with_article(folder)
    victim = folder / "ephemeral.txt"
    victim.write_text("The harbour master keeps the only key to the boathouse.\n", encoding="utf-8")
    run(folder)
    stored_victim = sorted(p.id for p in passages_of(store, "ephemeral.txt"))
    assert stored_victim
    (folder / "fresh.txt").write_text("New buoys were laid along the channel.\n", encoding="utf-8")

    real_discover = sync_module.discover

    def discover_then_delete(paths: Iterable[Path]) -> Any:
        found = real_discover(paths)
        victim.unlink()  # the file really disappears between discovery and reading
        return found

    monkeypatch.setattr(sync_module, "discover", discover_then_delete)
    report, _ = run(folder)

    statuses = {o.document: o.status for o in report.outcomes}
    assert statuses == {ARTICLE_ID: "unchanged", "ephemeral.txt": "failed", "fresh.txt": "added"}
    (failed,) = [o for o in report.outcomes if o.status == "failed"]
    assert "ephemeral.txt" in failed.reason and "\n" not in failed.reason
    assert {r.id for r in store.list_documents()} == {ARTICLE_ID, "ephemeral.txt", "fresh.txt"}
    assert sorted(p.id for p in passages_of(store, "ephemeral.txt")) == stored_victim

    # Once the file is gone for good, a normal sync removes it.
    monkeypatch.setattr(sync_module, "discover", real_discover)
    later, _ = run(folder)
    assert later.counts["removed"] == 1
    assert passages_of(store, "ephemeral.txt") == []


def test_remove_document_takes_all_its_passages(tmp_path: Path, run: Run, store: Store) -> None:
    folder = tmp_path / "docs"
    with_article(folder)
    (folder / "notes.md").write_text("# Notes\n\nThe ferry leaves at nine.\n", encoding="utf-8")
    run(folder)
    notes = store.get_document("notes.md")
    assert notes is not None

    assert store.remove_document(ARTICLE_ID) is not None

    assert [r.id for r in store.list_documents()] == ["notes.md"]
    assert {p.document_id for p in list(store.iter_passages())} == {"notes.md"}
    assert store.passage_count() == notes.passages
    assert store.get_document(ARTICLE_ID) is None
    with pytest.raises(StoreError, match=ARTICLE_ID):
        store.document_text(ARTICLE_ID)
    assert store.remove_document(ARTICLE_ID) is None


@needs_shared
def test_passages_carry_metadata_and_exact_offsets(tmp_path: Path, run: Run, store: Store) -> None:
    folder = tmp_path / "docs"
    with_article(folder)
    (folder / "guide.md").write_text(
        "# Keeper's guide\n\n## Lamp\n\nTrim the wick before dusk.\n\n"
        "## Log\n\nWrite the tide and the weather twice a day.\n",
        encoding="utf-8",
    )
    (folder / "solana.pdf").write_bytes(pdf_bytes([2, 3]))
    run(folder)

    records = {r.id: r for r in store.list_documents()}
    assert set(records) == {ARTICLE_ID, "guide.md", "solana.pdf"}
    passages = list(store.iter_passages())
    texts = {doc: store.document_text(doc) for doc in records}
    assert texts[ARTICLE_ID] == SAMPLE_ARTICLE.read_text(encoding="utf-8-sig")
    for p in passages:
        assert texts[p.document_id][p.start : p.end] == p.text
        assert p.text.strip()
        assert p.title == records[p.document_id].title
    for doc, record in records.items():
        assert len([p for p in passages if p.document_id == doc]) == record.passages

    article = [p for p in passages if p.document_id == ARTICLE_ID]
    assert {p.title for p in article} == {ARTICLE_TITLE}
    (oreshnik,) = [p for p in article if "Lukashenka requested that Putin deploy" in p.text]
    assert oreshnik.section == ARTICLE_TITLE
    assert oreshnik.page is None
    assert any(p.section == "Commentary" for p in article)

    guide = {p.section: p for p in passages if p.document_id == "guide.md"}
    assert "Trim the wick" in guide["Lamp"].text
    assert "tide and the weather" in guide["Log"].text

    pdf = [p for p in passages if p.document_id == "solana.pdf"]
    assert records["solana.pdf"].pages == 2
    assert {p.page for p in pdf} == {1, 2}


def test_each_file_reports_its_embedding_batch_by_batch_then_its_end(
    tmp_path: Path, store: Store, embed_model: HuggingFaceEmbedding
) -> None:
    settings = Settings(store=tmp_path / "store", collection="test", embed_batch_size=8)
    folder = tmp_path / "docs"
    folder.mkdir()
    texts = {
        "harbour.txt": " ".join(
            f"Pier {i} holds {i + 2} fishing boats in winter." for i in range(40)
        ),
        "tides.md": "# Tides\n\n"
        + " ".join(f"On day {i} the tide turned at {i % 12 + 1} o'clock." for i in range(25)),
        "empty.txt": "   \n",
    }
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "drawing.xyz").write_bytes(b"not a format footnotes reads")
    events: list[sync_module.FileProgress] = []
    overall: list[tuple[int, int, int]] = []

    def ingest() -> SyncReport:
        ingestor = Ingestor(Replica.open(store, settings), lambda: embed_model, settings)
        return ingestor.sync(
            [folder], progress=lambda *a: overall.append(a), file_progress=events.append
        )

    report = ingest()

    assert report.counts["added"] == 2 and report.counts["failed"] == 1
    of = {name: [e for e in events if e.document == name] for name in (*texts, "drawing.xyz")}
    for name in ("harbour.txt", "tides.md"):
        record = store.get_document(name)
        assert record is not None
        stored = len(list(store.sentences_of(name, record.content_hash)))
        steps = of[name]
        assert steps[0].stage == "reading" and steps[-1].stage == "done"
        assert steps[-1].embedded == steps[-1].sentences == stored
        embedding = [e for e in steps if e.stage == "embedding"]
        assert [e.stage for e in steps] == ["reading"] + ["embedding"] * len(embedding) + ["done"]
        counts = [e.embedded for e in embedding]
        assert counts[0] == 0 and counts[-1] == stored  # queued, then each batch
        assert counts == sorted(set(counts)), counts  # strictly increasing
        assert len(counts) >= 1 + stored // 8, counts  # at least one event per batch of 8
        assert {e.sentences for e in embedding} == {stored}
        assert all(e.path == str(folder / name) and e.reason == "" for e in steps)
    assert sum(of[n][-1].sentences for n in ("harbour.txt", "tides.md")) == report.embedded
    (failed_reason,) = [o.reason for o in report.outcomes if o.status == "failed"]
    assert [(e.stage, e.reason) for e in of["empty.txt"]] == [
        ("reading", ""),
        ("failed", failed_reason),
    ]
    assert [e.stage for e in of["drawing.xyz"]] == ["skipped"]
    assert ".xyz" in of["drawing.xyz"][0].reason
    assert overall[0] == (0, 3, 0)  # the unsupported file is not one of the files to read
    assert overall[-1] == (3, 3, report.embedded)  # the whole run, as the CLI shows it

    events.clear()
    assert ingest().counts["unchanged"] == 2
    ends = {(e.document, e.stage) for e in events if e.stage != "reading"}
    assert ends == {
        ("harbour.txt", "unchanged"),
        ("tides.md", "unchanged"),
        ("empty.txt", "failed"),
        ("drawing.xyz", "skipped"),
    }  # nothing embedded again


def test_a_file_read_by_an_older_reader_is_read_again_and_its_rows_replaced(
    tmp_path: Path, run: Run, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store made before a loader changed keeps no text the old loader made: the next
    sync reads the unchanged file again, replaces its rows at the same ids, and another
    process's index follows."""
    from dataclasses import replace

    from footnotes.index.lexical import LexicalIndex
    from footnotes.ingest import loaders

    folder = tmp_path / "docs"
    with_article(folder)
    real_load = loaders.load

    def older_reader(*args: Any, **kwargs: Any) -> Any:
        document = real_load(*args, **kwargs)  # same length: the same offsets, other text
        return replace(document, text=document.text.replace("Poland", "POLAND"))

    monkeypatch.setattr(loaders, "load", older_reader)
    monkeypatch.setattr(sync_module, "READER_VERSION", loaders.READER_VERSION - 1)
    first, _ = run(folder)
    assert first.counts["added"] == 1
    other = Replica(store, LexicalIndex(tmp_path / "other-process" / "lexical.sqlite"))
    other.refresh()
    question = "Poland defence spending security threat"
    assert "POLAND" in other.lexical.search(question, 1)[0].text
    sentences = store.sentence_count()

    monkeypatch.undo()
    second, _ = run(folder)
    assert (second.counts["updated"], second.counts["unchanged"]) == (1, 0)
    record = store.get_document(ARTICLE_ID)
    assert record is not None and record.reader == loaders.READER_VERSION
    assert store.sentence_count() == sentences, "rows replaced, none added beside them"
    rows = list(store.sentences_of(ARTICLE_ID, record.content_hash))
    assert len(rows) == sentences and not any("POLAND" in r.text for r in rows)
    assert any("Poland" in r.text for r in rows)
    assert not any("POLAND" in p.text for p in passages_of(store, ARTICLE_ID))
    other.refresh()
    assert other.lexical.search(question, 1)[0].text.count("Poland") == 1

    third, _ = run(folder)
    assert third.counts["unchanged"] == 1 and third.embedded == 0


def test_with_embed_context_each_sentence_is_embedded_with_its_title_and_heading(
    tmp_path: Path, store: Store, settings: Settings, embed_model: HuggingFaceEmbedding
) -> None:
    """FOOTNOTES_EMBED_CONTEXT: a sentence's vector is its title, heading and text read
    together, its stored text stays the bare sentence, the store says so in its model
    identity, and asking with the other setting is refused until it is ingested again."""
    import numpy as np

    from footnotes.errors import ModelMismatch
    from footnotes.index.ask import Asker
    from footnotes.ingest.passages import embedding_text

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "howto.md").write_text(
        "# Logging HOWTO\n\nThis guide was written by Vinay Sajip.\n\n"
        "## Handlers\n\nThey send each record to its destination.\n"
    )
    context = settings.model_copy(update={"embed_context": True})
    report = Ingestor(Replica.open(store, context), CountingFactory(embed_model), context).sync(
        [folder]
    )
    assert report.counts["added"] == 1
    record = store.get_document("howto.md")
    assert record is not None and record.embed_model == context.embed_identity()
    assert record.embed_model.endswith("+context") and not settings.embed_identity().endswith(
        "+context"
    )
    rows = {r.text: r for r in store.sentences_of("howto.md", record.content_hash)}
    bare = "They send each record to its destination."
    assert bare in rows, "the stored text is the bare sentence"
    hit = rows[bare]
    assert embedding_text(hit, bare) == f"Logging HOWTO. Handlers. {bare}"
    stored = np.asarray(store.sentence_embeddings([hit.id])[0])
    with_context, alone = np.asarray(
        embed_model.get_text_embedding_batch([embedding_text(hit, bare), bare])
    )
    assert float(stored @ with_context) > 0.999
    assert float(stored @ alone) < 0.99

    with pytest.raises(ModelMismatch, match="FOOTNOTES_EMBED_CONTEXT"):
        Asker(Replica.open(store, settings), embed_model, settings).check()
    again = Ingestor(Replica.open(store, settings), CountingFactory(embed_model), settings).sync(
        [folder]
    )
    assert again.counts["updated"] == 1, "a change of the setting embeds the file again"
    record = store.get_document("howto.md")
    assert record is not None and record.embed_model == settings.embed_identity()
    hit = next(r for r in store.sentences_of("howto.md", record.content_hash) if r.text == bare)
    assert float(np.asarray(store.sentence_embeddings([hit.id])[0]) @ alone) > 0.999
    Asker(Replica.open(store, settings), embed_model, settings).check()


def test_embedding_text_names_the_title_and_a_heading_once() -> None:
    from footnotes.ingest.model import Passage
    from footnotes.ingest.passages import embedding_text

    def passage(title: str, section: str | None) -> Passage:
        return Passage("d", 0, 0, 1, "x", title=title, section=section)

    assert embedding_text(passage("Guide", "Setup"), "Run it.") == "Guide. Setup. Run it."
    assert embedding_text(passage("Guide", "Guide"), "Run it.") == "Guide. Run it."
    assert embedding_text(passage("Guide", None), "Run it.") == "Guide. Run it."
    assert embedding_text(passage("Guide", "Setup:"), "Setup") == "Guide. Setup"
    assert embedding_text(passage("", None), "Run it.") == "Run it."
