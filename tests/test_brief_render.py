"""Rendering briefs (no model needed): formats, escaping, one-page fitting, DOCX parity, CLI input errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from docx import Document as DocxDocument
from pypdf import PdfReader
from typer.testing import CliRunner

from briefing import render as R
from briefing.brief import SECTIONS, Brief, BriefItem, Section, renumber
from briefing.cli import app

SENTENCE = (
    "The {n}th measure requires providers to publish a summary of the content used for training, "
    "to keep technical documentation up to date and to cooperate with the “AI Office” — without delay."
)


def synthetic(items_per_section: int = 2, sources: int = 3) -> Brief:
    """A brief with `items_per_section` cited sentences per section, spread over `sources` documents."""
    sections, n = [], 0
    for spec in SECTIONS:
        items = []
        for _ in range(items_per_section):
            n += 1
            items.append(
                BriefItem(
                    SENTENCE.format(n=n),
                    [],
                    f"2024-0{1 + n % 9}-1{n % 9}",
                    "EU" if spec.key == "positions" else None,
                    score=1.0 - n / 1000,
                    doc_id=f"doc-{n % sources}",
                )
            )
        sections.append(Section(spec.key, spec.heading, items))
    meta = [
        {
            "n": 0,
            "doc_id": f"doc-{i}",
            "title": f"Source <{i}> & co",
            "publisher": "Publisher",
            "date": "2024-05-14",
            "url": f"https://example.org/{i}",
        }
        for i in range(sources)
    ]
    return renumber(Brief("Test topic", "Test topic", "2025-01-02", sections, meta))


def pdf_pages(path) -> int:
    return len(PdfReader(str(path)).pages)


def test_markdown_has_every_section_in_order_and_numbered_sources():
    md = R.to_markdown(synthetic())
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings == [s.heading for s in SECTIONS] + ["Sources"]
    assert md.startswith("BRIEFING NOTE · 2 January 2025\n\n# Test topic")
    assert "- **[1]**" in md and "<https://example.org/" in md
    assert all(f"[{n}]" in md for n in (1, 2, 3))


def test_html_is_standalone_and_escapes_corpus_text():
    brief = synthetic()
    brief.sections[1].items[0].text = "<script>alert('x')</script> & more."
    page = R.to_html(brief)
    assert page.startswith("<!doctype html>") and "</html>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Source &lt;0&gt; &amp; co" in page


def test_every_item_is_cited_with_a_listed_source():
    brief = synthetic(sources=4)
    numbers = {s["n"] for s in brief.sources}
    assert numbers == set(range(1, len(brief.sources) + 1))
    assert all(item.citations and set(item.citations) <= numbers for s in brief.sections for item in s.items)


def test_fit_trims_the_weakest_items_of_the_brief_to_one_page(tmp_path):
    brief = synthetic(items_per_section=6, sources=6)
    assert R.page_count(brief) > 1
    fitted = R.fit(brief)
    assert R.page_count(fitted) == 1 and fitted.stages["render"]["pages"] == 1
    trimmed = fitted.stages["render"]["trimmed"]
    assert trimmed
    minimum = {s.key: s.min_items for s in SECTIONS}
    dropped, kept_above_minimum = [], []
    for section, original in zip(fitted.sections, brief.sections, strict=True):
        kept = {i.text for i in section.items}
        assert kept <= {i.text for i in original.items}  # whole sentences only, never cut
        assert len(section.items) >= min(minimum[section.key], len(original.items))
        dropped += [i.score for i in original.items if i.text not in kept]
        if len(section.items) > minimum[section.key]:
            kept_above_minimum += [i.score for i in section.items]
    # the weakest items go first, whichever section holds them (not the longest section's weakest)
    assert max(dropped) <= min(kept_above_minimum)
    assert pdf_pages(R.to_pdf(brief, tmp_path / "b.pdf")) == 1


def test_pdf_body_is_at_least_ten_points_and_a4(tmp_path):
    assert R.MIN_BODY_PT >= 10
    assert all(R.STYLES[k].size >= R.MIN_BODY_PT for k in ("lead", "para", "bullet", "empty", "note"))
    page = PdfReader(str(R.to_pdf(synthetic(), tmp_path / "b.pdf"))).pages[0]
    assert round(float(page.mediabox.width) * 25.4 / 72) == 210
    assert round(float(page.mediabox.height) * 25.4 / 72) == 297


def test_pdf_falls_back_to_latin1_core_fonts(monkeypatch, tmp_path):
    monkeypatch.setattr(R, "_font_files", lambda: None)
    path = R.to_pdf(synthetic(), tmp_path / "b.pdf")
    text = PdfReader(str(path)).pages[0].extract_text()
    assert pdf_pages(path) == 1 and '"AI Office" - without delay' in text


def test_docx_has_same_sections_page_and_content_as_the_fitted_pdf(tmp_path):
    brief = synthetic(items_per_section=6, sources=6)
    fitted = R.fit(brief)
    doc = DocxDocument(str(R.to_docx(brief, tmp_path / "b.docx")))
    texts = [p.text for p in doc.paragraphs]
    assert [t for t in texts if t in {s.heading for s in SECTIONS} | {"Sources"}] == [
        s.heading for s in SECTIONS
    ] + ["Sources"]
    body = "\n".join(texts)
    assert all(item.text in body for s in fitted.sections for item in s.items)
    assert sum(item.text in body for s in brief.sections for item in s.items) == sum(
        len(s.items) for s in fitted.sections
    )
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert round(section.left_margin.mm) == R.MARGIN_X


def test_inline_markup_becomes_styles():
    assert R.inline("**2 May 2025:** deadline for *model* codes.") == [
        ("2 May 2025:", "b"),
        (" deadline for ", ""),
        ("model", "i"),
        (" codes.", ""),
    ]


@pytest.mark.parametrize("fmt", R.FORMATS)
def test_render_writes_each_format(tmp_path, fmt):
    path = R.render(synthetic(), fmt, tmp_path / f"brief.{fmt}")
    assert path.stat().st_size > 200


def test_render_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        R.render(synthetic(), "odt", tmp_path / "b.odt")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "Please give a topic"),
        (["EU AI Act", "--format", "odt", "-o", "x.odt"], "unknown format"),
        (["EU AI Act", "--since", "2024-13-01"], "not an ISO date"),
        (["EU AI Act", "--format", "pdf"], "needs an output file"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(app, ["brief", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_help_documents_exit_code_3():
    result = CliRunner().invoke(app, ["brief", "--help"])
    assert result.exit_code == 0 and "3 insufficient" in " ".join(result.output.split())


def test_pdf_uses_the_regular_dejavu_cut_when_only_fonts_dejavu_core_is_installed(monkeypatch, tmp_path):
    core = ["DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"]
    source = next((Path(d) for d in R.FONT_DIRS if all((Path(d) / f).is_file() for f in core)), None)
    if source is None:
        pytest.skip("needs the fonts-dejavu-core TTF files")
    for name in core:
        shutil.copy(source / name, tmp_path / name)
    monkeypatch.setattr(R, "FONT_DIRS", (str(tmp_path),))
    R._font_files.cache_clear()
    try:
        fonts = R._font_files()
        assert fonts["serif"].name == "DejaVuSerif.ttf" and fonts["serifI"] == fonts["serif"]
        assert pdf_pages(R.to_pdf(synthetic(), tmp_path / "b.pdf")) == 1
    finally:
        R._font_files.cache_clear()


def test_a_source_lists_its_own_url_then_its_own_primary_sources_and_only_http_links():
    from briefing.manifest import DocRecord

    own = DocRecord("doc-0", "h", "Chip controls", "2025-01-13", "Desk", None, ["US"], [], 3, "now")
    own.updated, own.sources = (
        "2026-12-02",
        [
            {"title": "BIS press release", "url": "https://bis.gov/a"},
            {"title": "Federal Register", "url": "https://www.govinfo.gov/b.pdf"},
            {"title": "Bad", "url": "javascript:alert(1)"},
        ],
    )
    item = BriefItem("A cited sentence.", [], "2025-01-13", None, doc_id="doc-0")
    sections = [Section(s.key, s.heading, [item] if s.key == "background" else []) for s in SECTIONS]
    brief = renumber(Brief("t", "t", "2026-12-02", sections, []), {"doc-0": own})
    (source,) = brief.sources
    assert source["url"] is None and source["sources"] == own.sources and source["as_of"] == "2026-12-02"
    md = R.to_markdown(brief)
    line = next(ln for ln in md.splitlines() if ln.startswith("- **[1]**"))
    assert "Desk, 13 January 2025, as of 2 December 2026." in line
    assert "Primary sources: <https://bis.gov/a> · <https://www.govinfo.gov/b.pdf>" in line
    assert "javascript" not in md and "No URL recorded" not in line
    page = R.to_html(brief)
    assert '<a href="https://bis.gov/a">' in page and "javascript" not in page
    bare = renumber(
        Brief("t", "t", "2026-12-02", sections, []),
        {"doc-0": DocRecord("doc-0", "h", "Bare", None, None, None, [], [], 1, "now")},
    )
    assert "No URL recorded." in R.to_markdown(bare)


def test_a_development_is_dated_by_the_event_it_reports_not_by_its_source():
    import numpy as np

    from briefing.answer.engine import Candidate
    from briefing.brief import _item, event_date
    from briefing.manifest import DocRecord
    from briefing.types import Passage

    assert (
        event_date("Chapter V has applied since 2 August 2025, the Office said on 24 January 2024.")
        == "2025-08-02"
    )
    assert event_date("On May 13, 2024 the White House announced the talks.") == "2024-05-13"
    assert event_date("The rule took effect in October.") is None
    doc = DocRecord("d", "h", "Title", "2024-01-24", None, None, [], [], 1, "")
    passage = Passage("d#0", "d", "", 1.0, 1, 0, 0, "", {})
    dated = Candidate(passage, 0, 10, "Chapter V has applied since 2 August 2025.", np.zeros(4))
    undated = Candidate(passage, 0, 10, "The Office publishes guidance on the obligations.", np.zeros(4))
    assert _item(dated, doc, "developments").date == "2025-08-02"
    assert _item(undated, doc, "developments").date == "2024-01-24"  # no date of its own: the source's
