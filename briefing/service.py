"""The one library API that the CLI, the REST API and the UI call: models and index loaded once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from briefing.answer import Answerer
from briefing.brief import Brief, Progress, make_brief
from briefing.index import IndexReport, update_index
from briefing.retrieve import Filters, Mode
from briefing.settings import Settings, get_settings
from briefing.types import Answer, Passage

_engines: dict[str, Answerer] = {}
_lock = threading.Lock()


def configure(**overrides: object) -> Settings:
    """Settings from the environment with explicit overrides (None values are ignored)."""
    base = get_settings()
    values = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=values) if values else base


def engine(settings: Settings | None = None) -> Answerer:
    """The answer engine for these settings, created once per process."""
    settings = settings or get_settings()
    key = settings.model_dump_json()
    with _lock:
        if key not in _engines:
            _engines[key] = _make_engine(settings)
        return _engines[key]


def _make_engine(settings: Settings) -> Answerer:
    if settings.answer_backend == "extractive":
        return Answerer(settings)
    from briefing.llm import LLMAnswerer

    return LLMAnswerer(settings)


def index(settings: Settings | None = None, progress: bool = False) -> IndexReport:
    """Build or update the index from the corpus folder."""
    return update_index(settings or get_settings(), progress=progress)


def search(
    query: str,
    k: int | None = None,
    filters: Filters | None = None,
    mode: Mode = "hybrid",
    settings: Settings | None = None,
) -> list[Passage]:
    """Ranked passages for a query."""
    return engine(settings).searcher.search(query, k=k, filters=filters, mode=mode)


def ask(
    question: str,
    history: list[str] | None = None,
    filters: Filters | None = None,
    settings: Settings | None = None,
    qid: str | None = None,
) -> Answer:
    """A cited answer (or an abstention) to a question, using earlier turns for follow-ups."""
    return engine(settings).ask(question, history=history, filters=filters, qid=qid)


def stats(settings: Settings | None = None) -> dict:
    """Totals of the index: documents, chunks, by jurisdiction, topic and publisher."""
    settings = settings or get_settings()
    docs = engine(settings).searcher.documents()
    manifest = engine(settings).searcher.manifest
    return {
        "index_dir": str(Path(settings.index_dir)),
        "documents": len(docs),
        "chunks": sum(d.n_chunks for d in docs.values()),
        "by_jurisdiction": dict(
            Counter(j for d in docs.values() for j in d.jurisdiction or ["(none)"]).most_common()
        ),
        "by_topic": dict(Counter(t for d in docs.values() for t in d.topics or ["(none)"]).most_common()),
        "by_publisher": dict(Counter(d.publisher or "(unknown)" for d in docs.values()).most_common()),
        "last_indexed": max((d.indexed_at for d in docs.values()), default=None),
        "last_refresh": manifest.info("last_refresh"),
        "embed_model": manifest.info("embed_model"),
    }


def refresh(
    settings: Settings | None = None,
    origin: str | None = None,
    dry_run: bool = False,
    prune: bool = False,
    allow_hosts: list[str] | None = None,
    progress: bool = False,
):
    """Bring the corpus up to date from its sources (or from `origin`), then update the index.

    Returns a `briefing.refresh.RefreshReport`; raises `ConfigError` or `IndexBusy` when it cannot start.
    """
    from briefing.refresh import run_refresh

    return run_refresh(
        settings or get_settings(),
        origin,
        dry_run=dry_run,
        prune=prune,
        allow_hosts=allow_hosts or (),
        progress=progress,
    )


def brief(
    topic: str,
    filters: Filters | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> Brief:
    """A one-page brief on a topic, every sentence cited; ValueError when the topic is unusable."""
    searcher = engine(settings).searcher
    return make_brief(topic, settings=settings, filters=filters, progress=progress, searcher=searcher)
