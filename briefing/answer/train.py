"""Fitting the answer model, and measuring it honestly with k-fold cross-validation.

`collect` runs retrieval and unit building once per question (the expensive part); `fit` learns
the ranker, the composition rule and the abstention rule from collected examples only; and
`cross_validate` fits on k-1 folds and scores the held-out fold with the engine's own code path
(`rank` then `conclude`), so a cross-validated figure is what a user would see on new questions.
"""

from __future__ import annotations

import hashlib
import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from briefing.answer.engine import Answerer, Scored, abstain_features, conclude, rank
from briefing.answer.features import ABSTAIN_FEATURES, NAMES
from briefing.answer.model import Abstention, AnswerModel, Composition, Linear
from briefing.answer.question import Question
from briefing.evaluate import answer_metrics, corpus_texts, hits, load_jsonl, normalise
from briefing.settings import Settings

RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MAX_UNITS = (1, 2, 3, 4)
MAX_FALSE_ABSTAIN = 0.03  # the abstention threshold keeps answerable questions answered
L2 = 1.0
Progress = Callable[[int, int], None]


@dataclass
class Example:
    """One evaluation question with its gathered units and their labels."""

    item: dict
    scored: Scored
    labels: np.ndarray  # 1 where the unit's text holds one of the accepted answer strings

    @property
    def answerable(self) -> bool:
        return self.item["type"] != "unanswerable"


def collect(answerer: Answerer, items: list[dict], progress: Progress | None = None) -> list[Example]:
    """Retrieve and build the units of every question once."""
    out = []
    for i, item in enumerate(items, start=1):
        q = Question.parse(item["question"], item.get("history"))
        scored = answerer.gather(q, answerer.retrieve(q))
        wanted = [normalise(s) for s in item.get("answer_contains", [])]
        labels = np.array([any(w in normalise(u.text) for w in wanted) for u in scored.units], dtype=float)
        out.append(Example(item, scored, labels))
        if progress:
            progress(i, len(items))
    return out


def fold_of(qid: str, k: int, seed: int = 0) -> int:
    """A question's fold, from a hash of its id: stable across runs and machines."""
    return int(hashlib.sha256(f"{seed}:{qid}".encode()).hexdigest(), 16) % k


def fit_ranker(examples: list[Example], l2: float = L2) -> Linear:
    """Logistic regression on the units of answerable questions; each question weighs the same."""
    rows = [e for e in examples if e.answerable and len(e.labels)]
    x = np.vstack([e.scored.features for e in rows])
    y = np.concatenate([e.labels for e in rows])
    weight = np.concatenate([np.full(len(e.labels), 1.0 / len(e.labels)) for e in rows])
    return Linear.fit(x, y, NAMES, l2=l2, weight=weight * len(rows))


def fit(examples: list[Example], max_words: int, inner_k: int = 3) -> AnswerModel:
    """The whole model from these examples only.

    The composition and abstention rules are chosen on out-of-fold ranker scores (an inner k-fold),
    so they are tuned on scores like those of unseen questions, not on the ranker's training fit.
    """
    ranker = fit_ranker(examples)
    out_of_fold: dict[str, np.ndarray] = {}
    for fold in range(inner_k):
        inner = fit_ranker([e for e in examples if fold_of(e.item["id"], inner_k, 1) != fold])
        for e in examples:
            if fold_of(e.item["id"], inner_k, 1) == fold:
                out_of_fold[e.item["id"]] = inner.prob(e.scored.features) if len(e.labels) else np.zeros(0)
    composition = fit_composition(examples, out_of_fold, ranker, max_words)
    abstention = fit_abstention(examples, out_of_fold, ranker, composition, max_words)
    return AnswerModel(ranker, composition, abstention, fitted_on=describe([e.item for e in examples]))


def _with_probs(e: Example, probs: np.ndarray) -> Scored:
    e.scored.probs = probs
    for unit, p in zip(e.scored.units, probs, strict=True):
        unit.score = float(p)
    return e.scored


def fit_composition(
    examples: list[Example], probs: dict[str, np.ndarray], ranker: Linear, max_words: int
) -> Composition:
    """The ratio and unit cap that hit most answerable questions (ties: fewer words)."""
    n = len(ABSTAIN_FEATURES)
    never = Abstention(Linear(ABSTAIN_FEATURES, [0.0] * n, [1.0] * n, [0.0] * n, 0.0), threshold=0.0)
    best: tuple[float, float, Composition] | None = None
    answerable = [e for e in examples if e.answerable]
    for ratio, cap, form in itertools.product(RATIOS, MAX_UNITS, (False, True)):
        model = AnswerModel(ranker, Composition(ratio, cap, form), never)
        hit, words = [], []
        for e in answerable:
            answer = conclude(_with_probs(e, probs[e.item["id"]]), model, max_words)
            hit.append(hits(answer.answer, e.item))
            words.append(len(answer.answer.split()))
        key = (float(np.mean(hit)), -float(np.mean(words)), Composition(ratio, cap, form))
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    return best[2]


def fit_abstention(
    examples: list[Example],
    probs: dict[str, np.ndarray],
    ranker: Linear,
    composition: Composition,
    max_words: int,
) -> Abstention:
    """A logistic answerable-or-not model, thresholded so at most MAX_FALSE_ABSTAIN of the
    answerable questions are refused."""
    x = np.vstack([abstain_features(_with_probs(e, probs[e.item["id"]])) for e in examples])
    y = np.array([e.answerable for e in examples], dtype=float)
    model = Linear.fit(x, y, ABSTAIN_FEATURES, l2=L2)
    p = model.prob(x)
    answerable = np.sort(p[y == 1])
    allowed = int(MAX_FALSE_ABSTAIN * len(answerable))
    threshold = float(answerable[allowed]) if len(answerable) else 0.5
    return Abstention(model, threshold - 1e-9)


def evaluate(model: AnswerModel, examples: list[Example], texts: dict[str, str], max_words: int) -> dict:
    """The README's answer metrics of a model on examples it may not have seen."""
    answers = [conclude(rank(e.scored, model), model, max_words) for e in examples]
    metrics = answer_metrics(answers, [e.item for e in examples], texts)
    for key in ("latency_p50_ms", "latency_p95_ms"):
        metrics.pop(key, None)  # measured by `briefing eval`, not by replaying collected units
    return metrics


def cross_validate(
    examples: list[Example], k: int, texts: dict[str, str], max_words: int, seed: int = 0
) -> dict:
    """Fit on k-1 folds, score the held-out fold; the mean and range of every metric over folds."""
    folds = []
    for fold in range(k):
        train = [e for e in examples if fold_of(e.item["id"], k, seed) != fold]
        test = [e for e in examples if fold_of(e.item["id"], k, seed) == fold]
        folds.append(evaluate(fit(train, max_words), test, texts, max_words))
    summary = {
        key: {
            "mean": round(statistics.fmean(f[key] for f in folds), 4),
            "min": round(min(f[key] for f in folds), 4),
            "max": round(max(f[key] for f in folds), 4),
        }
        for key in folds[0]
        if key != "n_questions"
    }
    return {"k": k, "seed": seed, "n_questions": len(examples), "metrics": summary, "folds": folds}


def describe(items: list[dict]) -> dict:
    """How many questions, and a fingerprint of their ids (to tell in-sample figures)."""
    ids = sorted(item["id"] for item in items)
    return {
        "questions": len(ids),
        "answerable": sum(item["type"] != "unanswerable" for item in items),
        "ids_sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16],
    }


def load_items(paths: list[Path]) -> list[dict]:
    """Questions from JSON-lines files; ids must be unique across them (they decide the folds)."""
    items = [item for path in paths for item in load_jsonl(path)]
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("question ids repeat across the question files")
    return items


def train(
    settings: Settings, paths: list[Path], k: int = 5, progress: Progress | None = None
) -> tuple[AnswerModel, dict]:
    """Index the corpus, collect the questions, cross-validate, then fit on everything.

    Returns the model (its `fitted_on` records the data and the cross-validated figures) and the
    cross-validation report.
    """
    from briefing import service

    service.index(settings)
    examples = collect(Answerer(settings, model=None), load_items(paths), progress)
    texts = corpus_texts(Path(settings.corpus_dir))
    report = cross_validate(examples, k, texts, settings.answer_max_words)
    model = fit(examples, settings.answer_max_words)
    model.fitted_on |= {
        "question_files": [p.name for p in paths],
        "corpus_documents": len(texts),
        "cross_validated": {key: value["mean"] for key, value in report["metrics"].items()},
        "k": k,
    }
    return model, report
