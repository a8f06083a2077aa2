"""The answer engine: analyse the question, retrieve, build answer units, rank them with the
learned model, then quote the best ones with citations, or abstain."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from briefing.answer.compose import choose, render
from briefing.answer.features import NAMES, corpus_idf, featurize
from briefing.answer.model import AnswerModel
from briefing.answer.question import Question, validate_question
from briefing.answer.units import Unit, build_units
from briefing.retrieve import Filters, Searcher
from briefing.settings import Settings
from briefing.text import terms
from briefing.types import Answer, Citation, Passage

NOT_COVERED = "The corpus does not cover this."


@dataclass
class Candidate:
    """A unit's lead sentence with the ranker's score: what briefs select from."""

    passage: Passage
    start: int
    end: int
    text: str
    vector: np.ndarray
    score: float = 0.0
    similarity: float = 0.0


@dataclass
class Scored:
    """A question's units with their features and ranker probabilities."""

    question: Question
    passages: list[Passage]
    units: list[Unit]
    features: np.ndarray
    probs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    unknown_terms: float = 0.0
    unmatched_terms: float = 0.0


class Answerer:
    """Answers questions from the index extractively; an LLM backend plugs in via `briefing.llm`."""

    def __init__(
        self, settings: Settings, searcher: Searcher | None = None, model: AnswerModel | None = None
    ):
        self.settings = settings
        self.searcher = searcher or Searcher(settings)
        self._model = model
        self._idf: tuple[int, dict[str, float]] = (-1, {})
        self._pool: tuple[tuple[str, ...], list[Unit]] = ((), [])

    @property
    def model(self) -> AnswerModel:
        if self._model is None:
            self._model = AnswerModel.load()
        return self._model

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        filters: Filters | None = None,
        qid: str | None = None,
    ) -> Answer:
        """A cited answer, an abstention, or a clear message when the question is unusable."""
        started = time.perf_counter()
        problem = validate_question(question, self.settings.max_question_chars)
        if problem:
            return Answer(str(question), problem, True, "extractive", [], [], id=qid, error=problem)
        q = Question.parse(question.strip(), [h for h in history or [] if isinstance(h, str)])
        answer = self.decide(self.gather(q, self.retrieve(q, filters)))
        answer.id = qid
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    def compose(self, question: str, query: str, passages: list[Passage]) -> Answer:
        """The extractive answer over given passages, for a question already made standalone."""
        q = Question.parse(question)
        q.query, q.context_terms = query, terms(query) - q.own_terms
        q.followup = query != question
        return self.decide(self.gather(q, passages))

    def retrieve(self, q: Question, filters: Filters | None = None) -> list[Passage]:
        return self.searcher.search(q.query, k=max(self.settings.top_k, 10), filters=filters)

    def gather(self, q: Question, passages: list[Passage]) -> Scored:
        """The passages' answer units and their features (not yet ranked)."""
        from briefing.embedding import embed_query

        units = build_units(passages, self.searcher.manifest)
        q_vec = embed_query(self.settings, q.query)
        own_vec = embed_query(self.settings, q.text) if q.followup else q_vec
        idf = self.idf()
        scored = Scored(q, passages, units, featurize(q, units, q_vec, own_vec, idf))
        if q.own_terms:
            found = terms(" ".join(p.text for p in passages))
            ceiling = max(idf.values(), default=1.0)  # a term the corpus lacks is as rare as the rarest
            weight = {t: idf.get(t, ceiling) for t in q.own_terms}
            scored.unknown_terms = sum(t not in idf for t in q.own_terms) / len(q.own_terms)
            scored.unmatched_terms = sum(w for t, w in weight.items() if t not in found) / (
                sum(weight.values()) or 1
            )
        return scored

    def idf(self) -> dict[str, float]:
        """The corpus's term rarities, recomputed when the index changes."""
        manifest = self.searcher.manifest
        generation = manifest.generation()
        if self._idf[0] != generation:
            self._idf = (generation, corpus_idf(row[5] for row in manifest.chunks()))
        return self._idf[1]

    def candidates(self, passages: list[Passage], query: str) -> list[Candidate]:
        """Every usable sentence of the passages, scored by its cosine with `query`.

        Briefs rank these with signals of their own; the answer ranker, fitted to pick the sentence
        that answers a question, made briefs worse when it scored them (train and dev topics:
        must_cover 0.34 against 0.41 with the cosine).
        """
        from briefing.embedding import embed_query

        q_vec = embed_query(self.settings, query)
        key = tuple(p.chunk_id for p in passages)
        pool = self._pool  # one read: another thread may replace it meanwhile
        if pool[0] != key:  # a brief scores one pool against many sub-queries
            pool = self._pool = (key, build_units(passages, self.searcher.manifest))
        out = []
        for u in pool[1]:
            sim = float(u.vector @ q_vec)
            out.append(Candidate(u.passage, u.start, u.end, u.lead, u.vector, sim, sim))
        return out

    def decide(self, scored: Scored) -> Answer:
        return conclude(rank(scored, self.model), self.model, self.settings.answer_max_words)


def rank(scored: Scored, model: AnswerModel) -> Scored:
    """Score every unit with the model's ranker (in place) and return the same `Scored`."""
    scored.probs = model.ranker.prob(scored.features) if scored.units else np.zeros(0)
    for unit, p, sim in zip(scored.units, scored.probs, scored.features[:, 0], strict=True):
        unit.score, unit.similarity = float(p), float(sim)
    return scored


def conclude(scored: Scored, model: AnswerModel, max_words: int) -> Answer:
    """Quote the best units, or abstain when the model judges that the evidence does not answer."""
    q = scored.question
    forms = q.forms & {"date", "duration", "number"}
    gives = (lambda u: any(q.gives(u.text).get(f) for f in forms)) if forms else None
    chosen = choose(scored.units, model.composition, max_words, gives) if scored.units else []
    if not chosen or answerable(scored, model) < model.abstention.threshold:
        return abstention(q, scored.passages)
    text, citations = render(chosen)
    return Answer(q.text, text, False, "extractive", citations, scored.passages, standalone_question=q.query)


def answerable(scored: Scored, model: AnswerModel) -> float:
    """The abstention model's probability that the retrieved evidence answers the question."""
    return float(model.abstention.model.prob(abstain_features(scored))[0])


def abstain_features(scored: Scored) -> np.ndarray:
    """The question-level features the abstention model reads."""
    q, probs, x = scored.question, np.sort(scored.probs)[::-1], scored.features
    haystack = " ".join(_haystack(p) for p in scored.passages)
    missing = len(q.missing(haystack))
    column = {name: i for i, name in enumerate(NAMES)}
    row = [
        float(probs[0]) if len(probs) else 0.0,
        float(probs[1]) if len(probs) > 1 else 0.0,
        float(x[:, column["sim"]].max()) if len(x) else 0.0,
        float(x[:, column["overlap"]].max()) if len(x) else 0.0,
        missing / (len(q.entities) or 1),
        float(missing > 0),
        float(len(q.entities)),
        max((p.score for p in scored.passages), default=0.0),
        scored.unknown_terms,
        scored.unmatched_terms,
    ]
    return np.asarray([row], dtype=np.float32)


def abstention(q: Question, passages: list[Passage]) -> Answer:
    """The abstention: not covered, which of the question's names no retrieved source mentions, and
    the closest passages marked as not an answer."""
    missing = q.missing(" ".join(_haystack(p) for p in passages))
    why = f" No source in the corpus mentions {_names(missing, q.text)}." if missing else ""
    message = (
        f"{NOT_COVERED}{why} The closest passages in the corpus are listed below; they are not an answer."
    )
    citations = [Citation.from_passage(i, p, "") for i, p in enumerate(passages[:3], start=1)]
    return Answer(q.text, message, True, "extractive", citations, passages, standalone_question=q.query)


def _haystack(p: Passage) -> str:
    """What a passage says about itself and its document, for the name check."""
    return (
        f"{p.meta.get('title') or ''} {p.meta.get('publisher') or ''} {p.doc_id.replace('-', ' ')} {p.text}"
    )


def _names(names: list[str], question: str) -> str:
    """The names as the question wrote them, quoted: “India”, “SB 53” or “Kenya”."""
    found = [re.search(re.escape(n), question, re.I) for n in names[:3]]
    quoted = [f"“{m.group(0) if m else n}”" for m, n in zip(found, names, strict=False)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" or {quoted[-1]}"
