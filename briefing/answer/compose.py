"""Composition: the ranked units an answer quotes, in what order, with which citations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from briefing.answer.model import Composition
from briefing.answer.units import Unit
from briefing.types import Citation, Passage


def choose(
    units: list[Unit], rule: Composition, max_words: int, gives: Callable[[Unit], bool] | None = None
) -> list[Unit]:
    """The best unit that may open an answer, then the next best within `rule.ratio` of it,
    without repeats, within the word budget. A unit whose list is too long is never shown (a list
    is shown whole or not at all); the first unit is shown whole even past the budget."""
    ranked = sorted((u for u in units if u.whole), key=lambda u: u.score, reverse=True)
    first = next((u for u in ranked if u.can_open), None)
    if first is None:
        return []
    chosen = [first]
    words = first.words
    for unit in ranked:
        if len(chosen) >= rule.max_units or unit.score < rule.ratio * first.score:
            break
        if unit is first or words + unit.words > max_words or any(_overlaps(unit, c) for c in chosen):
            continue
        chosen.append(unit)
        words += unit.words
    if rule.ensure_form and gives is not None and not any(gives(u) for u in chosen):
        chosen = _with_form(chosen, ranked, rule, max_words, gives)
    return chosen


def _with_form(
    chosen: list[Unit], ranked: list[Unit], rule: Composition, max_words: int, gives: Callable[[Unit], bool]
) -> list[Unit]:
    """Replace the weakest chosen units by the best unit that gives the asked-for form, if one is
    within `rule.ratio` of the first and fits beside it."""
    first = chosen[0]
    for unit in ranked:
        if unit.score < rule.ratio * first.score:
            break
        if not gives(unit) or _overlaps(unit, first) or first.words + unit.words > max_words:
            continue
        kept = [first]
        for other in chosen[1 : rule.max_units - 1]:
            if sum(u.words for u in kept) + other.words + unit.words <= max_words and not _overlaps(
                other, unit
            ):
                kept.append(other)
        return [*kept, unit]
    return chosen


def _overlaps(a: Unit, b: Unit) -> bool:
    """Two units quote the same text: the same span, or one's list holds the other."""
    if a.passage.doc_id != b.passage.doc_id:
        return a.lead == b.lead
    return a.start < b.span_end and b.start < a.span_end or float(a.vector @ b.vector) > 0.92


def render(chosen: list[Unit]) -> tuple[str, list[Citation]]:
    """Answer first: the best unit's source leads; each source's units in document order, cited [n]."""
    order: list[str] = []
    for unit in chosen:  # `chosen` is best first
        if unit.passage.chunk_id not in order:
            order.append(unit.passage.chunk_id)
    paragraphs: list[str] = []
    citations: list[Citation] = []
    for n, chunk_id in enumerate(order, start=1):
        group = sorted((u for u in chosen if u.passage.chunk_id == chunk_id), key=lambda u: u.start)
        paragraphs.append(" ".join(f"{u.text} [{n}]" for u in group))
        quote = " … ".join(q for u in group for q in u.quotes)  # verbatim pieces only
        citations.append(Citation.from_passage(n, _spanning([u.passage for u in group]), quote))
    return "\n\n".join(paragraphs), citations


def _spanning(passages: list[Passage]) -> Passage:
    """One passage covering the given (overlapping) views of one chunk: a unit may have reached
    back to its list's opener and another forward to its list's last item."""
    merged = min(passages, key=lambda p: p.start)
    for p in sorted(passages, key=lambda p: p.start):
        if p.end > merged.end:
            text = merged.text + p.text[merged.end - p.start :]
            merged = replace(merged, text=text, end=p.end)
    return merged
