"""The browser UI in a real Chromium (Playwright): chat, citations, follow-ups, export, brief, corpus, XSS.

One `briefing serve` process runs for the session, over the conftest mini corpus plus an article whose
title, publisher, URL and body carry script-injection payloads.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from ui.screenshots import ARGS  # the same Chromium flags as the README screenshots

CHROMIUM = Path("/usr/bin/chromium")
ARTICLES = Path(__file__).resolve().parents[1] / "corpus" / "articles"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
FINES = "What are the maximum fines under the EU AI Act?"
XSS_ARTICLE = """---
title: "Teapot rules <script>alert(1)</script> <img src=x onerror=alert(2)>"
date: 2024-03-01
publisher: "Injection Desk <img src=x onerror=alert(3)>"
url: "javascript:alert(4)"
jurisdiction: [Other]
topics: [safety]
---

# Teapot rules <script>alert(1)</script>

The quantum teapot certification regime requires every maker of smart teapots to register each model with
the national teapot authority before sale. <script>alert(5)</script> The authority checks that the teapot
whistles at a safe volume and that its firmware cannot be updated without consent.

A maker that sells an uncertified quantum teapot can be fined up to 900 teapots per model
<img src=x onerror=alert(6)>. The certification must be renewed every two years, and the authority
publishes a register of certified teapots that buyers can search.
"""


@pytest.fixture(scope="session")
def xss_settings(mini_settings, tmp_path_factory):
    """The mini index plus the injection article; vectors come from the mini manifest, not re-embedded."""
    from briefing.index import update_index

    root = tmp_path_factory.mktemp("ui-index")
    corpus, index_dir = root / "corpus", root / "index"
    shutil.copytree(mini_settings.corpus_dir, corpus)
    (corpus / "articles" / "zz-teapot-injection.md").write_text(XSS_ARTICLE, encoding="utf-8")
    (root / "inbox").mkdir()
    shutil.copy(ARTICLES / "intl-oecd-ai-principles.md", root / "inbox")
    (corpus / "sources.toml").write_text('[[source]]\nname = "inbox"\nkind = "folder"\npath = "../inbox"\n')
    index_dir.mkdir()
    with (
        sqlite3.connect(mini_settings.index_dir / "manifest.sqlite") as src,
        sqlite3.connect(index_dir / "manifest.sqlite") as dst,
    ):
        src.backup(dst)
    settings = mini_settings.model_copy(update={"corpus_dir": corpus, "index_dir": index_dir})
    report = update_index(settings, progress=False)
    assert report.added == ["articles/zz-teapot-injection"] and report.repaired > 0
    return settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(xss_settings, tmp_path_factory) -> Iterator[str]:
    """`briefing serve` on a free port; yields its URL once /api/health answers."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = os.environ | {"BRIEFING_CORPUS_DIR": str(xss_settings.corpus_dir)}
    cmd = [
        sys.executable,
        "-m",
        "briefing.cli",
        "serve",
        "--index-dir",
        str(xss_settings.index_dir),
        "--port",
        str(port),
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, proc, log_path)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for_health(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"briefing serve exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"briefing serve not ready after {timeout}s: {log_path.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


@dataclass
class App:
    """A page on the app, with the dialogs it raised (there must be none)."""

    page: object
    dialogs: list[str] = field(default_factory=list)

    def ask(self, question: str):
        """Ask and wait until the answer has finished streaming; returns the answer's locator."""
        before = self.page.locator(".msg.bot").count()
        self.page.fill("#question textarea", question)
        self.page.click("#ask")
        self.page.wait_for_function(
            f"document.querySelectorAll('.msg.bot:not(.streaming)').length > {before}", timeout=60_000
        )
        return self.page.locator(".msg.bot").nth(before)

    def watch(self, selector: str) -> None:
        """Count, from now on, every DOM change after which `selector` matches (catches brief states)."""
        self.page.evaluate(
            """(selector) => {
                window.seen = 0;
                new MutationObserver(() => { if (document.querySelector(selector)) window.seen++; })
                    .observe(document.body, {childList: true, subtree: true, characterData: true});
            }""",
            selector,
        )

    def seen(self) -> int:
        return self.page.evaluate("() => window.seen")

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).click()


@pytest.fixture
def app(browser, server) -> Iterator[App]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    state = App(page)
    page.on("dialog", lambda d: (state.dialogs.append(d.message), d.dismiss()))
    page.goto(server)
    page.wait_for_selector("#question textarea")
    yield state
    context.close()
    assert state.dialogs == []


def test_answer_streams_in_with_markers_that_reveal_their_source_passage(app):
    from playwright.sync_api import expect

    page = app.page
    app.watch(".msg.bot.streaming p:not(.muted)")
    answer = app.ask(FINES)
    assert app.seen() > 0  # the answer was shown sentence by sentence before it was complete
    expect(answer.locator(".mode")).to_have_text("Composed from sources")
    markers = answer.locator(".cite-marker")
    cited = {markers.nth(i).get_attribute("data-n") for i in range(markers.count())}
    cards = page.locator(".turn-sources.active .src-card")
    assert cited and cited == {cards.nth(i).get_attribute("data-n") for i in range(cards.count())}
    card = page.locator("#src-0-1")
    expect(card.locator("h4")).to_contain_text("EU AI Act penalties")
    expect(card.locator(".badge")).to_have_text("EU")
    expect(card.locator(".passage-text")).to_be_hidden()
    answer.locator('.cite-marker[data-n="1"]').first.click()
    expect(card.locator(".passage-text")).to_be_visible()
    expect(card.locator(".passage-text mark").first).to_be_visible()
    expect(card).to_have_class(re.compile(r"\bflash\b"))


def test_follow_up_uses_the_conversation_and_the_export_has_sources(app):
    from playwright.sync_api import expect

    page = app.page
    app.ask(FINES)
    follow_up = app.ask("When did they start to apply?")
    expect(follow_up.locator(".cite-marker").first).to_be_visible()
    unseen = (
        "() => { const t = document.querySelector('#transcript .transcript'); "
        "return t.scrollHeight - t.clientHeight - t.scrollTop; }"
    )
    assert page.evaluate(unseen) < 5  # the transcript follows the newest answer
    second = page.locator('.turn-sources[data-turn="1"]')
    expect(second).to_have_class(re.compile(r"\bactive\b"))
    expect(second.locator(".src-card h4").first).to_contain_text("EU AI Act")
    page.locator(".msg.bot").first.locator(".cite-marker").first.click()
    expect(page.locator('.turn-sources[data-turn="0"]')).to_have_class(re.compile(r"\bactive\b"))
    expect(second).to_be_hidden()

    page.get_by_text("Copy or export the conversation").click()
    exported = page.locator("#export-text textarea").input_value()
    assert exported.startswith("# Briefing conversation") and f"## {FINES}" in exported
    assert "## When did they start to apply?" in exported and exported.count("Sources:") == 2
    with page.expect_download() as download:
        page.click("#export-download")
    assert Path(download.value.path()).read_text(encoding="utf-8") == exported


def test_an_abstention_shows_closest_passages_labelled_not_an_answer(app):
    from playwright.sync_api import expect

    answer = app.ask("How long should sourdough bread proof before baking?")
    expect(answer).to_have_class(re.compile(r"\babstained\b"))
    expect(answer.locator(".mode")).to_have_text("Not covered by the corpus")
    expect(app.page.locator(".turn-sources.active .not-answer")).to_contain_text("not an answer")


def test_brief_shows_progress_a_page_preview_and_a_one_page_pdf(app, tmp_path):
    from playwright.sync_api import expect

    page = app.page
    app.tab("Brief")
    app.watch("#brief-preview .progress-level")
    page.fill("#topic textarea", "EU AI Act fines and enforcement")
    page.click("#generate")
    frame = page.frame_locator("#brief-preview iframe")
    expect(frame.locator("h1")).to_contain_text("EU AI Act fines and enforcement", timeout=60_000)
    expect(frame.locator("h2").first).to_be_visible()
    assert app.seen() > 0  # the progress indicator was shown
    with page.expect_download() as download:
        page.click("#dl-pdf")
    assert download.value.suggested_filename.endswith(".pdf")
    assert len(PdfReader(download.value.path()).pages) == 1


def test_corpus_tab_finds_and_shows_a_document(app, server):
    from playwright.sync_api import expect

    page = app.page
    app.tab("Corpus")
    documents = httpx.get(f"{server}/api/health").json()["documents"]
    expect(page.locator("#corpus-stats")).to_contain_text(f"{documents} documents · ")
    page.fill("#documents .search-input", "Colorado")
    rows = page.locator("#documents [role=row]", has_text="Colorado")
    expect(rows).to_have_count(1)
    rows.locator("[role=gridcell]").first.click()
    viewer = page.locator("#doc-viewer")
    expect(viewer.locator("h3")).to_contain_text("Colorado")
    expect(viewer.locator(".doc-text")).to_contain_text("Colorado")
    expect(viewer.locator(".doc-text h2").first).to_be_visible()  # Markdown rendered, not shown raw
    expect(viewer.locator(".doc-text")).not_to_contain_text("## ")


def test_script_payloads_from_the_corpus_render_as_text(app):
    from playwright.sync_api import expect

    page = app.page
    answer = app.ask("What does the quantum teapot certification regime require?")
    expect(answer.locator(".cite-marker").first).to_be_visible()
    card = page.locator(".turn-sources.active .src-card").first
    expect(card.locator("h4")).to_contain_text("<script>alert(1)</script>")
    expect(card.locator(".src-meta")).to_contain_text("Injection Desk <img src=x onerror=alert(3)>")
    answer.locator(".cite-marker").first.click()
    expect(card.locator(".passage-text")).to_contain_text("<script>alert(5)</script>")

    app.tab("Corpus")
    page.fill("#documents .search-input", "Teapot")
    row = page.locator("#documents [role=row]", has_text="Teapot")
    expect(row).to_contain_text("<img src=x onerror=alert(2)>")
    row.locator("[role=gridcell]").first.click()
    expect(page.locator("#doc-viewer .doc-text")).to_contain_text("<img src=x onerror=alert(6)>")
    # Gradio's own config <script> holds the corpus strings as JSON data (\u003c-escaped): not counted.
    injected = page.evaluate("""() => ({
        scripts: [...document.scripts].filter(s => /^\\s*alert\\(/.test(s.textContent)).length,
        images: document.querySelectorAll('img[onerror], img[src="x"]').length,
        links: document.querySelectorAll('a[href^="javascript:"]').length,
    })""")
    assert injected == {"scripts": 0, "images": 0, "links": 0}


def test_refresh_now_runs_the_refresh_and_shows_its_report(app, server):
    from playwright.sync_api import expect

    page = app.page
    app.tab("Corpus")
    before = httpx.get(f"{server}/api/health").json()["documents"]
    expect(page.locator("#corpus-stats")).to_contain_text("last refresh: never")
    expect(page.locator("#app-header")).to_contain_text(f"· {before} documents, offline")
    page.click("#refresh")
    report = page.locator("#refresh-report .refresh-report")
    expect(report).to_contain_text("Refresh: 1 added", timeout=60_000)
    expect(report).to_contain_text("fetched/inbox/")
    expect(page.locator("#corpus-stats")).to_contain_text(f"{before + 1} documents · ")
    expect(page.locator("#corpus-stats")).not_to_contain_text("last refresh: never")
    expect(page.locator("#app-header")).to_contain_text(f"· {before + 1} documents, offline")
