"""HTML and Markdown views of answers, sources, documents and briefs; every corpus string is escaped here."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from markdown_it import MarkdownIt

from briefing.render import human_date
from briefing.types import Answer, Citation

MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
BADGE_CLASSES = {"eu": "eu", "us": "us", "china": "cn", "uk": "uk", "international": "intl", "gulf": "gulf"}
NOT_AN_ANSWER = (
    '<p class="not-answer">Closest passages in the corpus. These are <strong>not an answer</strong>.</p>'
)
EXAMPLES = [
    "What are the maximum fines under the EU AI Act?",
    "What did the US and China discuss at their AI talks in Geneva?",
    "What did the October 2022 US export controls restrict?",
    "Which obligations apply to general-purpose AI models with systemic risk?",
]


@dataclass
class Turn:
    """One question of a conversation and its answer (None while it streams)."""

    question: str
    answer: Answer | None = None
    partial: str = ""
    mode: str = ""


def esc(value: object) -> str:
    """HTML-escaped text (None → empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None (never a javascript: or data: link)."""
    url = (url or "").strip()
    return url if re.match(r"https?://\S", url, re.I) else None


def badges(jurisdictions: Iterable[str]) -> str:
    """Jurisdiction badges."""
    return "".join(
        f'<span class="badge badge-{BADGE_CLASSES.get(j.lower(), "other")}">{esc(j)}</span>'
        for j in jurisdictions
    )


def plain(text: str) -> str:
    """Text without Markdown heading marks and emphasis asterisks, for display."""
    text = re.sub(r"^#{1,6}\s+", "", text, flags=re.M)
    return re.sub(r"\*{1,3}([^*\n]+?)\*{1,3}", r"\1", text)


def highlight(passage: str, quote: str) -> str:
    """The escaped passage with each part of the quote (parts joined by ' … ') wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    for part in quote.split(" … "):
        words = plain(part).split()
        if not words:
            continue
        found = re.search(r"\s+".join(re.escape(w) for w in words), passage)
        if found:
            spans.append(found.span())
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out += [esc(passage[pos:start]), "<mark>", esc(passage[start:end]), "</mark>"]
        pos = end
    return "".join(out) + esc(passage[pos:])


def _marker_buttons(numbers: str, turn: int, known: set[int]) -> str:
    out = []
    for n in (int(x) for x in numbers.split(",")):
        if n in known:
            out.append(
                f'<button type="button" class="cite-marker" data-turn="{turn}" data-n="{n}" '
                f'title="Show source {n}">{n}</button>'
            )
        else:
            out.append(f"[{n}]")
    return "".join(out)


def linked_text(text: str, turn: int, known: set[int]) -> str:
    """Escaped paragraphs in which each [n] with a known citation is a button that reveals card n."""
    paragraphs = []
    for para in re.split(r"\n\s*\n", text.strip()):
        pieces, pos = [], 0
        for m in MARKER.finditer(para):
            pieces += [esc(para[pos : m.start()]), _marker_buttons(m.group(1), turn, known)]
            pos = m.end()
        pieces.append(esc(para[pos:]))
        paragraphs.append(f"<p>{''.join(pieces)}</p>")
    return "".join(paragraphs)


def as_of_line(publisher: str | None, date: str | None, updated: str | None) -> list[str]:
    """Escaped metadata pieces: publisher, publication date (when revised since) and "as of" date."""
    as_of = updated or date
    pieces = [esc(publisher)] if publisher else []
    if updated and date and updated != date:
        pieces.append(f"published {esc(human_date(date))}")
    if as_of:
        pieces.append(f'<span class="as-of">as of {esc(human_date(as_of))}</span>')
    return pieces


def source_links(sources: Iterable[dict]) -> str:
    """The cited article's own primary sources: escaped titles, linked when the URL is http(s)."""
    items = []
    for s in sources:
        url = safe_url(s.get("url"))
        label = esc(s.get("title") or url or "")
        if not label:
            continue
        if url:
            label = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{label} ↗</a>'
        items.append(f"<li>{label}</li>")
    if not items:
        return ""
    return f'<div class="src-links"><span>Primary sources</span><ul>{"".join(items)}</ul></div>'


def source_card(c: Citation, turn: int, abstained: bool) -> str:
    """A card: number, title (linked when the URL is http(s)), publisher, "as of" date, badges, the
    article's own primary sources, quote and passage."""
    url = safe_url(c.url)
    title = esc(c.title or c.doc_id)
    if url:
        title = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{title} ↗</a>'
    meta = " · ".join(as_of_line(c.publisher, c.date, c.updated))
    quote = (
        f'<blockquote class="quote">{esc(plain(c.quote))}</blockquote>' if c.quote and not abstained else ""
    )
    label = "Passage" if abstained else "Show passage"
    return (
        f'<article class="src-card" id="src-{turn}-{c.n}" data-turn="{turn}" data-n="{c.n}">'
        f'<header><span class="src-n">{c.n}</span><h4>{title}</h4></header>'
        f'<div class="src-meta">{meta}{badges(c.jurisdiction)}</div>{source_links(c.sources)}{quote}'
        f'<details class="passage"{" open" if abstained else ""}><summary>{label}</summary>'
        f'<div class="passage-text">{highlight(plain(c.passage), c.quote)}</div></details>'
        f'<div class="src-id">{esc(c.doc_id)}</div></article>'
    )


def mode_label(answer: Answer) -> str:
    """'Composed from sources', or the LLM's name with how many of its sentences passed verification."""
    if answer.mode == "extractive":
        return "Composed from sources"
    v = answer.verification or {}
    label = (
        f"{answer.mode.removeprefix('llm:')} · {v.get('kept', 0)} of {v.get('checked', 0)} sentences verified"
    )
    return label + (" · shown: composed from sources" if v.get("fallback") else "")


def refresh_report(lines: list[str], failed: bool) -> str:
    """A refresh report, one escaped line each."""
    body = "<br>".join(esc(line) for line in lines)
    return f'<div class="refresh-report{" error" if failed else ""}">{body}</div>'


def _assistant(turn: Turn, i: int) -> str:
    a = turn.answer
    if a is None:
        body = (
            linked_text(turn.partial, i, set())
            if turn.partial
            else '<p class="muted">Searching the corpus…</p>'
        )
        return f'<div class="msg bot streaming"><div class="mode">{esc(turn.mode)}</div>{body}</div>'
    if a.error:
        return f'<div class="msg bot error"><p>{esc(a.error)}</p></div>'
    known = {c.n for c in a.citations}
    kind = " abstained" if a.abstained else ""
    label = "Not covered by the corpus" if a.abstained else turn.mode
    body = linked_text(a.answer, i, known)
    return f'<div class="msg bot{kind}"><div class="mode">{esc(label)}</div>{body}</div>'


def transcript(turns: list[Turn]) -> str:
    """The conversation: questions and answers with clickable [n] markers."""
    if not turns:
        return (
            '<div class="transcript empty"><h3>Ask about AI governance</h3><p>Answers are composed from the '
            "indexed corpus only; every sentence carries a [n] marker that opens its source. Try one of the "
            "example questions below.</p></div>"
        )
    rows = []
    for i, turn in enumerate(turns):
        rows.append(f'<div class="msg user"><p>{esc(turn.question)}</p></div>')
        rows.append(_assistant(turn, i))
    return f'<div class="transcript">{"".join(rows)}</div>'


def sources_panel(turns: list[Turn]) -> str:
    """The source cards of every turn; the last turn's are shown, a clicked marker shows its own turn's."""
    if not turns:
        return '<div class="sources"><p class="muted">Sources of the answer appear here.</p></div>'
    groups = []
    for i, turn in enumerate(turns):
        active = " active" if i == len(turns) - 1 else ""
        a = turn.answer
        if a is None:
            inner = '<p class="muted">Finding sources…</p>'
        elif a.error or not a.citations:
            inner = '<p class="muted">No sources.</p>'
        else:
            heading = NOT_AN_ANSWER if a.abstained else ""
            inner = heading + "".join(source_card(c, i, a.abstained) for c in a.citations)
        groups.append(
            f'<section class="turn-sources{active}" data-turn="{i}"><h3>Sources</h3>'
            f'<p class="for-q">for “{esc(turn.question)}”</p>{inner}</section>'
        )
    return f'<div class="sources">{"".join(groups)}</div>'


def conversation_markdown(turns: list[Turn]) -> str:
    """The conversation as Markdown, each answer followed by its sources."""
    blocks = ["# Briefing conversation"]
    for turn in turns:
        a = turn.answer
        if a is None:
            continue
        blocks.append("## " + " ".join(turn.question.split()))
        if turn.mode and not a.abstained:
            blocks.append(f"*{turn.mode}*")
        blocks.append(a.answer)
        if a.citations:
            head = "Closest passages (not an answer):" if a.abstained else "Sources:"
            blocks.append("\n".join([head, *(_source_line(c) for c in a.citations)]))
    return "\n\n".join(blocks) + "\n"


def _source_line(c: Citation) -> str:
    details = ", ".join(x for x in (c.publisher, human_date(c.date)) if x)
    if c.as_of and c.as_of != c.date:
        details += f" (as of {human_date(c.as_of)})" if details else f"as of {human_date(c.as_of)}"
    url = safe_url(c.url)
    line = f"- [{c.n}] {c.title}" + (f" — {details}" if details else "") + (f" <{url}>" if url else "")
    for s in c.sources:
        link = safe_url(s.get("url"))
        if s.get("title") or link:
            line += "\n  - " + (s.get("title") or "") + (f" <{link}>" if link else "")
    return line


def _markdown() -> MarkdownIt:
    """CommonMark plus tables with raw HTML off (tags in corpus text are shown as text), images off
    (an offline viewer loads nothing remote) and only http(s) and mailto links; links open a new tab."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
    md.validateLink = lambda url: re.match(r"(https?://|mailto:)\S", url.strip(), re.I) is not None

    def link_open(renderer, tokens, idx, options, env):
        tokens[idx].attrSet("target", "_blank")
        tokens[idx].attrSet("rel", "noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("link_open", link_open)
    return md


MARKDOWN = _markdown()


def markdown_html(text: str) -> str:
    """A document's Markdown as HTML, safely: corpus HTML is escaped, never rendered."""
    return MARKDOWN.render(text or "")


def document_view(title: str, meta: str, text: str, links: str = "") -> str:
    """A document's full text rendered from Markdown (safely), with its title, metadata (HTML, already
    escaped) and its primary-source links (from `source_links`)."""
    return (
        f'<div class="doc-view"><h3>{esc(title)}</h3><div class="src-meta">{meta}</div>{links}'
        f'<div class="doc-text doc-md">{markdown_html(text)}</div></div>'
    )


def brief_preview(page: str) -> str:
    """The brief's standalone HTML page in a sandboxed frame (scripts off, links open a new tab)."""
    page = page.replace("<head>", '<head><base target="_blank">', 1)
    frame = '<iframe class="brief-frame" title="Brief preview" sandbox="allow-popups" srcdoc="{}"></iframe>'
    return frame.format(esc(page))
