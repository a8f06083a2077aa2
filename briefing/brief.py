"""One-page briefs in named stages: plan → gather → select → render (fit to one page).

No LLM: every item is one verbatim sentence of a source (whitespace-normalised), chosen by the
extractive answerer's sentence scoring (`Answerer.candidates`) against per-section sub-queries.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from briefing.answer import Answerer, Candidate
from briefing.manifest import DocRecord
from briefing.retrieve import Filters, Searcher
from briefing.settings import Settings, get_settings
from briefing.types import Passage

Progress = Callable[[str, float], None]
REPEAT_SIMILARITY = 0.85  # two sentences this similar state the same claim
PASSAGES_PER_QUERY = 6  # passages whose sentences are scored for each sub-query
MAX_TOPIC_CHARS = 300
INSUFFICIENT = "Insufficient coverage: the corpus holds too little on this topic for a brief."
NO_SOURCES = "Not covered: the corpus holds no relevant sources for this section."
ACTOR_ALIASES = {
    "US": ("united states", "u.s.", "us", "usa", "american", "washington"),
    "China": ("china", "chinese", "prc", "beijing"),
    "EU": ("eu", "european union", "european commission", "european parliament", "brussels"),
    "UK": ("uk", "united kingdom", "britain", "british"),
}


@dataclass(frozen=True)
class SectionSpec:
    """A section of the memo: what its sub-queries ask for and how much of the page it may use."""

    key: str
    heading: str
    intents: tuple[str, ...]
    max_items: int
    max_words: int
    min_items: int = 1


SECTIONS = (
    SectionSpec("bottom_line", "Bottom line", ("",), 3, 75, 2),
    SectionSpec("background", "Background", ("background history origin purpose", "what is it scope definition"),
                3, 90),
    SectionSpec("developments", "Key developments",
                ("latest developments announced adopted agreed", "signed published entered into force on date"),
                5, 130),
    SectionSpec("positions", "Positions of the main actors",
                ("position stance views stated by governments", "committed affirmed called for agreed"), 4, 110),
    SectionSpec("implications", "Implications and what to watch",
                ("implications risks next steps deadline", "must will apply from obligations future"), 3, 90),
)
SELECTION_ORDER = ("bottom_line", "developments", "positions", "background", "implications")


# -- data types ---------------------------------------------------------------------------------
@dataclass
class BriefItem:
    """One cited sentence of a section; `date` is its source document's date."""

    text: str
    citations: list[int]
    date: str | None = None
    label: str | None = None  # the actor (jurisdiction or publisher) in "Positions"
    score: float = 0.0
    doc_id: str = ""


@dataclass
class Section:
    """A section of the brief, or an explicitly empty one with the reason."""

    key: str
    heading: str
    items: list[BriefItem] = field(default_factory=list)
    empty_reason: str | None = None


@dataclass
class Brief:
    """A one-page brief: sections in memo order and the numbered sources they cite."""

    topic: str
    title: str
    date: str
    sections: list[Section]
    sources: list[dict[str, Any]]
    insufficient: bool = False
    note: str | None = None
    stages: dict[str, Any] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict of the whole brief, stages included."""
        return json.loads(json.dumps(asdict(self), default=str))


@dataclass
class SectionPlan:
    """The sub-queries and budget of one section."""

    key: str
    heading: str
    queries: list[str]
    max_items: int
    max_words: int
    min_items: int = 1


@dataclass
class Plan:
    """Sub-queries per section; the topic itself is the first query."""

    topic: str
    sections: list[SectionPlan]

    def queries(self) -> list[str]:
        """Every distinct sub-query, in plan order."""
        return list(dict.fromkeys(q for s in self.sections for q in s.queries))

    def section(self, key: str) -> SectionPlan:
        return next(s for s in self.sections if s.key == key)


@dataclass
class Evidence:
    """Passages retrieved per sub-query, and the pool of distinct passages across all of them."""

    hits: dict[str, list[Passage]]
    pool: dict[str, Passage]


# -- stage 1: plan ------------------------------------------------------------------------------
def validate_topic(topic: object) -> str:
    """The stripped topic, or ValueError with a one-line message."""
    if not isinstance(topic, str) or not topic.strip():
        raise ValueError("Please give a topic for the brief.")
    if len(topic) > MAX_TOPIC_CHARS:
        raise ValueError(f"The topic is too long ({len(topic)} characters; the limit is {MAX_TOPIC_CHARS}).")
    return " ".join(topic.split())


def topic_actors(topic: str) -> list[str]:
    """Jurisdictions the topic names (e.g. "US-China talks" → US, China)."""
    words = set(re.findall(r"[a-z][a-z.]*[a-z]|[a-z]", topic.lower().replace("-", " ")))
    text = f" {topic.lower()} "
    return [a for a, names in ACTOR_ALIASES.items() if any(n in words or f" {n} " in text for n in names)]


def plan(topic: str, actors: Sequence[str] = ()) -> Plan:
    """Sub-queries per section: the topic combined with each section's intents (and named actors)."""
    topic = validate_topic(topic)
    actors = list(actors) or topic_actors(topic)
    sections = []
    for spec in SECTIONS:
        queries = [f"{topic} {intent}".strip() for intent in spec.intents]
        if spec.key == "positions":
            queries += [f"{topic} position of {actor}" for actor in actors]
        sections.append(SectionPlan(spec.key, spec.heading, queries, spec.max_items, spec.max_words, spec.min_items))
    return Plan(topic, sections)


# -- stage 2: gather ----------------------------------------------------------------------------
def gather(plan: Plan, searcher: Searcher, filters: Filters | None = None,
           progress: Progress | None = None) -> Evidence:
    """Retrieve passages for every sub-query; pool them, one entry per chunk."""
    hits: dict[str, list[Passage]] = {}
    pool: dict[str, Passage] = {}
    queries = plan.queries()
    for i, query in enumerate(queries):
        hits[query] = searcher.search(query, filters=filters)
        for passage in hits[query]:
            pool.setdefault(passage.chunk_id, passage)
        if progress:
            progress("gather", (i + 1) / len(queries))
    return Evidence(hits, pool)


# -- stage 3: select ----------------------------------------------------------------------------
def topic_score(plan: Plan, evidence: Evidence, answerer: Answerer) -> dict[tuple[str, int], Candidate]:
    """Every pooled sentence scored against the topic itself, keyed by (doc_id, start)."""
    passages = evidence.hits.get(plan.topic, [])[:PASSAGES_PER_QUERY]
    return _best_by_key(answerer.candidates(passages, plan.topic, _embed(answerer, plan.topic)))


def coverage(plan: Plan, evidence: Evidence, answerer: Answerer) -> float:
    """The best topic score of any sentence: below the abstain threshold, the corpus lacks the topic."""
    return max((c.score for c in topic_score(plan, evidence, answerer).values()), default=0.0)


def section_candidates(section: SectionPlan, evidence: Evidence, answerer: Answerer) -> list[Candidate]:
    """Sentences of the section's passages, each with its best score over the section's sub-queries."""
    found: list[Candidate] = []
    for query in section.queries:
        passages = evidence.hits.get(query, [])[:PASSAGES_PER_QUERY]
        found += answerer.candidates(passages, query, _embed(answerer, query))
    return sorted(_best_by_key(found).values(), key=lambda c: c.score, reverse=True)


def select(plan: Plan, evidence: Evidence, answerer: Answerer) -> dict[str, list[Candidate]]:
    """Sentences per section under its word budget; no claim repeated within or across sections."""
    threshold = answerer.settings.abstain_threshold
    chosen: dict[str, list[Candidate]] = {}
    taken: list[Candidate] = []
    for key in SELECTION_ORDER:
        section = plan.section(key)
        pool = [c for c in section_candidates(section, evidence, answerer) if _usable(c, threshold)]
        chosen[key] = _pick(pool, section, taken)
        taken += chosen[key]
    return {s.key: chosen[s.key] for s in plan.sections}


def _pick(pool: list[Candidate], section: SectionPlan, taken: list[Candidate]) -> list[Candidate]:
    picked: list[Candidate] = []
    words = 0
    for cand in pool:
        if len(picked) >= section.max_items:
            break
        n_words = len(cand.text.split())
        if words + n_words > section.max_words or _repeats(cand, taken + picked):
            continue
        picked.append(cand)
        words += n_words
    return picked


def _usable(cand: Candidate, threshold: float) -> bool:
    """Strong enough, and a complete prose sentence (not a heading, list stub or table row)."""
    return (
        cand.score >= threshold
        and bool(re.match(r"^[\"“'(‘]?[A-Z0-9]", cand.text))
        and bool(re.search(r"[.!?][\"”')’]?$", cand.text))
    )


def _repeats(cand: Candidate, others: list[Candidate]) -> bool:
    return any(
        (o.passage.doc_id, o.start) == (cand.passage.doc_id, cand.start)
        or float(o.vector @ cand.vector) > REPEAT_SIMILARITY
        for o in others
    )


def _best_by_key(cands: list[Candidate]) -> dict[tuple[str, int], Candidate]:
    best: dict[tuple[str, int], Candidate] = {}
    for c in cands:
        key = (c.passage.doc_id, c.start)
        if key not in best or c.score > best[key].score:
            best[key] = c
    return best


def _embed(answerer: Answerer, query: str) -> np.ndarray:
    from briefing.embedding import embed_query

    return embed_query(answerer.settings, query)


# -- assembling the brief -----------------------------------------------------------------------
def actor_label(doc: DocRecord | None, sentence: str) -> str:
    """Who a position belongs to: the document's jurisdiction the sentence names, else its publisher."""
    if doc is None:
        return "Unknown"
    lowered = f" {sentence.lower()} "
    for jur in doc.jurisdiction:
        if any(re.search(rf"\b{re.escape(n)}\b", lowered) for n in ACTOR_ALIASES.get(jur, (jur.lower(),))):
            return jur
    named = [j for j in doc.jurisdiction if j != "International"]
    if doc.jurisdiction:
        return (named or doc.jurisdiction)[0]
    return short_publisher(doc.publisher)


def short_publisher(publisher: str | None) -> str:
    """A short organisation name: an acronym in brackets, else the name before any qualifier."""
    if not publisher:
        return "Unknown publisher"
    acronym = re.search(r"\(([A-Z][A-Z0-9 &-]{1,10})\)", publisher)
    if acronym:
        return acronym.group(1)
    return re.split(r"\s*[(,;/]\s*", publisher, maxsplit=1)[0].strip()


def build_brief(topic: str, selected: dict[str, list[Candidate]], docs: dict[str, DocRecord],
                insufficient: bool = False, note: str | None = None) -> Brief:
    """Sections in memo order with numbered sources (numbered by first citation)."""
    sections = []
    for spec in SECTIONS:
        items = [_item(c, docs.get(c.passage.doc_id), spec.key) for c in selected.get(spec.key, [])]
        sections.append(Section(spec.key, spec.heading, order_items(spec.key, items)))
    title = topic[:1].upper() + topic[1:]
    brief = Brief(topic, title, dt.date.today().isoformat(), sections, [], insufficient, note)
    return renumber(brief, docs)


def _item(cand: Candidate, doc: DocRecord | None, key: str) -> BriefItem:
    label = actor_label(doc, cand.text) if key == "positions" else None
    date = doc.date if doc else cand.passage.meta.get("date")
    return BriefItem(cand.text, [], date, label, round(cand.score, 4), cand.passage.doc_id)


def order_items(key: str, items: list[BriefItem]) -> list[BriefItem]:
    """Developments newest first; positions grouped by actor (strongest actor first); others by score."""
    if key == "developments":
        return sorted(items, key=lambda i: (i.date is not None, i.date or ""), reverse=True)
    if key == "positions":
        best = {}
        for item in items:
            best[item.label] = max(best.get(item.label, 0.0), item.score)
        return sorted(items, key=lambda i: (-best[i.label], i.label or "", -i.score))
    return sorted(items, key=lambda i: -i.score)


def renumber(brief: Brief, docs: dict[str, DocRecord] | None = None) -> Brief:
    """Number sources by first citation in reading order; drop sources no item cites."""
    known = {s["doc_id"]: s for s in brief.sources}
    numbers: dict[str, int] = {}
    sections = []
    for section in brief.sections:
        items = []
        for item in section.items:
            n = numbers.setdefault(item.doc_id, len(numbers) + 1)
            items.append(replace(item, citations=[n]))
        reason = None if items else section.empty_reason or NO_SOURCES
        sections.append(replace(section, items=items, empty_reason=reason))
    sources = [_source(n, doc_id, known.get(doc_id), (docs or {}).get(doc_id)) for doc_id, n in numbers.items()]
    return replace(brief, sections=sections, sources=sources)


def _source(n: int, doc_id: str, known: dict | None, doc: DocRecord | None) -> dict[str, Any]:
    if known:
        return known | {"n": n}
    if doc is None:
        return {"n": n, "doc_id": doc_id, "title": doc_id, "publisher": None, "date": None, "url": None}
    return {"n": n, "doc_id": doc_id, "title": doc.title, "publisher": doc.publisher, "date": doc.date,
            "url": doc.url}


def insufficient_brief(topic: str, best: float, threshold: float) -> Brief:
    """The short note given instead of a brief when the corpus does not cover the topic."""
    note = f"{INSUFFICIENT} (Best evidence score {best:.2f}, below the threshold {threshold:.2f}.)"
    return build_brief(topic, {}, {}, insufficient=True, note=note)


# -- the whole pipeline -------------------------------------------------------------------------
def make_brief(topic: str, settings: Settings | None = None, filters: Filters | None = None,
               progress: Progress | None = None, searcher: Searcher | None = None) -> Brief:
    """plan → gather → select → render (trimmed to one page); raises ValueError on a bad topic."""
    settings = settings or get_settings()
    report = progress or (lambda stage, fraction: None)
    the_plan = plan(topic)
    report("plan", 1.0)
    searcher = searcher or _searcher(settings)
    answerer = Answerer(settings, searcher)
    evidence = gather(the_plan, searcher, filters, report)
    best = coverage(the_plan, evidence, answerer)
    stages: dict[str, Any] = {"plan": {s.key: s.queries for s in the_plan.sections},
                              "gather": _gather_summary(evidence), "coverage": round(best, 4)}
    if best < settings.abstain_threshold:
        brief = insufficient_brief(the_plan.topic, best, settings.abstain_threshold)
    else:
        selected = select(the_plan, evidence, answerer)
        report("select", 1.0)
        stages["select"] = _select_summary(selected)
        brief = build_brief(the_plan.topic, selected, searcher.documents(), note=_thin_note(selected))
    from briefing.render import fit

    brief = fit(brief)
    brief.stages = stages | brief.stages
    report("render", 1.0)
    return brief


def _searcher(settings: Settings) -> Searcher:
    from briefing import service

    return service.engine(settings).searcher


def _thin_note(selected: dict[str, list[Candidate]]) -> str | None:
    empty = [s.heading for s in SECTIONS if not selected.get(s.key)]
    if not empty:
        return None
    return "The corpus holds too little for: " + ", ".join(empty) + "."


def _gather_summary(evidence: Evidence) -> dict[str, Any]:
    return {
        "queries": {q: [[p.doc_id, p.chunk_id, round(p.score, 4)] for p in ps] for q, ps in evidence.hits.items()},
        "passages": len(evidence.pool),
    }


def _select_summary(selected: dict[str, list[Candidate]]) -> dict[str, list[dict[str, Any]]]:
    return {
        key: [{"doc_id": c.passage.doc_id, "chunk_id": c.passage.chunk_id, "start": c.start, "end": c.end,
               "score": round(c.score, 4), "text": c.text} for c in cands]
        for key, cands in selected.items()
    }


def item_words(items: list[BriefItem]) -> int:
    """Words in a list of items (the length used when trimming)."""
    return sum(len(i.text.split()) for i in items)

