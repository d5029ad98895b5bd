"""Crashes converge: a writer killed at any moment of an ingest leaves nothing a question
can cite half-written, and the next ingest ends the store exactly as a clean one would.

Two layers. In-process, a write is cut at the two windows that matter (after the new
rows, before the record; after the record, before its change is logged) by making the
next store call raise, as a kill would stop it. Then ``kill -9`` for real: a
``footnotes ingest`` subprocess writing to a real ``chroma run`` server, killed at
several points of a first ingest and of an update, a question asked from another
process's view before the rerun, and the store compared row by row with a clean
ingest of the same files.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from conftest import BIN, chroma_server

from footnotes.errors import StoreError
from footnotes.index.answer import Answer
from footnotes.index.ask import Asker
from footnotes.index.lexical import LexicalIndex
from footnotes.index.replica import Replica
from footnotes.index.store import Store
from footnotes.index.sync import Ingestor
from footnotes.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding


class _Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def _cut(target: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``target.name`` stop the writer the next time it is called."""

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise _Killed(name)

    monkeypatch.setattr(target, name, killed)


def _observer(store: Store, path: Path, settings: Settings) -> Replica:
    """Another process's view of the store: its own lexical index, following the log."""
    other = Store(store.client, store.name, create=False)
    return Replica(other, LexicalIndex(path))


def _coherent(answer: Answer, store: Store) -> None:
    """Every cited or offered sentence is the stored document's text at its offsets, in
    the passage it names: nothing of a half-written version."""
    for c in (*answer.citations, *answer.related):
        record = store.get_document(c.document)
        assert record is not None, f"{c.document} is cited but not stored"
        assert store.document_text(c.document)[c.start : c.end] == c.quote
        assert c.quote in c.passage


def _two_documents(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding
) -> tuple[Path, Replica, Replica]:
    """A folder of two documents ingested by a writer, and an observer caught up on them."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lamp.txt").write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    (docs / "door.txt").write_text("The door of the shed is red.\n", encoding="utf-8")
    writer = Replica.open(Store.from_settings(settings), settings)
    Ingestor(writer, lambda: embed_model, settings).sync([docs])
    observer = _observer(writer.store, tmp_path / "observer.sqlite", settings)
    observer.refresh()
    return docs, writer, observer


def test_a_write_cut_before_its_change_is_logged_is_announced_by_the_next_sync(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding, monkeypatch: Any
) -> None:
    docs, writer, observer = _two_documents(tmp_path, settings, embed_model)
    old = observer.lexical.content_hashes(["lamp.txt"])["lamp.txt"]

    (docs / "lamp.txt").write_text("The lamp in the hall is green now.\n", encoding="utf-8")
    with monkeypatch.context() as patch:
        _cut(writer.store, "_log", patch)
        with pytest.raises(_Killed):
            Ingestor(writer, lambda: embed_model, settings).sync([docs])
    new = writer.store.get_document("lamp.txt")
    assert new is not None and new.content_hash != old  # written, but never announced
    observer.refresh()
    assert observer.lexical.content_hashes(["lamp.txt"])["lamp.txt"] == old

    report = Ingestor(writer, lambda: embed_model, settings).sync([docs])

    assert report.counts["unchanged"] == 2 and report.ok
    observer.refresh()
    assert observer.lexical.content_hashes(["lamp.txt", "door.txt"]) == {
        "lamp.txt": new.content_hash,
        "door.txt": writer.store.get_document("door.txt").content_hash,  # type: ignore[union-attr]
    }
    assert writer.lexical.content_hashes(["lamp.txt"])["lamp.txt"] == new.content_hash


def test_a_removal_cut_before_its_change_is_logged_is_announced_by_the_next_sync(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding, monkeypatch: Any
) -> None:
    docs, writer, observer = _two_documents(tmp_path, settings, embed_model)

    (docs / "door.txt").unlink()
    with monkeypatch.context() as patch:
        _cut(writer.store, "_log", patch)
        with pytest.raises(_Killed):
            Ingestor(writer, lambda: embed_model, settings).sync([docs])
    assert writer.store.get_document("door.txt") is None
    observer.refresh()
    assert observer.document_count() == 2  # the removal was never announced

    Ingestor(writer, lambda: embed_model, settings).sync([docs])

    observer.refresh()
    assert observer.document_count() == 1
    assert set(observer.lexical.content_hashes(["lamp.txt", "door.txt"])) == {"lamp.txt"}


def test_rows_of_a_write_cut_before_its_record_are_never_cited(
    tmp_path: Path, settings: Settings, embed_model: HuggingFaceEmbedding, monkeypatch: Any
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    note = docs / "note.txt"
    note.write_text("The lamp in the hall is blue.\n", encoding="utf-8")
    writer = Replica.open(Store.from_settings(settings), settings)
    Ingestor(writer, lambda: embed_model, settings).sync([docs])
    question = "Which pier does the night ferry to Vardø leave from?"

    note.write_text("The night ferry to Vardø leaves from pier 7.\n", encoding="utf-8")
    with monkeypatch.context() as patch:
        _cut(writer.store._documents, "upsert", patch)  # the record is written last
        with pytest.raises(_Killed):
            Ingestor(writer, lambda: embed_model, settings).sync([docs])
    store = Store.from_settings(settings)
    assert any(
        "Vardø" in h.text
        for h in store.search_sentences(embed_model.get_query_embedding(question), 5)
    )
    reader = Asker(_observer(store, tmp_path / "reader.sqlite", settings), embed_model, settings)
    between = reader.ask(question)
    _coherent(between, store)
    assert not any("Vardø" in c.quote for c in (*between.citations, *between.related))

    Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync([docs])

    after = reader.ask(question)
    _coherent(after, store)
    assert after.answered and "pier 7" in after.citations[0].quote
    assert [p.text for p in store.iter_passages()] == [note.read_text(encoding="utf-8").strip()]


# --- kill -9 -------------------------------------------------------------------------

PLACES = ["Velmora", "Ostrava", "Kessel", "Tarnow", "Lidka", "Brenna", "Varga", "Ulm", "Sora"]
THINGS = ["bridge", "granary", "lighthouse", "mill", "school", "depot", "tower", "quay"]
STARTUP_SECONDS = 240  # model load on a loaded CI machine
WRITE_SECONDS = 240


def _text(doc: int, version: int) -> str:
    """A document of 12 paragraphs of 5 sentences, each sentence distinct."""
    rng = random.Random(doc * 100 + version)
    place = PLACES[doc % len(PLACES)]
    paragraphs = []
    for p in range(12):
        sentences = [
            f"In {place} the {rng.choice(THINGS)} number {p * 5 + s} was rebuilt in "
            f"{1700 + rng.randrange(300)} by {rng.randrange(2, 900)} workers (v{version})."
            for s in range(5)
        ]
        paragraphs.append(" ".join(sentences))
    return f"Records of {place}\n\n" + "\n\n".join(paragraphs) + "\n"


def _write_version(docs: Path, version: int) -> None:
    """Version 1: documents 0-7. Version 2: 0-1 changed, 7 removed, 8 added."""
    names = range(8) if version == 1 else [*range(7), 8]
    for path in docs.glob("*.txt"):
        if int(path.stem.split("-")[1]) not in names:
            path.unlink()
    for i in names:
        changed = version if (version == 2 and i in (0, 1, 8)) else 1
        (docs / f"records-{i}.txt").write_text(_text(i, changed), encoding="utf-8")


def _snapshot(client: ClientAPI, name: str) -> dict[str, Any]:
    """Every row of a collection's store, comparable across collections (no write times)."""

    def rows(collection: str, include: list[str]) -> dict[str, Any]:
        col = client.get_collection(collection)
        out: dict[str, Any] = {}
        offset = 0
        while True:
            got = col.get(include=include, limit=500, offset=offset)  # type: ignore[arg-type]
            for i, row_id in enumerate(got["ids"]):
                out[row_id] = {k: got[k][i] for k in include}  # type: ignore[literal-required]
            if len(got["ids"]) < 500:
                return out
            offset += 500

    documents = rows(f"{name}.documents", ["documents", "metadatas"])
    for row in documents.values():
        row["metadatas"] = {k: v for k, v in row["metadatas"].items() if k != "ingested_at"}
    return {
        "documents": documents,
        "texts": rows(f"{name}.texts", ["documents", "metadatas"]),
        "passages": rows(name, ["documents", "metadatas", "embeddings"]),
        "sentences": rows(f"{name}.sentences", ["metadatas", "embeddings"]),
    }


def _same_store(got: dict[str, Any], clean: dict[str, Any]) -> None:
    for part in ("documents", "texts", "passages", "sentences"):
        assert set(got[part]) == set(clean[part]), f"{part}: ids differ from a clean ingest"
        for row_id, row in clean[part].items():
            for key, value in row.items():
                if key == "embeddings":
                    assert np.allclose(got[part][row_id][key], value, atol=1e-4), row_id
                else:
                    assert got[part][row_id][key] == value, f"{part} {row_id} {key}"


def _count(client: ClientAPI, name: str) -> int:
    try:
        return client.get_collection(f"{name}.sentences").count()
    except Exception:  # not created yet
        return -1


@pytest.mark.slow
def test_kill_9_at_several_points_of_an_ingest_converges_to_a_clean_ingest(
    tmp_path: Path, embed_model: HuggingFaceEmbedding
) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    docs = tmp_path / "docs"
    docs.mkdir()
    with chroma_server(tmp_path / "chroma") as server:
        client = chromadb.HttpClient(
            host="127.0.0.1", port=server.port, settings=ChromaSettings(anonymized_telemetry=False)
        )
        base = Settings(store=tmp_path / "in-process", chroma_url=server.url)

        def clean(name: str) -> dict[str, Any]:
            settings = base.model_copy(update={"collection": name})
            replica = Replica.open(Store.from_settings(settings, client=client), settings)
            assert Ingestor(replica, lambda: embed_model, settings).sync([docs]).ok
            return _snapshot(client, name)

        def ingest(name: str) -> subprocess.Popen[bytes]:
            env = {
                **os.environ,
                "FOOTNOTES_CHROMA_URL": server.url,
                "FOOTNOTES_STORE": str(tmp_path / "cli"),
                "FOOTNOTES_COLLECTION": name,
                "HF_HUB_OFFLINE": "1",
                "ANONYMIZED_TELEMETRY": "False",
            }
            return subprocess.Popen(
                [str(BIN / "footnotes"), "ingest", str(docs)], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip

        killed: list[bool] = []

        def kill_when(name: str, process: subprocess.Popen[bytes], ready: Any) -> None:
            """SIGKILL ``process`` as soon as ``ready(sentence rows stored)`` holds. An
            ingest that ends first (the last point, on a fast machine) is not a failure:
            the rerun must still match, and the test asks that most points were kills."""
            deadline = time.monotonic() + STARTUP_SECONDS + WRITE_SECONDS
            while time.monotonic() < deadline and process.poll() is None:
                if ready(_count(client, name)):
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait()
                    killed.append(process.returncode == -signal.SIGKILL)
                    return
                time.sleep(0.005)
            assert process.poll() == 0, f"{name}: ingest failed or hung before the kill"
            killed.append(False)

        def ask_between(name: str, question: str) -> None:
            settings = base.model_copy(update={"collection": name})
            store = Store.from_settings(settings, client=client)
            lexical = LexicalIndex(tmp_path / "readers" / f"{name}-{time.time_ns()}.sqlite")
            replica = Replica(store, lexical)
            try:
                answer = Asker(replica, embed_model, settings).ask(question)
            except StoreError:  # nothing announced yet: refused, not half-answered
                assert replica.document_count() == 0
                return
            _coherent(answer, store)

        def rerun(name: str) -> None:
            process = ingest(name)
            _, err = process.communicate(timeout=STARTUP_SECONDS + WRITE_SECONDS)
            assert process.returncode == 0, err.decode()

        _write_version(docs, 1)
        first = clean("clean-one")
        total = len(first["sentences"])
        question = "When was the lighthouse in Ostrava rebuilt?"
        points = {"first-a": 1, "first-b": total // 2, "first-c": total}
        for name, rows in points.items():
            kill_when(name, ingest(name), lambda count, rows=rows: count >= rows)
            ask_between(name, question)
            rerun(name)
            _same_store(_snapshot(client, name), first)

        _write_version(docs, 2)
        second = clean("clean-two")
        question = "When was the granary in Velmora rebuilt?"
        start = len(first["sentences"])
        seen_more: list[bool] = []

        def after_first_replace(count: int) -> bool:  # a new version written, the old dropped
            if count > start:
                seen_more.append(True)
            return bool(seen_more) and count <= start

        updates = {"first-a": lambda count: count > start, "first-b": after_first_replace}
        for name, ready in updates.items():
            kill_when(name, ingest(name), ready)
            ask_between(name, question)
            rerun(name)
            _same_store(_snapshot(client, name), second)
        assert sum(killed) >= len(killed) - 1, f"killed at only {sum(killed)} of {len(killed)}"


def _snapshot_of(store: Path, name: str) -> dict[str, Any]:
    """:func:`_snapshot` of an embedded store, read in a process of its own (an embedded
    Chroma store is opened by one process at a time)."""
    import json
    import sys

    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import chromadb; "
        "from chromadb.config import Settings; from test_crash import _snapshot; "
        "c = chromadb.PersistentClient(path=sys.argv[2], "
        "settings=Settings(anonymized_telemetry=False)); "
        "print(json.dumps(_snapshot(c, sys.argv[3]), default=lambda a: a.tolist()))"
    )
    got = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(store), name],
        capture_output=True, text=True, timeout=STARTUP_SECONDS,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    return dict(json.loads(got.stdout))


def _indexed_documents(store: Path, name: str) -> int:
    """Documents in a CLI's lexical index: it applies each one right after storing it."""
    import sqlite3

    path = store / "lexical" / f"{name}.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1) as db:
            return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:  # being created or written: look again
        return 0


@pytest.mark.slow
def test_kill_9_of_an_ingest_into_the_embedded_store_converges(tmp_path: Path) -> None:
    import json

    docs = tmp_path / "docs"
    docs.mkdir()
    _write_version(docs, 1)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}

    def footnotes(store: Path, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN / "footnotes"), *args, "--store", str(store), "--collection", "laptop"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    def finish(process: subprocess.Popen[bytes]) -> bytes:
        out, err = process.communicate(timeout=STARTUP_SECONDS + WRITE_SECONDS)
        assert process.returncode == 0, err.decode()
        return out

    finish(footnotes(tmp_path / "clean", "ingest", str(docs)))
    clean = _snapshot_of(tmp_path / "clean", "laptop")
    for point in (1, 5):
        store = tmp_path / f"killed-{point}"
        process = footnotes(store, "ingest", str(docs))
        deadline = time.monotonic() + STARTUP_SECONDS + WRITE_SECONDS
        while _indexed_documents(store, "laptop") < point:
            assert process.poll() is None and time.monotonic() < deadline, "ended before the kill"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

        question = "When was the lighthouse in Ostrava rebuilt?"
        answer = json.loads(finish(footnotes(store, "ask", question, "--json")))
        for c in (*answer["citations"], *answer["related"]):  # each file holds what is stored
            text = (docs / c["document"]).read_text(encoding="utf-8")
            assert text[c["start"] : c["end"]] == c["quote"]
        finish(footnotes(store, "ingest", str(docs)))
        _same_store(_snapshot_of(store, "laptop"), clean)
