"""Hybrid retrieval: Chroma (dense) + BM25 fused by reciprocal rank, with filters and de-duplication."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from briefing.errors import IndexMismatch, IndexMissing  # noqa: F401 (re-exported)
from briefing.index import BM25_DIR, REEMBEDDING, manifest_path
from briefing.manifest import DocRecord, Manifest
from briefing.settings import Settings
from briefing.types import Passage

Mode = Literal["hybrid", "dense", "bm25"]


@dataclass
class Filters:
    """Document-level filters; empty fields do not filter."""

    jurisdiction: list[str] = field(default_factory=list)
    since: str | None = None  # ISO date, inclusive
    until: str | None = None  # ISO date, inclusive
    publisher: list[str] = field(default_factory=list)
    doc_ids: list[str] = field(default_factory=list)

    def active(self) -> bool:
        return bool(self.jurisdiction or self.since or self.until or self.publisher or self.doc_ids)

    def admits(self, doc: DocRecord) -> bool:
        """True when a document passes every filter.

        A date filter looks at the document's `date` and at every date of its `event_dates` (the
        events it covers): "since X" admits a document with any of them on or after X, "until Y" one
        with any on or before Y, and both together one with any between X and Y. A document with no
        known date fails a date filter; `updated` (a revision) does not count as an event."""
        wanted = {j.lower() for j in self.jurisdiction}
        publishers = {p.lower() for p in self.publisher}
        return (
            (not wanted or bool(wanted & {j.lower() for j in doc.jurisdiction}))
            and self._admits_dates(doc)
            and (not publishers or (doc.publisher or "").lower() in publishers)
            and (not self.doc_ids or doc.doc_id in self.doc_ids)
        )

    def _admits_dates(self, doc: DocRecord) -> bool:
        if not (self.since or self.until):
            return True
        dates = [d for d in (doc.date, *(getattr(doc, "event_dates", None) or [])) if d]
        return any((not self.since or d >= self.since) and (not self.until or d <= self.until) for d in dates)


class OverlapDeduplicator(BaseNodePostprocessor):
    """Drops chunks that mostly overlap a better-ranked chunk of the same document, or repeat its text."""

    min_overlap: float = 0.5

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        kept: list[NodeWithScore] = []
        seen_text: set[str] = set()
        for node in nodes:
            key = re.sub(r"\W+", " ", node.node.get_content().lower()).strip()
            if key in seen_text or any(self._overlaps(node, k) for k in kept):
                continue
            seen_text.add(key)
            kept.append(node)
        return kept

    def _overlaps(self, x: NodeWithScore, y: NodeWithScore) -> bool:
        if x.node.ref_doc_id != y.node.ref_doc_id:
            return False
        a, b = x.node.metadata, y.node.metadata
        shared = min(a["end"], b["end"]) - max(a["start"], b["start"])
        shortest = min(a["end"] - a["start"], b["end"] - b["start"]) or 1
        return shared / shortest > self.min_overlap


def _check_backend(settings: Settings, manifest: Manifest) -> None:
    """Queries must be embedded like the index was: refuse a mismatch with a clear message."""
    from briefing.embedding import backend_id

    built_with = manifest.info("embed_model")
    if built_with and built_with.endswith(REEMBEDDING):
        raise IndexMismatch(
            f"the index at {settings.index_dir} is being re-embedded (or its re-embedding was "
            "interrupted): wait for `briefing index` to finish, or run it again"
        )
    if built_with and built_with != backend_id(settings):
        raise IndexMismatch(
            f"the index at {settings.index_dir} was built with '{built_with}' but queries would use "
            f"'{backend_id(settings)}': set BRIEFING_EMBED_BACKEND to match, or run `briefing index` "
            "to re-embed it"
        )


class Searcher:
    """Loads the index once and answers `search` calls; picks up index changes between calls."""

    def __init__(self, settings: Settings):
        self.settings = settings
        path = manifest_path(settings)
        if not path.exists():
            raise IndexMissing(f"no index at {settings.index_dir}: run `briefing index` first")
        self.manifest = Manifest(path)
        _check_backend(settings, self.manifest)
        self._lock = threading.Lock()
        self._generation = -1
        self._bm25 = None
        self._docs: dict[str, DocRecord] = {}
        self._vector_index = None

    # -- state --------------------------------------------------------------------------------
    def documents(self) -> dict[str, DocRecord]:
        """The indexed documents, reloaded when the index changed."""
        self._refresh()
        return self._docs

    def _refresh(self) -> None:
        generation = self.manifest.generation()
        if generation == self._generation:
            return
        with self._lock:
            if generation == self._generation:
                return
            _check_backend(self.settings, self.manifest)  # `briefing index` may have re-embedded it
            self._docs = self.manifest.documents()
            self._bm25 = self._load_bm25()
            self._generation = generation

    def _load_bm25(self):
        import bm25s
        from llama_index.retrievers.bm25 import BM25Retriever

        folder = Path(self.settings.index_dir) / BM25_DIR
        if not (folder / "params.index.json").exists():
            return None
        bm25 = bm25s.BM25.load(str(folder), load_corpus=True)
        return BM25Retriever(existing_bm25=bm25, similarity_top_k=1)

    def _dense_index(self):
        if self._vector_index is None:
            from llama_index.core import VectorStoreIndex

            from briefing.embedding import get_embed_model
            from briefing.vectorstore import get_vector_store

            self._vector_index = VectorStoreIndex.from_vector_store(
                get_vector_store(self.settings), embed_model=get_embed_model(self.settings)
            )
        return self._vector_index

    # -- search -------------------------------------------------------------------------------
    def search(
        self, query: str, k: int | None = None, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> list[Passage]:
        """The top `k` passages for `query`, best first."""
        from llama_index.core.llms.mock import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

        self._refresh()
        k = k or self.settings.top_k
        docs = self._docs
        metadata_filters = None
        if filters and filters.active():
            allowed = {d for d, rec in docs.items() if filters.admits(rec)}
            if not allowed:
                return []
            metadata_filters = MetadataFilters(
                filters=[MetadataFilter(key="doc_id", value=sorted(allowed), operator=FilterOperator.IN)]
            )
        retrievers = []
        depth = max(self.settings.candidate_k, k * 2)
        if mode in ("hybrid", "dense"):
            retrievers.append(
                self._dense_index().as_retriever(similarity_top_k=depth, filters=metadata_filters)
            )
        if mode in ("hybrid", "bm25") and self._bm25 is not None:
            retrievers.append(self._bm25_retriever(depth, metadata_filters))
        if not retrievers:
            return []
        bundle = QueryBundle(query_str=query)
        if mode != "bm25":  # embed once; the answerer reuses the cached vector
            from briefing.embedding import embed_query

            bundle.embedding = embed_query(self.settings, query).tolist()
        if len(retrievers) == 1:
            nodes = retrievers[0].retrieve(bundle)
        else:
            fusion = QueryFusionRetriever(
                retrievers,
                llm=MockLLM(),
                mode="reciprocal_rerank",
                similarity_top_k=depth,
                num_queries=1,
                use_async=False,
            )
            nodes = fusion.retrieve(bundle)
        if metadata_filters is not None:  # bm25s returns masked-out documents with a zero score
            nodes = [n for n in nodes if n.node.ref_doc_id in allowed]
        nodes = OverlapDeduplicator().postprocess_nodes(nodes)[:k]
        return [self._passage(n, rank) for rank, n in enumerate(nodes, start=1)]

    def _bm25_retriever(self, depth: int, metadata_filters):
        """BM25 over the persisted index, the document filter applied as bm25s's weight mask."""
        from llama_index.retrievers.bm25 import BM25Retriever

        base = self._bm25
        n_docs = int(base.bm25.scores.get("num_docs", 0))
        return BM25Retriever(
            existing_bm25=base.bm25,
            similarity_top_k=min(depth, n_docs),
            filters=metadata_filters,
        )

    def _passage(self, node: NodeWithScore, rank: int) -> Passage:
        meta = node.node.metadata
        doc_id = node.node.ref_doc_id or ""
        record = self._docs.get(doc_id)
        return Passage(
            chunk_id=node.node.node_id,
            doc_id=doc_id,
            text=node.node.get_content(),
            score=float(node.score or 0.0),
            rank=rank,
            start=int(meta["start"]),
            end=int(meta["end"]),
            heading=meta.get("heading", ""),
            meta=record.meta() if record else {"doc_id": doc_id, "title": meta.get("title")},
        )
