"""The UI's event handlers with the library stubbed: progress stages, downloads, streaming, filters."""

from __future__ import annotations

import gradio as gr
import pytest
from pypdf import PdfReader

from briefing import service
from briefing.brief import SECTIONS, Brief, BriefItem, Section, renumber
from briefing.settings import Settings
from briefing.types import Answer
from ui.app import BriefingUI, to_filters


class Recorder:
    """Stands in for gr.Progress: records (fraction, desc)."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str | None]] = []

    def __call__(self, fraction: float, desc: str | None = None) -> None:
        self.calls.append((fraction, desc))


def small_brief(topic: str) -> Brief:
    sections = [
        Section(
            s.key,
            s.heading,
            [BriefItem(f"A cited sentence about {topic} <b>.", [], "2024-05-14", "EU", doc_id="doc-0")],
        )
        for s in SECTIONS
    ]
    source = {
        "n": 0,
        "doc_id": "doc-0",
        "title": "Source <img src=x onerror=alert(1)>",
        "publisher": "P",
        "date": "2024-05-14",
        "url": "https://example.org/a",
    }
    return renumber(Brief(topic, topic, "2025-01-02", sections, [source]))


@pytest.fixture
def ui(tmp_path) -> BriefingUI:
    return BriefingUI(
        Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path / "corpus"), tmp_path / "files"
    )


def test_brief_reports_each_stage_and_offers_three_one_page_downloads(ui, monkeypatch):
    def fake_brief(topic, filters=None, settings=None, progress=None):
        for stage in ("plan", "gather", "select", "render"):
            progress(stage, 1.0)
        assert filters.jurisdiction == ["EU"] and filters.since == "2024-01-01"
        return small_brief(topic)

    monkeypatch.setattr(service, "brief", fake_brief)
    progress = Recorder()
    preview, status, pdf, docx, md = ui.make_brief(
        "AI fines", ["EU"], "2024-01-01", "", [], progress=progress
    )
    descs = [d for _, d in progress.calls]
    assert descs[1:] == [
        "Planning the sections",
        "Gathering passages",
        "Selecting cited sentences",
        "Fitting the page",
    ]
    assert [f for f, _ in progress.calls] == sorted(f for f, _ in progress.calls)
    assert preview.startswith("<iframe") and "<img" not in preview
    assert [b.value["path"].rsplit(".", 1)[1] for b in (pdf, docx, md)] == ["pdf", "docx", "md"]
    assert len(PdfReader(pdf.value["path"]).pages) == 1
    assert "1 sources cited" in status


def test_a_bad_topic_or_date_is_an_error_message(ui, monkeypatch):
    def refuse(topic, **_):
        raise ValueError("Please give a topic for the brief.")

    monkeypatch.setattr(service, "brief", refuse)
    with pytest.raises(gr.Error, match="Please give a topic"):
        ui.make_brief(" ", [], "", "", [], progress=Recorder())
    with pytest.raises(gr.Error, match="YYYY-MM-DD"):
        to_filters([], "14 May 2024", "", [])


def test_chat_streams_sentences_then_passes_history_to_the_follow_up(ui, monkeypatch):
    seen: list[list[str]] = []

    class Engine:
        mode = "extractive"

        def ask(self, question, history=None, filters=None):
            seen.append(history)
            return Answer(question, "One. [1] Two. [1]", False, "extractive", [], [])

    monkeypatch.setattr(ui, "engine", Engine)
    monkeypatch.setattr("ui.app.STREAM_PAUSE", 0)
    first = list(ui.respond("First question?", [], [], "", "", []))
    assert len(first) == 4  # the question shown, two sentences, then the final answer with the export
    assert "One. " in first[1][0] and "Two." not in first[1][0]
    turns = first[-1][2]
    assert first[-1][4].startswith("# Briefing conversation") and first[-1][5].value["path"].endswith(".md")
    list(ui.respond("And then?", turns, [], "", "", []))
    assert seen == [[], ["First question?"]]


def test_an_empty_or_oversized_question_is_refused_before_any_search(ui):
    with pytest.raises(gr.Error, match="Please type a question"):
        next(ui.respond("   ", [], [], "", "", []))
    with pytest.raises(gr.Error, match="too long"):
        next(ui.respond("x" * 100_000, [], [], "", "", []))


def test_an_llm_backend_streams_its_tokens_and_shows_its_verification(ui, monkeypatch):
    class Engine:
        mode = "llm:smollm2"

        def stream(self, question, history, filters):
            yield "Verified sentence. [1]"
            yield Answer(
                question,
                "Verified sentence. [1]",
                False,
                "llm:smollm2",
                [],
                [],
                verification={"checked": 2, "kept": 1, "dropped": 1, "flagged": 0},
            )

    monkeypatch.setattr(ui, "engine", Engine)
    steps = list(ui.respond("Question?", [], [], "", "", []))
    assert "smollm2 · writing…" in steps[0][0] and "Verified sentence." in steps[1][0]
    assert "smollm2 · 1 of 2 sentences verified" in steps[-1][0]


def test_download_files_older_than_an_hour_are_removed(ui):
    import os
    import time

    old = ui.files / "old"
    old.mkdir()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    path = ui._file("x.md")
    assert not old.exists() and path.parent.is_dir() and path.parent.parent == ui.files


def test_an_index_being_re_embedded_is_a_message_not_a_crash(ui, monkeypatch):
    from briefing.retrieve import IndexMismatch

    class Engine:
        mode = "extractive"

        def ask(self, question, history=None, filters=None):
            raise IndexMismatch(
                "the index at index is being re-embedded (or its re-embedding was interrupted)"
            )

    monkeypatch.setattr(ui, "engine", Engine)
    with pytest.raises(gr.Error, match="is being re-embedded"):
        list(ui.respond("What fines apply?", [], [], "", "", []))

    def refuse(topic, **_):
        raise IndexMismatch("the index at index is being re-embedded")

    monkeypatch.setattr(service, "brief", refuse)
    with pytest.raises(gr.Error, match="being re-embedded"):
        ui.make_brief("EU AI Act", [], "", "", [], progress=Recorder())


def test_filter_choices_follow_the_index(ui, monkeypatch):
    from types import SimpleNamespace

    docs = {"a": SimpleNamespace(jurisdiction=["EU"], publisher="European Commission")}
    engine = SimpleNamespace(searcher=SimpleNamespace(documents=lambda: docs))
    monkeypatch.setattr(ui, "engine", lambda: engine)
    with gr.Blocks():
        ui.filter_inputs()
        ui.filter_inputs()
    assert len(ui.choice_inputs) == 4  # jurisdiction and publisher of the chat and brief tabs
    docs["b"] = SimpleNamespace(jurisdiction=["UK", "EU"], publisher="DSIT")  # a refresh added one
    updates = ui.filter_updates()
    assert len(updates) == 4
    assert [c[0] for c in updates[0].choices] == ["EU", "UK"]
    assert [c[0] for c in updates[3].choices] == ["DSIT", "European Commission"]


def test_the_header_count_follows_the_index_on_every_load_and_after_a_refresh(ui, monkeypatch):
    from types import SimpleNamespace

    docs = {"a": SimpleNamespace(jurisdiction=["EU"], publisher="P", doc_id="a", title="A", date=None)}
    engine = SimpleNamespace(searcher=SimpleNamespace(documents=lambda: docs))
    monkeypatch.setattr(ui, "engine", lambda: engine)
    blocks = ui.build()
    header = next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "app-header")
    assert "· 1 document, offline" in header.value
    docs["b"] = SimpleNamespace(jurisdiction=["UK"], publisher="Q", doc_id="b", title="B", date=None)
    assert "· 2 documents, offline" in ui.header()  # not the count frozen when the page was built
    updates = [f for f in blocks.fns.values() if f.fn == ui.header]
    assert {t[1] for f in updates for t in f.targets} == {"load", "then"}
    assert all([o._id for o in f.outputs] == [header._id] for f in updates)
    after = next(f for f in updates if f.trigger_after is not None)
    chain = []
    while after is not None:  # the "then" event runs at the end of the "Refresh now" chain
        chain.append(after.fn)
        after = blocks.fns.get(after.trigger_after) if after.trigger_after is not None else None
    assert chain == [ui.header, ui.filter_updates, ui.refresh]


def test_the_document_viewer_renders_markdown_with_dates_and_primary_sources(ui, monkeypatch):
    from types import SimpleNamespace

    from briefing.manifest import DocRecord

    record = DocRecord("a", "h", "Labels", "2025-09-01", "Desk", None, ["China"], [], 2, "now")
    record.updated = "2026-12-02"
    record.sources = [{"title": "CAC Measures", "url": "https://www.cac.gov.cn/m"}]
    text = "# Labels\n\n## What was issued\n\nThe **Measures** <script>alert(1)</script> apply.\n"
    searcher = SimpleNamespace(
        documents=lambda: {"a": record}, manifest=SimpleNamespace(document_text=lambda doc_id: text)
    )
    monkeypatch.setattr(ui, "engine", lambda: SimpleNamespace(searcher=searcher))
    view = ui.show_document("a")
    assert "<h2>What was issued</h2>" in view and "<strong>Measures</strong>" in view
    assert "<script" not in view and "&lt;script&gt;" in view
    assert "published 1 September 2025" in view and "as of 2 December 2026" in view
    assert '<a href="https://www.cac.gov.cn/m"' in view and "CAC Measures" in view
    assert "Select a document" in ui.show_document(None)
