"""Incremental indexing: add, change, delete, no re-embedding, and agreement of the three stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from briefing.index import IndexBusy, index_lock, update_index
from briefing.manifest import Manifest
from tests.conftest import ARTICLES, make_settings

pytestmark = pytest.mark.slow


def store_ids(settings) -> tuple[set[str], set[str], set[str]]:
    """Chunk ids held by the manifest, Chroma and BM25."""
    from briefing.vectorstore import get_collection

    manifest = Manifest(Path(settings.index_dir) / "manifest.sqlite")
    try:
        in_manifest = set(manifest.chunk_ids())
    finally:
        manifest.close()
    in_chroma = set(get_collection(settings).get(include=[])["ids"])
    corpus = Path(settings.index_dir) / "bm25" / "corpus.jsonl"
    in_bm25 = (
        {json.loads(line)["node_id"] for line in corpus.read_text().splitlines()}
        if corpus.exists()
        else set()
    )
    return in_manifest, in_chroma, in_bm25


@pytest.fixture()
def small(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ["eu-ai-act-penalties-and-fines", "us-colorado-ai-act-sb24-205"]:
        shutil.copy(ARTICLES / f"{name}.md", corpus / f"{name}.md")
    return make_settings(corpus, tmp_path / "index")


def test_add_change_delete_and_no_change(small):
    corpus = Path(small.corpus_dir)
    first = update_index(small, progress=False)
    assert sorted(first.added) == ["eu-ai-act-penalties-and-fines", "us-colorado-ai-act-sb24-205"]
    assert first.chunks_embedded > 4

    again = update_index(small, progress=False)
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)
    assert len(again.unchanged) == 2

    path = corpus / "us-colorado-ai-act-sb24-205.md"
    path.write_text(
        path.read_text() + "\n\nA new closing paragraph about the attorney general's rulemaking.\n"
    )
    shutil.copy(ARTICLES / "intl-oecd-ai-principles.md", corpus / "intl-oecd-ai-principles.md")
    (corpus / "eu-ai-act-penalties-and-fines.md").unlink()
    (corpus / "broken.md").write_text("---\ntitle: [oops\n---\nText\n")
    changed = update_index(small, progress=False)
    assert changed.added == ["intl-oecd-ai-principles"]
    assert changed.updated == ["us-colorado-ai-act-sb24-205"]
    assert changed.removed == ["eu-ai-act-penalties-and-fines"]
    assert [p for p, _ in changed.skipped] == ["broken.md"]

    manifest_ids, chroma_ids, bm25_ids = store_ids(small)
    assert manifest_ids == chroma_ids == bm25_ids
    assert {i.split("#")[0] for i in manifest_ids} == {
        "us-colorado-ai-act-sb24-205",
        "intl-oecd-ai-principles",
    }


def test_changed_chunking_settings_rechunk_every_document(small):
    update_index(small, progress=False)
    smaller = small.model_copy(update={"chunk_size": 120})
    rebuilt = update_index(smaller, progress=False)
    assert sorted(rebuilt.updated) == ["eu-ai-act-penalties-and-fines", "us-colorado-ai-act-sb24-205"]
    assert rebuilt.chunks_embedded > 0
    manifest_ids, chroma_ids, bm25_ids = store_ids(smaller)
    assert manifest_ids == chroma_ids == bm25_ids
    again = update_index(smaller, progress=False)
    assert (again.updated, again.chunks_embedded) == ([], 0)


def test_the_collection_is_cosine_and_searched_with_the_configured_ef(small):
    from briefing.vectorstore import get_collection

    update_index(small, progress=False)
    hnsw = get_collection(small).configuration_json["hnsw"]
    assert (hnsw["space"], hnsw["ef_search"]) == ("cosine", small.hnsw_ef_search)
    wider = small.model_copy(update={"hnsw_ef_search": 800})  # an existing index follows the setting
    assert get_collection(wider).configuration_json["hnsw"]["ef_search"] == 800
    assert get_collection(wider).configuration_json["hnsw"]["space"] == "cosine"


def test_reconcile_repairs_vectors_lost_from_chroma(small):
    from briefing.vectorstore import get_collection

    update_index(small, progress=False)
    collection = get_collection(small)
    lost = collection.get(include=[])["ids"][:3]
    collection.delete(ids=lost)
    collection.upsert(
        ids=["ghost#0"], embeddings=[[0.1] * 384], documents=["ghost"], metadatas=[{"doc_id": "ghost"}]
    )
    report = update_index(small, progress=False)
    assert report.repaired == 4 and report.chunks_embedded == 0
    manifest_ids, chroma_ids, _ = store_ids(small)
    assert manifest_ids == chroma_ids


def test_a_second_update_is_refused_while_one_runs(small):
    with index_lock(small), pytest.raises(IndexBusy, match="another index update"):
        update_index(small, progress=False)


def test_a_changed_backend_is_refused_for_queries_and_re_embeds_everything_on_update(small):
    from briefing.retrieve import IndexMismatch, Searcher

    fp32 = small.model_copy(update={"embed_backend": "onnx"})
    int8 = small.model_copy(update={"embed_backend": "onnx-int8"})
    update_index(fp32, progress=False)
    with pytest.raises(
        IndexMismatch, match="built with 'model:onnx' but queries would use 'model:onnx-int8'"
    ):
        Searcher(int8)
    manifest = Manifest(Path(small.index_dir) / "manifest.sqlite")
    manifest.set_info("embed_model", "model:onnx-int8 (re-embedding)")  # as a killed re-embedding leaves it
    manifest.close()
    with pytest.raises(IndexMismatch, match="is being re-embedded"):
        Searcher(int8)
    report = update_index(int8, progress=False)  # the re-embedding starts over and completes
    assert report.reembedded_with == "model:onnx-int8"
    assert sorted(report.updated) == ["eu-ai-act-penalties-and-fines", "us-colorado-ai-act-sb24-205"]
    manifest_ids, chroma_ids, bm25_ids = store_ids(int8)
    assert manifest_ids == chroma_ids == bm25_ids
    assert Searcher(int8).search("penalties for providers", k=3)
    with pytest.raises(IndexMismatch):
        Searcher(fp32)
    again = update_index(int8, progress=False)
    assert (again.reembedded_with, again.chunks_embedded) == (None, 0)


def test_chunk_metadata_and_offsets_point_into_the_source(mini_settings):
    manifest = Manifest(Path(mini_settings.index_dir) / "manifest.sqlite")
    try:
        docs = manifest.documents()
        rec = docs["articles/eu-ai-act-penalties-and-fines"]
        assert rec.title.startswith("EU AI Act penalties") and rec.jurisdiction == ["EU"] and rec.date
        text = manifest.document_text(rec.doc_id)
        source = (ARTICLES / "eu-ai-act-penalties-and-fines.md").read_text(encoding="utf-8")
        for chunk_id, doc_id, start, end, _heading, chunk_text, _ in manifest.chunks([rec.doc_id]):
            assert chunk_text == text[start:end] and chunk_text in source
            assert chunk_id.startswith(doc_id + "#")
    finally:
        manifest.close()
