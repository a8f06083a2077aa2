"""The browser UI (Gradio Blocks): chat with checkable citations, brief studio and corpus view.

A thin shell over `briefing.service`; every string from the corpus goes through `ui.views`, which
escapes it. `mount` puts the UI at "/" of the FastAPI app that also serves the REST API.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from briefing import service  # noqa: E402
from briefing.answer import Answerer, validate_question  # noqa: E402
from briefing.retrieve import Filters, IndexMismatch  # noqa: E402
from briefing.settings import Settings  # noqa: E402
from briefing.types import Answer  # noqa: E402
from ui import views  # noqa: E402
from ui.assets import CSS, JS  # noqa: E402
from ui.views import Turn  # noqa: E402

FILE_TTL = 3600  # seconds a download file is kept
STREAM_PAUSE = 0.04  # seconds between the sentences of a composed answer as it streams in
SENTENCE_BREAK = re.compile(r"(?<=[.!?\]])\s+(?!\[)")
BRIEF_STAGES = {
    "plan": (0.0, 0.05, "Planning the sections"),
    "gather": (0.05, 0.7, "Gathering passages"),
    "select": (0.7, 0.9, "Selecting cited sentences"),
    "render": (0.9, 1.0, "Fitting the page"),
}
HEADER = (
    '<header class="app-head"><div class="brand">Briefing</div><div class="tagline">{tagline}</div></header>'
)
TAGLINE = "Cited answers and one-page briefs on AI governance · {n} document{s}, offline"
FONT = [
    gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)),
    "ui-sans-serif",
    "system-ui",
    "sans-serif",
]
THEME = gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=FONT).set(
    button_primary_background_fill="#183868", button_primary_background_fill_hover="#24508f"
)


def pieces(text: str) -> list[str]:
    """The text cut after each sentence (a sentence keeps its [n] markers), for streaming."""
    out, start = [], 0
    for m in SENTENCE_BREAK.finditer(text):
        out.append(text[start : m.end()])
        start = m.end()
    return out + ([text[start:]] if start < len(text) else [])


def to_filters(
    jurisdiction: list[str] | None, since: str, until: str, publisher: list[str] | None
) -> Filters:
    """Filters from the filter inputs; a bad date is a gr.Error."""
    for label, value in (("From", since), ("Until", until)):
        if value and value.strip():
            try:
                dt.date.fromisoformat(value.strip())
            except ValueError:
                raise gr.Error(
                    f"{label}: not a date in the form YYYY-MM-DD ({value.strip()[:40]})."
                ) from None
    return Filters(
        jurisdiction=list(jurisdiction or []),
        since=(since or "").strip() or None,
        until=(until or "").strip() or None,
        publisher=list(publisher or []),
    )


class BriefingUI:
    """The event handlers and layout of the app for one set of settings."""

    def __init__(self, settings: Settings, files: Path | None = None):
        self.settings = settings
        self.files = files or Path(tempfile.gettempdir()) / "briefing-ui"
        self.files.mkdir(parents=True, exist_ok=True)
        self.choice_inputs: list[gr.Dropdown] = []  # jurisdiction and publisher pickers of every tab
        self.refreshed: Any = None  # the "Refresh now" event chain, set by `corpus_tab`

    # -- shared -----------------------------------------------------------------------------------
    def engine(self) -> Answerer:
        return service.engine(self.settings)

    def header(self) -> str:
        """The page header with the number of indexed documents, read from the index now (the
        searcher reloads its documents whenever the index generation changes)."""
        n = len(self.engine().searcher.documents())
        return HEADER.format(tagline=views.esc(TAGLINE.format(n=n, s="" if n == 1 else "s")))

    def pending_mode(self) -> str:
        """The mode label while an answer streams in."""
        mode = getattr(self.engine(), "mode", "extractive")
        return "Composed from sources" if mode == "extractive" else f"{mode.removeprefix('llm:')} · writing…"

    def _file(self, name: str) -> Path:
        """A new path for a download file; files older than FILE_TTL are removed (Gradio serves a copy)."""
        cutoff = time.time() - FILE_TTL
        for old in self.files.iterdir():
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        folder = self.files / uuid.uuid4().hex
        folder.mkdir()
        return folder / name

    def filter_choices(self) -> tuple[list[str], list[str]]:
        """The jurisdictions and publishers of the indexed documents, read from the index now."""
        docs = self.engine().searcher.documents().values()
        return sorted({j for d in docs for j in d.jurisdiction}), sorted(
            {d.publisher for d in docs if d.publisher}
        )

    def filter_updates(self) -> list[gr.Dropdown]:
        """New choices for every jurisdiction and publisher picker (after a refresh, on page load)."""
        jurisdictions, publishers = self.filter_choices()
        return [gr.Dropdown(choices=jurisdictions), gr.Dropdown(choices=publishers)] * (
            len(self.choice_inputs) // 2
        )

    def filter_inputs(self) -> list[gr.components.Component]:
        """Jurisdiction, date range and publisher inputs, in the order `to_filters` takes them."""
        jurisdictions, publishers = self.filter_choices()
        with gr.Accordion("Filters", open=False, elem_classes="filters"), gr.Row():
            jur = gr.Dropdown(jurisdictions, multiselect=True, label="Jurisdiction", scale=2)
            since = gr.Textbox(label="From", placeholder="YYYY-MM-DD", max_lines=1, scale=1)
            until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", max_lines=1, scale=1)
            pub = gr.Dropdown(publishers, multiselect=True, label="Publisher", scale=2)
        self.choice_inputs += [jur, pub]
        return [jur, since, until, pub]

    # -- chat -------------------------------------------------------------------------------------
    def answer_events(self, question: str, history: list[str], filters: Filters) -> Iterator[str | Answer]:
        """Text deltas then the final Answer: the LLM's token stream, or the composed answer by sentence."""
        engine = self.engine()
        if hasattr(engine, "stream"):
            yield from engine.stream(question, history, filters)
            return
        answer = engine.ask(question, history=history, filters=filters)
        if not (answer.abstained or answer.error):
            for piece in pieces(answer.answer):
                yield piece
                time.sleep(STREAM_PAUSE)
        yield answer

    def respond(
        self,
        question: str,
        turns: list[Turn],
        jurisdiction: list[str],
        since: str,
        until: str,
        publisher: list[str],
    ) -> Iterator[tuple]:
        """Stream an answer into the transcript; earlier questions of the conversation are its history."""
        problem = validate_question(question, self.settings.max_question_chars)
        if problem:
            raise gr.Error(problem)
        filters = to_filters(jurisdiction, since, until, publisher)
        turn = Turn(question.strip(), mode=self.pending_mode())
        turns = [*turns, turn]
        history = [t.question for t in turns[:-1]]
        yield self._chat(turns)
        try:
            for event in self.answer_events(turn.question, history, filters):
                if isinstance(event, Answer):
                    turn.answer, turn.mode = event, views.mode_label(event)
                else:
                    turn.partial += event
                    yield self._chat(turns)
        except IndexMismatch as exc:  # `briefing index` is re-embedding the index under the server
            raise gr.Error(str(exc)) from None
        markdown = views.conversation_markdown(turns)
        path = self._file("briefing-conversation.md")
        path.write_text(markdown, encoding="utf-8")
        yield self._chat(turns, markdown, gr.DownloadButton(value=str(path), interactive=True))

    def _chat(self, turns: list[Turn], export: Any = None, download: Any = None) -> tuple:
        """Outputs of the chat: transcript, sources, state, question box, export text, download button."""
        skip = gr.skip()
        return (
            views.transcript(turns),
            views.sources_panel(turns),
            turns,
            "",
            export or skip,
            download or skip,
        )

    def clear(self) -> tuple:
        return (
            views.transcript([]),
            views.sources_panel([]),
            [],
            "",
            "",
            gr.DownloadButton(value=None, interactive=False),
        )

    def chat_tab(self) -> None:
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                transcript = gr.HTML(views.transcript([]), elem_id="transcript", padding=False)
                with gr.Row(elem_id="ask-row"):
                    question = gr.Textbox(
                        placeholder="Ask a question about AI governance…",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=6,
                        elem_id="question",
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                    clear = gr.Button(
                        "New conversation",
                        variant="secondary",
                        scale=1,
                        min_width=80,
                        elem_id="new-conversation",
                    )
                gr.Examples(views.EXAMPLES, inputs=[question], label="Example questions", elem_id="examples")
                filters = self.filter_inputs()
                with gr.Accordion("Copy or export the conversation", open=False, elem_id="export"):
                    export = gr.Textbox(
                        label="Markdown with sources",
                        lines=8,
                        max_lines=14,
                        buttons=["copy"],
                        interactive=False,
                        elem_id="export-text",
                    )
                    download = gr.DownloadButton(
                        "Download .md", interactive=False, size="sm", elem_id="export-download"
                    )
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(views.sources_panel([]), elem_id="sources", padding=False)
        outputs = [transcript, sources, turns, question, export, download]
        inputs = [question, turns, *filters]
        for event in (ask.click, question.submit):
            event(self.respond, inputs, outputs, concurrency_id="ask", show_progress="minimal")
        clear.click(self.clear, None, outputs)

    # -- brief ------------------------------------------------------------------------------------
    def make_brief(
        self,
        topic: str,
        jurisdiction: list[str],
        since: str,
        until: str,
        publisher: list[str],
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's way to ask for a progress tracker
    ) -> tuple:
        """Run the brief pipeline with a progress bar; return the preview and the three downloads."""
        from briefing import render

        filters = to_filters(jurisdiction, since, until, publisher)

        def report(stage: str, fraction: float) -> None:
            low, high, label = BRIEF_STAGES.get(stage, (0.0, 1.0, stage))
            progress(low + (high - low) * max(0.0, min(1.0, fraction)), desc=label)

        progress(0.0, desc="Starting")
        try:
            brief = service.brief(topic, filters=filters, settings=self.settings, progress=report)
        except (ValueError, IndexMismatch) as exc:
            raise gr.Error(str(exc)) from None
        slug = re.sub(r"[^a-z0-9]+", "-", brief.topic.lower()).strip("-")[:60] or "brief"
        files = [
            str(render.render(brief, fmt, self._file(f"brief-{slug}.{fmt}"))) for fmt in ("pdf", "docx", "md")
        ]
        status = brief.note or f"{len(brief.sources)} sources cited. Every sentence is quoted from a source."
        buttons = [gr.DownloadButton(value=f, interactive=True) for f in files]
        return (
            views.brief_preview(render.to_html(brief)),
            f'<p class="brief-status">{views.esc(status)}</p>',
            *buttons,
        )

    def brief_tab(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                topic = gr.Textbox(
                    label="Topic",
                    placeholder="e.g. EU AI Act enforcement and fines",
                    max_lines=2,
                    elem_id="topic",
                )
                filters = self.filter_inputs()
                make = gr.Button("Generate brief", variant="primary", elem_id="generate")
                gr.Examples(
                    [
                        "EU AI Act fines and enforcement",
                        "US–China talks on AI risk",
                        "US export controls on advanced chips",
                    ],
                    inputs=[topic],
                    label="Example topics",
                )
                status = gr.HTML(
                    '<p class="brief-status">A one-page memo; every sentence cited.</p>',
                    elem_id="brief-status",
                )
                with gr.Row(elem_id="brief-downloads"):
                    pdf = gr.DownloadButton(
                        "⬇ PDF", interactive=False, size="sm", elem_id="dl-pdf", min_width=60
                    )
                    docx = gr.DownloadButton(
                        "⬇ DOCX", interactive=False, size="sm", elem_id="dl-docx", min_width=60
                    )
                    md = gr.DownloadButton(
                        "⬇ Markdown", interactive=False, size="sm", elem_id="dl-md", min_width=60
                    )
            with gr.Column(scale=5):
                preview = gr.HTML(
                    '<div class="brief-empty">The one-page preview of the brief appears here.</div>',
                    elem_id="brief-preview",
                    padding=False,
                )
        inputs = [topic, *filters]
        outputs = [preview, status, pdf, docx, md]
        for event in (make.click, topic.submit):
            event(self.make_brief, inputs, outputs, concurrency_id="brief", show_progress_on=[preview])

    # -- corpus -----------------------------------------------------------------------------------
    def corpus_view(self) -> tuple:
        """The totals line, the document table and the viewer's choices, read from the index now."""
        stats = service.stats(self.settings)
        docs = sorted(self.engine().searcher.documents().values(), key=lambda d: d.date or "", reverse=True)
        rows = [
            [d.title, d.date or "", d.publisher or "", ", ".join(d.jurisdiction), d.n_chunks] for d in docs
        ]
        refreshed = views.esc(stats.get("last_refresh") or "never")
        summary = (
            f'<div class="corpus-stats"><b>{stats["documents"]}</b> documents · <b>{stats["chunks"]}</b> '
            f"chunks · last refresh: {refreshed} · last indexed: "
            f"{views.esc(stats.get('last_indexed') or 'never')}</div>"
        )
        return summary, rows, gr.Dropdown(choices=[(d.title, d.doc_id) for d in docs])

    def show_document(self, doc_id: str | None) -> str:
        """The selected document's text rendered from Markdown (corpus HTML escaped), with its
        publisher, dates, badges and links to the primary sources it lists."""
        searcher = self.engine().searcher
        record = searcher.documents().get(doc_id or "")
        if record is None:
            return '<div class="doc-view muted">Select a document to read it.</div>'
        url = views.safe_url(record.url)
        pieces = views.as_of_line(record.publisher, record.date, getattr(record, "updated", None))
        meta = " · ".join([*pieces, views.esc(record.doc_id)])
        meta += views.badges(record.jurisdiction)
        if url:
            meta += f' · <a href="{views.esc(url)}" target="_blank" rel="noopener noreferrer">original ↗</a>'
        text = searcher.manifest.document_text(record.doc_id) or ""
        links = views.source_links(getattr(record, "sources", None) or [])
        return views.document_view(record.title, meta, text, links)

    def pick_row(self, event: gr.SelectData) -> str | None:
        """The doc_id of the clicked table row (found by its title and date)."""
        title, date = event.row_value[0], event.row_value[1] or None
        docs = self.engine().searcher.documents().values()
        return next((d.doc_id for d in docs if d.title == title and d.date == date), None)

    def refresh(self) -> tuple:
        """Run the same refresh as the script; return its report and the updated corpus view."""
        from briefing.index import IndexBusy
        from briefing.refresh import ConfigError

        try:
            report = service.refresh(settings=self.settings)
        except (ConfigError, IndexBusy, OSError) as exc:
            return views.refresh_report([f"Refresh failed: {exc}"], True), *self.corpus_view()
        return views.refresh_report(report.lines(), bool(report.failed)), *self.corpus_view()

    def corpus_tab(self) -> tuple[gr.components.Component, ...]:
        with gr.Row(equal_height=False, elem_id="corpus-head"):
            summary = gr.HTML(elem_id="corpus-stats", padding=False, scale=4)
            refresh = gr.Button("Refresh now", size="sm", elem_id="refresh", scale=0, min_width=130)
        report = gr.HTML(elem_id="refresh-report", padding=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                table = gr.Dataframe(
                    headers=["Title", "Date", "Publisher", "Jurisdiction", "Chunks"],
                    datatype=["str", "str", "str", "str", "number"],
                    interactive=False,
                    wrap=True,
                    show_search="search",
                    max_height=640,
                    column_widths=["52%", "14%", "14%", "13%", "7%"],
                    elem_id="documents",
                    label="Documents · click a row to read it",
                )
            with gr.Column(scale=2):
                picker = gr.Dropdown(label="Read a document", choices=[], elem_id="doc-picker")
                viewer = gr.HTML(self.show_document(None), elem_id="doc-viewer", padding=False)
        table.select(self.pick_row, None, picker)
        picker.change(self.show_document, picker, viewer)
        self.refreshed = refresh.click(
            self.refresh,
            None,
            [report, summary, table, picker],
            concurrency_id="refresh",
            concurrency_limit=1,
            show_progress_on=[report],
        ).then(self.filter_updates, None, self.choice_inputs)
        return summary, table, picker

    # -- the whole app ----------------------------------------------------------------------------
    def build(self) -> gr.Blocks:
        with gr.Blocks(title="Briefing", analytics_enabled=False, delete_cache=(3600, 3600)) as blocks:
            header = gr.HTML(self.header(), elem_id="app-header", padding=False)
            with gr.Tabs():
                with gr.Tab("Chat", id="chat"):
                    self.chat_tab()
                with gr.Tab("Brief", id="brief"):
                    self.brief_tab()
                with gr.Tab("Corpus", id="corpus"):
                    corpus_outputs = self.corpus_tab()
            # the count is current on every page load and after "Refresh now", not frozen at startup
            blocks.load(self.header, None, header, show_progress="hidden")
            self.refreshed.then(self.header, None, header, show_progress="hidden")
            blocks.load(self.corpus_view, None, list(corpus_outputs))
            blocks.load(self.filter_updates, None, self.choice_inputs)
        blocks.queue(default_concurrency_limit=self.settings.concurrency, max_size=256)
        return blocks


def mount(app: FastAPI, settings: Settings) -> FastAPI:
    """Mount the UI at "/" of `app` (register API routes before calling this)."""
    blocks = BriefingUI(settings).build()
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        server_name=settings.host,
        server_port=settings.port,
        footer_links=[],
        run_history=False,
        theme=THEME,
        css=CSS,
        js=JS,
    )
