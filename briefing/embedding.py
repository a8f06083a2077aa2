"""The embedding component: the bundled sentence-transformers model behind LlamaIndex's interface."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from briefing.settings import Settings


@lru_cache(maxsize=4)
def _embed_model(model: str, batch_size: int):
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(
        model_name=model, device="cpu", embed_batch_size=batch_size, normalize=True, local_files_only=True
    )


def get_embed_model(settings: Settings):
    """The LlamaIndex embedding model for these settings, loaded once per process."""
    return _embed_model(settings.embed_model, settings.embed_batch_size)


@lru_cache(maxsize=4)
def _tokenizer(model: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model, local_files_only=True)


def token_counter(settings: Settings):
    """Count tokens exactly as the embedding model's tokenizer does (no special tokens)."""
    tokenizer = _tokenizer(settings.embed_model)

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    return count


def embed_texts(settings: Settings, texts: Sequence[str]) -> np.ndarray:
    """Unit-norm float32 embeddings of `texts`, one row each."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    # One encode call over the whole list (not LlamaIndex's fixed batches) lets sentence-transformers
    # sort all texts by length, so batches carry little padding: about 2x faster on sentences.
    model = get_embed_model(settings)._model
    vectors = model.encode(
        list(texts), batch_size=settings.embed_batch_size, normalize_embeddings=True, convert_to_numpy=True
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_query(settings: Settings, text: str) -> np.ndarray:
    """The unit-norm embedding of a query."""
    return np.asarray(get_embed_model(settings).get_query_embedding(text), dtype=np.float32)
