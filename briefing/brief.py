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

from briefing.answer import Answerer, Candidate, clean
from briefing.manifest import DocRecord, Manifest
from briefing.retrieve import Filters, Searcher
from briefing.settings import Settings, get_settings
from briefing.types import Passage

Progress = Callable[[str, float], None]
REPEAT_SIMILARITY = 0.85  # two sentences this similar state the same claim
MAX_TOPIC_CHARS = 300
DOC_LIFT = 0.5  # share of the gap to its document's best topic score that a sentence is credited
LEADING_SOURCES = 6  # documents that the intent-only sub-queries search within
CUE_BONUS = 0.05
SPECIFICITY = 0.1  # bonus of a sentence dense in names, figures and dates
ANAPHORIC_START = re.compile(  # a pronoun, or a bare demonstrative ("This is", "These include")
    r"^(?:It|Its|They|Their|Them|He|She|His|Her|Such)\b|^(?:This|That|These|Those)\s+(?:is|was|are|were|has|have|"
    r"will|would|can|could|should|may|might|must|includes?|means?|also)\b"
)
REFERENCE = re.compile(r"\]\(|https?://|doi\.org|arXiv|\bn\.d\.|(?:\(|, )(?:19|20)\d\d[a-z]?\)?\.$")
MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
FULL_DATE = re.compile(rf"\b(?:\d{{1,2}} {MONTH}|{MONTH} \d{{1,2}})\b")
YEAR = re.compile(r"\b(?:19|20)\d\d\b")
SECTION_CUES = {
    "positions": re.compile(
        r"\b(said|stated|called|urged|affirmed|committed|agreed|supports?|opposes?|stressed|"
        r"emphasi[sz]ed|position|view)\b",
        re.I,
    ),
    "implications": re.compile(
        rf"\b(will|shall|must|should|expected|next|deadline|risks?|by {MONTH}|by \d)", re.I
    ),
}
INSUFFICIENT = "Insufficient coverage: the corpus holds too little on this topic for a brief."
NO_SOURCES = "Not covered: the corpus holds no relevant sources for this section."
ACTORS = {  # how a text names a jurisdiction (case-sensitive, so "us" the pronoun is not the US)
    "US": re.compile(r"\b(?:United States|U\.S\.|USA?|American|Washington)\b"),
    "China": re.compile(r"\b(?:China|Chinese|PRC|Beijing)\b"),
    "EU": re.compile(r"\b(?:EU|European Union|European Commission|European Parliament|Brussels)\b"),
    "UK": re.compile(r"\b(?:UK|United Kingdom|Britain|British)\b"),
}


@dataclass(frozen=True)
class SectionSpec:
    """A section of the memo: what its sub-queries ask for and how much of the page it may use.

    `intents` are added to the topic and searched over the whole corpus; `focus` intents are
    searched on their own within the leading sources of the topic (what those sources say about
    dates, obligations, risks...), which reaches content that the topic's wording does not.
    """

    key: str
    heading: str
    intents: tuple[str, ...]
    focus: tuple[str, ...]
    max_items: int
    max_words: int
    min_items: int = 1
    per_doc: int = 2  # sentences of one document in this section


SECTIONS = (
    SectionSpec("bottom_line", "Bottom line", ("",), (), 3, 80, min_items=2, per_doc=1),
    SectionSpec(
        "background",
        "Background",
        ("background history origin purpose",),
        ("key elements main components characteristics", "officials institutions bodies responsible"),
        4,
        110,
    ),
    SectionSpec(
        "developments",
        "Key developments",
        ("latest developments announced adopted agreed",),
        ("dates deadlines timeline", "agreed announced launched met"),
        6,
        150,
        per_doc=1,
    ),
    SectionSpec(
        "positions",
        "Positions of the main actors",
        ("position stance views stated by governments",),
        ("affirmed committed called for stressed",),
        5,
        130,
    ),
    SectionSpec(
        "implications",
        "Implications and what to watch",
        ("implications risks next steps deadline",),
        ("categories of risks and harms", "requirements obligations measures"),
        4,
        110,
    ),
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
    """The sub-queries of one section: over the corpus (`queries`) and within the sources (`focus`)."""

    spec: SectionSpec
    queries: list[str]
    focus: list[str]

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass
class Plan:
    """Sub-queries per section; the topic itself is the first query."""

    topic: str
    sections: list[SectionPlan]

    def queries(self) -> list[str]:
        """Every distinct corpus-wide sub-query, in plan order."""
        return list(dict.fromkeys(q for s in self.sections for q in s.queries))

    def focus(self) -> list[str]:
        """Every distinct sub-query searched within the leading sources."""
        return list(dict.fromkeys(q for s in self.sections for q in s.focus))

    def section(self, key: str) -> SectionPlan:
        return next(s for s in self.sections if s.key == key)


@dataclass
class Evidence:
    """Passages retrieved per sub-query, the pool of distinct passages, each sub-query's vector,
    and the leading sources that the focus sub-queries searched within."""

    hits: dict[str, list[Passage]]
    pool: dict[str, Passage]
    vectors: dict[str, np.ndarray]
    sources: list[str]


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
    return [actor for actor, pattern in ACTORS.items() if pattern.search(topic)]


def plan(topic: str, actors: Sequence[str] = ()) -> Plan:
    """Sub-queries per section: the topic with each section's intents (and named actors), plus the
    section's focus intents on their own."""
    topic = validate_topic(topic)
    actors = list(actors) or topic_actors(topic)
    sections = []
    for spec in SECTIONS:
        queries = [f"{topic} {intent}".strip() for intent in spec.intents]
        if spec.key == "positions":
            queries += [f"{topic} position of {actor}" for actor in actors]
        sections.append(SectionPlan(spec, queries, list(spec.focus)))
    return Plan(topic, sections)


# -- stage 2: gather ----------------------------------------------------------------------------
def gather(
    plan: Plan, searcher: Searcher, filters: Filters | None = None, progress: Progress | None = None
) -> Evidence:
    """Retrieve passages for every corpus-wide sub-query, then for every focus sub-query within the
    leading sources; pool them, one entry per chunk."""
    from briefing.embedding import embed_query

    hits: dict[str, list[Passage]] = {}
    queries, focus = plan.queries(), plan.focus()
    for i, query in enumerate(queries):
        hits[query] = searcher.search(query, filters=filters)
        _report(progress, i + 1, len(queries) + len(focus))
    sources = leading_sources(hits)
    for i, query in enumerate(focus, start=len(queries) + 1):
        hits[query] = searcher.search(query, filters=Filters(doc_ids=sources)) if sources else []
        _report(progress, i, len(queries) + len(focus))
    pool: dict[str, Passage] = {}
    for passages in hits.values():
        for passage in passages:
            pool.setdefault(passage.chunk_id, passage)
    return Evidence(hits, pool, {q: embed_query(searcher.settings, q) for q in hits}, sources)


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress:
        progress("gather", done / total)


def leading_sources(hits: dict[str, list[Passage]]) -> list[str]:
    """The documents ranked highest across the sub-queries (sum of reciprocal ranks)."""
    score: dict[str, float] = {}
    for passages in hits.values():
        for p in passages:
            score[p.doc_id] = score.get(p.doc_id, 0.0) + 1.0 / p.rank
    return sorted(score, key=lambda d: -score[d])[:LEADING_SOURCES]


# -- stage 3: select ----------------------------------------------------------------------------
def scored(query: str, evidence: Evidence, answerer: Answerer) -> dict[tuple[str, int], Candidate]:
    """Every sentence of the pooled passages scored against one sub-query, keyed by (doc_id, start)."""
    found = answerer.candidates(list(evidence.pool.values()), query, evidence.vectors[query])
    return _best_by_key(join_fragments(found, answerer.searcher.manifest))


def relevance(plan: Plan, evidence: Evidence, answerer: Answerer) -> dict[tuple[str, int], float]:
    """How much each pooled sentence is about the topic: its own score against the topic, raised
    part of the way towards its document's best (a sentence of an on-topic source need not repeat
    the topic's words)."""
    own = {key: c.score for key, c in scored(plan.topic, evidence, answerer).items()}
    best: dict[str, float] = {}
    for (doc_id, _), score in own.items():
        best[doc_id] = max(best.get(doc_id, 0.0), score)
    return {key: max(score, score + DOC_LIFT * (best[key[0]] - score)) for key, score in own.items()}


def section_candidates(section: SectionPlan, evidence: Evidence, answerer: Answerer) -> list[Candidate]:
    """Pooled sentences, each with its best score over the section's sub-queries."""
    found = [
        c for query in section.queries + section.focus for c in scored(query, evidence, answerer).values()
    ]
    return list(_best_by_key(found).values())


def join_fragments(cands: list[Candidate], manifest: Manifest) -> list[Candidate]:
    """Re-join sentences that splitting cut after an abbreviation ("... a U.S." + "delegation to ...")."""
    out: list[Candidate] = []
    texts: dict[str, str] = {}
    for cand in sorted(cands, key=lambda c: (c.passage.doc_id, c.start)):
        prev = out[-1] if out else None
        if prev and prev.passage.doc_id == cand.passage.doc_id and cand.text[:1].islower():
            doc = texts.setdefault(cand.passage.doc_id, manifest.document_text(cand.passage.doc_id) or "")
            if prev.end <= cand.start and not doc[prev.end : cand.start].strip():
                out[-1] = _joined(prev, cand, doc)
                continue
        out.append(cand)
    return out


def _joined(first: Candidate, second: Candidate, doc: str) -> Candidate:
    vector = first.vector + second.vector
    return replace(
        first,
        end=second.end,
        text=clean(doc[first.start : second.end]),
        vector=vector / np.linalg.norm(vector),
        score=max(first.score, second.score),
        similarity=max(first.similarity, second.similarity),
    )


def select(
    plan: Plan,
    evidence: Evidence,
    answerer: Answerer,
    topic_scores: dict[tuple[str, int], float] | None = None,
) -> dict[str, list[Candidate]]:
    """Sentences per section under its word budget; no claim repeated within or across sections.

    A sentence qualifies when its score against the topic reaches the abstain threshold; it is
    ranked by the mean of that score and its best score against the section's sub-queries, plus
    the section's cue bonus.
    """
    topic_scores = topic_scores if topic_scores is not None else relevance(plan, evidence, answerer)
    chosen: dict[str, list[Candidate]] = {}
    taken: list[Candidate] = []
    for key in SELECTION_ORDER:
        section = plan.section(key)
        chosen[key] = _pick(ranked(section, evidence, answerer, topic_scores), section, taken)
        taken += chosen[key]
    return {s.key: chosen[s.key] for s in plan.sections}


def ranked(
    section: SectionPlan, evidence: Evidence, answerer: Answerer, topic_scores: dict[tuple[str, int], float]
) -> list[Candidate]:
    """The section's qualifying sentences, best first, with their ranking scores."""
    threshold = answerer.settings.abstain_threshold
    pool = []
    for cand in section_candidates(section, evidence, answerer):
        on_topic = topic_scores.get((cand.passage.doc_id, cand.start), 0.0)
        text = tidy(cand.text)
        if on_topic >= threshold and is_prose(text):
            pool.append(
                replace(cand, text=text, score=(cand.score + on_topic) / 2 + cue_bonus(section.key, text))
            )
    return sorted(pool, key=lambda c: c.score, reverse=True)


def tidy(text: str) -> str:
    """Drop an unpaired Markdown bold mark that sentence splitting left at either end (still verbatim)."""
    if text.count("**") % 2:
        text = (
            re.sub(r"^\*\*\s+", "", text)
            if re.match(r"^\*\*\s", text)
            else re.sub(r"(?<=[.!?:])\*\*$", "", text)
        )
    return text.strip()


def is_prose(text: str) -> bool:
    """A complete, self-contained sentence: capitalised, full stop, balanced markup; no link, no
    bibliographic reference, no list stub, no opening pronoun ("It", "This": its referent is not here)."""
    return (
        not ANAPHORIC_START.match(text)
        and not REFERENCE.search(text)
        and bool(re.match(r"^(?:\*{1,2})?[\"“‘(]?[A-Z0-9]", text))
        and bool(re.search(r"[.!?][\"”’)]?$", text))
        and text.count("**") % 2 == 0
        and len(text.split()) >= 6
    )


def cue_bonus(key: str, text: str) -> float:
    """Evidence cues: specific facts (names, figures, dates) everywhere; dated events, stated
    positions and forward-looking verbs in their sections."""
    bonus = SPECIFICITY * specificity(text)
    if key == "developments":
        bonus += 0.08 if FULL_DATE.search(text) else 0.04 if YEAR.search(text) else 0.0
    cue = SECTION_CUES.get(key)
    return bonus + (CUE_BONUS if cue and cue.search(text) else 0.0)


def specificity(text: str) -> float:
    """Share of words after the first that name something (capitalised, acronym or number), up to 1/3, scaled
    to 0..1: a sentence of names, figures and dates says more than a general one."""
    words = text.split()[1:]
    named = sum(1 for w in words if re.match(r"^[(\"“‘]?(?:[A-Z][\w.\-]*|\d)", w))
    return min(3 * named / max(len(words), 1), 1.0)


def _pick(pool: list[Candidate], section: SectionPlan, taken: list[Candidate]) -> list[Candidate]:
    picked: list[Candidate] = []
    words = 0
    for cand in pool:
        if len(picked) >= section.spec.max_items:
            break
        n_words = len(cand.text.split())
        same_doc = sum(1 for p in picked if p.passage.doc_id == cand.passage.doc_id)
        if (
            words + n_words > section.spec.max_words
            or same_doc >= section.spec.per_doc
            or _repeats(cand, taken + picked)
        ):
            continue
        picked.append(cand)
        words += n_words
    return picked


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


# -- assembling the brief -----------------------------------------------------------------------
def actor_label(doc: DocRecord | None, sentence: str) -> str:
    """Who a position belongs to: the document's jurisdiction the sentence names, else its publisher."""
    if doc is None:
        return "Unknown"
    for jur in doc.jurisdiction:
        pattern = ACTORS.get(jur) or re.compile(rf"\b{re.escape(jur)}\b")
        if pattern.search(sentence):
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


def build_brief(
    topic: str,
    selected: dict[str, list[Candidate]],
    docs: dict[str, DocRecord],
    insufficient: bool = False,
    note: str | None = None,
) -> Brief:
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
    sources = [
        _source(n, doc_id, known.get(doc_id), (docs or {}).get(doc_id)) for doc_id, n in numbers.items()
    ]
    return replace(brief, sections=sections, sources=sources)


def _source(n: int, doc_id: str, known: dict | None, doc: DocRecord | None) -> dict[str, Any]:
    if known:
        return known | {"n": n}
    if doc is None:
        return {"n": n, "doc_id": doc_id, "title": doc_id, "publisher": None, "date": None, "url": None}
    return {
        "n": n,
        "doc_id": doc_id,
        "title": doc.title,
        "publisher": doc.publisher,
        "date": doc.date,
        "url": doc.url,
    }


def insufficient_brief(topic: str, best: float, threshold: float) -> Brief:
    """The short note given instead of a brief when the corpus does not cover the topic."""
    note = f"{INSUFFICIENT} (Best evidence score {best:.2f}, below the threshold {threshold:.2f}.)"
    return build_brief(topic, {}, {}, insufficient=True, note=note)


# -- the whole pipeline -------------------------------------------------------------------------
def make_brief(
    topic: str,
    settings: Settings | None = None,
    filters: Filters | None = None,
    progress: Progress | None = None,
    searcher: Searcher | None = None,
) -> Brief:
    """plan → gather → select → render (trimmed to one page); raises ValueError on a bad topic."""
    settings = settings or get_settings()
    report = progress or (lambda stage, fraction: None)
    the_plan = plan(topic)
    report("plan", 1.0)
    searcher = searcher or _searcher(settings)
    answerer = Answerer(settings, searcher)
    evidence = gather(the_plan, searcher, filters, report)
    topic_scores = relevance(the_plan, evidence, answerer)
    best = max(topic_scores.values(), default=0.0)
    stages: dict[str, Any] = {
        "plan": {s.key: {"queries": s.queries, "focus": s.focus} for s in the_plan.sections},
        "gather": _gather_summary(evidence),
        "coverage": round(best, 4),
    }
    if best < settings.abstain_threshold:
        brief = insufficient_brief(the_plan.topic, best, settings.abstain_threshold)
    else:
        selected = select(the_plan, evidence, answerer, topic_scores)
        report("select", 1.0)
        stages["select"] = _select_summary(selected)
        docs = with_urls(searcher, {c.passage.doc_id for cs in selected.values() for c in cs})
        brief = build_brief(the_plan.topic, selected, docs, note=_thin_note(selected))
    from briefing.render import fit

    brief = fit(brief)
    brief.stages = stages | brief.stages
    report("render", 1.0)
    return brief


def _searcher(settings: Settings) -> Searcher:
    from briefing import service

    return service.engine(settings).searcher


def with_urls(searcher: Searcher, doc_ids: set[str]) -> dict[str, DocRecord]:
    """The cited documents; one without a URL gets the first primary source its front matter lists."""
    docs = searcher.documents()
    out = {}
    for doc_id in doc_ids & set(docs):
        doc = docs[doc_id]
        out[doc_id] = doc if doc.url else replace(doc, url=_primary_url(searcher, doc_id))
    return out


def _primary_url(searcher: Searcher, doc_id: str) -> str | None:
    row = searcher.manifest.conn.execute("SELECT extra FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
    sources = json.loads(row[0] or "{}").get("sources") if row else None
    urls = [s.get("url") for s in sources or [] if isinstance(s, dict) and s.get("url")]
    return str(urls[0]) if urls else None


def _thin_note(selected: dict[str, list[Candidate]]) -> str | None:
    empty = [s.heading for s in SECTIONS if not selected.get(s.key)]
    if not empty:
        return None
    return "The corpus holds too little for: " + ", ".join(empty) + "."


def _gather_summary(evidence: Evidence) -> dict[str, Any]:
    return {
        "queries": {
            q: [[p.doc_id, p.chunk_id, round(p.score, 4)] for p in ps] for q, ps in evidence.hits.items()
        },
        "passages": len(evidence.pool),
        "sources": evidence.sources,
    }


def _select_summary(selected: dict[str, list[Candidate]]) -> dict[str, list[dict[str, Any]]]:
    return {
        key: [
            {
                "doc_id": c.passage.doc_id,
                "chunk_id": c.passage.chunk_id,
                "start": c.start,
                "end": c.end,
                "score": round(c.score, 4),
                "text": c.text,
            }
            for c in cands
        ]
        for key, cands in selected.items()
    }


def item_words(items: list[BriefItem]) -> int:
    """Words in a list of items (the length used when trimming)."""
    return sum(len(i.text.split()) for i in items)
