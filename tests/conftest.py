"""Shared fixtures: an isolated store per test, one embedding model per session."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from footnotes.index.library import Library

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SAMPLE_ARTICLE = SAMPLES / "belarus-russia-security-alliance.txt"

# The repository's sibling ``../shared`` holds the read-only test data; CI always has it.
SHARED = ROOT.parent / "shared"
assert SHARED.is_dir(), f"shared test data folder {SHARED} is missing"
SOLANA_PDF = SHARED / "data" / "blockchain_solana" / "source_files" / "BlockchainSolana.pdf"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the store at ``tmp_path`` and make sure nothing can reach OpenAI."""
    monkeypatch.setenv("FOOTNOTES_STORE", str(tmp_path / "store"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="session")
def embed_model() -> HuggingFaceEmbedding:
    """The bundled model, loaded once per session (loading costs seconds)."""
    from footnotes.index.embedding import load_embedding

    return load_embedding(Settings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a store in this test's ``tmp_path``."""
    return Settings(store=tmp_path / "store", collection="test")


@contextmanager
def serving_app(settings: Settings, library: Library) -> Iterator[str]:
    """``build_app(settings, library)`` under uvicorn on a free loopback port, in a thread;
    yields its base URL (with the root path, no trailing slash)."""
    import uvicorn

    from footnotes.ui.server import build_app

    app = build_app(settings, library)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    while thread.is_alive() and not server.started:
        started.wait(0.05)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}{settings.root_path}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
