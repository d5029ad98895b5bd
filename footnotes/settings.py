"""One settings class for the whole product.

Built once in an entry point (CLI, server) and passed down; nothing reads
configuration at import time. Every field maps to a ``FOOTNOTES_*``
environment variable; the names are a contract that scripts outside the
project rely on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBED_MODEL = "bundled:all-MiniLM-L6-v2"


def default_store() -> Path:
    """The store folder used when none is given: ``~/.local/share/footnotes/store``."""
    return Path.home() / ".local" / "share" / "footnotes" / "store"


RESERVED_SUFFIXES = (".documents", ".sentences", ".changes", ".texts")
"""The endings of the Chroma collections a store keeps beside each collection's own."""


def check_collection_name(value: str) -> str:
    """``value`` if it can name a Footnotes collection, else ``ValueError`` saying why."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,60}[A-Za-z0-9]", value):
        raise ValueError(
            f"collection name {value!r} must be 3-62 characters of letters, digits, "
            "'.', '_' or '-', starting and ending with a letter or digit"
        )
    if value.endswith(RESERVED_SUFFIXES):
        raise ValueError(
            f"collection name {value!r} may not end in "
            + ", ".join(repr(s) for s in RESERVED_SUFFIXES)
            + " (reserved for the store's own collections)"
        )
    return value


class Settings(BaseSettings):
    """Configuration of Footnotes. Env prefix ``FOOTNOTES_``."""

    model_config = SettingsConfigDict(env_prefix="FOOTNOTES_", extra="ignore")

    store: Path = Field(default_factory=default_store, description="Folder of the embedded store.")
    collection: str = Field("default", description="Chroma collection to use.")
    chroma_url: str = Field("", description="Chroma server URL; empty means the embedded store.")
    embed_model: str = Field(
        DEFAULT_EMBED_MODEL,
        description="Bundled MiniLM, or any sentence-transformers name or local path.",
    )
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "torch",
        description="Encoder runtime: torch fp32, ONNX Runtime fp32, or ONNX Runtime int8.",
    )
    embed_context: bool = Field(
        False,
        description="Embed each sentence with its document title and section heading "
        "(better for many documents whose questions name their subject; see README).",
    )
    passage_words: int = Field(160, description="Target passage size in words.")
    embed_batch_size: int = Field(64, description="Passages embedded per encoder call.")
    read_batch_size: int = Field(
        1000, description="Rows or ids per Chroma read (within SQLite's variable limit)."
    )
    candidates: int = Field(30, description="Sentences each retriever (dense, BM25) proposes.")
    max_answer_sentences: int = Field(3, description="Sentences at most in an answer.")
    abstain_threshold: float = Field(
        0.45, description="Answer only above this confidence (calibrated; see README)."
    )

    # Answers written by a language model (``index/llm.py``, ``index/written.py``): empty
    # ``llm`` keeps the extractive answer; the model's every sentence is checked.
    llm: Literal["", "openai", "ollama"] = Field(
        "", description="Who writes answers: empty (quoted sentences), openai or ollama."
    )
    llm_url: str = Field(
        "",
        description="Model server: an OpenAI-compatible base URL ending in /v1, or Ollama's "
        "http://host:11434 (its default when empty).",
    )
    llm_model: str = Field("", description="The model's name on that server (required).")
    llm_api_key: str = Field("", description="Bearer key for an OpenAI-compatible server.")
    llm_timeout: float = Field(
        60.0, gt=0, description="Seconds the model may take to write an answer, in all."
    )
    llm_unsupported: Literal["drop", "flag"] = Field(
        "drop", description="A written sentence its quotes do not support: drop it, or flag it."
    )
    llm_evidence: int = Field(
        8, ge=1, le=40, description="Evidence sentences the model is given, numbered [1]..[n]."
    )

    # Parsing limits (``ingest/limits.py``, ``ingest/worker.py``): a file over one fails alone,
    # with a reason naming the limit and its variable. The defaults are measured there.
    max_docx_inflated_mb: int = Field(
        200, gt=0, description="Bytes a .docx may inflate to, all its parts together, in MB."
    )
    max_docx_parts: int = Field(1000, gt=0, description="Parts (zip entries) a .docx may have.")
    max_docx_paragraphs: int = Field(100_000, gt=0, description="Paragraphs a .docx may have.")
    max_html_mb: int = Field(20, gt=0, description="Largest .html file, in MB.")
    max_html_depth: int = Field(256, gt=0, description="Deepest element nesting in an .html file.")
    max_html_elements: int = Field(250_000, gt=0, description="Elements an .html file may have.")
    max_pdf_pages: int = Field(2000, gt=0, description="Pages a PDF may have.")
    max_pdf_seconds: float = Field(
        90.0, gt=0, description="Seconds a PDF's text extraction may take."
    )
    max_text_chars: int = Field(
        20_000_000, gt=0, description="Characters of text one document may have."
    )
    parse_workers: int = Field(
        4, ge=0, description="Parser processes at most (one per concurrent sync); 0: in-process."
    )
    parse_timeout: float = Field(120.0, gt=0, description="Seconds a worker may take on a file.")
    parse_memory_mb: int = Field(
        1024, gt=0, description="Address space a parser process may use, in MB."
    )
    parse_retire_mb: int = Field(
        256, gt=0, description="A parser process above this RSS after a file is replaced, in MB."
    )

    # Serving (``footnotes serve``)
    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(7860, description="Port to bind.")
    root_path: str = Field("", description="Public sub-path, e.g. /qa, for a reverse proxy.")
    auth: str = Field(
        "", description="UI logins: 'user:password' pairs separated by commas, or a file of lines."
    )
    api_token: str = Field("", description="Bearer token every /api call must carry.")
    allow_unauthenticated: bool = Field(
        False, description="Allow binding beyond loopback with no auth or token."
    )
    max_upload_mb: int = Field(50, description="Largest accepted upload, in MB.")
    max_body_kb: int = Field(
        1024, ge=1, description="Largest request body but uploads, in KB (413 above it)."
    )
    max_question_chars: int = Field(
        4000, ge=1, description="Longest question, in characters, on every entry point."
    )
    max_history_turns: int = Field(
        50, ge=0, description="Most earlier messages a question may carry (API, batch, eval)."
    )
    max_history_chars: int = Field(
        50_000, ge=0, description="Most characters in all of a question's earlier messages."
    )
    login_max_failures: int = Field(
        10, ge=1, description="Failed logins (or wrong API tokens) from one address that lock it."
    )
    login_window_seconds: float = Field(
        300, gt=0, description="The window in which those failures are counted."
    )
    login_lockout_seconds: float = Field(
        300, gt=0, description="How long a locked address is answered 429."
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="Proxies whose X-Forwarded-For names the client (uvicorn forwarded_allow_ips).",
    )
    upload_dir: Path | None = Field(
        None, description="Where uploads are kept; default STORE/uploads."
    )

    @field_validator("root_path")
    @classmethod
    def _root_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            raise ValueError(f"root path {value!r} must start with '/'")
        return value

    def lexical_index(self, collection: str | None = None) -> Path:
        """The local lexical index of a collection (derived data, see ``index/replica.py``):
        one file per Chroma store and collection, in the store folder."""
        name = f"{collection or self.collection}.sqlite"
        if self.chroma_url:
            server = re.sub(r"[^A-Za-z0-9.-]+", "_", self.chroma_url.split("://", 1)[-1]).strip("_")
            return self.store / "lexical" / server / name
        return self.store / "lexical" / name

    def embed_identity(self) -> str:
        """The encoder's identity stored with every document: the model, plus the backend
        unless it is torch (so stores embedded before backends existed stay valid), plus
        ``+context`` when sentences are embedded with their title and heading."""
        identity = self.embed_model
        if self.embed_backend != "torch":
            identity += f"+{self.embed_backend}"
        return identity + "+context" if self.embed_context else identity

    def uploads(self) -> Path:
        """The folder uploaded files are written to."""
        return self.upload_dir if self.upload_dir is not None else self.store / "uploads"

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        return check_collection_name(value)

    @model_validator(mode="after")
    def _sizes(self) -> Settings:
        if self.passage_words < 20:
            raise ValueError(f"passage_words must be at least 20 (got {self.passage_words})")
        if self.embed_batch_size < 1:
            raise ValueError(f"embed_batch_size must be positive (got {self.embed_batch_size})")
        if not 1 <= self.read_batch_size <= 20000:
            raise ValueError(f"read_batch_size must be 1 to 20000 (got {self.read_batch_size})")
        if self.candidates < 1:
            raise ValueError(f"candidates must be positive (got {self.candidates})")
        if self.llm and not self.llm_model.strip():
            raise ValueError(
                f"llm_model is required with llm={self.llm!r}: the model's name on the server "
                "(FOOTNOTES_LLM_MODEL or --llm-model)"
            )
        if self.llm == "openai" and not self.llm_url.strip():
            raise ValueError(
                "llm_url is required with llm='openai': the server's base URL ending in /v1 "
                "(FOOTNOTES_LLM_URL or --llm-url)"
            )
        if self.max_answer_sentences < 1:
            raise ValueError(
                f"max_answer_sentences must be positive (got {self.max_answer_sentences})"
            )
        return self
