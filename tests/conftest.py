"""Shared fixtures: an isolated store per test, one embedding model per session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from footnotes.settings import Settings

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

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
