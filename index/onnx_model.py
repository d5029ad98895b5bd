"""The encoder as an ONNX model: exported once from the local model folder, then cached.

``sentence-transformers[onnx]`` needs optimum, which cannot install beside
sentence-transformers 6 (it pins transformers < 5), so the export is done
here with ``torch.onnx.export``, offline, from the very weights the torch
backend loads. The graph takes the tokenizer's arrays and returns the token
vectors and the pooled, L2-normalised sentence vector, exactly the two
outputs sentence-transformers computes for a Transformer + Pooling
(+ Normalize) model.

Built models are cached beside the store, in
``STORE/models/<name>-<backend>-<hash>``, the hash covering every file of the
model folder and the build recipe: a changed model or recipe builds anew,
an unchanged one loads in a fraction of a second. A build is written under a
temporary name and renamed into place, so a reader never sees half a model
and two processes building at once both end up with one whole copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from footnotes.errors import ConfigError

log = logging.getLogger(__name__)

RECIPE = 1
"""Bumped when the export or the quantisation changes: cached builds are then rebuilt."""

MODEL_FILE = "model.onnx"
INT8_VARIANT = "per-channel, weights only, FFN-out fp32"
"""The ``quantize_dynamic`` recipe of the ``onnx-int8`` backend, one of ``INT8_VARIANTS``.

Measured with ``benchmarks/encoder.py --variants`` (2,670 sentences, cosine to torch
fp32): ``quantize_dynamic``'s defaults drift far (mean 0.953, min 0.82) and lose up to
0.05 page hit; per-channel MatMul weights reach 0.992 / 0.968 but lose two of 58
questions at dense top-1; keeping the six FFN down-projections (after GELU, where the
activation outliers are) in fp32 gives 0.9955 / 0.9815 and loses one question at
RRF top-3 while gaining at four other depths, for about a quarter less speed.
Keeping layer 0 (and the last layer) in fp32 instead did worse at top-1."""


@dataclass(frozen=True)
class ModelLayout:
    """What an export needs to know of a sentence-transformers folder."""

    folder: Path  # the sentence-transformers model folder
    transformer: Path  # the Hugging Face model inside it (often the same folder)
    max_seq_length: int
    pooling: str  # "mean" or "cls"


def read_layout(folder: Path) -> ModelLayout:
    """The layout of a sentence-transformers folder; ``ConfigError`` if it cannot be exported.

    Only Transformer, Pooling (mean or CLS) and Normalize modules are supported:
    a Dense layer or another pooling would be silently dropped by the export.
    """
    modules_file = folder / "modules.json"
    modules = (
        json.loads(modules_file.read_text(encoding="utf-8"))
        if modules_file.is_file()
        else [{"type": "sentence_transformers.models.Transformer", "path": ""}]
    )
    transformer = folder
    pooling = "mean"
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        path = folder / str(module.get("path", ""))
        if kind == "Transformer":
            transformer = path
        elif kind == "Pooling":
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            modes = [k for k, v in config.items() if k.startswith("pooling_mode_") and v]
            if modes == ["pooling_mode_mean_tokens"]:
                pooling = "mean"
            elif modes == ["pooling_mode_cls_token"]:
                pooling = "cls"
            else:
                raise ConfigError(
                    f"{folder}: pooling {modes} is not supported by the ONNX backends; "
                    "use FOOTNOTES_EMBED_BACKEND=torch"
                )
        elif kind != "Normalize":
            raise ConfigError(
                f"{folder}: module {kind} is not supported by the ONNX backends; "
                "use FOOTNOTES_EMBED_BACKEND=torch"
            )
    max_len = 512
    for config_name in ("sentence_bert_config.json",):
        config_file = transformer / config_name
        if config_file.is_file():
            max_len = int(json.loads(config_file.read_text(encoding="utf-8"))["max_seq_length"])
    return ModelLayout(folder, transformer, max_len, pooling)


def folder_hash(folder: Path, recipe: str = "") -> str:
    """SHA-256 of ``recipe`` and every file of ``folder`` (relative path and bytes), 16 hex."""
    digest = hashlib.sha256(f"recipe {recipe}\n".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith("."):
            continue
        digest.update(rel.encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def cached_model(layout: ModelLayout, name: str, backend: str, cache: Path) -> Path:
    """The ONNX file for ``backend`` ("onnx" or "onnx-int8"), built into ``cache`` if missing.

    ``name`` names the cache folder (the configured model). Raises ``ConfigError``
    if the export fails.
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", re.split(r"[:/\\]", name.rstrip("/\\"))[-1])[-60:]
    recipe = f"{RECIPE} {INT8_VARIANT}" if backend == "onnx-int8" else f"{RECIPE}"
    final = cache / f"{slug or 'model'}-{backend}-{folder_hash(layout.folder, recipe)}"
    if (final / MODEL_FILE).is_file():
        return final / MODEL_FILE
    cache.mkdir(parents=True, exist_ok=True)
    source = cached_model(layout, name, "onnx", cache) if backend == "onnx-int8" else None
    tmp = cache / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        t0 = time.perf_counter()
        log.info("building the %s encoder in %s", backend, final)
        if source is None:
            _export(layout, tmp / MODEL_FILE)
        else:
            quantize(source, tmp / MODEL_FILE, INT8_VARIANT)
        info = {"backend": backend, "recipe": RECIPE, "seconds": time.perf_counter() - t0}
        (tmp / "build.json").write_text(json.dumps(info), encoding="utf-8")
        try:
            tmp.rename(final)
        except OSError:
            if not (final / MODEL_FILE).is_file():
                raise
            # Another process finished the same build first: keep its copy.
    except Exception as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"cannot build the {backend} encoder for {name!r}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final / MODEL_FILE


def _export(layout: ModelLayout, target: Path) -> None:
    """Export the folder's transformer + pooling + normalisation to ``target``."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(layout.transformer), attn_implementation="eager")
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(layout.transformer))
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in tokenizer.model_input_names:
        names.append("token_type_ids")
    wrapper = _Pooled(model, layout.pooling).eval()
    sample = tokenizer(
        ["An example sentence to trace the encoder with.", "Another, shorter one."],
        padding=True,
        return_tensors="pt",
    )
    args = tuple(sample[n] for n in names)
    dim = torch.export.Dim.DYNAMIC
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            wrapper,
            args,
            str(target),
            input_names=names,
            output_names=["token_embeddings", "sentence_embedding"],
            dynamic_shapes=tuple({0: dim, 1: dim} for _ in names),
            external_data=False,
            dynamo=True,
            verbose=False,
        )


class _Pooled:  # a torch.nn.Module, built lazily so that importing this module needs no torch
    def __new__(cls, model: Any, pooling: str) -> Any:
        import torch

        class Pooled(torch.nn.Module):
            """Calls the model with keyword arguments (transformers 5's ``forward``
            takes others positionally), then pools as sentence-transformers does."""

            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(
                self,
                input_ids: torch.Tensor,
                attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None,
            ) -> tuple[torch.Tensor, torch.Tensor]:
                features = {"input_ids": input_ids, "attention_mask": attention_mask}
                if token_type_ids is not None:
                    features["token_type_ids"] = token_type_ids
                tokens = self.model(**features).last_hidden_state
                if pooling == "cls":
                    pooled = tokens[:, 0]
                else:
                    mask = features["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                    pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return tokens, torch.nn.functional.normalize(pooled, p=2.0, dim=1)

        return Pooled()


def _weight_matmuls(model: Any) -> list[Any]:
    """The MatMul nodes that multiply by a stored weight, in graph order."""
    weights = {i.name for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def _excluded(model: Any, variant: str) -> list[str]:
    """Names of the nodes ``variant`` keeps in fp32."""
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul"]
    weighted = _weight_matmuls(model)
    keep: list[Any] = []
    if "weights only" in variant:  # attention scores: activation x activation
        keep += [n for n in matmuls if n not in weighted]
    if "FFN-out fp32" in variant:  # the down-projection after GELU, where outliers live
        gelu_out = {o for n in model.graph.node if n.op_type == "Gelu" for o in n.output}
        keep += [n for n in weighted if n.input[0] in gelu_out]
    if "layer 0 fp32" in variant:
        keep += weighted[:6]
    if "last layer fp32" in variant:
        keep += weighted[-6:]
    return [n.name for n in keep]


INT8_VARIANTS = (
    "default",
    "per-channel",
    "per-channel, reduce-range",
    "per-channel, weights only",
    "per-channel, weights only, FFN-out fp32",
    "per-channel, weights only, layer 0 fp32",
    "per-channel, weights only, layer 0 fp32, last layer fp32",
    "per-channel, weights only, FFN-out fp32, layer 0 fp32",
)
"""Recipes ``benchmarks/encoder.py --variants`` compares. "default" is ``quantize_dynamic``
as called with no options (Gather embeddings included); the others quantise MatMul only."""


def quantize(source: Path, target: Path, variant: str) -> None:
    """Dynamic int8 quantisation of ``source`` into ``target`` by the recipe ``variant``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if variant not in INT8_VARIANTS:
        raise ValueError(f"unknown int8 variant {variant!r}; one of {INT8_VARIANTS}")
    if variant == "default":
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        return
    quantize_dynamic(
        source,
        target,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range="reduce-range" in variant,
        nodes_to_exclude=_excluded(onnx.load(str(source), load_external_data=False), variant),
    )
