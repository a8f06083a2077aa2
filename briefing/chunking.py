"""Structure-aware chunking: headings, paragraphs and sentences, with exact character offsets.

Written by hand because LlamaIndex's splitters (SentenceSplitter, MarkdownNodeParser) do not keep
character offsets of every sentence and do not count tokens with the embedding model's own
tokenizer; both are needed so that citations point at exact passages and no text is truncated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from briefing.types import Chunk, Document, Sentence

TokenCounter = Callable[[Sequence[str]], list[int]]
MODEL_MAX_TOKENS = 254  # all-MiniLM-L6-v2 embeds 256 tokens including [CLS] and [SEP]
VERSION = 2  # bump when a change to splitting alters chunks or sentences: indexes then re-chunk
MIN_SECTION_TOKENS = 60  # a smaller chunk runs on into the next section instead of standing alone

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_UNIT_START = re.compile(r"^\s*(?:#{1,6}\s|[-*+•]\s|\d{1,3}[.)]\s|\([a-z0-9]{1,3}\)\s|\|)")  # | table row
_ABBREVIATION = re.compile(
    r"(?:\b(?:U\.S|U\.K|U\.N|E\.U|E\.O|e\.g|i\.e|No|Nos|Art|Arts|Sec|para|paras|Dr|Mr|Ms|Mrs|St|Jr|vs|cf)\.\)?)$"
)
_PARAGRAPH = re.compile(r"\S.*?(?=\n[ \t]*\n|\Z)", flags=re.S)


@dataclass
class _Unit:
    """A sentence (or a heading) located in the document."""

    start: int
    end: int
    heading: str
    tokens: int = 0
    is_heading: bool = False  # a heading line: counted in a chunk's size, never a sentence


def sentence_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans of a piece of prose, using the Punkt model bundled with LlamaIndex."""
    from llama_index.core.utils import globals_helper

    spans: list[tuple[int, int]] = []
    for start, end in globals_helper.punkt_tokenizer.span_tokenize(text):
        if spans and _ABBREVIATION.search(text[spans[-1][0] : spans[-1][1]]):
            spans[-1] = (spans[-1][0], end)  # Punkt cut after "U.S." or "No.": join the pieces
        else:
            spans.append((start, end))
    return [(offset + s, offset + e) for s, e in spans]


def split_units(text: str) -> list[_Unit]:
    """Headings and sentences of a document, with the heading path each sentence sits under."""
    units: list[_Unit] = []
    path: list[tuple[int, str]] = []
    for para in _PARAGRAPH.finditer(text):
        for start, end in _line_groups(text, para.start(), para.end()):
            line = text[start:end]
            heading = _HEADING.match(line) if "\n" not in line.strip() else None
            if heading and (units or not _only_headings_follow(text, end)):
                level = len(heading.group(1))
                path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading.group(2))]
                units.append(_Unit(start, end, " › ".join(h for _, h in path[-2:]), is_heading=True))
                continue
            label = " › ".join(h for _, h in path[-2:])
            units += [_Unit(s, e, label) for s, e in sentence_spans(line, start)]
    return units


def _only_headings_follow(text: str, end: int) -> bool:
    """True when nothing but headings remains after `end` (a heading-only text is kept as prose)."""
    return all(_HEADING.match(line) for line in text[end:].splitlines() if line.strip())


def _line_groups(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a paragraph where a line opens a heading or a list item."""
    groups: list[tuple[int, int]] = []
    cursor = start
    previous = ""
    for line in re.finditer(r"[^\n]+", text[start:end]):
        if line.start() > 0 and _opens_unit(line.group(), previous):
            groups.append((cursor, start + line.start()))
            cursor = start + line.start()
        previous = line.group()
    groups.append((cursor, end))
    return [_strip(text, s, e) for s, e in groups if text[s:e].strip()]


def _opens_unit(line: str, previous: str) -> bool:
    """A line that starts a new unit: a heading, bullet or table row, or a numbered item after a
    line that ended a clause (a wrapped line of a PDF may start with "(7)" mid-sentence)."""
    if not _UNIT_START.match(line):
        return False
    if re.match(r"^\s*(?:#{1,6}\s|[-*+•]\s|\|)", line):
        return True
    return bool(re.search(r"[.;:!?]\s*$", previous))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())


def chunk_document(
    doc: Document, count_tokens: TokenCounter, size: int = 220, overlap: int = 30
) -> list[Chunk]:
    """Cut a document into chunks of about `size` model tokens that never cross the model's limit."""
    units = _fit_units(doc.text, split_units(doc.text), count_tokens, size)
    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in units:
        used = sum(u.tokens for u in current)
        new_section = (
            current
            and (unit.is_heading or unit.heading != current[-1].heading)
            and used >= MIN_SECTION_TOKENS
        )
        if current and (new_section or used + unit.tokens > size):
            chunks.append(current)
            current = [] if new_section else _tail(current, overlap, size - unit.tokens)
        current.append(unit)
    if current:
        chunks.append(current)
    groups = [_trim_headings(group) for group in chunks]
    return [_make_chunk(doc, i, group) for i, group in enumerate(g for g in groups if g)]


def _trim_headings(units: list[_Unit]) -> list[_Unit]:
    """A chunk does not end on a heading (it belongs to the next chunk) and holds a sentence."""
    while units and units[-1].is_heading:
        units = units[:-1]
    return units if any(not u.is_heading for u in units) else []


def _fit_units(text: str, units: list[_Unit], count_tokens: TokenCounter, size: int) -> list[_Unit]:
    """Count tokens per sentence, and break sentences longer than `size` at word boundaries."""
    for unit, n in zip(units, count_tokens([text[u.start : u.end] for u in units]), strict=True):
        unit.tokens = n
    out: list[_Unit] = []
    for unit in units:
        if unit.tokens <= size:
            out.append(unit)
            continue
        out += _split_unit(text, unit, count_tokens, size)
    return out


def _split_unit(text: str, unit: _Unit, count_tokens: TokenCounter, size: int) -> list[_Unit]:
    """Halve an overlong unit at a word boundary (or mid-word if it has none) until pieces fit."""
    if unit.tokens <= size or unit.end - unit.start < 2:
        return [unit]
    piece = text[unit.start : unit.end]
    middle = len(piece) // 2
    cut = piece.rfind(" ", 0, middle) if " " in piece[:middle] else piece.find(" ", middle)
    cut = cut if cut > 0 else middle
    halves = []
    for start, end in ((unit.start, unit.start + cut), (unit.start + cut, unit.end)):
        start, end = _strip(text, start, end)
        if end > start:
            halves.append(
                _Unit(start, end, unit.heading, count_tokens([text[start:end]])[0], unit.is_heading)
            )
    return [p for half in halves for p in _split_unit(text, half, count_tokens, size)]


def _tail(units: list[_Unit], overlap: int, room: int) -> list[_Unit]:
    """The last sentences of a chunk that fit in the overlap, carried into the next chunk."""
    tail: list[_Unit] = []
    for unit in reversed(units):
        if sum(u.tokens for u in tail) + unit.tokens > min(overlap, room):
            break
        tail.insert(0, unit)
    return tail


def _make_chunk(doc: Document, index: int, units: list[_Unit]) -> Chunk:
    start, end = units[0].start, units[-1].end
    return Chunk(
        chunk_id=f"{doc.doc_id}#{index}",
        doc_id=doc.doc_id,
        text=doc.text[start:end],
        start=start,
        end=end,
        heading=next(u.heading for u in units if not u.is_heading),
        sentences=[Sentence(u.start, u.end, doc.text[u.start : u.end]) for u in units if not u.is_heading],
        n_tokens=sum(u.tokens for u in units),
    )


def embed_text(title: str, heading: str, text: str) -> str:
    """What the embedding model sees for a chunk: its title and heading, then its text."""
    heading = heading if len(heading) <= 80 else heading[:80].rsplit(" ", 1)[0]
    head = f"{title} — {heading}" if heading and heading != title else title
    return f"{head}\n{text}"
