"""Citations carry the cited article's own primary sources and its "as of" date (issue #16)."""

from __future__ import annotations

import numpy as np
import yaml

from briefing.corpus import load_document, split_front_matter
from briefing.manifest import Manifest, front_matter_extras
from briefing.types import Citation, Passage
from tests.conftest import ARTICLES

LABELLING = ARTICLES / "cn-ai-generated-content-labelling-measures-2025.md"


def front_matter(path):
    return split_front_matter(path.read_text(encoding="utf-8"))[1]


def test_the_manifest_exposes_updated_sources_and_event_dates(tmp_path):
    doc = load_document(LABELLING, ARTICLES)
    manifest = Manifest(tmp_path / "manifest.sqlite")
    manifest.put(doc, [], np.zeros((0, 4)), [], np.zeros((0, 4)))
    record = manifest.documents()[doc.doc_id]
    meta = front_matter(LABELLING)
    assert record.updated == "2026-12-02" and record.date == "2025-09-01" and record.as_of == "2026-12-02"
    assert record.event_dates == ["2025-03-14", "2025-09-01"]
    assert record.sources == [{"title": s["title"], "url": s["url"]} for s in meta["sources"]]
    shown = record.meta()
    assert shown["updated"] == "2026-12-02" and shown["sources"] == record.sources
    assert shown["event_dates"] == record.event_dates
    assert {"doc_id", "title", "date", "publisher", "url", "jurisdiction", "topics"} <= set(shown)


def test_odd_front_matter_is_normalised_not_raised():
    extras = front_matter_extras(
        {
            "updated": "not a date",
            "sources": "https://example.org/only",
            "event_dates": ["2024-05-01", {"event": "undated"}, "2023-01-02", "2024-05-01"],
        }
    )
    assert extras == {
        "updated": None,
        "sources": [{"url": "https://example.org/only"}],
        "event_dates": ["2023-01-02", "2024-05-01"],
    }
    assert front_matter_extras({}) == {"updated": None, "sources": [], "event_dates": []}


def test_a_citation_carries_sources_and_as_of_and_the_json_only_adds_keys():
    meta = {
        "doc_id": "d",
        "title": "T",
        "date": "2025-01-01",
        "publisher": "P",
        "url": None,
        "jurisdiction": ["EU"],
        "updated": "2026-02-03",
        "sources": [{"title": "Regulation", "url": "https://eur-lex.europa.eu/x"}],
    }
    passage = Passage("d#0", "d", "A passage.", 1.0, 1, 0, 10, "", meta)
    c = Citation.from_passage(1, passage, "A passage.")
    assert c.updated == "2026-02-03" and c.as_of == "2026-02-03" and c.sources == meta["sources"]
    from briefing.types import Answer

    data = Answer("q", "A passage. [1]", False, "extractive", [c], [passage]).to_json()["citations"][0]
    original = ["n", "doc_id", "title", "publisher", "date", "url", "passage", "quote", "chunk_id"]
    assert list(data)[: len(original) + 1] == [*original, "jurisdiction"]
    assert data["as_of"] == "2026-02-03" and data["updated"] == "2026-02-03"
    assert data["sources"] == meta["sources"]
    undated = Citation.from_passage(2, Passage("e#0", "e", "x", 1.0, 1, 0, 1, "", {"date": "2024-01-01"}), "")
    assert undated.as_of == "2024-01-01" and undated.sources == [] and undated.updated is None


def test_real_answers_cite_each_article_with_its_own_sources(mini_engine, mini_settings):
    answer = mini_engine.ask("What did the US and China discuss at their AI talks in Geneva?")
    citations = answer.to_json()["citations"]
    assert citations
    for c in citations:
        meta = yaml.safe_load(
            (mini_settings.corpus_dir / f"{c['doc_id']}.md").read_text(encoding="utf-8").split("---")[1]
        )
        assert c["sources"] == [{"title": s["title"], "url": s["url"]} for s in meta["sources"]]
        assert c["as_of"] == str(meta.get("updated") or meta["date"])
