"""The brief pipeline on real indexes: stages, one page, citations, verbatim text, coverage, exit codes."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from briefing import brief as B
from briefing.cli import app
from briefing.render import to_docx, to_markdown, to_pdf
from tests.conftest import make_settings, shared_or_skip

NARROW = "US-China talks on AI risk: the Geneva meeting and the Lima agreement on human control"
UNRELATED = "Deep-sea fishing quotas in the Baltic"
# A subset of ../shared/external-corpus that keeps the session fixture to about a minute on 2 cores.
EXT_DOCS = [
    "eu-gpai-code-of-practice-copyright",
    "eu-gpai-code-of-practice-transparency",
    "eu-gpai-code-of-practice-safety-security",
    "us-eo-14179-fact-sheet",
    "g7-leaders-statement-hiroshima-ai-process",
]
# eu-ai-act.md is ~770 chunks and ~4,300 sentences (minutes to embed): the fixture keeps its front
# matter, Chapter I (general provisions), Chapter V (general-purpose AI models) and Article 113 (dates).
EU_AI_ACT_PARTS = [
    (r"^CHAPTER I$", r"^CHAPTER II$"),
    (r"^CHAPTER V$", r"^CHAPTER VI$"),
    (r"^Article 113$", r"^ANNEX I$"),
]


def ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def plain(text: str) -> str:
    """Text without the Markdown emphasis marks that the PDF and DOCX turn into styles."""
    return text.replace("*", "")


def eu_ai_act_excerpt(text: str) -> str:
    """Front matter plus whole chapters of the regulation, cut at headings only."""
    front = re.match(r"\A---\n.*?\n---\n", text, flags=re.S).group(0)
    parts = []
    for start, end in EU_AI_ACT_PARTS:
        a = re.search(start, text, flags=re.M).start()
        parts.append(text[a : re.search(end, text[a:], flags=re.M).start() + a])
    return front + "\n" + "\n\n".join(parts)


@pytest.fixture(scope="session")
def ext_settings(tmp_path_factory):
    """A real index over a subset of ../shared/external-corpus (skipped when ../shared is absent)."""
    from briefing.index import update_index

    source = shared_or_skip("external-corpus")
    corpus = tmp_path_factory.mktemp("ext-corpus")
    for name in EXT_DOCS:
        shutil.copy(source / f"{name}.md", corpus / f"{name}.md")
    act = (source / "eu-ai-act.md").read_text(encoding="utf-8")
    (corpus / "eu-ai-act.md").write_text(eu_ai_act_excerpt(act), encoding="utf-8")
    settings = make_settings(corpus, tmp_path_factory.mktemp("ext-index"))
    started = time.perf_counter()
    update_index(settings, progress=False)
    print(f"external subset indexed in {time.perf_counter() - started:.0f}s")
    return settings


@pytest.fixture(scope="session")
def narrow(mini_settings):
    return B.make_brief(NARROW, settings=mini_settings)


@pytest.fixture(scope="session")
def broad(ext_settings):
    return B.make_brief("EU AI Act", settings=ext_settings)


@pytest.fixture(scope="session")
def unrelated(mini_settings):
    return B.make_brief(UNRELATED, settings=mini_settings)


def searcher_of(settings):
    from briefing import service

    return service.engine(settings).searcher


# -- stages, each on its own ---------------------------------------------------------------------
def test_plan_has_sub_queries_per_section_and_named_actors():
    plan = B.plan("  US-China talks on AI risk ")
    assert [s.key for s in plan.sections] == [s.key for s in B.SECTIONS]
    assert plan.topic == "US-China talks on AI risk"
    assert all(q.startswith(plan.topic) for s in plan.sections for q in s.queries)
    positions = plan.section("positions").queries
    assert any(q.endswith("position of US") for q in positions)
    assert any(q.endswith("position of China") for q in positions)
    assert plan.queries()[0] == plan.topic and len(plan.queries()) == len(set(plan.queries()))


@pytest.mark.parametrize("topic", ["", "   ", "x" * 400, None])
def test_plan_rejects_unusable_topics(topic):
    with pytest.raises(ValueError):
        B.plan(topic)


@pytest.mark.slow
def test_gather_and_select_are_inspectable_on_their_own(mini_settings):
    from briefing.answer import Answerer

    searcher = searcher_of(mini_settings)
    plan = B.plan(NARROW)
    evidence = B.gather(plan, searcher)
    assert set(evidence.hits) == set(plan.queries()) | set(plan.focus())
    assert evidence.sources and all(
        p.doc_id in evidence.sources for q in plan.focus() for p in evidence.hits[q]
    )
    assert len(evidence.pool) == len({p.chunk_id for ps in evidence.hits.values() for p in ps})
    answerer = Answerer(mini_settings, searcher)
    signal = B.signals(plan, evidence, answerer)
    selected = B.select(plan, evidence, answerer, signal)
    relevance = signal.topic
    assert list(selected) == [s.key for s in plan.sections]
    # each pooled source's opening prose sentence is marked as its lede, and ranks as on-topic as
    # the best sentence of its source
    for (doc_id, start), weight in signal.lede.items():
        text = searcher.manifest.document_text(doc_id) or ""
        first = next(
            s
            for s, e, _ in searcher.manifest.sentences(doc_id, 0, len(text))
            if B.is_prose(B.clean(text[s:e]))
        )
        assert weight == 1.0 if start == first else weight == 0.5
        best = max(v for k, v in relevance.items() if k[0] == doc_id)
        assert weight < 1.0 or relevance.get((doc_id, start), best) == best
    for section in plan.sections:
        chosen = selected[section.key]
        assert len(chosen) <= section.spec.max_items
        assert sum(len(c.text.split()) for c in chosen) <= section.spec.max_words
        assert all(
            relevance[(c.passage.doc_id, c.start)] >= mini_settings.brief_min_relevance for c in chosen
        )


def test_captions_are_not_prose():
    assert not B.is_prose("Table 3: Categories and subcategories for the MEASURE function.")
    assert not B.is_prose("Figure 5. The four functions of the Core of the framework.")
    assert B.is_prose("The table lists the categories and subcategories of the MEASURE function.")


# -- the brief ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_narrow_brief_has_every_section_in_memo_order(narrow):
    assert not narrow.insufficient
    assert [s.key for s in narrow.sections] == [s.key for s in B.SECTIONS]
    assert all(s.items or s.empty_reason for s in narrow.sections)
    assert 2 <= len(narrow.section("bottom_line").items) <= 3
    dates = [i.date or "" for i in narrow.section("developments").items]
    assert dates == sorted(dates, reverse=True)
    assert all(i.label for i in narrow.section("positions").items)
    assert set(narrow.stages) >= {"plan", "gather", "select", "render", "coverage"}
    assert json.loads(json.dumps(narrow.to_json()))["sources"] == narrow.sources


@pytest.mark.slow
@pytest.mark.parametrize("which", ["narrow", "broad"])
def test_brief_pdf_is_exactly_one_page(which, request, tmp_path):
    brief = request.getfixturevalue(which)
    assert sum(len(s.items) for s in brief.sections) >= 5
    path = to_pdf(brief, tmp_path / f"{which}.pdf")
    assert len(PdfReader(str(path)).pages) == 1


@pytest.mark.slow
@pytest.mark.parametrize(("which", "settings"), [("narrow", "mini_settings"), ("broad", "ext_settings")])
def test_citations_map_to_sources_and_text_is_verbatim(which, settings, request):
    brief = request.getfixturevalue(which)
    manifest = searcher_of(request.getfixturevalue(settings)).manifest
    sources = {s["n"]: s for s in brief.sources}
    assert sorted(sources) == list(range(1, len(sources) + 1))
    for section in brief.sections:
        for item in section.items:
            assert item.citations and all(n in sources for n in item.citations)
            doc_id = sources[item.citations[0]]["doc_id"]
            assert ws(item.text) in ws(manifest.document_text(doc_id) or ""), item.text
    cited = {n for s in brief.sections for i in s.items for n in i.citations}
    assert cited == set(sources)


@pytest.mark.slow
def test_no_claim_is_repeated_across_sections(broad, ext_settings):
    from briefing.embedding import embed_texts

    texts = [i.text for s in broad.sections for i in s.items]
    vectors = embed_texts(ext_settings, texts)
    similarity = vectors @ vectors.T
    assert all(similarity[i, j] <= B.REPEAT_SIMILARITY + 0.01 for i in range(len(texts)) for j in range(i))


@pytest.mark.slow
def test_docx_opens_with_the_same_sections_and_sentences(narrow, tmp_path):
    from docx import Document

    doc = Document(str(to_docx(narrow, tmp_path / "brief.docx")))
    texts = [p.text for p in doc.paragraphs]
    headings = [s.heading for s in narrow.sections] + ["Sources"]
    assert [t for t in texts if t in headings] == headings
    body = "\n".join(texts)
    assert all(plain(item.text) in body for s in narrow.sections for item in s.items)


@pytest.mark.slow
def test_markdown_of_the_narrow_brief_covers_the_talks(narrow):
    from briefing.evaluate import brief_coverage

    must_cover = [["Geneva"], ["Lima"], ["human control"], ["Woodside"]]
    assert brief_coverage(to_markdown(narrow), must_cover) >= 0.75


# -- no coverage -------------------------------------------------------------------------------
@pytest.mark.slow
def test_unrelated_topic_gives_a_short_insufficient_coverage_note(unrelated, mini_settings, tmp_path):
    assert unrelated.insufficient and not unrelated.sources
    assert unrelated.note and unrelated.note.startswith("Insufficient coverage")
    assert unrelated.stages["coverage"] < mini_settings.brief_min_relevance
    assert all(not s.items and s.empty_reason for s in unrelated.sections)
    assert len(PdfReader(str(to_pdf(unrelated, tmp_path / "none.pdf"))).pages) == 1


@pytest.mark.slow
def test_cli_exit_codes_for_no_coverage_and_a_written_brief(mini_settings, tmp_path):
    index = str(mini_settings.index_dir)
    runner = CliRunner()
    none = runner.invoke(app, ["brief", UNRELATED, "--index-dir", index, "-o", str(tmp_path / "none.md")])
    assert none.exit_code == 3, none.output
    assert "Insufficient coverage" in none.output
    ok = runner.invoke(
        app, ["brief", NARROW, "--index-dir", index, "--format", "pdf", "-o", str(tmp_path / "b.pdf")]
    )
    assert ok.exit_code == 0, ok.output
    assert len(PdfReader(str(tmp_path / "b.pdf")).pages) == 1
    as_json = runner.invoke(app, ["brief", NARROW, "--index-dir", index, "--json"])
    assert as_json.exit_code == 0 and '"sections"' in as_json.output


@pytest.mark.slow
def test_service_brief_reports_progress_per_stage(mini_settings):
    from briefing import service
    from briefing.retrieve import Filters

    seen: list[tuple[str, float]] = []
    brief = service.brief(
        NARROW,
        filters=Filters(since="2024-01-01"),
        settings=mini_settings,
        progress=lambda stage, fraction: seen.append((stage, fraction)),
    )
    assert [s for s, _ in seen if s != "gather"] == ["plan", "select", "render"]
    assert all(0.0 <= f <= 1.0 for _, f in seen) and seen[-1] == ("render", 1.0)
    docs = searcher_of(mini_settings).documents()
    assert brief.sources and all(
        max(d for d in (docs[s["doc_id"]].date, *docs[s["doc_id"]].event_dates) if d) >= "2024-01-01"
        for s in brief.sources
    )


def front_matter_sources(settings, doc_id):
    from briefing.corpus import split_front_matter

    meta = split_front_matter((settings.corpus_dir / f"{doc_id}.md").read_text(encoding="utf-8"))[1]
    return meta.get("url"), [{"title": s["title"], "url": s["url"]} for s in meta.get("sources") or []]


@pytest.mark.slow
def test_every_brief_source_links_to_its_own_article_and_lists_its_own_sources(mini_settings):
    """Issue #15: the chip-controls article's entry linked to another document's URL."""
    brief = B.make_brief("US export controls on advanced chips", settings=mini_settings)
    chips = "articles/xc-oct-2022-advanced-computing-chip-controls"
    assert chips in {s["doc_id"] for s in brief.sources}
    md = to_markdown(brief)
    lines = {
        s["doc_id"]: next(ln for ln in md.splitlines() if f"**[{s['n']}]**" in ln) for s in brief.sources
    }
    for source in brief.sources:
        url, sources = front_matter_sources(mini_settings, source["doc_id"])
        assert source["url"] == url and source["sources"] == sources, source["doc_id"]
        linked = set(re.findall(r"<(https?://[^>]+)>", lines[source["doc_id"]]))
        assert linked == {s["url"] for s in sources} | ({url} if url else set()), source["doc_id"]
    bis = "https://bis.gov/press-release/commerce-implements-new-export-controls-advanced-computing"
    assert bis in lines[chips] and "as of 2 December 2026" in lines[chips]
