"""Answer units: a sentence with the structure it belongs to.

A unit is what the answer engine ranks and quotes. A sentence that opens a list brings its items
(read past the end of the retrieved chunk when the list runs on; a list too long to show whole
makes the unit unshowable); a list item carries the sentence that opens its list, a table row its
table's header; a transcript line carries its speaker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

from briefing.manifest import Manifest
from briefing.text import LINK, clean
from briefing.types import Passage

LIST_MARK = re.compile(r"\s*(?:[-*+•>]|\d{1,3}[.)]|\([a-z0-9]{1,4}\)|[a-z][.)])\s")
SPEAKER = re.compile(r"(?m)^\s*(?:(?:MR|MS|MRS|DR)\.\s+)?([A-Z][A-Z'\-]+(?: [A-Z][A-Z'\-]+){0,2}|Q):\s+")
MAX_ITEM_GAP = 300  # characters between list items (a footnote, a page number)
LOOK_AHEAD = 2500  # characters read past a chunk for the items of a list it opens
LOOK_BEHIND = 1500  # characters read before a chunk for the opener of a list it continues
ITEM_WORDS = 150  # words of list items a unit may carry: a longer list makes the unit unshowable
MAX_ITEMS = 12
DANGLING = re.compile(r"(?:He|She|It|They|This|These|Those|That|Such|And|So|But|Yesterday)\b")
TABLE_RULE = re.compile(r"\s*\|[\s:|-]+\|?\s*")  # the row under a Markdown table's header


@dataclass
class Unit:
    """A candidate answer: a lead sentence, its list items or list opener, and its speaker."""

    passage: Passage
    start: int  # span of the lead sentence in the document
    end: int
    lead: str  # the lead sentence, cleaned
    vector: np.ndarray  # the lead sentence's embedding
    position: int  # the lead's place among the passage's sentences
    raw: str = ""
    items: list[str] = field(default_factory=list)  # the items the lead opens
    item_vectors: list[np.ndarray] = field(default_factory=list)
    opener: str = ""  # the sentence opening the list the lead is an item of
    opener_start: int = -1
    quotes: list[str] = field(default_factory=list)  # verbatim pieces: opener, lead, items
    speaker: str = ""
    span_end: int = 0  # end of the last item (or of the lead)
    context: str = ""  # the sentences before and after the lead
    context_vectors: list[np.ndarray] = field(default_factory=list)
    whole: bool = True  # False when the lead opens a list too long to show
    score: float = 0.0
    similarity: float = 0.0

    @property
    def can_open(self) -> bool:
        """Whether an answer may start with this unit: not a heading, a fragment, a dangling
        pronoun, a statute line in capitals or a journalist's line."""
        lead = self.opener or self.lead  # what the reader sees first
        heading = len(lead.split()) <= 12 and not re.search(r"[.:;!?)\]\"”’]$", lead)
        shouting = lead.upper() == lead and len(lead.split()) >= 4
        questioner = self.speaker == "Question"  # a journalist's line in a transcript
        return not (heading or shouting or questioner or lead[:1].islower() or DANGLING.match(lead))

    @property
    def text(self) -> str:
        """What the answer shows for this unit."""
        body = self.lead
        if self.opener:
            body = f"{self.opener} … {body}"
        if self.items:
            body = " ".join([body, *self.items])
        return f"{self.speaker}: {body}" if self.speaker else body

    @property
    def opens_list(self) -> bool:
        return self.lead.endswith(":")

    @property
    def is_item(self) -> bool:
        return bool(LIST_MARK.match(self.raw)) or bool(self.opener)

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class _Sentence:
    start: int
    end: int
    raw: str
    text: str
    vector: np.ndarray

    @property
    def itemlike(self) -> bool:
        """A list item, a table row, or a clause that continues an enumeration."""
        return (
            bool(LIST_MARK.match(self.raw))
            or self.raw.lstrip().startswith("|")
            or self.text[:1].islower()
            or self.text.startswith("(")
        )

    @property
    def note(self) -> bool:
        """A footnote number line or a table's separator row: skipped between items."""
        return bool(re.match(r"\s*\d{1,3}\s*$", self.raw) or TABLE_RULE.fullmatch(self.raw))


def build_units(passages: list[Passage], manifest: Manifest) -> list[Unit]:
    """Every usable sentence of the passages as a unit, with its list, opener and speaker."""
    units: list[Unit] = []
    texts: dict[str, str] = {}
    tags: dict[str, list[tuple[int, str]]] = {}
    for passage in passages:
        if passage.doc_id not in texts:
            texts[passage.doc_id] = manifest.document_text(passage.doc_id) or ""
            tags[passage.doc_id] = _speakers(texts[passage.doc_id])
        text, speakers = texts[passage.doc_id], tags[passage.doc_id]
        span = manifest.sentences(
            passage.doc_id, max(0, passage.start - LOOK_BEHIND), passage.end + LOOK_AHEAD
        )
        sentences = [_Sentence(s, e, text[s:e], clean(text[s:e]), v) for s, e, v in span]
        openers = _openers(sentences)
        inside = [i for i, s in enumerate(sentences) if passage.start <= s.start and s.end <= passage.end]
        for position, i in enumerate(inside):
            s = sentences[i]
            if not usable(s):
                continue
            unit = Unit(passage, s.start, s.end, s.text, s.vector, position, raw=s.raw, span_end=s.end)
            near = sentences[max(0, i - 1) : i] + sentences[i + 1 : i + 2]
            unit.context = " ".join(n.text for n in near)
            unit.context_vectors = [n.vector for n in near]
            unit.quotes = [_verbatim(s.raw)]
            if s.text.endswith(":") or re.search(r":\s*\n", s.raw):
                unit.quotes += _attach_items(unit, sentences[i + 1 :])
            header_start, raw_opener = (
                _table_header(text, s.start) if s.raw.lstrip().startswith("|") else (-1, "")
            )
            if raw_opener:  # a table row: its header names the columns
                unit.opener, unit.opener_start = clean(raw_opener).replace("**", ""), header_start
            elif openers[i] is not None:
                opener = sentences[openers[i]]
                unit.opener, unit.opener_start, raw_opener = opener.text, opener.start, opener.raw
            if unit.opener:
                unit.quotes.insert(0, _verbatim(raw_opener))
            start = min(passage.start, unit.opener_start) if unit.opener else passage.start
            end = max(passage.end, unit.span_end)
            if (start, end) != (passage.start, passage.end):  # the citation shows the whole list
                unit.passage = replace(passage, text=text[start:end], start=start, end=end)
            unit.speaker = _speaker_of(s.start, speakers)
            if unit.speaker and re.match(r"(?:(?:MR|MS|MRS|DR)\.\s+)?[A-Z'\- ]+:\s", unit.lead):
                unit.lead = unit.lead.split(":", 1)[1].strip()
            units.append(unit)
    return units


def usable(s: _Sentence) -> bool:
    """A sentence that can stand in an answer (a short one only as a list item or a list's opener):
    not a question, a bare speaker tag or a number line."""
    n_words = len(LINK.sub(" ", s.text).split())
    return (
        (n_words >= 4 or ((bool(LIST_MARK.match(s.raw)) or s.text.endswith(":")) and n_words >= 2))
        and n_words <= 130
        and not s.text.endswith("?")
        and not re.fullmatch(r"(?:(?:MR|MS|MRS|DR)\.\s+)?[A-Z'\- ]+:", s.text)
        and bool(re.search(r"[a-z]{3}", s.text) or (s.text.isupper() and n_words >= 8))
    )


def _openers(sentences: list[_Sentence]) -> list[int | None]:
    """For each sentence, the index of the sentence opening the list it is an item of, if any."""
    out: list[int | None] = []
    current: int | None = None
    last_end = 0
    for i, s in enumerate(sentences):
        if s.note:
            out.append(None)
            continue
        first = current is not None and current == i - 1
        if current is not None and not ((s.itemlike or first) and s.start - last_end <= MAX_ITEM_GAP):
            current = None
        out.append(current)
        if s.text.endswith(":"):
            current = i
        last_end = s.end
    return out


def _attach_items(unit: Unit, following: list[_Sentence]) -> list[str]:
    """Attach the items of the list a unit's lead opens, in document order, within a word budget;
    returns their verbatim text."""
    budget, last_end = ITEM_WORDS, unit.end
    quotes: list[str] = []
    for s, after in zip(following, [*following[1:], None], strict=False):  # `after`: the next one
        if s.note or (after is not None and TABLE_RULE.fullmatch(after.raw)):
            continue  # a footnote, a table's separator, or its header row (the opener introduces it)
        if not (s.itemlike or not unit.items) or s.start - last_end > MAX_ITEM_GAP:
            break
        if len(unit.items) >= MAX_ITEMS or len(s.text.split()) > budget:
            unit.whole = False  # a list is shown whole or not at all
            break
        unit.items.append(s.text)
        unit.item_vectors.append(s.vector)
        quotes.append(_verbatim(s.raw))
        budget -= len(s.text.split())
        last_end = unit.span_end = s.end
    return quotes


def _verbatim(raw: str) -> str:
    return re.sub(r"\s+", " ", raw).strip()


def _table_header(text: str, start: int) -> tuple[int, str]:
    """(offset, raw text) of the header row of the Markdown table a row belongs to; (-1, "")
    for the header row itself and for rows outside a table with a header."""
    offset = text.rfind("\n", 0, start) + 1  # the row's own line
    rows: list[tuple[int, str]] = []
    while offset > 0:
        above = text.rfind("\n", 0, offset - 1) + 1
        line = text[above : offset - 1]
        if not line.lstrip().startswith("|"):
            break
        rows.insert(0, (above, line))
        offset = above
    if len(rows) < 2 or not TABLE_RULE.fullmatch(rows[1][1]):
        return -1, ""
    return rows[0]


def _speakers(text: str) -> list[tuple[int, str]]:
    """(offset, name) of each speaker tag in a transcript; empty for other documents."""
    tags = [(m.start(), m.group(1)) for m in SPEAKER.finditer(text)]
    return tags if len(tags) >= 3 else []


def _speaker_of(start: int, speakers: list[tuple[int, str]]) -> str:
    name = ""
    for offset, tag in speakers:
        if offset > start:
            break
        name = tag
    if not name:
        return ""
    return "Question" if name == "Q" else name.title()
