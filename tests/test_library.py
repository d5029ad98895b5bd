"""The uploads folder and the store stay in step: adding, replacing, failing and removing files.

Real model, real Chroma store in ``tmp_path``; the files are written by the tests.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from footnotes.errors import ConfigError, DocumentError
from footnotes.index.library import Library
from footnotes.index.sync import FileProgress
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding


@pytest.fixture
def library(tmp_path: Path, embed_model: HuggingFaceEmbedding) -> Library:
    return Library(Settings(store=tmp_path / "store", collection="files"), embed_model)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def folder_matches_store(library: Library) -> dict[str, str]:
    """The uploads folder's files, checked against the stored documents; name -> text."""
    folder = library.settings.uploads() / "files"
    files = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    stored = {r.id: library.document_text(r.id) for r in library.documents()}
    assert files == stored
    return files


def test_added_files_are_moved_or_copied_and_named_by_their_id(
    library: Library, tmp_path: Path
) -> None:
    moved = write(tmp_path / "in" / "a.md", "# Harbour\n\nThe ferry leaves at nine each day.\n")
    copied = write(tmp_path / "in" / "b.txt", "The lighthouse was built in 1880 by the town.\n")
    report = library.add_files([("a.md", moved)])
    assert [(o.document, o.status, o.path) for o in report.outcomes] == [("a.md", "added", "a.md")]
    assert not moved.exists()
    (outcome,) = library.add_files([("b.txt", copied)], copy=True).outcomes
    assert outcome.status == "added" and copied.exists()
    assert sorted(folder_matches_store(library)) == ["a.md", "b.txt"]


def test_progress_names_each_uploaded_file_by_its_name_only(
    library: Library, tmp_path: Path
) -> None:
    text = " ".join(f"Berth {i} takes ships of {i + 3} metres draught." for i in range(70))
    good = write(tmp_path / "in" / "berths.txt", text)
    empty = write(tmp_path / "in" / "empty.txt", "   \n")
    events: list[FileProgress] = []
    report = library.add_files([("berths.txt", good), ("empty.txt", empty)], progress=events.append)
    assert [o.status for o in report.outcomes] == ["added", "failed"]
    assert {e.document for e in events} == {e.path for e in events} == {"berths.txt", "empty.txt"}
    hidden = (str(tmp_path), str(library.settings.uploads()))
    assert not any(place in e.reason for e in events for place in hidden)
    berths = [e for e in events if e.document == "berths.txt"]
    counts = [e.embedded for e in berths if e.stage == "embedding"]
    assert counts == sorted(set(counts)) and len(counts) >= 3  # 0, then batches of 64 and more
    assert berths[-1].stage == "done" and berths[-1].embedded == counts[-1] > 64
    (failed,) = [e for e in events if e.stage == "failed"]
    assert failed.document == "empty.txt" and failed.reason == report.outcomes[1].reason


def test_a_failed_replacement_keeps_the_stored_file(library: Library, tmp_path: Path) -> None:
    good = "The ferry to Kelvin island leaves at nine each day.\n"
    library.add_files([("notes.txt", write(tmp_path / "1", good))])
    bad = write(tmp_path / "2", "   \n")  # empty: fails to ingest
    (outcome,) = library.add_files([("notes.txt", bad)]).outcomes
    assert outcome.status == "failed"
    assert outcome.reason.startswith("notes.txt") and str(tmp_path) not in outcome.reason
    assert folder_matches_store(library) == {"notes.txt": good}
    # One document, one copy of its passages: nothing duplicated by the failed attempt.
    assert [r.id for r in library.documents()] == ["notes.txt"]
    assert library.store().passage_count() == 1


def test_concurrent_uploads_of_one_name_leave_folder_and_store_in_step(
    library: Library, tmp_path: Path
) -> None:
    versions = [f"Version {i} says the ferry leaves at {i} o'clock each day.\n" for i in range(6)]
    sources = [write(tmp_path / f"v{i}" / "notes.txt", t) for i, t in enumerate(versions)]
    errors: list[BaseException] = []

    def upload(source: Path) -> None:
        try:
            (outcome,) = library.add_files([("notes.txt", source)]).outcomes
            assert outcome.status in ("added", "updated")
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=upload, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    files = folder_matches_store(library)
    assert list(files) == ["notes.txt"] and files["notes.txt"] in versions
    assert library.store().passage_count() == 1


def test_names_that_are_not_plain_or_repeat_are_refused_before_anything_moves(
    library: Library, tmp_path: Path
) -> None:
    source = write(tmp_path / "x.txt", "Some text that would be stored.\n")
    other = write(tmp_path / "y.txt", "Other text that would be stored.\n")
    for name in ("../x.txt", ".x.txt", "sub/x.txt"):
        with pytest.raises(ConfigError, match="not a plain file name"):
            library.add_files([("fine.txt", other), (name, source)])
    with pytest.raises(ConfigError, match="appears more than once"):
        library.add_files([("x.txt", source), ("x.txt", other)])
    assert source.exists() and other.exists()
    assert library.documents() == []


def test_a_missing_source_puts_every_moved_file_back(library: Library, tmp_path: Path) -> None:
    first = write(tmp_path / "in" / "a.txt", "The ferry leaves at nine each day.\n")
    with pytest.raises(DocumentError, match=r"b\.txt: the uploaded file is gone"):
        library.add_files([("a.txt", first), ("b.txt", tmp_path / "in" / "gone.txt")])
    assert first.read_text(encoding="utf-8") == "The ferry leaves at nine each day.\n"
    assert list((library.settings.uploads() / "files").iterdir()) == []
    assert library.documents() == []


def test_a_skipped_file_is_taken_out_and_the_one_it_replaced_put_back(
    library: Library, tmp_path: Path
) -> None:
    library.add_files([("a.txt", write(tmp_path / "1", "The ferry leaves at nine.\n"))])
    odd = write(tmp_path / "in" / "table.xyz", "not a document")
    (outcome,) = library.add_files([("table.xyz", odd)]).outcomes
    assert outcome.status == "skipped"
    assert odd.exists()  # moved back to where it came from
    assert folder_matches_store(library) == {"a.txt": "The ferry leaves at nine.\n"}


def test_a_file_already_in_place_is_ingested_where_it_is(library: Library, tmp_path: Path) -> None:
    library.add_files([("a.txt", write(tmp_path / "1", "The ferry leaves at nine.\n"))])
    placed = library.settings.uploads() / "files" / "a.txt"
    placed.write_text("The ferry leaves at ten now.\n", encoding="utf-8")
    (outcome,) = library.add_files([("a.txt", placed)]).outcomes
    assert outcome.status == "updated"
    assert folder_matches_store(library) == {"a.txt": "The ferry leaves at ten now.\n"}


def test_remove_deletes_an_uploaded_file_but_not_an_ingested_one(
    library: Library, tmp_path: Path
) -> None:
    library.add_files([("up.txt", write(tmp_path / "up.txt", "An uploaded note on ferries.\n"))])
    kept = write(tmp_path / "docs" / "kept.txt", "A note kept in the user's own folder.\n")
    library.ingest([kept])
    assert library.remove("up.txt") and library.remove("kept.txt")
    assert not (library.settings.uploads() / "files" / "up.txt").exists()
    assert kept.exists()  # the user's own file is never deleted
    assert library.documents() == []
    assert library.remove("up.txt") is False


def test_a_slow_upload_delays_neither_another_upload_nor_a_question(
    library: Library, tmp_path: Path
) -> None:
    """The write lock is held for store writes only: while one large file is read and
    embedded (seconds), another user's small file is added and answered from."""
    words = ["harbour", "ferry", "lantern", "orchard", "granite", "meadow", "beacon", "quarry"]
    lines = [
        f"Record {i} notes that the {words[i % 8]} near gate {i} was inspected in week {i % 52}."
        for i in range(1500)
    ]
    big = write(tmp_path / "in" / "ledger.txt", "\n\n".join(lines) + "\n")
    small = write(tmp_path / "in" / "memo.txt", "The night ferry to Vardø leaves from pier 7.\n")
    library.replica()  # open the collection before the race
    outcome: list[str] = []

    def upload_big() -> None:
        (o,) = library.add_files([("ledger.txt", big)]).outcomes
        outcome.append(o.status)

    slow = threading.Thread(target=upload_big)
    slow.start()
    placed = library.settings.uploads() / "files" / "ledger.txt"
    while not placed.exists() and slow.is_alive():  # the large file is inside its sync
        threading.Event().wait(0.01)
    (added,) = library.add_files([("memo.txt", small)]).outcomes
    answer = library.ask("Which pier does the night ferry to Vardø leave from?")
    still_running = slow.is_alive()
    slow.join()

    assert added.status == "added"
    assert answer.answered and answer.citations[0].document == "memo.txt"
    assert still_running, "the small upload and the question waited for the large upload"
    assert outcome == ["added"]
    assert {r.id for r in library.documents()} == {"ledger.txt", "memo.txt"}


def test_an_upload_whose_name_is_held_by_a_folder_file_names_no_server_path(
    library: Library, tmp_path: Path
) -> None:
    folder = tmp_path / "shared-drive"
    write(folder / "notes.txt", "The lamp in the hall is blue.\n")
    library.ingest([folder])
    upload = write(tmp_path / "incoming" / "notes.txt", "The lamp in the hall is green.\n")

    (outcome,) = library.add_files([("notes.txt", upload)]).outcomes

    assert outcome.status == "failed"
    assert "notes.txt" in outcome.reason and str(tmp_path) not in outcome.reason
    assert "blue" in library.document_text("notes.txt")
