"""Rendering a Brief as a one-page memo: Markdown, HTML, PDF (fpdf2) and DOCX (python-docx).

All four formats walk the same list of `Block`s, so they hold the same content. `fit` trims the
brief until the PDF is one A4 page at the fixed font sizes; the DOCX then uses the same content,
page size, margins, font sizes and exact line heights, and the PDF keeps `RESERVE_MM` of the page
free, so the DOCX fits on one page too even where a viewer's font metrics differ slightly.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

from briefing.brief import SECTIONS, Brief, renumber

Format = Literal["md", "pdf", "docx", "html"]
FORMATS: tuple[str, ...] = ("md", "pdf", "docx", "html")
PT_MM = 25.4 / 72
PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 16.0, 12.0, 12.0
RESERVE_MM = 6.0  # kept free at the foot of the PDF page: slack for the DOCX viewer's metrics
MIN_BODY_PT = 10.0
LEADING = 1.27  # line height / font size
ACCENT = (24, 56, 104)
GREY = (96, 96, 96)
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
LATIN1 = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
        "•": "-",
        "\u00a0": " ",
        "‑": "-",
        "·": "-",
    }
)


@dataclass(frozen=True)
class Style:
    """Type and spacing of one kind of block, shared by the PDF and the DOCX."""

    size: float
    sans: bool = False
    bold: bool = False
    italic: bool = False
    before: float = 0.0  # mm of space above
    after: float = 0.0  # mm of space below
    indent: float = 0.0  # mm, hanging indent of bullets and sources
    color: tuple[int, int, int] = (0, 0, 0)

    @property
    def line_mm(self) -> float:
        return self.size * LEADING * PT_MM


STYLES = {
    "kicker": Style(8.5, sans=True, bold=True, color=ACCENT),
    "title": Style(15.0, sans=True, bold=True, before=0.8, after=0.6),
    "meta": Style(8.5, sans=True, color=GREY, after=1.5),
    "note": Style(MIN_BODY_PT, italic=True, color=GREY, before=2.0),
    "heading": Style(11.0, sans=True, bold=True, color=ACCENT, before=3.0, after=0.6),
    "lead": Style(MIN_BODY_PT, before=0.4, indent=3.0),
    "para": Style(MIN_BODY_PT),
    "bullet": Style(MIN_BODY_PT, indent=4.0, after=0.5),
    "empty": Style(MIN_BODY_PT, italic=True, color=GREY),
    "source": Style(8.0, sans=True, indent=6.0, after=0.3),
}
Run = tuple[str, str]  # (text, kind): "" plain, "b" bold, "i" italic, "cite" [n], "url" link, "date" (right)


@dataclass
class Block:
    """One paragraph of the memo."""

    kind: str
    runs: list[Run]


# -- content -----------------------------------------------------------------------------------
def blocks(brief: Brief) -> list[Block]:
    """The memo as paragraphs, in reading order (shared by every format)."""
    out = [
        Block("kicker", [("BRIEFING NOTE", ""), (human_date(brief.date), "date")]),
        Block("title", [(brief.title, "")]),
        Block("meta", [(_meta_line(brief), "")]),
    ]
    if brief.note:
        out.append(Block("note", [(brief.note, "")]))
    for section in brief.sections:
        out.append(Block("heading", [(section.heading, "")]))
        if not section.items:
            out.append(Block("empty", [(section.empty_reason or "", "")]))
        elif section.key in ("bottom_line", "background"):
            runs = [r for item in section.items for r in _sentence(item.text, item.citations)]
            out.append(Block("lead" if section.key == "bottom_line" else "para", runs))
        else:
            out += [
                Block("bullet", _label(section.key, item) + _sentence(item.text, item.citations))
                for item in section.items
            ]
    if brief.sources:
        out.append(Block("heading", [("Sources", "")]))
        out += [Block("source", _source_runs(s)) for s in brief.sources]
    return out


def _meta_line(brief: Brief) -> str:
    if not brief.sources:
        return "No source in the local corpus covers this topic"
    cited = f"{len(brief.sources)} source{'s' if len(brief.sources) != 1 else ''}"
    return f"Drawn from {cited} in the local corpus  ·  every sentence is quoted from a source and cited [n]"


def _sentence(text: str, citations: list[int]) -> list[Run]:
    marks = "".join(f"[{n}]" for n in citations)
    return [*inline(text), (" ", ""), (marks, "cite"), (" ", "")]


def inline(text: str) -> list[Run]:
    """A sentence as runs: the Markdown **bold** and *italic* marks some sources use become styles."""
    runs: list[Run] = []
    for part in re.split(r"(\*\*[^*]+?\*\*|(?<![\w*])\*[^*\s][^*]*?\*(?![\w*]))", text):
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            runs.append((part[2:-2], "b"))
        elif part.startswith("*") and part.endswith("*") and len(part) > 2:
            runs.append((part[1:-1], "i"))
        elif part:
            runs.append((part, ""))
    return runs


def _label(key: str, item) -> list[Run]:
    if key == "developments":
        return [(human_date(item.date) if item.date else "Undated", "b"), (" — ", "")]
    if key == "positions" and item.label:
        return [(item.label + ": ", "b")]
    return []


def _source_runs(source: dict) -> list[Run]:
    """[n] Title. Publisher, date (as of its last update). Its own URL, then its own primary sources."""
    as_of = source.get("as_of") or source.get("updated")
    revised = f"as of {human_date(as_of)}" if as_of and as_of != source.get("date") else None
    details = ", ".join(x for x in (source.get("publisher"), human_date(source.get("date")), revised) if x)
    runs: list[Run] = [(f"[{source['n']}]  ", "b"), (source.get("title") or source["doc_id"], "")]
    runs.append((f". {details}." if details else ".", ""))
    own = source.get("url") if _linkable(source.get("url")) else None
    if own:
        runs += [(" ", ""), (own, "url")]
    primary = [s["url"] for s in source.get("sources") or [] if _linkable(s.get("url")) and s["url"] != own]
    if primary:
        runs.append((" Primary sources: " if len(primary) > 1 else " Primary source: ", ""))
        for i, url in enumerate(primary):
            runs += [(" · ", "")] if i else []
            runs.append((url, "url"))
    if not own and not primary:
        runs.append((" No URL recorded.", "i"))
    return runs


def _linkable(url: object) -> bool:
    """Only http(s) URLs become links (never javascript: or data:)."""
    return isinstance(url, str) and re.match(r"https?://\S+$", url.strip(), re.I) is not None


def human_date(iso: str | None) -> str:
    """'2024-05-14' → '14 May 2024' (unparsable values are returned as given)."""
    if not iso:
        return ""
    try:
        return dt.date.fromisoformat(iso).strftime("%-d %B %Y")
    except ValueError:
        return iso


# -- Markdown and HTML -------------------------------------------------------------------------
def to_markdown(brief: Brief) -> str:
    """The brief as Markdown."""
    lines: list[str] = []
    previous = ""
    for block in blocks(brief):
        text = "".join(_md_run(t, k) for t, k in block.runs).rstrip()
        prefix = {"title": "# ", "heading": "## ", "bullet": "- ", "source": "- "}.get(block.kind, "")
        if block.kind in ("note", "empty", "meta"):
            text = f"*{text}*"
        lines += [prefix + text] if block.kind == previous in ("bullet", "source") else ["", prefix + text]
        previous = block.kind
    return "\n".join(lines).strip() + "\n"


def _md_run(text: str, kind: str) -> str:
    if kind == "date":
        return f" · {text}"
    core = text.strip()
    if not core or kind not in ("b", "i", "url"):
        return text
    marked = {"b": f"**{core}**", "i": f"*{core}*", "url": f"<{core}>"}[kind]
    return text[: len(text) - len(text.lstrip())] + marked + text[len(text.rstrip()) :]


def to_html(brief: Brief) -> str:
    """A standalone HTML page that looks like the memo; all corpus text is escaped."""
    body: list[str] = []
    items: list[str] = []
    for block in blocks(brief):
        inner = "".join(_html_run(t, k) for t, k in block.runs).strip()
        if block.kind in ("bullet", "source"):
            items.append(f'<li class="{block.kind}">{inner}</li>')
            continue
        if items:
            body.append(f"<ul>{''.join(items)}</ul>")
            items = []
        tag = {"title": "h1", "heading": "h2"}.get(block.kind, "p")
        body.append(f'<{tag} class="{block.kind}">{inner}</{tag}>')
    if items:
        body.append(f"<ul>{''.join(items)}</ul>")
    return HTML_PAGE.format(title=html.escape(brief.title), body="\n".join(body))


def _html_run(text: str, kind: str) -> str:
    safe = html.escape(text)
    if kind == "url":
        return f'<a href="{safe}">{safe}</a>'
    return {
        "b": f"<strong>{safe}</strong>",
        "i": f"<em>{safe}</em>",
        "cite": f'<sup class="cite">{safe}</sup>',
        "date": f'<span class="date">{safe}</span>',
    }.get(kind, safe)


HTML_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ background: #e9ebee; margin: 0; padding: 24px; }}
main {{ background: #fff; width: 178mm; min-height: 273mm; margin: 0 auto; padding: 12mm 16mm;
  box-shadow: 0 1px 6px rgba(0,0,0,.2); font: 10pt/1.27 "DejaVu Serif", Georgia, serif; }}
.kicker, .meta, h1, h2, .source {{ font-family: "DejaVu Sans Condensed", Arial, sans-serif; }}
.kicker {{ color: #183868; font-weight: bold; font-size: 8.5pt; letter-spacing: .12em; margin: 0; }}
.date {{ float: right; color: #606060; font-weight: normal; letter-spacing: 0; }}
h1 {{ font-size: 16pt; margin: 1mm 0; }}
.meta {{ color: #606060; font-size: 8.5pt; border-bottom: 1px solid #183868; padding-bottom: 2mm; }}
h2 {{ color: #183868; font-size: 11pt; margin: 3.6mm 0 .8mm; }}
p {{ margin: 0; }} .note, .empty {{ color: #606060; font-style: italic; }}
.lead {{ border-left: 3px solid #183868; padding-left: 3mm; font-size: 10.5pt; }}
ul {{ margin: 0; padding-left: 4mm; }} li.source {{ list-style: none; font-size: 8pt; margin-left: -4mm; }}
.cite {{ color: #183868; font-size: 100%; vertical-align: baseline; }}
a {{ color: #183868; word-break: break-all; }}
</style></head>
<body><main>
{body}
</main></body></html>
"""


# -- PDF -----------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _font_files() -> dict[str, Path] | None:
    """DejaVu TTF files for the faces used: the condensed cut (fonts-dejavu-extra), else the regular
    one (fonts-dejavu-core, whose missing italics fall back to upright), else None (then the core
    Times/Helvetica fonts, latin-1 only)."""
    for cut in ("Condensed", ""):
        for folder in map(Path, FONT_DIRS):
            found = {
                "serif": folder / f"DejaVuSerif{cut}.ttf",
                "serifB": folder / f"DejaVuSerif{cut}-Bold.ttf",
                "sans": folder / f"DejaVuSans{cut}.ttf",
                "sansB": folder / f"DejaVuSans{cut}-Bold.ttf",
            }
            if all(p.is_file() for p in found.values()):
                italic = {
                    "serifI": folder / f"DejaVuSerif{cut}-Italic.ttf",
                    "sansI": folder / f"DejaVuSans{cut}-Oblique.ttf",
                }
                return found | {k: p if p.is_file() else found[k[:-1]] for k, p in italic.items()}
    return None


class _Memo:
    """An fpdf2 document that lays out blocks, with DejaVu fonts or a latin-1 fallback."""

    def __init__(self) -> None:
        from fpdf import FPDF

        self.pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        self.pdf.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
        self.pdf.set_auto_page_break(True, margin=MARGIN_BOTTOM + RESERVE_MM)
        self.pdf.set_title("Briefing note")
        self.fonts = _font_files()
        if self.fonts:
            for family, prefix in (("Body", "serif"), ("Head", "sans")):
                for style in ("", "B", "I"):
                    self.pdf.add_font(family, style, str(self.fonts[prefix + style]))

    def lay_out(self, brief: Brief) -> int:
        """Add the brief on a new page; returns how many pages it took."""
        first = self.pdf.pages_count
        self.pdf.add_page()
        for block in blocks(brief):
            self.block(block)
        return self.pdf.pages_count - first

    def text(self, value: str) -> str:
        if self.fonts:
            return value
        return value.translate(LATIN1).encode("latin-1", "replace").decode("latin-1")

    def font(self, style: Style, run_kind: str = "") -> None:
        family = (
            ("Head" if style.sans else "Body") if self.fonts else ("Helvetica" if style.sans else "Times")
        )
        face = "B" if style.bold or run_kind == "b" else "I" if style.italic or run_kind == "i" else ""
        self.pdf.set_font(family, face, style.size)
        color = ACCENT if run_kind in ("cite", "url") else style.color
        self.pdf.set_text_color(*color)

    def block(self, block: Block) -> None:
        style = STYLES[block.kind]
        pdf = self.pdf
        pdf.set_y(pdf.get_y() + style.before)
        top = pdf.get_y()
        left = MARGIN_X + style.indent
        pdf.set_left_margin(left)
        if block.kind == "bullet":
            self.font(style)
            pdf.set_x(MARGIN_X + 0.6)
            pdf.cell(style.indent - 0.6, style.line_mm, self.text("•"))
        pdf.set_x(left if block.kind != "source" else MARGIN_X)
        for text, kind in block.runs:
            if kind == "date":
                self.right(text, style)
                continue
            self.font(style, kind)
            pdf.write(style.line_mm, self.text(text), link=text if kind == "url" else "")
        pdf.ln(style.line_mm)
        pdf.set_left_margin(MARGIN_X)
        self._decorate(block.kind, top)
        pdf.set_y(pdf.get_y() + style.after)

    def _decorate(self, kind: str, top: float) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*ACCENT)
        if kind == "lead":
            pdf.set_line_width(0.9)
            pdf.line(MARGIN_X + 0.5, top + 0.6, MARGIN_X + 0.5, pdf.get_y() - 0.6)
        elif kind == "meta":
            pdf.set_line_width(0.3)
            pdf.line(MARGIN_X, pdf.get_y() + 0.8, PAGE_W - MARGIN_X, pdf.get_y() + 0.8)
            pdf.set_y(pdf.get_y() + 0.8)

    def right(self, text: str, style: Style) -> None:
        """Text right-aligned on the current line (the date on the kicker line)."""
        y = self.pdf.get_y()
        self.font(STYLES["meta"])
        self.pdf.set_xy(MARGIN_X, y)
        self.pdf.cell(PAGE_W - 2 * MARGIN_X, style.line_mm, self.text(text), align="R")
        self.pdf.set_xy(MARGIN_X, y)


def page_count(brief: Brief, memo: _Memo | None = None) -> int:
    """Pages the brief takes as a PDF (laid out on `memo` when given, to reuse its loaded fonts)."""
    return (memo or _Memo()).lay_out(brief)


def fit(brief: Brief) -> Brief:
    """Trim the brief's lowest-scoring item (sections keep their minimum) until the PDF is one page."""
    memo = _Memo()
    trimmed: list[dict] = []
    while (pages := page_count(brief, memo)) > 1:
        section = _weakest(brief)
        if section is None:
            break
        drop = min(section.items, key=lambda i: i.score)
        trimmed.append(
            {"section": section.key, "doc_id": drop.doc_id, "score": drop.score, "text": drop.text}
        )
        kept = [i for i in section.items if i is not drop]
        sections = [replace(s, items=kept) if s.key == section.key else s for s in brief.sections]
        brief = renumber(replace(brief, sections=sections))
    return replace(brief, stages=brief.stages | {"render": {"pages": pages, "trimmed": trimmed}})


def _weakest(brief: Brief):
    """The section holding the lowest-scoring item among those that can lose one."""
    minimum = {s.key: s.min_items for s in SECTIONS}
    shrinkable = [s for s in brief.sections if len(s.items) > minimum.get(s.key, 1)]
    candidates = shrinkable or [s for s in brief.sections if s.items]
    return min(candidates, key=lambda s: min(i.score for i in s.items), default=None)


def to_pdf(brief: Brief, path: Path | str) -> Path:
    """Write the brief as a one-page A4 PDF (trimmed first if needed)."""
    path = Path(path)
    memo = _Memo()
    memo.lay_out(fit(brief))
    memo.pdf.output(str(path))
    return path


# -- DOCX ----------------------------------------------------------------------------------------
def to_docx(brief: Brief, path: Path | str) -> Path:
    """Write the brief as DOCX: the content that fits the PDF, same page, margins, sizes and line heights."""
    from docx import Document
    from docx.shared import Mm

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(PAGE_W), Mm(PAGE_H)
    section.left_margin = section.right_margin = Mm(MARGIN_X)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP), Mm(MARGIN_BOTTOM)
    doc.core_properties.title = brief.title
    fitted = fit(brief)
    for block in blocks(fitted):
        _docx_block(doc, block)
    path = Path(path)
    doc.save(str(path))
    return path


RULES = {"lead": ("left", 18), "meta": ("bottom", 6)}  # DOCX paragraph borders: side, eighths of a point


def _docx_block(doc, block: Block) -> None:
    style = STYLES[block.kind]
    para = doc.add_paragraph()
    if block.kind in RULES:  # first: w:pBdr precedes the spacing and indents in w:pPr
        _border(para, *RULES[block.kind])
    for text, kind in _docx_format(para, block, style):
        _docx_run(para, text, kind, style)


def _docx_format(para, block: Block, style: Style) -> list[Run]:
    """Spacing, exact line height and indents as in the PDF; returns the runs to write."""
    from docx.enum.text import WD_LINE_SPACING, WD_TAB_ALIGNMENT
    from docx.shared import Mm

    fmt = para.paragraph_format
    fmt.space_before, fmt.space_after = Mm(style.before), Mm(style.after)
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, Mm(style.line_mm)
    fmt.left_indent = Mm(style.indent)
    if block.kind == "kicker":
        fmt.tab_stops.add_tab_stop(Mm(PAGE_W - 2 * MARGIN_X), WD_TAB_ALIGNMENT.RIGHT)
    if block.kind not in ("bullet", "source"):
        return list(block.runs)
    fmt.first_line_indent = Mm(-style.indent)
    fmt.tab_stops.add_tab_stop(Mm(style.indent))
    return [("•\t", "")] + block.runs if block.kind == "bullet" else list(block.runs)


def _docx_run(para, text: str, kind: str, style: Style) -> None:
    from docx.shared import Pt, RGBColor

    run = para.add_run("\t" + text if kind == "date" else text)
    run.font.size = Pt(style.size)
    run.font.name = "DejaVu Sans Condensed" if style.sans or kind == "date" else "DejaVu Serif Condensed"
    run.bold = (style.bold and kind != "date") or kind == "b"
    run.italic = style.italic or kind == "i"
    run.font.color.rgb = RGBColor(
        *(ACCENT if kind in ("cite", "url") else GREY if kind == "date" else style.color)
    )


def _border(para, side: str, size: int) -> None:
    """An accent rule on one side of a paragraph (size in eighths of a point), as in the PDF."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    borders = OxmlElement("w:pBdr")
    rule = OxmlElement(f"w:{side}")
    for key, value in (("w:val", "single"), ("w:sz", str(size)), ("w:space", "4"), ("w:color", _hex(ACCENT))):
        rule.set(qn(key), value)
    borders.append(rule)
    para._p.get_or_add_pPr().append(borders)


def _hex(color: tuple[int, int, int]) -> str:
    return "".join(f"{c:02X}" for c in color)


# -- any format ----------------------------------------------------------------------------------
def render(brief: Brief, fmt: Format, path: Path | str) -> Path:
    """Write the brief in one of md, pdf, docx or html."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}': use one of {', '.join(FORMATS)}")
    path = Path(path)
    if fmt == "pdf":
        return to_pdf(brief, path)
    if fmt == "docx":
        return to_docx(brief, path)
    fitted = fit(brief)
    path.write_text(to_markdown(fitted) if fmt == "md" else to_html(fitted), encoding="utf-8")
    return path
