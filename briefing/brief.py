"""One-page briefs in named stages: plan → gather → select → render (fit to one page).

No LLM: every item is one verbatim sentence of a source (whitespace-normalised), chosen by the
extractive answerer's sentence scoring (`Answerer.candidates`) against per-section sub-queries.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from briefing.answer.engine import Answerer, Candidate
from briefing.dates import MONTH_NAMES
from briefing.manifest import DocRecord, Manifest
from briefing.retrieve import Filters, Searcher
from briefing.settings import Settings, get_settings
from briefing.text import STOPWORDS, clean
from briefing.types import Passage

Progress = Callable[[str, float], None]
REPEAT_SIMILARITY = 0.85  # two sentences this similar state the same claim
MAX_TOPIC_CHARS = 300
DOC_LIFT = 0.5  # share of the gap to its document's best topic score that a sentence is credited
FOCUS_DEPTH = 30  # passages a focus sub-query retrieves before the per-source cap
PER_SOURCE = 3
LEADING_SOURCES = 6  # documents that the intent-only sub-queries search within
CUE_BONUS = 0.05
WEIGHTS = {  # how a sentence is ranked in a section (each signal is about 0..1)
    "section": 0.5,  # best Answerer.candidates score against the section's sub-queries
    "topic": 0.5,  # its score against the topic (see `relevance`)
    "centrality": 0.3,  # how much it echoes the other on-topic evidence
    "specificity": 0.3,  # names, figures and dates rather than generalities
    "focus": 0.5,  # how focused on the topic its document is (0.2 → 0.5: dev must_cover 0.65 → 0.68)
    "length": -0.3,  # per 50 words: shorter sentences leave room for more facts on the page
    "concepts": 0.6,  # the new concepts it adds to the brief (see `Concepts`)
    "lede": 0.3,  # the opening sentences of a source, which state its news (see `ledes`)
}
CENTRALITY_K = 5
LEDE_CHARS = 3000  # where a source's opening sentences are looked for
ANAPHORIC_START = re.compile(  # a pronoun, or a bare demonstrative ("This is", "These include")
    r"^(?:It|Its|They|Their|Them|He|She|His|Her|Such)\b|^(?:This|That|These|Those)\s+(?:is|was|are|were|has|have|"
    r"will|would|can|could|should|may|might|must|includes?|means?|also)\b"
)
REFERENCE = re.compile(  # links, citations and bibliography entries rather than claims
    r"\]\(|https?://|doi\.org|arXiv|\bn\.d\.|\bet al\b|\bpp?\. ?\d|\(OJ [LC]\b|\bProceedings of\b"
    r"|\[(?:19|20)\d\d\]|^(?:[A-Z]\. ){1,3}[A-Z][\w-]+,|^[A-Z][\w-]+, [\"“]"
    r"|(?:\(|, )(?:19|20)\d\d[a-z]?\)?\.$"
)
GLUED_HEADING = re.compile(r"\b[A-Z]{3,}[’']?[A-Z]* [A-Z]{3,}\b")  # "LEGAL TEXT: Article 55..." from PDFs
CAPTION = re.compile(r"^(?:Table|Figure|Fig\.|Box|Exhibit)\s+[\w.-]+[:.]\s")  # "Table 3: ..."
MONTH = "(?:" + "|".join(MONTH_NAMES) + ")"
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
        ("main points summary", "core functions and components"),
        4,
        110,
    ),
    SectionSpec(
        "developments",
        "Key developments",
        ("latest developments announced adopted agreed",),
        ("when it applies dates", "agreed announced launched met"),
        6,
        150,
        per_doc=1,
    ),
    SectionSpec(
        "positions",
        "Positions of the main actors",
        ("position stance views stated by governments",),
        ("roles and responsibilities", "affirmed committed called for stressed"),
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
    scores: dict[str, dict[tuple[str, int], Candidate]] = field(
        default_factory=dict, repr=False
    )  # by `scored`


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
    docs = searcher.documents()
    for i, query in enumerate(queries):
        hits[query] = admitted(searcher.search(query, filters=filters), filters or Filters(), docs)
        _report(progress, i + 1, len(queries) + len(focus))
    sources = leading_sources(hits)
    within = Filters(doc_ids=sources)
    for i, query in enumerate(focus, start=len(queries) + 1):
        found = searcher.search(query, k=FOCUS_DEPTH, filters=within) if sources else []
        hits[query] = per_source(admitted(found, within, docs))
        _report(progress, i, len(queries) + len(focus))
    pool: dict[str, Passage] = {}
    for passages in hits.values():
        for passage in passages:
            pool.setdefault(passage.chunk_id, passage)
    return Evidence(hits, pool, {q: embed_query(searcher.settings, q) for q in hits}, sources)


def admitted(passages: list[Passage], filters: Filters, docs: dict[str, DocRecord]) -> list[Passage]:
    """Only passages of documents that pass the filters (a guard: keyword retrieval may not apply them)."""
    if not filters.active():
        return passages
    return [p for p in passages if p.doc_id in docs and filters.admits(docs[p.doc_id])]


def per_source(passages: list[Passage]) -> list[Passage]:
    """At most `PER_SOURCE` passages of each document, so that long sources do not crowd out short ones."""
    seen: dict[str, int] = {}
    kept = []
    for passage in passages:
        seen[passage.doc_id] = seen.get(passage.doc_id, 0) + 1
        if seen[passage.doc_id] <= PER_SOURCE:
            kept.append(passage)
    return kept


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
    if query not in evidence.scores:
        found = answerer.candidates(list(evidence.pool.values()), query)
        evidence.scores[query] = _best_by_key(join_fragments(found, answerer.searcher.manifest))
    return evidence.scores[query]


def relevance(
    plan: Plan, evidence: Evidence, answerer: Answerer, lede: dict[tuple[str, int], float] | None = None
) -> dict[tuple[str, int], float]:
    """How much each pooled sentence is about the topic: its own score against the topic, raised
    part of the way towards its document's best (a sentence of an on-topic source need not repeat
    the topic's words); a source's opening sentence is raised all the way, since it states what
    the whole source is about ("The President met President Xi in Lima today")."""
    lede = lede or {}
    own = {key: c.score for key, c in scored(plan.topic, evidence, answerer).items()}
    best: dict[str, float] = {}
    for (doc_id, _), score in own.items():
        best[doc_id] = max(best.get(doc_id, 0.0), score)
    lift = {key: DOC_LIFT + (1 - DOC_LIFT) * lede.get(key, 0.0) for key in own}
    return {key: max(score, score + lift[key] * (best[key[0]] - score)) for key, score in own.items()}


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


@dataclass
class Signals:
    """What ranks a sentence besides its section score: how much it is about the topic, how much
    of the other on-topic evidence it echoes, and how focused on the topic its document is."""

    topic: dict[tuple[str, int], float]
    centrality: dict[tuple[str, int], float]
    focus: dict[str, float]
    topic_words: set[str]
    lede: dict[tuple[str, int], float] = field(default_factory=dict)


def signals(plan: Plan, evidence: Evidence, answerer: Answerer) -> Signals:
    """The ranking signals of every pooled sentence."""
    searcher = answerer.searcher
    lede = ledes(evidence, searcher.manifest)
    topic = relevance(plan, evidence, answerer, lede)
    salience = centrality(plan, evidence, answerer, topic)
    return Signals(topic, salience, focus(evidence, searcher), topic_words(plan.topic), lede)


def ledes(evidence: Evidence, manifest: Manifest, n: int = 2) -> dict[tuple[str, int], float]:
    """1 for the first prose sentence of each pooled source, 1/2 for the second: a statement or a
    readout opens with its news (who met whom, where and when), which a brief's developments need."""
    out: dict[tuple[str, int], float] = {}
    for doc_id in {p.doc_id for p in evidence.pool.values()}:
        text = manifest.document_text(doc_id) or ""
        opening = [
            (s, e) for s, e, _ in manifest.sentences(doc_id, 0, LEDE_CHARS) if is_prose(clean(text[s:e]))
        ]
        for i, (start, _) in enumerate(opening[:n]):
            out[(doc_id, start)] = 1.0 / (i + 1)
    return out


def topic_words(topic: str) -> set[str]:
    """The topic's own words, lower-cased (a sentence must state more than these)."""
    return {w.lower() for w in re.findall(r"[\w\-.]+", topic)}


def select(
    plan: Plan, evidence: Evidence, answerer: Answerer, signal: Signals | None = None
) -> dict[str, list[Candidate]]:
    """Sentences per section under its word budget; no claim repeated within or across sections.

    A sentence qualifies when its topic score reaches the abstain threshold; it is ranked by its
    best score against the section's sub-queries, its topic score, centrality and specificity,
    its document's focus, and the section's cues (see `WEIGHTS`).
    """
    signal = signal or signals(plan, evidence, answerer)
    pools = {key: ranked(plan.section(key), evidence, answerer, signal) for key in SELECTION_ORDER}
    facts = Concepts(list(_best_by_key([c for pool in pools.values() for c in pool]).values()), plan.topic)
    chosen: dict[str, list[Candidate]] = {}
    taken: list[Candidate] = []
    for key in SELECTION_ORDER:
        chosen[key] = _pick(pools[key], plan.section(key), taken, facts)
        taken += chosen[key]
    return {s.key: chosen[s.key] for s in plan.sections}


def centrality(
    plan: Plan, evidence: Evidence, answerer: Answerer, topic: dict[tuple[str, int], float]
) -> dict[tuple[str, int], float]:
    """How much of what the on-topic evidence says each sentence echoes: the mean of its highest
    similarities to on-topic sentences of other passages (facts that several sources state)."""
    threshold = answerer.settings.brief_min_relevance
    cands = [c for k, c in scored(plan.topic, evidence, answerer).items() if topic.get(k, 0.0) >= threshold]
    if len(cands) < 2:
        return {}
    vectors = np.stack([c.vector for c in cands])
    sims = vectors @ vectors.T
    chunks = np.array([c.passage.chunk_id for c in cands])
    sims[chunks[:, None] == chunks[None, :]] = 0.0
    top = np.sort(sims, axis=1)[:, -CENTRALITY_K:]
    return {(c.passage.doc_id, c.start): float(v) for c, v in zip(cands, top.mean(axis=1), strict=True)}


def focus(evidence: Evidence, searcher: Searcher) -> dict[str, float]:
    """log2(1 + share of a document's chunks that retrieval returned): 1 for a short statement
    wholly on the topic, near 0 for a long report that touches it in passing."""
    docs = searcher.documents()
    counts: dict[str, int] = {}
    for passage in evidence.pool.values():
        counts[passage.doc_id] = counts.get(passage.doc_id, 0) + 1
    return {
        d: math.log2(1 + min(1.0, n / max(docs[d].n_chunks if d in docs else n, 1)))
        for d, n in counts.items()
    }


def ranked(section: SectionPlan, evidence: Evidence, answerer: Answerer, signal: Signals) -> list[Candidate]:
    """The section's qualifying sentences, best first, with their ranking scores."""
    threshold = answerer.settings.brief_min_relevance
    pool = []
    for cand in section_candidates(section, evidence, answerer):
        key = (cand.passage.doc_id, cand.start)
        text = tidy(cand.text)
        if (
            signal.topic.get(key, 0.0) >= threshold
            and is_prose(text)
            and new_concepts(text, signal.topic_words)
        ):
            parts = {
                "section": cand.score,
                "topic": signal.topic[key],
                "centrality": signal.centrality.get(key, 0.0),
                "specificity": specificity(text),
                "focus": signal.focus.get(cand.passage.doc_id, 0.0),
                "length": len(text.split()) / 50,
                "lede": signal.lede.get(key, 0.0),
            }
            score = sum(WEIGHTS[name] * value for name, value in parts.items()) + cue_bonus(section.key, text)
            pool.append(replace(cand, text=text, score=score))
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
    """A complete, self-contained sentence: capitalised, full stop, balanced markup and brackets; no
    link, bibliographic reference, heading run into the text, list stub or opening pronoun ("It",
    "This": its referent is not in the brief)."""
    return (
        not ANAPHORIC_START.match(text)
        and not REFERENCE.search(text)
        and bool(re.match(r"^(?:\*{1,2})?[\"“‘(]?[A-Z0-9]", text))
        and bool(re.search(r"[.!?][\"”’)]?$", text))
        and text.count("**") % 2 == 0
        and _balanced(text)
        and not GLUED_HEADING.search(text)
        and not CAPTION.search(text)
        and len(text.split()) >= 6
    )


def _balanced(text: str) -> bool:
    """Brackets pair up (list enumerators such as "1)" or "b)" aside)."""
    bare = re.sub(r"(?<![\w(])(?:\d{1,2}|[a-z]|[ivx]{1,4})\)", "", text)
    return bare.count("(") == bare.count(")")


def cue_bonus(key: str, text: str) -> float:
    """Section cues: dated events, stated positions and forward-looking verbs."""
    bonus = 0.0
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


def _pick(
    pool: list[Candidate], section: SectionPlan, taken: list[Candidate], facts: Concepts
) -> list[Candidate]:
    """Greedily the best sentence by rank score plus the weight of the concepts it adds to the brief."""
    picked: list[Candidate] = []
    words = 0
    pool = list(pool)
    while pool and len(picked) < section.spec.max_items:
        cand = max(pool, key=lambda c: c.score + WEIGHTS["concepts"] * facts.gain(c.text))
        pool.remove(cand)
        n_words = len(cand.text.split())
        same_doc = sum(1 for p in picked if p.passage.doc_id == cand.passage.doc_id)
        if (
            words + n_words > section.spec.max_words
            or same_doc >= section.spec.per_doc
            or _repeats(cand, taken + picked)
        ):
            continue
        picked.append(cand)
        facts.cover(cand.text)
        words += n_words
    return picked


class Concepts:
    """Concepts (adjacent content-word pairs, names, figures) beyond the topic's own words that
    several on-topic passages state, weighted by how many; a sentence gains the weight of those the
    brief does not state yet."""

    def __init__(self, cands: list[Candidate], topic: str):
        known = topic_words(topic)
        passages: dict[str, set[str]] = {}
        for cand in cands:
            passages.setdefault(cand.passage.chunk_id, set()).update(new_concepts(cand.text, known))
        counts: dict[str, int] = {}
        for found in passages.values():
            for concept in found:
                counts[concept] = counts.get(concept, 0) + 1
        self.weight = {c: n for c, n in counts.items() if n >= 2}
        self.scale = max((self._raw(c.text) for c in cands), default=0.0) or 1.0

    def _raw(self, text: str) -> float:
        return sum(self.weight.get(c, 0) for c in concepts(text))

    def gain(self, text: str) -> float:
        """The weight of the sentence's concepts not stated yet, relative to the richest sentence."""
        return self._raw(text) / self.scale

    def cover(self, text: str) -> None:
        for concept in concepts(text):
            self.weight.pop(concept, None)


def new_concepts(text: str, known: set[str]) -> set[str]:
    """The sentence's concepts that say more than the words in `known` (the topic's)."""
    return {c for c in concepts(text) if not known & set(c.split())}


def concepts(text: str) -> set[str]:
    """Pairs of adjacent content words, and single names, acronyms and figures, lower-cased."""
    tokens = re.findall(r"[A-Za-z0-9][\w\-.]*[A-Za-z0-9]|[A-Za-z0-9]", text)
    named = (t.lower() for t in tokens[1:] if t[0].isupper() or t[0].isdigit())
    found = {t for t in named if t not in STOPWORDS}
    content = [t.lower() if t.lower() not in STOPWORDS else None for t in tokens]
    found.update(f"{a} {b}" for a, b in itertools.pairwise(content) if a and b)
    return found


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
    date = event_date(cand.text) or (doc.date if doc else cand.passage.meta.get("date"))
    return BriefItem(cand.text, [], date, label, round(cand.score, 4), cand.passage.doc_id)


def event_date(sentence: str) -> str | None:
    """The latest full date a sentence states (ISO), if any: a development is dated by the event it
    reports ("… has applied since 2 August 2025"), not by its source's publication date."""
    from briefing.corpus_check import body_dates

    days = [m.date for m in body_dates(sentence) if m.has_day]
    return max(days).isoformat() if days else None


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
        return {
            "n": n,
            "doc_id": doc_id,
            "title": doc_id,
            "publisher": None,
            "date": None,
            "url": None,
            "updated": None,
            "as_of": None,
            "sources": [],
        }
    return {
        "n": n,
        "doc_id": doc_id,
        "title": doc.title,
        "publisher": doc.publisher,
        "date": doc.date,
        "url": doc.url,  # the article's own URL, never one of its sources
        "updated": doc.updated,
        "as_of": doc.as_of,
        "sources": [dict(s) for s in doc.sources],  # the article's own primary sources
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
    signal = signals(the_plan, evidence, answerer)
    best = max(signal.topic.values(), default=0.0)
    stages: dict[str, Any] = {
        "plan": {s.key: {"queries": s.queries, "focus": s.focus} for s in the_plan.sections},
        "gather": _gather_summary(evidence),
        "coverage": round(best, 4),
    }
    if best < settings.brief_min_relevance:
        brief = insufficient_brief(the_plan.topic, best, settings.brief_min_relevance)
    else:
        selected = select(the_plan, evidence, answerer, signal)
        report("select", 1.0)
        stages["select"] = _select_summary(selected)
        docs = cited_documents(searcher, {c.passage.doc_id for cs in selected.values() for c in cs})
        brief = build_brief(the_plan.topic, selected, docs, note=_thin_note(selected))
    from briefing.render import fit

    brief = fit(brief)
    brief.stages = stages | brief.stages
    report("render", 1.0)
    return brief


def _searcher(settings: Settings) -> Searcher:
    from briefing import service

    return service.engine(settings).searcher


def cited_documents(searcher: Searcher, doc_ids: set[str]) -> dict[str, DocRecord]:
    """The cited documents as indexed. A document's link is its own `url` (None when its front matter
    gives none); the primary sources its front matter lists stay its `sources`, never its URL."""
    docs = searcher.documents()
    return {doc_id: docs[doc_id] for doc_id in doc_ids & set(docs)}


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
