"""Ingest and ask against a real Chroma server (``chroma run``) started for this module.

The server is the Rust one shipped with the ``chromadb`` wheel, on a free
loopback port, with its data in a temporary folder. Answers from it must be
the very answers the embedded store gives for the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import BIN, chroma_server, free_port

from footnotes.errors import StoreError
from footnotes.index.answer import Answer
from footnotes.index.ask import Asker
from footnotes.index.replica import Replica
from footnotes.index.store import Store
from footnotes.index.sync import Ingestor, SyncReport
from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "samples" / "belarus-russia-security-alliance.txt"
QUESTION = "Which missile system did Lukashenka ask Putin to deploy?"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a ``chroma run`` server with its data in a temporary folder; stopped afterwards."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as server:
        yield server.url


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding only the sample article."""
    path = tmp_path_factory.mktemp("articles")
    shutil.copy(ARTICLE, path / ARTICLE.name)
    return path


def _sync(settings: Settings, embed_model: HuggingFaceEmbedding, folder: Path) -> SyncReport:
    store = Store.from_settings(settings)
    return Ingestor(Replica.open(store, settings), lambda: embed_model, settings).sync([folder])


@pytest.fixture(scope="module")
def served(
    chroma_url: str, folder: Path, embed_model: HuggingFaceEmbedding
) -> tuple[Settings, SyncReport]:
    """Settings of a server collection holding the article, and the report of its first sync."""
    settings = Settings(chroma_url=chroma_url, collection="served")
    return settings, _sync(settings, embed_model, folder)


def _ask(settings: Settings, embed_model: HuggingFaceEmbedding) -> tuple[Store, Answer]:
    store = Store.from_settings(settings, create=False)
    return store, Asker(Replica.open(store, settings), embed_model, settings).ask(QUESTION)


def test_sync_into_server_adds_once_then_finds_it_unchanged(
    served: tuple[Settings, SyncReport], folder: Path, embed_model: HuggingFaceEmbedding
) -> None:
    settings, first = served
    assert first.counts["added"] == 1 and first.ok
    assert first.embedded > 0
    store = Store.from_settings(settings, create=False)  # a new client: the data is on the server
    assert [r.id for r in store.list_documents()] == [ARTICLE.name]
    passages = store.passage_count()
    assert store.sentence_count() == first.embedded
    assert passages == first.outcomes[0].passages

    again = _sync(settings, embed_model, folder)

    assert again.counts["unchanged"] == 1
    assert again.counts["added"] == again.counts["updated"] == again.counts["removed"] == 0
    assert again.embedded == 0
    assert store.passage_count() == passages


def test_server_answer_cites_exact_sentences(
    served: tuple[Settings, SyncReport], embed_model: HuggingFaceEmbedding
) -> None:
    settings, _ = served
    store, answer = _ask(settings, embed_model)

    assert answer.answered
    assert any("Oreshnik" in c.quote for c in answer.citations)
    for c in answer.citations:
        assert c.quote == store.document_text(c.document)[c.start : c.end]
        assert f"[{c.n}]" in answer.answer


def test_server_and_embedded_store_give_the_same_answer(
    served: tuple[Settings, SyncReport],
    folder: Path,
    tmp_path: Path,
    embed_model: HuggingFaceEmbedding,
) -> None:
    server_settings, _ = served
    embedded = Settings(store=tmp_path / "embedded", collection="served")
    assert _sync(embedded, embed_model, folder).counts["added"] == 1

    _, from_server = _ask(server_settings, embed_model)
    _, from_disk = _ask(embedded, embed_model)

    assert from_server.answer == from_disk.answer
    spans = [
        [(c.document, c.start, c.end, c.quote) for c in a.citations]
        for a in (from_server, from_disk)
    ]
    assert spans[0] == spans[1]


def test_remove_through_server_drops_every_passage(
    chroma_url: str, folder: Path, embed_model: HuggingFaceEmbedding
) -> None:
    settings = Settings(chroma_url=chroma_url, collection="removal")
    assert _sync(settings, embed_model, folder).counts["added"] == 1
    store = Store.from_settings(settings, create=False)
    assert store.passage_count() > 0

    assert store.remove_document(ARTICLE.name) is not None

    fresh = Store.from_settings(settings, create=False)
    assert fresh.passage_count() == 0
    assert fresh.list_documents() == []
    assert fresh.remove_document(ARTICLE.name) is None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    return subprocess.run(
        [str(BIN / "footnotes"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_cli_asks_the_server(served: tuple[Settings, SyncReport]) -> None:
    settings, _ = served

    run = _cli(
        "ask",
        QUESTION,
        "--json",
        "--chroma-url",
        settings.chroma_url,
        "--collection",
        settings.collection,
    )

    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["answered"] is True
    assert any("Oreshnik" in c["quote"] for c in answer["citations"])


def test_unreachable_server_is_a_store_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(StoreError, match="cannot reach the Chroma server"):
        Store.from_settings(Settings(chroma_url=url, collection="served"))

    run = _cli("ask", QUESTION, "--json", "--chroma-url", url)
    assert run.returncode != 0
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("footnotes: "), run.stderr
    assert url in lines[0]
