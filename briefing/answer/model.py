"""The learned answer model: a unit ranker, a composition rule and an abstention rule, in one
small JSON file fitted by `briefing train` (see `briefing.answer.train`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from briefing.answer import features
from briefing.errors import ModelFileError

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "answer-model.json"
FORMAT = 1


@dataclass
class Linear:
    """A logistic model over standardised features."""

    names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def logit(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.coef) + self.intercept

    def prob(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(x), -30, 30)))

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, names: list[str], l2: float = 1.0, weight=None) -> Linear:
        """L2-regularised logistic regression by Newton's method (the problem is small and convex)."""
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-6] = 1.0
        z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
        w = np.ones(len(x)) if weight is None else np.asarray(weight, dtype=float)
        beta = np.zeros(z.shape[1])
        penalty = np.full(z.shape[1], l2)
        penalty[-1] = 0.0  # the intercept is not shrunk
        for _ in range(50):
            p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -30, 30)))
            grad = z.T @ (w * (p - y)) + penalty * beta
            hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.abs(step).max() < 1e-7:
                break
        return cls(names, mean.tolist(), scale.tolist(), beta[:-1].tolist(), float(beta[-1]))


@dataclass
class Composition:
    """How many ranked units an answer quotes: those within `ratio` of the best, at most
    `max_units`; with `ensure_form`, a unit giving the asked-for date, duration or figure replaces
    the weakest ones when none of those chosen gives it."""

    ratio: float = 0.6
    max_units: int = 3
    ensure_form: bool = False  # when the question asks for a date, duration or figure, quote one


@dataclass
class Abstention:
    """Abstain when the probability that the question is answerable falls below `threshold`."""

    model: Linear
    threshold: float


@dataclass
class AnswerModel:
    """Everything the answer engine learned, and what it was fitted on."""

    ranker: Linear
    composition: Composition
    abstention: Abstention
    fitted_on: dict = field(default_factory=dict)
    format: int = FORMAT
    features_version: int = features.VERSION

    def save(self, path: Path | None = None) -> None:
        path = path or MODEL_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path | None = None) -> AnswerModel:
        """The fitted model (default: the shipped one); ModelFileError when it is missing or was
        fitted on other features."""
        path = path or MODEL_PATH
        if not path.exists():
            raise ModelFileError(f"no answer model at {path}: run `briefing train` to fit one")
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT or raw.get("features_version") != features.VERSION:
            raise ModelFileError(
                f"the answer model at {path} was fitted on other features "
                f"(features v{raw.get('features_version')}, this code v{features.VERSION}): "
                "run `briefing train` to refit it"
            )
        if (
            raw["ranker"]["names"] != features.NAMES
            or raw["abstention"]["model"]["names"] != features.ABSTAIN_FEATURES
        ):
            raise ModelFileError(f"the answer model at {path} lists other features: run `briefing train`")
        abstention = raw["abstention"]
        return cls(
            ranker=Linear(**raw["ranker"]),
            composition=Composition(**raw["composition"]),
            abstention=Abstention(Linear(**abstention["model"]), abstention["threshold"]),
            fitted_on=raw.get("fitted_on", {}),
        )
