"""The embedding component: the bundled sentence-transformers model, run by torch or ONNX Runtime.

Backends (`BRIEFING_EMBED_BACKEND`): `torch` (sentence-transformers, fp32), `onnx` (the same network
exported once to ONNX, fp32) and `onnx-int8` (that export, smoothed and dynamically quantised). Each
is exposed to LlamaIndex as an embedding model, so retrievers and vector stores use it unchanged.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
def _hf_tokenizer(model: str):
    """The model's tokenizer through transformers (which imports torch): for the ONNX export and its
    calibration only, which need torch anyway."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    tokenizer.model_max_length = 1_000_000  # we count whole texts; the model input is truncated elsewhere
    return tokenizer


class FastTokenizer:
    """The model's `tokenizer.json` run by the `tokenizers` package alone: the same ids as the
    transformers tokenizer (tests/test_embedding.py checks it over the corpus), without importing
    transformers and torch, so `briefing ask` and `serve` start faster. Falls back to transformers for a
    model folder without a `tokenizer.json`."""

    def __init__(self, model: str):
        folder = Path(model)
        path = folder / "tokenizer.json"
        self._hf = None
        if not path.is_file():
            self._hf = _hf_tokenizer(model)
            self.pad_token_id = self._hf.pad_token_id
            return
        from tokenizers import Tokenizer

        self._path = str(path)
        self._tok = Tokenizer.from_file(self._path)
        self._tok.no_padding()  # tokenizer.json may carry the padding and truncation of its training
        self._tok.no_truncation()
        self._truncating: dict[int, Any] = {}
        pad = "[PAD]"
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            config = folder / name
            if config.is_file():
                value = json.loads(config.read_text(encoding="utf-8")).get("pad_token")
                value = value.get("content") if isinstance(value, dict) else value
                if value:
                    pad = value
                    break
        self.pad_token_id = self._tok.token_to_id(pad)

    def _truncated(self, max_length: int):
        """A second tokenizer that truncates to `max_length` tokens, special tokens included, the way
        transformers' fast tokenizers do it (they call the same `enable_truncation`)."""
        if max_length not in self._truncating:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(self._path)
            tok.no_padding()
            tok.enable_truncation(max_length, stride=0, strategy="longest_first")
            self._truncating[max_length] = tok
        return self._truncating[max_length]

    def ids(
        self, texts: Sequence[str], special_tokens: bool = True, max_length: int | None = None
    ) -> list[list[int]]:
        """Token ids of each text, cut to `max_length` tokens when given (transformers'
        `truncation=True, max_length=...`), else whole (`truncation=False`)."""
        texts = list(texts)
        if self._hf is not None:
            kwargs = {"truncation": True, "max_length": max_length} if max_length else {"truncation": False}
            return self._hf(texts, add_special_tokens=special_tokens, **kwargs)["input_ids"]
        tok = self._truncated(max_length) if max_length else self._tok
        return [e.ids for e in tok.encode_batch(texts, add_special_tokens=special_tokens)]


@lru_cache(maxsize=4)
def _tokenizer(model: str) -> FastTokenizer:
    return FastTokenizer(model)


def token_counter(settings: Settings):
    """Count tokens exactly as the embedding model's tokenizer does (no special tokens)."""
    tokenizer = _tokenizer(settings.embed_model)

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(x) for x in tokenizer.ids(texts, special_tokens=False)]

    return count


# -- ONNX ----------------------------------------------------------------------------------------
# sentence-transformers' own ONNX backend needs optimum-onnx, which requires transformers < 4.58 and
# so cannot sit beside sentence-transformers 6; the export and the pooling are therefore done here.


EXPORT_VERSION = "3"  # part of the cache stamp: bump it when the export or the quantisation changes
# Padded tokens per ONNX batch. With texts sorted by token count (not characters), measured on the
# eval corpus (2 cores): chunks +30%, sentences 2x over 32 char-sorted texts per batch; 768-1024
# is the optimum (2048: 3-11% slower, 8192: 20-30%: the activations no longer stay in cache).
TOKEN_BUDGET = 1024
# Calibration texts for the smoothing scales: the outlier channels are a property of the model, so
# these four sentences give the same accuracy as 480 corpus texts or the model card.
CALIBRATION = (
    "The quick brown fox jumps over the lazy dog.",
    "Regulators published new guidance on artificial intelligence risk management in 2024.",
    "How many parameters does the model have, and what data was it trained on?",
    "Section 3(b): providers shall keep technical documentation up to date for ten years.",
)


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
    size = weights.stat().st_size if weights.exists() else 0
    stamp = hashlib.sha256(f"{model}:{size}:{EXPORT_VERSION}".encode()).hexdigest()[:12]
    folder = cache_dir / "onnx" / f"{Path(model).name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    with FileLock(str(folder / ".lock")):
        if not fp32.exists():
            with _step("Exporting the embedding model to ONNX (once per machine)"):
                _export(model, fp32)
        if not quantized:
            return fp32
        name, options = quantisation_config()
        int8 = folder / f"model-int8-{name}.onnx"
        if not int8.exists():
            tmp = int8.with_suffix(".tmp.onnx")
            with _step("Quantising the embedding model to int8 (once per machine)"):
                _quantise(model, fp32, tmp, options)
            tmp.rename(int8)
        return int8


@contextmanager
def _step(message: str) -> Iterator[None]:
    """A spinner on stderr while a one-time step runs, then a line saying how long it took."""
    from rich.console import Console

    console = Console(stderr=True)
    started = time.perf_counter()
    with console.status(f"{message}…"):
        yield
    console.print(f"{message}: done in {time.perf_counter() - started:.0f} s", highlight=False)


def _quantise(model: str, fp32: Path, target: Path, options: dict[str, Any]) -> None:
    """Dynamic int8 quantisation of the weight MatMuls, smoothed, the FFN down-projections kept fp32.

    Measured on 600 chunks / 600 sentences of the eval corpus (mean cos to fp32; speed vs fp32, 2
    cores, avx512_vnni): all MatMuls plain 0.9946 / 0.9909 at 1.7-2.0x; this 0.9992 / 0.9985 at
    1.3-1.6x; dev hybrid evidence@5 0.781 (fp32 0.750-0.781 across builds, plain 0.719-0.750). The
    error is the per-tensor activation scale (weights alone: 0.9994): LayerNorm outputs have a few
    channels up to 15x the others, which smoothing removes; the GELU outputs feeding the
    down-projections have input-dependent outliers (smoothing them made it worse).
    """
    import onnx
    from onnxruntime.quantization import quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_suffix(".pre.onnx")
    # Shape inference and graph clean-up, as ORT advises; auto_merge resolves the batch/seq symbols
    # that the mask broadcasting otherwise leaves unresolved.
    quant_pre_process(str(fp32), str(prepared), auto_merge=True)
    proto = onnx.load(str(prepared))
    prepared.unlink()
    keep_fp32 = _smooth(proto, model)
    quantize_dynamic(
        proto,
        str(target),
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=keep_fp32,
        **options,
    )


def _smooth(proto: Any, model: str, alpha: float = 0.5) -> list[str]:
    """SmoothQuant, in place: for each MatMul input with constant weights (except FFN down-projections),
    divide activation channel j by s_j = amax_j**alpha / wmax_j**(1 - alpha) (a Mul node) and
    multiply weight row j by s_j. The fp32 result is unchanged; returns the down-projection nodes."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    graph = proto.graph
    weights = {t.name: t for t in graph.initializer}
    users: dict[str, list[Any]] = {}
    down: list[str] = []
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            rows, cols = weights[node.input[1]].dims
            if rows > cols:
                down.append(node.name)
            else:
                users.setdefault(node.input[0], []).append(node)
    probe = onnx.ModelProto()
    probe.CopyFrom(proto)
    probe.graph.output.extend(helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, None) for x in users)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    amax = dict.fromkeys(users, np.float32(0))
    for text in CALIBRATION:
        enc = _hf_tokenizer(model)([text], return_tensors="np")
        feed = {n: enc[n].astype(np.int64) for n in ("input_ids", "attention_mask", "token_type_ids")}
        for x, value in zip(users, session.run(list(users), feed), strict=True):
            amax[x] = np.maximum(amax[x], np.abs(value).reshape(-1, value.shape[-1]).max(0))
    muls = {}
    for x, nodes in users.items():
        mats = [numpy_helper.to_array(weights[n.input[1]]) for n in nodes]
        wmax = np.max([np.abs(w).max(1) for w in mats], axis=0)
        s = (np.maximum(amax[x], 1e-5) ** alpha / np.maximum(wmax, 1e-5) ** (1 - alpha)).astype(np.float32)
        for node, w in zip(nodes, mats, strict=True):
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(w * s[:, None], node.input[1]))
            node.input[0] = f"{x}_smooth"
        graph.initializer.append(numpy_helper.from_array(1 / s, f"{x}_inv_scale"))
        muls[nodes[0].name] = helper.make_node(
            "Mul", [x, f"{x}_inv_scale"], [f"{x}_smooth"], name=f"{x}_smooth_mul"
        )
    ordered = []
    for node in graph.node:  # each Mul just before the first MatMul that reads it
        ordered += [muls[node.name], node] if node.name in muls else [node]
    del graph.node[:]
    graph.node.extend(ordered)
    return down


def _export(model: str, target: Path) -> None:
    """Trace the transformer with mean pooling and normalisation into one ONNX graph."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            # A ready 4D additive mask: transformers then skips its own mask builder, whose Python-side
            # shape checks and index ops made the tracer warn that the graph might be wrong.
            keep = attention_mask[:, None, None, :].to(torch.float32)
            additive = (1.0 - keep) * torch.finfo(torch.float32).min
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=additive, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    # Eager attention exports plain MatMul/Softmax; the default (sdpa) adds IsNaN/Where guards:
    # eager runs 12-29% faster with the same output (cos 1.00000 over 1200 texts).
    encoder = AutoModel.from_pretrained(model, local_files_only=True, attn_implementation="eager").eval()
    sample = _hf_tokenizer(model)(
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
        """Embed texts sorted by token count, in batches of at most `embed_batch_size` texts and
        TOKEN_BUDGET padded tokens: little padding, and small batches stay in cache."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        ids = self._tokenizer.ids(texts, max_length=self._max_length)
        lengths = np.array([len(x) for x in ids])
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(order):
            end = start + 1
            while (
                end < len(order)
                and end - start < self.embed_batch_size
                and (end - start + 1) * lengths[order[end]] <= TOKEN_BUDGET
            ):
                end += 1
            idx = order[start:end]
            width = lengths[idx[-1]]
            input_ids = np.full((len(idx), width), self._tokenizer.pad_token_id or 0, dtype=np.int64)
            for row, j in enumerate(idx):
                input_ids[row, : lengths[j]] = ids[j]
            mask = (np.arange(width) < lengths[idx][:, None]).astype(np.int64)
            feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
            out[idx] = self._session.run(None, feed)[0]
            start = end
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
