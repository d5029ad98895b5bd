"""The encoder backends: ONNX builds cached, vectors agree with torch, tokens line up.

The ONNX models are built once per session into a temporary store (the export
takes some 20 s) and shared by the tests; the torch encoder is the session's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from pydantic import ValidationError

from footnotes.index.coverage import WordVectors
from footnotes.settings import DEFAULT_EMBED_MODEL, Settings

if TYPE_CHECKING:
    from footnotes.index.embedding import Encoder

TEXTS = [
    "Solana orders transactions with a proof of history before consensus.",
    "Lukashenka requested that Putin deploy the Oreshnik missile system in Belarus.",
    "Bread is baked in a hot oven.",
    "Naïve café owners in İzmir don't serve crème brûlée — they sell börek!",
    "short",
]


@pytest.mark.slow
def test_onnx_models_are_built_once_and_cached(
    onnx_store: Path, onnx_encoders: dict[str, Encoder]
) -> None:
    from footnotes.index.embedding import load_embedding

    models = sorted((onnx_store / "models").iterdir())
    assert [m.name.rsplit("-", 1)[0] for m in models] == [
        "all-MiniLM-L6-v2-onnx",
        "all-MiniLM-L6-v2-onnx-int8",
    ]
    for folder in models:
        assert json.loads((folder / "build.json").read_text())["seconds"] > 0
    files = [m / "model.onnx" for m in models]
    # int8 MatMul weights (the word embeddings and FFN down-projections stay fp32).
    assert files[1].stat().st_size < 0.8 * files[0].stat().st_size
    stamps = [f.stat().st_mtime_ns for f in files]
    again = load_embedding(Settings(store=onnx_store, embed_backend="onnx-int8"))
    assert [f.stat().st_mtime_ns for f in files] == stamps  # loaded, not rebuilt
    assert sorted((onnx_store / "models").iterdir()) == models  # no leftover temporary folder
    np.testing.assert_allclose(
        again.encode(TEXTS), onnx_encoders["onnx-int8"].encode(TEXTS), atol=1e-6
    )


@pytest.mark.slow
def test_onnx_vectors_match_torch(
    torch_encoder: Encoder, onnx_encoders: dict[str, Encoder]
) -> None:
    from sentence_transformers import SentenceTransformer

    from footnotes.index.embedding import resolve_model_path

    torch_vectors = torch_encoder.encode(TEXTS)
    assert torch_vectors.shape == (len(TEXTS), 384)
    # The torch backend is what sentence-transformers itself computes.
    plain = SentenceTransformer(resolve_model_path(DEFAULT_EMBED_MODEL), device="cpu")
    reference = plain.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert np.min((torch_vectors * reference).sum(axis=1)) > 0.99999
    fp32 = (onnx_encoders["onnx"].encode(TEXTS) * torch_vectors).sum(axis=1)
    assert fp32.min() > 0.999
    int8 = (onnx_encoders["onnx-int8"].encode(TEXTS) * torch_vectors).sum(axis=1)
    assert int8.mean() > 0.9
    for encoder in onnx_encoders.values():
        vector = np.asarray(encoder.get_query_embedding(TEXTS[0]))
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
        batch = encoder.get_text_embedding_batch(TEXTS)
        assert len(batch) == len(TEXTS) and len(batch[0]) == 384
    # Order is kept although a batch is sorted by length inside.
    assert np.argmax(onnx_encoders["onnx"].encode(TEXTS) @ torch_vectors[2]) == 2


@pytest.mark.slow
def test_identity_names_the_backend(
    torch_encoder: Encoder, onnx_encoders: dict[str, Encoder]
) -> None:
    assert torch_encoder.identity == DEFAULT_EMBED_MODEL
    assert onnx_encoders["onnx"].identity == f"{DEFAULT_EMBED_MODEL}+onnx"
    assert onnx_encoders["onnx-int8"].identity == f"{DEFAULT_EMBED_MODEL}+onnx-int8"
    assert Settings(embed_backend="torch").embed_identity() == DEFAULT_EMBED_MODEL
    custom = Settings(embed_model="/models/mine", embed_backend="onnx-int8")
    assert custom.embed_identity() == "/models/mine+onnx-int8"


@pytest.mark.slow
def test_token_vectors_line_up_with_the_text(
    torch_encoder: Encoder, onnx_encoders: dict[str, Encoder]
) -> None:
    long_text = "alpha " * 400 + "omega"
    texts = [*TEXTS, long_text]
    reference = torch_encoder.token_vectors(texts)
    for encoder in (torch_encoder, *onnx_encoders.values()):
        out = encoder.token_vectors(texts)
        lengths = encoder.token_lengths(texts)
        for text, (vectors, offsets), n in zip(texts, out, lengths, strict=True):
            assert vectors.dtype == np.float32 and vectors.shape == (len(offsets), 384)
            assert offsets[0] == (0, 0) and offsets[-1] == (0, 0)  # [CLS] ... [SEP]
            assert len(offsets) == min(n + 2, encoder.max_seq_length)  # as token_lengths
            pieces = [text[a:b] for a, b in offsets[1:-1]]
            assert all(a < b for a, b in offsets[1:-1])
            # Word pieces are the text's own characters, in order (the model lower-cases).
            joined = "".join(text[a:b] for a, b in offsets[1:-1])
            assert joined == "".join(text[offsets[1][0] : offsets[-2][1]].split())
            assert pieces[0].lower() == text.split()[0][: len(pieces[0])].lower()
        assert len(out[-1][1]) == encoder.max_seq_length == 256  # truncated
        assert out[-1][1][-2][1] < len(long_text)
    # The ONNX fp32 token vectors are torch's.
    for (a, _), (b, _) in zip(reference, onnx_encoders["onnx"].token_vectors(texts), strict=True):
        cos = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cos.min() > 0.999
    # Word coverage gets vectors from any backend, and none from another embedding model.
    words = WordVectors(onnx_encoders["onnx-int8"])(TEXTS[:1])[0]
    assert words and all(w.vector is not None for w in words)
    assert all(w.vector is None for w in WordVectors(object())(TEXTS[:1])[0])  # type: ignore[arg-type]


def test_embed_backend_setting_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(embed_backend="onnx").embed_backend == "onnx"
    monkeypatch.setenv("FOOTNOTES_EMBED_BACKEND", "onnx-int8")
    assert Settings().embed_backend == "onnx-int8"
    assert Settings().embed_identity() == f"{DEFAULT_EMBED_MODEL}+onnx-int8"
    with pytest.raises(ValidationError, match="embed_backend"):
        Settings(embed_backend="int4")  # type: ignore[arg-type]
    monkeypatch.setenv("FOOTNOTES_EMBED_BACKEND", "cuda")
    with pytest.raises(ValidationError, match="embed_backend"):
        Settings()


def test_token_lengths_fall_back_to_characters() -> None:
    from llama_index.core.embeddings import MockEmbedding

    from footnotes.index.embedding import token_lengths

    assert token_lengths(MockEmbedding(embed_dim=4), ["abc", ""]) == [3, 0]
