"""The features the answer-unit ranker reads: one row per unit, comparable across questions.

Each base feature also enters as its distance to the best value among the question's units, so
the ranker compares a unit with its rivals rather than with units of other questions.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from briefing.answer.question import Question
from briefing.answer.units import DANGLING, Unit
from briefing.text import LINK, STOPWORDS, WORD, stem, terms

VERSION = 3  # bump when a feature changes: a model fitted on older features is refused
ENACTING = re.compile(r"\b(be it enacted|BY SENATOR|BY REPRESENTATIVE|SECTION \d+\.)", re.I)
BASE = [
    "sim",  # cosine of the lead and the standalone question
    "sim_own",  # cosine of the lead and the follow-up's own words
    "sim_items",  # best cosine of the lead's items (0 without items)
    "overlap",  # idf-weighted share of the question's own terms in the unit
    "overlap_ctx",  # the same for terms borrowed from earlier turns
    "overlap_lead",  # own-term share in the lead alone
    "overlap_corpus",  # own-term share weighted by the terms' rarity in the whole corpus
    "bigrams",  # share of the question's adjacent content-word pairs found in the unit
    "context_sim",  # best cosine of the sentences around the lead and the question
    "context_overlap",  # own-term share of the sentences around the lead
    "title_overlap",  # own-term share in the document title and passage heading
    "entities",  # share of the question's names the unit mentions
    "doc_entities",  # share of the question's names the unit's document mentions
    "rank_prior",  # 1 / passage rank
    "passage_score",  # fused score relative to the best passage
    "doc_share",  # share of the retrieved passages from the unit's document
    "position",  # 1 / (1 + place in the passage)
    "log_words",
    "long",  # more than 60 words
    "headingish",  # short and without closing punctuation
    "capitalised",  # share of capitalised words
    "shouting",  # set in capitals
    "dangling",  # starts with a pronoun or a spoken connective
    "lower_start",  # starts in lower case: an inner clause
    "clause_end",  # ends with ";" or ","
    "opens_list",
    "n_items",
    "is_item",
    "has_opener",
    "speaker",  # a transcript line with a known speaker
    "questioner",  # a journalist's line in a transcript
    "links",  # share of the unit that is links
    "digits",  # share of characters that are digits
    "echo",  # the unit only restates the question
    "enacting",  # an enacting clause or a sponsor list
    "form_date",  # the question asks for a date and the unit gives one
    "form_duration",
    "form_number",
    "form_name",
    "form_missing",  # the question asks for a form that the unit does not give
    "followup",  # the question is a follow-up (interacts with the overlap features)
    "comparison_other_doc",  # a comparison question and the unit is not from the top document
]
NAMES = BASE + [f"{name}_gap" for name in BASE]
# What the abstention model reads, per question (see `briefing.answer.engine.abstain_features`).
ABSTAIN_FEATURES = [
    "best",  # the ranker's best unit probability
    "second",  # the second best
    "best_sim",  # best cosine of a unit and the question
    "best_overlap",  # best idf-weighted term overlap
    "missing",  # share of the question's names no retrieved passage mentions
    "any_missing",
    "n_entities",
    "top_passage",  # the best passage's fused score
    "unknown_terms",  # share of the question's own terms that no indexed chunk holds
    "unmatched_terms",  # rarity-weighted share of its own terms that no retrieved passage holds
]


def featurize(
    question: Question, units: list[Unit], q_vec: np.ndarray, own_vec: np.ndarray, idf: dict[str, float]
) -> np.ndarray:
    """The feature matrix of a question's units (rows in the order of `units`); `idf` holds the
    corpus's inverse document frequencies (see `corpus_idf`)."""
    if not units:
        return np.zeros((0, len(NAMES)), dtype=np.float32)
    weight, total_own, total_ctx = _term_weights(question, units)
    ceiling = max(idf.values(), default=1.0)
    rare = {t: idf.get(t, ceiling) for t in question.own_terms}
    total_rare = sum(rare.values()) or 1.0
    pairs = _bigrams(question.text)
    passages = {u.passage.chunk_id: u.passage for u in units}
    top_score = max(p.score for p in passages.values()) or 1.0
    docs = Counter(p.doc_id for p in passages.values())
    top_doc = min(passages.values(), key=lambda p: p.rank).doc_id
    doc_text: dict[str, str] = {}
    rows = []
    for u in units:
        if u.passage.doc_id not in doc_text:
            doc_text[u.passage.doc_id] = (
                " ".join(p.text for p in passages.values() if p.doc_id == u.passage.doc_id)
                + f" {u.passage.meta.get('title') or ''} {u.passage.doc_id.replace('-', ' ')}"
            )
        rows.append(_row(question, u, q_vec, own_vec, weight, total_own, total_ctx))
        row = rows[-1]
        unit_terms = terms(u.text)
        row["overlap_corpus"] = sum(rare[t] for t in question.own_terms & unit_terms) / total_rare
        row["bigrams"] = len(pairs & _bigrams(u.text)) / len(pairs) if pairs else 0.0
        row["context_sim"] = max((float(v @ q_vec) for v in u.context_vectors), default=0.0)
        row["context_overlap"] = sum(weight[t] for t in question.own_terms & terms(u.context)) / total_own
        row["rank_prior"] = 1.0 / u.passage.rank
        row["passage_score"] = u.passage.score / top_score
        row["doc_share"] = docs[u.passage.doc_id] / len(passages)
        n_entities = len(question.entities) or 1
        row["doc_entities"] = 1 - len(question.missing(doc_text[u.passage.doc_id])) / n_entities
        row["comparison_other_doc"] = float("comparison" in question.forms and u.passage.doc_id != top_doc)
    base = np.array([[r[name] for name in BASE] for r in rows], dtype=np.float32)
    return np.hstack([base, base - base.max(axis=0, keepdims=True)])


def corpus_idf(chunk_texts: Iterable[str]) -> dict[str, float]:
    """Inverse document frequency of every term over the index's chunks."""
    df: Counter[str] = Counter()
    n = 0
    for text in chunk_texts:
        df.update(terms(text))
        n += 1
    return {t: math.log((1 + n) / (1 + c)) for t, c in df.items()}


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = [stem(w) for w in WORD.findall(LINK.sub(r"\1", text).lower()) if w not in STOPWORDS]
    return set(zip(words, words[1:], strict=False))


def _term_weights(question: Question, units: list[Unit]) -> tuple[dict[str, float], float, float]:
    """Inverse-frequency weights of the question's terms among the units: a rare name says more."""
    asked = question.own_terms | question.context_terms
    df = Counter(t for u in units for t in terms(u.text) & asked)
    weight = {t: math.log(1 + len(units) / (1 + df[t])) for t in asked}
    total_own = sum(weight[t] for t in question.own_terms) or 1.0
    total_ctx = sum(weight[t] for t in question.context_terms) or 1.0
    return weight, total_own, total_ctx


def _row(
    question: Question,
    u: Unit,
    q_vec: np.ndarray,
    own_vec: np.ndarray,
    weight: dict[str, float],
    total_own: float,
    total_ctx: float,
) -> dict[str, float]:
    text = u.text
    prose = LINK.sub(r"\1", text)
    words = prose.split()
    unit_terms, lead_terms = terms(prose), terms(u.lead)
    title_terms = terms(f"{u.passage.meta.get('title') or ''} {u.passage.heading}")
    gives = question.gives(prose)
    n_entities = len(question.entities) or 1
    own = question.own_terms
    return {
        "sim": float(u.vector @ q_vec),
        "sim_own": float(u.vector @ own_vec),
        "sim_items": max((float(v @ q_vec) for v in u.item_vectors), default=0.0),
        "overlap": sum(weight[t] for t in own & unit_terms) / total_own,
        "overlap_ctx": sum(weight[t] for t in question.context_terms & unit_terms) / total_ctx,
        "overlap_lead": sum(weight[t] for t in own & lead_terms) / total_own,
        "title_overlap": sum(weight[t] for t in own & title_terms) / total_own,
        "entities": 1 - len(question.missing(prose)) / n_entities,
        "position": 1.0 / (1 + u.position),
        "log_words": math.log1p(len(words)),
        "long": float(len(words) > 60),
        "headingish": float(len(u.lead.split()) <= 12 and not re.search(r"[.:;!?)\]\"”’]$", u.lead)),
        "capitalised": sum(1 for w in words if w[:1].isupper()) / max(len(words), 1),
        "shouting": float(u.lead.upper() == u.lead and len(u.lead.split()) >= 4),
        "dangling": float(bool(DANGLING.match(u.lead))),
        "lower_start": float(u.lead[:1].islower()),
        "clause_end": float(u.lead.endswith((";", ","))),
        "opens_list": float(u.opens_list),
        "n_items": float(len(u.items)),
        "is_item": float(u.is_item),
        "has_opener": float(bool(u.opener)),
        "speaker": float(bool(u.speaker) and u.speaker != "Question"),
        "questioner": float(u.speaker == "Question"),
        "links": 1 - len(prose) / max(len(text), 1),
        "digits": sum(ch.isdigit() for ch in prose) / max(len(prose), 1),
        "echo": float(bool(unit_terms) and len(unit_terms - own - STOPWORDS) <= max(1, len(unit_terms) // 5)),
        "enacting": float(bool(ENACTING.search(u.lead))),
        "form_date": float(gives.get("date", False)),
        "form_duration": float(gives.get("duration", False)),
        "form_number": float(gives.get("number", False)),
        "form_name": float(gives.get("name", False)),
        "form_missing": float(bool(gives) and not any(gives.values())),
        "followup": float(question.followup),
    }
