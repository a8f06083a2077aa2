"""The embedding component: the bundled sentence-transformers model, run by torch or ONNX Runtime.

Backends (`BRIEFING_EMBED_BACKEND`): `torch` (sentence-transformers, fp32), `onnx` (the same network
exported once to ONNX, fp32) and `onnx-int8` (that export, dynamically quantised). Each is exposed
to LlamaIndex as an embedding model, so retrievers and vector stores use it unchanged.
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from briefing.settings import Settings

DIM = 384


def backend_id(settings: Settings) -> str:
    """What the index records: model folder name and backend, e.g. `model:onnx-int8`."""
    return f"{Path(settings.embed_model).name or settings.embed_model}:{settings.embed_backend}"


def get_embed_model(settings: Settings) -> BaseEmbedding:
    """The LlamaIndex embedding model for these settings, loaded once per process."""
    return _embed_model(
        settings.embed_model, settings.embed_backend, settings.embed_batch_size, str(settings.cache_dir)
    )


@lru_cache(maxsize=4)
def _embed_model(model: str, backend: str, batch_size: int, cache_dir: str) -> BaseEmbedding:
    if backend == "torch":
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        return HuggingFaceEmbedding(
            model_name=model, device="cpu", embed_batch_size=batch_size, normalize=True, local_files_only=True
        )
    return OnnxEmbedding(
        model, quantized=backend == "onnx-int8", cache_dir=Path(cache_dir), batch_size=batch_size
    )


def embed_texts(settings: Settings, texts: Sequence[str]) -> np.ndarray:
    """Unit-norm float32 embeddings of `texts`, one row each."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = get_embed_model(settings)
    if isinstance(model, OnnxEmbedding):
        return model.encode(texts)
    # One encode call over the whole list (not LlamaIndex's fixed batches) lets sentence-transformers
    # sort all texts by length, so batches carry little padding: about 2x faster on sentences.
    vectors = model._model.encode(
        list(texts), batch_size=settings.embed_batch_size, normalize_embeddings=True, convert_to_numpy=True
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_query(settings: Settings, text: str) -> np.ndarray:
    """The unit-norm embedding of a query (cached: retrieval and sentence scoring share it)."""
    return _cached_query(
        settings.embed_model, settings.embed_backend, settings.embed_batch_size, str(settings.cache_dir), text
    )


@lru_cache(maxsize=512)
def _cached_query(model: str, backend: str, batch_size: int, cache_dir: str, text: str) -> np.ndarray:
    vector = np.asarray(
        _embed_model(model, backend, batch_size, cache_dir).get_query_embedding(text), np.float32
    )
    vector.flags.writeable = False
    return vector


@lru_cache(maxsize=4)
def _tokenizer(model: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    tokenizer.model_max_length = 1_000_000  # we count whole texts; the model input is truncated elsewhere
    return tokenizer


def token_counter(settings: Settings):
    """Count tokens exactly as the embedding model's tokenizer does (no special tokens)."""
    tokenizer = _tokenizer(settings.embed_model)

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    return count


# -- ONNX ----------------------------------------------------------------------------------------
# sentence-transformers' own ONNX backend needs optimum-onnx, which requires transformers < 4.58 and
# so cannot sit beside sentence-transformers 6; the export and the pooling are therefore done here.


def quantisation_config() -> tuple[str, dict[str, Any]]:
    """Weight type for dynamic int8 quantisation, chosen from the CPU's features."""
    from onnxruntime.quantization import QuantType

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if platform.machine() in {"arm64", "aarch64"} or "vnni" in flags:
        return "s8-vnni-arm", {"weight_type": QuantType.QInt8}
    # Without VNNI, u8 weights with reduced range avoid the saturation of AVX2's 16-bit accumulators.
    return "u8-avx2", {"weight_type": QuantType.QUInt8, "reduce_range": True}


def onnx_model_path(model: str, quantized: bool, cache_dir: Path) -> Path:
    """Export the model to ONNX (and quantise it) once, into the cache folder; returns the file."""
    from filelock import FileLock

    weights = Path(model) / "model.safetensors"
    stamp = hashlib.sha256(
        f"{model}:{weights.stat().st_size if weights.exists() else 0}".encode()
    ).hexdigest()[:12]
    folder = cache_dir / "onnx" / f"{Path(model).name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    with FileLock(str(folder / ".lock")):
        if not fp32.exists():
            _export(model, fp32)
        if not quantized:
            return fp32
        name, options = quantisation_config()
        int8 = folder / f"model-int8-{name}.onnx"
        if not int8.exists():
            from onnxruntime.quantization import quantize_dynamic

            tmp = int8.with_suffix(".tmp.onnx")
            quantize_dynamic(
                str(fp32), str(tmp), per_channel=True, op_types_to_quantize=["MatMul"], **options
            )
            tmp.rename(int8)
        return int8


def _export(model: str, target: Path) -> None:
    """Trace the transformer with mean pooling and normalisation into one ONNX graph."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    encoder = AutoModel.from_pretrained(model, local_files_only=True).eval()
    sample = _tokenizer(model)(
        ["a short sample", "a second, longer sample sentence"], padding=True, return_tensors="pt"
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    tmp = target.with_suffix(".tmp.onnx")
    torch.onnx.export(
        Pooled(encoder),
        tuple(sample[n] for n in names),
        str(tmp),
        input_names=names,
        output_names=["embedding"],
        dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names}, "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    tmp.rename(target)


class OnnxEmbedding(BaseEmbedding):
    """The bundled model exported to ONNX, run by ONNX Runtime, as a LlamaIndex embedding model."""

    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _max_length: int = PrivateAttr(default=256)

    def __init__(self, model: str, quantized: bool, cache_dir: Path, batch_size: int = 32):
        import onnxruntime as ort

        super().__init__(
            model_name=f"{Path(model).name}:{'onnx-int8' if quantized else 'onnx'}",
            embed_batch_size=batch_size,
        )
        options = ort.SessionOptions()
        options.log_severity_level = 3
        path = onnx_model_path(model, quantized, cache_dir)
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = _tokenizer(model)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts in length-sorted batches (little padding)."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for i in range(0, len(texts), self.embed_batch_size):
            idx = order[i : i + self.embed_batch_size]
            enc = self._tokenizer(
                [texts[j] for j in idx],
                padding=True,
                truncation=True,
                max_length=self._max_length,
                return_tensors="np",
            )
            feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            out[idx] = self._session.run(None, feed)[0]
        return out

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.encode([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)
