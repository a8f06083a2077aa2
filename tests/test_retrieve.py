"""Hybrid retrieval over a real index: ranking, modes, filters and de-duplication."""

from __future__ import annotations

import pytest
from llama_index.core.schema import NodeRelationship, NodeWithScore, RelatedNodeInfo, TextNode

from briefing.manifest import DocRecord
from briefing.retrieve import Filters, OverlapDeduplicator

GENEVA = "articles/cn-us-china-geneva-ai-talks-and-un-resolutions-2024"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_each_mode_finds_the_geneva_talks(mini_engine, mode):
    passages = mini_engine.searcher.search(
        "first intergovernmental talks between the US and China on AI risk in Geneva", mode=mode
    )
    assert passages[0].doc_id == GENEVA or GENEVA in [p.doc_id for p in passages[:3]]
    assert [p.rank for p in passages] == list(range(1, len(passages) + 1))


@pytest.mark.slow
def test_hybrid_returns_ten_distinct_passages_with_metadata(mini_engine):
    passages = mini_engine.searcher.search("export controls on advanced chips", k=10)
    assert len(passages) == 10
    assert len({p.chunk_id for p in passages}) == 10
    top = passages[0]
    assert top.meta["title"] and top.meta["publisher"] == "Briefing desk" and top.meta["date"]


@pytest.mark.slow
def test_filters_by_jurisdiction_date_publisher_and_doc(mini_engine):
    search = mini_engine.searcher.search
    docs = mini_engine.searcher.documents()
    eu = search("penalties and fines", filters=Filters(jurisdiction=["EU"]))
    assert eu and all("EU" in docs[p.doc_id].jurisdiction for p in eu)
    recent = search("AI talks", filters=Filters(since="2024-06-01"))
    assert recent and all(max(dates(docs[p.doc_id])) >= "2024-06-01" for p in recent)
    old = search("AI talks", filters=Filters(until="2024-12-31"))
    assert old and all(min(dates(docs[p.doc_id])) <= "2024-12-31" for p in old)
    assert search("AI talks", filters=Filters(publisher=["Nobody"])) == []
    for mode in ("hybrid", "dense", "bm25"):
        only = search("anything about AI and export controls", filters=Filters(doc_ids=[GENEVA]), mode=mode)
        assert only and {p.doc_id for p in only} == {GENEVA}, mode


def dates(doc) -> list[str]:
    return [d for d in (doc.date, *doc.event_dates) if d]


def record(doc_id: str, date: str | None, events: list[str], updated: str | None = None) -> DocRecord:
    return DocRecord(
        doc_id, "h", doc_id, date, "P", None, ["EU"], [], 1, "now", updated=updated, event_dates=events
    )


def test_date_filters_admit_a_document_by_its_date_or_any_event_date():
    # re-dated to its latest event (2025) but covering the 2022 rule and its 2023 update
    chips = record("chips", "2025-01-13", ["2022-10-07", "2022-10-13", "2023-10-17", "2025-01-13"])
    plain = record("plain", "2024-05-01", [])
    undated = record("undated", None, [])
    revised = record("revised", "2020-01-01", [], updated="2026-12-02")
    assert Filters(until="2023-12-31").admits(chips)  # its date alone (2025) would exclude it
    assert not Filters(until="2022-10-06").admits(chips)
    assert Filters(since="2025-01-01").admits(chips) and not Filters(since="2025-01-14").admits(chips)
    assert Filters(since="2023-01-01", until="2023-12-31").admits(chips)  # the 2023 update is inside
    assert not Filters(since="2024-01-01", until="2024-12-31").admits(chips)  # nothing in 2024
    assert Filters(since="2024-05-01", until="2024-05-01").admits(plain)
    assert not Filters(since="2024-05-02").admits(plain) and not Filters(until="2024-04-30").admits(plain)
    assert not Filters(since="2000-01-01").admits(undated) and not Filters(until="2100-01-01").admits(undated)
    assert Filters().admits(undated) and Filters(jurisdiction=["eu"]).admits(undated)
    assert not Filters(since="2021-01-01").admits(revised)  # a revision is not an event
    assert not Filters(since="2000-01-01", jurisdiction=["US"]).admits(chips)


def _node(node_id: str, doc: str, start: int, end: int, text: str, score: float) -> NodeWithScore:
    node = TextNode(
        id_=node_id,
        text=text,
        metadata={"start": start, "end": end},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
    )
    return NodeWithScore(node=node, score=score)


def test_overlapping_and_repeated_chunks_are_removed():
    nodes = [
        _node("a#0", "a", 0, 100, "alpha text", 0.9),
        _node("a#1", "a", 40, 140, "overlaps a#0 by 60 of 100 characters", 0.8),
        _node("a#2", "a", 90, 190, "overlaps a#0 by 10 characters only", 0.7),
        _node("b#0", "b", 0, 100, "Alpha  text!", 0.6),
        _node("c#0", "c", 0, 100, "gamma", 0.5),
    ]
    kept = OverlapDeduplicator().postprocess_nodes(nodes)
    assert [n.node.node_id for n in kept] == ["a#0", "a#2", "c#0"]
