"""Building and updating the index: manifest (SQLite) + Chroma vectors + BM25, incrementally.

Per document: chunk, embed chunks and sentences, replace its vectors in Chroma, then commit it to
the manifest in one transaction. The manifest is the source of truth; at the start of every run,
Chroma is reconciled with it and BM25 is rebuilt when its generation stamp is stale, so a run
killed at any point is completed by the next one.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from briefing import vectorstore
from briefing.chunking import MODEL_MAX_TOKENS, chunk_document, embed_text
from briefing.chunking import VERSION as CHUNKING_VERSION
from briefing.corpus import load_corpus
from briefing.embedding import backend_id, embed_texts, token_counter
from briefing.errors import IndexBusy  # noqa: F401 (re-exported)
from briefing.manifest import Manifest
from briefing.settings import Settings
from briefing.types import Chunk, Document

BM25_DIR = "bm25"


@dataclass
class IndexReport:
    """What an index run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    tokens_embedded: int = 0
    repaired: int = 0
    reembedded_with: str | None = None  # set when a changed model or backend re-embedded everything
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "chunks_embedded": self.chunks_embedded,
            "tokens_embedded": self.tokens_embedded,
            "repaired": self.repaired,
            "reembedded_with": self.reembedded_with,
            "seconds": round(self.seconds, 2),
        }


def manifest_path(settings: Settings) -> Path:
    return Path(settings.index_dir) / "manifest.sqlite"


@contextmanager
def index_lock(settings: Settings) -> Iterator[None]:
    """An exclusive lock on the index; the OS releases it if the holder dies (no stale locks)."""
    Path(settings.index_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(settings.index_dir) / ".update.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBusy(f"another index update or refresh is running on {settings.index_dir}") from None
    try:
        yield
    finally:
        lock.release()


def update_index(settings: Settings, progress: bool = True, locked: bool = False) -> IndexReport:
    """Bring the index in line with the corpus folder: add, replace and remove documents.

    `locked`: the caller already holds `index_lock` (a refresh holds it across fetching and indexing).
    """
    started = time.perf_counter()
    report = IndexReport()
    loaded = load_corpus(Path(settings.corpus_dir), settings.max_file_mb)
    documents, report.skipped = loaded.documents, loaded.skipped
    with nullcontext() if locked else index_lock(settings):
        manifest = Manifest(manifest_path(settings))
        try:
            reembed = embedding_changed(settings, manifest)
            report.repaired = reconcile(settings, manifest)
            known = manifest.documents()
            if not known:  # a new index: record how it splits before the first document lands
                manifest.set_info("chunking", chunking_id(settings))
            # Changed chunking or embeddings redo every document; a run killed mid-way starts over.
            rechunk = reembed or manifest.info("chunking") != chunking_id(settings)
            todo = [
                d
                for d in documents
                if rechunk or d.doc_id not in known or known[d.doc_id].content_hash != d.content_hash
            ]
            changed = {d.doc_id for d in todo}
            report.unchanged = [d.doc_id for d in documents if d.doc_id not in changed]
            gone = sorted(set(known) - {d.doc_id for d in documents})
            for doc_id in gone:
                delete_document(settings, manifest, doc_id)
                report.removed.append(doc_id)
            report.reembedded_with = backend_id(settings) if reembed else None
            _embed_all(settings, manifest, todo, known, report, progress)
            manifest.set_info("chunking", chunking_id(settings))
            manifest.set_info("embed_model", backend_id(settings))
            ensure_bm25(settings, manifest)
        finally:
            manifest.close()
    report.seconds = time.perf_counter() - started
    return report


def _embed_all(
    settings: Settings,
    manifest: Manifest,
    todo: list[Document],
    known: dict,
    report: IndexReport,
    progress: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [
        TextColumn("[bold]Indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("docs"),
        TextColumn("{task.fields[chunks]} chunks · {task.fields[rate]} chunks/s"),
        TimeElapsedColumn(),
    ]
    started = time.perf_counter()
    with Progress(*columns, disable=not progress or not todo, transient=False) as bar:
        task = bar.add_task("index", total=len(todo), chunks=0, rate="–")
        for doc in todo:
            index_document(settings, manifest, doc, report)
            (report.updated if doc.doc_id in known else report.added).append(doc.doc_id)
            rate = report.chunks_embedded / max(time.perf_counter() - started, 1e-6)
            bar.update(task, advance=1, chunks=report.chunks_embedded, rate=f"{rate:.0f}")


def index_document(settings: Settings, manifest: Manifest, doc: Document, report: IndexReport) -> None:
    """Chunk and embed one document, then replace it in Chroma and the manifest."""
    count = token_counter(settings)
    head_tokens = count([embed_text(doc.title, "x" * 80, "")])[0]
    size = max(32, min(settings.chunk_size, MODEL_MAX_TOKENS - head_tokens))
    chunks = chunk_document(doc, count, size=size, overlap=min(settings.chunk_overlap, size // 3))
    spans = sorted({(s.start, s.end) for c in chunks for s in c.sentences})
    chunk_vecs = embed_texts(settings, [_fitting_embed_text(doc, c, count) for c in chunks])
    sentence_vecs = embed_texts(settings, [doc.text[s:e] for s, e in spans])
    store = vectorstore.get_vector_store(settings)
    store.delete(doc.doc_id)
    if chunks:
        store.add(_nodes(doc, chunks, chunk_vecs))
    manifest.put(doc, chunks, chunk_vecs, spans, sentence_vecs)
    report.chunks_embedded += len(chunks)
    report.tokens_embedded += sum(c.n_tokens for c in chunks)


def _fitting_embed_text(doc: Document, chunk: Chunk, count) -> str:
    """Title and heading before the chunk text, shortened to title only if they would not fit."""
    text = embed_text(doc.title, chunk.heading, chunk.text)
    return text if count([text])[0] <= MODEL_MAX_TOKENS else embed_text(doc.title, "", chunk.text)


def delete_document(settings: Settings, manifest: Manifest, doc_id: str) -> None:
    """Remove a document from Chroma, then from the manifest."""
    vectorstore.get_vector_store(settings).delete(doc_id)
    manifest.delete(doc_id)


def _nodes(doc: Document, chunks: list[Chunk], vectors: np.ndarray) -> list:
    return [
        make_node(c.chunk_id, doc.doc_id, doc.title, c.heading, c.start, c.end, c.text, vectors[i].tolist())
        for i, c in enumerate(chunks)
    ]


def make_node(
    chunk_id: str,
    doc_id: str,
    title: str,
    heading: str,
    start: int,
    end: int,
    text: str,
    embedding: list[float] | None = None,
):
    """A LlamaIndex TextNode for a chunk; Chroma and BM25 store the same shape."""
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    return TextNode(
        id_=chunk_id,
        text=text,
        embedding=embedding,
        metadata={"title": title, "heading": heading or "", "start": start, "end": end},
        excluded_embed_metadata_keys=["start", "end"],
        excluded_llm_metadata_keys=["start", "end", "heading"],
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc_id)},
    )


def chunking_id(settings: Settings) -> str:
    """What the index records of how it split documents; a change re-chunks every document."""
    return f"v{CHUNKING_VERSION}:{settings.chunk_size}:{settings.chunk_overlap}"


REEMBEDDING = " (re-embedding)"  # stamp suffix while vectors of two backends may sit in the index


def embedding_changed(settings: Settings, manifest: Manifest) -> bool:
    """Whether every document must be re-embedded: the index holds vectors of another model or
    backend, or such a re-embedding was interrupted.

    The stamp says so until the last document is done, so queries are refused meanwhile (see
    `retrieve`): vectors of two backends are never searched together.
    """
    built_with = manifest.info("embed_model")
    current = backend_id(settings)
    if not manifest.documents() or built_with == current:
        manifest.set_info("embed_model", current)
        return False
    manifest.set_info("embed_model", current + REEMBEDDING)
    return True


def reconcile(settings: Settings, manifest: Manifest) -> int:
    """Make Chroma hold exactly the manifest's chunks; returns how many vectors were repaired."""
    collection = vectorstore.get_collection(settings)
    expected = manifest.chunk_ids()
    present = set(collection.get(include=[])["ids"])
    extra = sorted(present - set(expected))
    if extra:
        collection.delete(ids=extra)
    missing_docs = sorted({expected[c] for c in set(expected) - present})
    if missing_docs:
        docs = manifest.documents()
        for start in range(0, len(missing_docs), 50):
            rows = list(manifest.chunks(missing_docs[start : start + 50]))
            collection.upsert(
                ids=[r[0] for r in rows],
                embeddings=[np.frombuffer(r[6], dtype=np.float32).tolist() for r in rows],
                documents=[r[5] for r in rows],
                metadatas=[_chroma_meta(docs[r[1]].title, r) for r in rows],
            )
    return len(extra) + sum(1 for c in expected if c not in present)


def _chroma_meta(title: str, row: tuple) -> dict:
    """Chroma metadata for a chunk restored from the manifest, as ChromaVectorStore writes it."""
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    chunk_id, doc_id, start, end, heading, text, _ = row
    node = make_node(chunk_id, doc_id, title, heading, start, end, text)
    return node_to_metadata_dict(node, remove_text=True, flat_metadata=True)


def ensure_bm25(settings: Settings, manifest: Manifest) -> bool:
    """Rebuild the BM25 index when it is older than the manifest; True when rebuilt."""
    target = Path(settings.index_dir) / BM25_DIR
    generation = manifest.generation()
    stamp = target / "generation"
    if stamp.exists() and stamp.read_text().strip() == str(generation):
        return False
    from llama_index.retrievers.bm25 import BM25Retriever

    docs = manifest.documents()
    nodes = [make_node(r[0], r[1], docs[r[1]].title, r[4], r[2], r[3], r[5]) for r in manifest.chunks()]
    tmp = target.with_name(BM25_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if nodes:
        BM25Retriever.from_defaults(
            nodes=nodes, similarity_top_k=min(settings.candidate_k, len(nodes))
        ).persist(str(tmp), show_progress=False)  # no "Finding newlines for mmindex" bar
    (tmp / "generation").write_text(str(generation))
    old = target.with_name(BM25_DIR + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return True
