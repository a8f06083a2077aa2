"""Composition: the ranked units an answer quotes, in what order, with which citations."""

from __future__ import annotations

from dataclasses import replace

from briefing.answer.model import Composition
from briefing.answer.units import LIST_CONTINUES, Unit
from briefing.types import Citation


def choose(units: list[Unit], rule: Composition, max_words: int) -> list[Unit]:
    """The best unit, then the next best within `rule.ratio` of it, without repeats, in budget.

    The best unit is always shown whole (a long list is cut by its own item budget, not here).
    """
    ranked = sorted(units, key=lambda u: u.score, reverse=True)
    if not ranked:
        return []
    chosen = [ranked[0]]
    words = ranked[0].words
    for unit in ranked[1:]:
        if len(chosen) >= rule.max_units or unit.score < rule.ratio * ranked[0].score:
            break
        if any(_overlaps(unit, c) for c in chosen):
            continue
        if words + unit.words > max_words:
            unit = trimmed(unit, max_words - words)
            if unit is None:
                continue
        chosen.append(unit)
        words += unit.words
    return chosen


def trimmed(unit: Unit, budget: int) -> Unit | None:
    """A unit whose list is cut to fit `budget` words (saying the list continues), or None when
    not even its lead and first item fit."""
    for keep in range(len(unit.items) - 1, 0, -1):
        items = (
            [*unit.items[:keep], LIST_CONTINUES]
            if unit.items[keep - 1] != LIST_CONTINUES
            else unit.items[:keep]
        )
        kept = (2 if unit.opener else 1) + sum(item != LIST_CONTINUES for item in items)
        shorter = replace(unit, items=items, quotes=unit.quotes[:kept])
        if shorter.words <= budget:
            return shorter
    return None


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
        citations.append(Citation.from_passage(n, group[0].passage, quote))
    return "\n\n".join(paragraphs), citations
