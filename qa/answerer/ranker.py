"""Learned answer selection: a linear ranker over candidate spans and a linear answer/abstain model.

Two small models, both fitted by :mod:`qa.training.train_ranker` on questions about documents
the reader never trained on:

* the **ranker** is a conditional logit: every candidate span of a question gets the score
  ``w · x`` from its features (:mod:`qa.answerer.features`), and a softmax over the question's
  candidates turns the scores into probabilities;
* the **answer model** is a logistic regression on features of the chosen span (its ranker
  probability, the reader's no-answer probability, the support check, ...) that predicts
  whether the chosen span is right. Its probability is the answer's ``confidence``, and below
  ``threshold`` the answerer says "not found".

Everything here is pure numpy (fitting uses scipy's L-BFGS); weights live in one small JSON file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from index.errors import QAError

DEFAULT_RANKER_PATH = Path(__file__).resolve().parent.parent / "reader" / "weights" / "ranker.json"
FORMAT_VERSION = 1


class RankerFormatError(QAError, ValueError):
    """The ranker file is missing, unreadable or does not match the feature set."""


@dataclass(frozen=True)
class LinearModel:
    """``score(x) = bias + sum_i weight_i * (x_i - mean_i) / scale_i`` over named features."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    bias: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.names)
        if not (len(self.weights) == len(self.mean) == len(self.scale) == n):
            raise RankerFormatError("weights, mean and scale must have one value per feature")

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """Scores of a ``(n, d)`` feature matrix whose columns follow :attr:`names`."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(self.names):
            raise ValueError(f"expected {len(self.names)} features per row, got shape {rows.shape}")
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.bias

    def to_dict(self) -> dict:
        return {"names": list(self.names), "weights": list(self.weights), "mean": list(self.mean),
                "scale": list(self.scale), "bias": self.bias}

    @classmethod
    def from_dict(cls, data: dict) -> "LinearModel":
        try:
            return cls(tuple(data["names"]), tuple(float(w) for w in data["weights"]),
                       tuple(float(m) for m in data["mean"]), tuple(float(s) for s in data["scale"]),
                       float(data.get("bias", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise RankerFormatError(f"malformed linear model: {exc}") from exc


def softmax(scores: Sequence[float] | np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``scores / temperature``."""
    scores = np.asarray(scores, dtype=np.float64) / temperature
    if scores.size == 0:
        return scores
    e = np.exp(scores - scores.max())
    return e / e.sum()


def sigmoid(x: float | np.ndarray):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


@dataclass(frozen=True)
class LearnedRanker:
    """The fitted ranker and answer model, plus the abstention threshold.

    Attributes:
        ranker: scores candidate spans (columns: :data:`qa.answerer.features.CANDIDATE_FEATURES`).
        answer: scores the chosen span (columns: :data:`qa.answerer.features.ANSWER_FEATURES`).
        threshold: answer only when the answer model's probability reaches this...
        min_support: ...and the rules' support confidence of the pick reaches this.
        recipe: how it was fitted and what it measured (kept beside the weights).
    """

    ranker: LinearModel
    answer: LinearModel
    threshold: float
    min_support: float = 0.0
    recipe: dict = field(default_factory=dict, compare=False)

    def rank(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities of a question's candidates (softmax of the ranker scores)."""
        return softmax(self.ranker.scores(rows)) if len(rows) else np.zeros(0)

    def confidence(self, row: np.ndarray) -> float:
        """Probability that the chosen span is right."""
        return float(sigmoid(self.answer.scores(np.asarray(row, dtype=np.float64)[None, :])[0]))

    def save(self, path: str | Path) -> None:
        data = {"format": FORMAT_VERSION, "ranker": self.ranker.to_dict(), "answer": self.answer.to_dict(),
                "threshold": self.threshold, "min_support": self.min_support, "recipe": self.recipe}
        Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RANKER_PATH, *, candidate_features: Sequence[str] | None = None,
             answer_features: Sequence[str] | None = None) -> "LearnedRanker":
        """Read a ranker file, checking that it was fitted on the features this code computes."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RankerFormatError(f"cannot read ranker weights {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise RankerFormatError(f"{path}: unknown ranker format (expected format {FORMAT_VERSION}); "
                                    "refit it with `qa train-ranker`")
        ranker = LinearModel.from_dict(data.get("ranker") or {})
        answer = LinearModel.from_dict(data.get("answer") or {})
        for expected, model, what in ((candidate_features, ranker, "candidate"), (answer_features, answer, "answer")):
            if expected is not None and tuple(expected) != model.names:
                raise RankerFormatError(f"{path}: fitted on other {what} features than this version computes; "
                                        "refit it with `qa train-ranker`")
        try:
            threshold = float(data.get("threshold", 0.5))
            min_support = float(data.get("min_support", 0.0))
        except (TypeError, ValueError) as exc:
            raise RankerFormatError(f"{path}: malformed threshold: {exc}") from exc
        for name, value in (("threshold", threshold), ("min_support", min_support)):
            if not 0.0 <= value <= 1.0:
                raise RankerFormatError(f"{path}: {name} {value} is not in [0, 1]")
        return cls(ranker, answer, threshold, min_support, data.get("recipe") or {})


# --------------------------------------------------------------------------- fitting


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def _bounds(names: Sequence[str], signs: Mapping[str, int] | None) -> list[tuple[float | None, float | None]]:
    """L-BFGS-B bounds that keep each named weight on its known side of zero (+1: ≥ 0, -1: ≤ 0)."""
    signs = signs or {}
    unknown = set(signs) - set(names)
    if unknown:
        raise ValueError(f"sign constraints for unknown features: {sorted(unknown)}")
    return [(0.0, None) if signs.get(n, 0) > 0 else (None, 0.0) if signs.get(n, 0) < 0 else (None, None)
            for n in names]


def fit_conditional_logit(groups: Sequence[np.ndarray], targets: Sequence[np.ndarray], names: Sequence[str],
                          l2: float = 1.0, signs: Mapping[str, int] | None = None) -> LinearModel:
    """Fit ``w`` so that ``softmax(X_g w)`` puts its mass on each group's target candidates.

    Args:
        groups: one ``(n_g, d)`` feature matrix per question.
        targets: one ``(n_g,)`` array per question, the target distribution (non-negative, summing
            to 1: e.g. uniform over the candidates that match the gold answer best).
        names: feature names (``d`` of them).
        l2: ridge penalty on the standardised weights (per question: it is scaled by 1/n_questions).
        signs: features whose weight must stay ≥ 0 (+1) or ≤ 0 (-1): what is known about them
            beforehand (more support never makes an answer less likely), so the fit cannot lean
            on a quirk of its training data in the wrong direction.
    """
    from scipy.optimize import minimize

    if not groups:
        raise ValueError("no training groups")
    stacked = np.vstack(groups)
    mean, scale = _standardise(stacked)
    zs = [(g - mean) / scale for g in groups]
    ts = [np.asarray(t, dtype=np.float64) for t in targets]
    n = len(zs)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.5 * l2 * float(w @ w) / n, l2 * w / n
        for z, t in zip(zs, ts):
            p = softmax(z @ w)
            mass = max(float(t @ p), 1e-300)   # probability of the target set
            total -= math.log(mass) / n
            q = t * p / mass                   # the targets' share of it
            grad = grad + z.T @ (p - q) / n
        return total, grad

    d = stacked.shape[1]
    res = minimize(loss, np.zeros(d), jac=True, method="L-BFGS-B", bounds=_bounds(names, signs),
                   options={"maxiter": 500})
    return LinearModel(tuple(names), tuple(float(x) for x in res.x), tuple(float(x) for x in mean),
                       tuple(float(x) for x in scale), 0.0)


def fit_logistic(x: np.ndarray, y: np.ndarray, names: Sequence[str], l2: float = 1.0,
                 signs: Mapping[str, int] | None = None) -> LinearModel:
    """Logistic regression with soft labels ``y`` in [0, 1] and a ridge penalty (bias unpenalised);
    ``signs`` as in :func:`fit_conditional_logit`."""
    from scipy.optimize import minimize

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) == 0:
        raise ValueError("no training rows")
    mean, scale = _standardise(x)
    z = (x - mean) / scale
    n, d = z.shape

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:d], params[d]
        s = z @ w + b
        # log(1 + e^s) - y s, computed stably
        value = float(np.sum(np.logaddexp(0.0, s) - y * s)) / n + 0.5 * l2 * float(w @ w) / n
        r = sigmoid(s) - y
        grad = np.concatenate([z.T @ r / n + l2 * w / n, [r.sum() / n]])
        return value, grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   bounds=_bounds(names, signs) + [(None, None)], options={"maxiter": 1000})
    return LinearModel(tuple(names), tuple(float(v) for v in res.x[:d]), tuple(float(v) for v in mean),
                       tuple(float(v) for v in scale), float(res.x[d]))
