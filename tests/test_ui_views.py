"""The UI's HTML views and handlers, without a browser or a model: escaping, markers, cards, export."""

from __future__ import annotations

import pytest

from briefing.types import Answer, Citation
from ui import views
from ui.views import Turn

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def citation(n: int = 1, **extra) -> Citation:
    values = {
        "n": n,
        "doc_id": "articles/x",
        "title": "EU AI Act penalties",
        "publisher": "Briefing desk",
        "date": "2025-08-02",
        "url": "https://eur-lex.europa.eu/eli/reg/2024/1689/oj",
        "passage": "Chapter XII.\nThe top tier is EUR 35 million or 7% of turnover. Fines apply.",
        "quote": "The top tier is EUR 35 million or 7% of turnover.",
        "jurisdiction": ["EU"],
    }
    return Citation(**(values | extra))


def answer(text: str = "The top tier is EUR 35 million or 7% of turnover. [1]", **extra) -> Answer:
    return Answer(
        **(
            {
                "question": "q",
                "answer": text,
                "abstained": False,
                "mode": "extractive",
                "citations": [citation()],
                "retrieved": [],
            }
            | extra
        )
    )


def test_every_corpus_field_is_escaped_and_only_http_urls_are_links():
    card = views.source_card(
        citation(
            title=XSS, publisher=XSS, passage=XSS, quote=XSS, url="javascript:alert(3)", jurisdiction=[XSS]
        ),
        0,
        False,
    )
    assert "<script" not in card and "<img" not in card and "javascript:" not in card
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert views.safe_url("https://example.org/a") == "https://example.org/a"
    assert views.safe_url("data:text/html,x") is None and views.safe_url(None) is None


def test_card_shows_metadata_badges_link_and_the_highlighted_quote():
    card = views.source_card(citation(), 2, False)
    assert 'id="src-2-1"' in card and "Briefing desk" in card and "2 August 2025" in card
    assert '<span class="badge badge-eu">EU</span>' in card
    assert (
        'href="https://eur-lex.europa.eu/eli/reg/2024/1689/oj"' in card
        and 'rel="noopener noreferrer"' in card
    )
    assert "<mark>The top tier is EUR 35 million or 7% of turnover.</mark>" in card


def test_highlight_marks_each_part_of_a_joined_quote_across_line_breaks():
    out = views.highlight("Alpha beta\ngamma. Delta epsilon. Zeta <b>.", "Alpha beta gamma. … Zeta <b>.")
    assert out == "<mark>Alpha beta\ngamma.</mark> Delta epsilon. <mark>Zeta &lt;b&gt;.</mark>"
    assert views.highlight("no match here", "something else") == "no match here"


def test_markers_become_buttons_only_for_known_citations():
    html = views.linked_text("One. [1] Two. [2, 3]\n\nThree <i>. [9]", 4, {1, 2, 3})
    assert html.count('class="cite-marker"') == 3
    assert 'data-turn="4" data-n="2"' in html and "[9]" in html and "&lt;i&gt;" in html
    assert html.count("<p>") == 2


def test_transcript_and_sources_panel_show_turns_mode_and_abstention():
    turns = [
        Turn("First?", answer(), mode="Composed from sources"),
        Turn("Off topic?", answer("The corpus does not cover this.", abstained=True), mode="x"),
    ]
    transcript = views.transcript(turns)
    assert "Composed from sources" in transcript and "Not covered by the corpus" in transcript
    panel = views.sources_panel(turns)
    assert panel.count('class="turn-sources') == 2 and 'turn-sources active" data-turn="1"' in panel
    assert "not an answer" in panel
    streaming = views.transcript([Turn("Q <b>", partial="Half a sentence [1]")])
    assert "streaming" in streaming and "Q &lt;b&gt;" in streaming


def test_llm_mode_label_counts_verified_sentences():
    verified = answer(mode="llm:smollm2", verification={"checked": 4, "kept": 3, "dropped": 1, "flagged": 0})
    assert views.mode_label(verified) == "smollm2 · 3 of 4 sentences verified"
    assert views.mode_label(answer()) == "Composed from sources"


def test_conversation_markdown_lists_each_answer_with_its_sources():
    md = views.conversation_markdown([Turn("What are the fines?", answer(), mode="Composed from sources")])
    assert md.startswith("# Briefing conversation\n\n## What are the fines?")
    assert "Sources:\n- [1] EU AI Act penalties — Briefing desk, 2 August 2025 <https://eur-lex" in md


def test_brief_preview_is_a_sandboxed_frame_with_the_page_escaped():
    frame = views.brief_preview("<html><head><title>t</title></head><body>" + XSS + "</body></html>")
    assert frame.startswith('<iframe class="brief-frame"') and 'sandbox="allow-popups"' in frame
    assert "<script" not in frame and "&lt;base target=&quot;_blank&quot;&gt;" in frame


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("One. [1] Two! [2]\n\nThree? [1, 2]", ["One. [1] ", "Two! [2]\n\n", "Three? [1, 2]"]),
        ("No end", ["No end"]),
        ("", []),
    ],
)
def test_composed_answers_stream_sentence_by_sentence(text, parts):
    from ui.app import pieces

    assert pieces(text) == parts


def test_card_shows_the_articles_own_primary_sources_and_its_as_of_date():
    sources = [
        {"title": "Regulation (EU) 2024/1689", "url": "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"},
        {"title": XSS, "url": "javascript:alert(4)"},
    ]
    card = views.source_card(citation(url=None, updated="2026-11-30", sources=sources), 0, False)
    assert "published 2 August 2025" in card and '<span class="as-of">as of 30 November 2026</span>' in card
    assert 'class="src-links"' in card and "Primary sources" in card
    assert '<a href="https://eur-lex.europa.eu/eli/reg/2024/1689/oj"' in card
    assert "Regulation (EU) 2024/1689 ↗" in card
    assert "javascript:" not in card and "<script" not in card and "&lt;script&gt;" in card
    plain_card = views.source_card(citation(), 0, False)
    assert "as of 2 August 2025" in plain_card and "published" not in plain_card
    assert "src-links" not in plain_card
    md = views.conversation_markdown(
        [Turn("Q?", answer(citations=[citation(updated="2026-11-30", sources=sources)]), mode="m")]
    )
    assert "(as of 30 November 2026)" in md and "  - Regulation (EU) 2024/1689 <https://eur-lex" in md


def test_document_view_renders_markdown_and_never_corpus_html():
    text = (
        "# Teapot rules <script>alert(1)</script>\n\n## What was issued\n\nThe **measures** apply.\n\n"
        "- explicit labels\n- implicit labels <img src=x onerror=alert(2)>\n\n"
        '<div onclick="alert(3)">raw block</div>\n\n'
        "[official text](https://www.cac.gov.cn/x) · [bad](javascript:alert(4)) · ![pixel](https://t.example/p.png)\n\n"
        "| Tier | Fine |\n|---|---|\n| top | 7% |\n"
    )
    view = views.document_view("T <b>", "meta", text)
    assert "<h2>What was issued</h2>" in view and "<strong>measures</strong>" in view
    assert "<li>explicit labels</li>" in view and "<td>7%</td>" in view and "## " not in view
    assert '<a href="https://www.cac.gov.cn/x" target="_blank" rel="noopener noreferrer">' in view
    assert "<script" not in view and "<img" not in view and "<div onclick" not in view
    assert (
        "javascript:" not in view.replace("[bad](javascript:alert(4))", "") and 'href="javascript' not in view
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in view and "&lt;img src=x onerror=alert(2)&gt;" in view
    assert "T &lt;b&gt;" in view
