"""Features of candidate answers for the learned ranker (:mod:`qa.answerer.ranker`).

Pure functions of what the rules and the reader already computed for a question: nothing here
runs a model. Feature order is part of the fitted weights' format, so names are listed once.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np

from qa.answerer.support import Evidence
from qa.answerer.types import RankedCandidates, VotedSpan
from qa.evaluation import bag_f1, normalize_answer
from qa.question import DATE, DESCRIPTION, MANNER, NUMBER, REASON, THING
from qa.retrieval import RetrievedPassage

_KINDS = ("entity", "noun", "prep", "clause", "adjective", "quote", "reader")
_OPEN_TYPES = frozenset({REASON, MANNER, THING, DESCRIPTION})
_STRICT = frozenset({DATE, NUMBER})

CANDIDATE_FEATURES: tuple[str, ...] = (
    "reader_span_logp", "reader_zero", "reader_top", "reader_expected_f1",
    "rule_logp", "rule_top", "rule_gap",
    "fit", "proximity", "role", "head_match", "overlap", "length_prior",
    "sent_lexical", "sent_semantic", "sent_score", "sent_rank_inv", "sent_best",
    "tokens_log", "is_entity",
    *(f"kind_{k}" for k in _KINDS), "kind_other",
    "reader_span_logp_open_type", "fit_strict_type", "tokens_log_open_type",
)

ANSWER_FEATURES: tuple[str, ...] = (
    "p_chosen", "p_margin", "reader_span_logp", "reader_expected_f1", "rule_logp", "fit",
    "reader_no_answer_logit", "reader_best_logp",
    "rule_confidence", "coverage", "missing_frac", "entities_supported", "people_unsupported",
    "absent_from_corpus", "focus_missing", "semantic", "lexical", "top_dense",
)

#: Known directions: a weight fitted against them would be a quirk of the training data.
CANDIDATE_SIGNS: dict[str, int] = {
    "reader_span_logp": 1, "reader_expected_f1": 1, "rule_logp": 1, "fit": 1, "proximity": 1, "overlap": -1,
    "sent_lexical": 1, "sent_semantic": 1, "sent_rank_inv": 1,
}
ANSWER_SIGNS: dict[str, int] = {
    "p_chosen": 1, "p_margin": 1, "reader_span_logp": 1, "reader_expected_f1": 1, "rule_logp": 1, "fit": 1,
    "reader_no_answer_logit": -1, "rule_confidence": 1, "coverage": 1, "missing_frac": -1,
    "entities_supported": 1, "people_unsupported": -1, "absent_from_corpus": -1, "focus_missing": -1,
    "semantic": 1, "lexical": 1, "top_dense": 1,
}

#: Candidates scored per question: the best by rule score and the best by reader probability.
RULE_SHORTLIST = 20
READER_SHORTLIST = 10


def shortlist(pool: Sequence[VotedSpan]) -> list[VotedSpan]:
    """The candidates the ranker sees: the top rule and reader candidates, without duplicates."""
    by_rule = sorted(pool, key=lambda v: -v.span.score)[:RULE_SHORTLIST]
    by_reader = sorted((v for v in pool if v.reader_prob > 0), key=lambda v: -v.reader_prob)[:READER_SHORTLIST]
    seen, out = set(), []
    for voted in by_rule + by_reader:
        if id(voted) not in seen:
            seen.add(id(voted))
            out.append(voted)
    return out


def expected_f1(texts: Sequence[str], reader_answers: Sequence[tuple[str, float]]) -> list[float]:
    """Each text's SQuAD token F1 against the reader's answers, averaged with the reader's
    probabilities: how much of what the reader believes a candidate would get right.

    The reader's probability of one exact span is split among near-identical spans ("the
    treaty", "treaty of Paris", "the treaty of Paris"); the expectation gathers that mass back,
    and the candidate that maximises it is the minimum-Bayes-risk answer under the F1 metric.

    Args:
        texts: candidate answer texts.
        reader_answers: ``(text, probability)`` of the reader's best spans; the probabilities
            are renormalised over these spans (0.0 for every text when they carry no mass).
    """
    mass = sum(p for _, p in reader_answers if p > 0)
    if mass <= 0:
        return [0.0] * len(texts)
    bags = [(Counter(normalize_answer(t).split()), p / mass) for t, p in reader_answers if p > 0]
    vocabulary = set().union(*(bag for bag, _ in bags))

    def expectation(text: str) -> float:
        tokens = Counter(normalize_answer(text).split())
        if vocabulary.isdisjoint(tokens):  # most candidates share no word with the reader's answers
            return 0.0
        return min(1.0, sum(weight * bag_f1(tokens, bag) for bag, weight in bags))

    memo: dict[str, float] = {}
    return [memo[text] if text in memo else memo.setdefault(text, expectation(text)) for text in texts]


def _log(p: float, floor: float) -> float:
    return math.log(max(p, floor))


def candidate_features(candidates: Sequence[VotedSpan], ranked: RankedCandidates) -> np.ndarray:
    """One row of :data:`CANDIDATE_FEATURES` per candidate."""
    if not candidates:
        return np.zeros((0, len(CANDIDATE_FEATURES)))
    top_rule = max(v.span.score for v in candidates)
    best_rule = max(candidates, key=lambda v: v.span.score)
    best_reader = max(candidates, key=lambda v: v.reader_span_prob)
    best_sentence = ranked.sentences[0] if ranked.sentences else None
    answer_type = ranked.analysis.answer_type
    open_type = float(answer_type in _OPEN_TYPES)
    strict_type = float(answer_type in _STRICT)
    rows = []
    for voted in candidates:
        span, sentence = voted.span, voted.span.sentence
        parts = span.parts
        doc = sentence.span.doc
        n_tokens = span.candidate.end - span.candidate.start
        is_entity = any(e.start == span.candidate.start and e.end == span.candidate.end for e in doc.ents)
        kind = span.candidate.kind
        reader_logp = _log(voted.reader_span_prob, 1e-6)
        row = {
            "reader_span_logp": reader_logp,
            "reader_zero": float(voted.reader_span_prob <= 0.0),
            "reader_top": float(voted is best_reader and voted.reader_span_prob > 0),
            "reader_expected_f1": voted.reader_expected_f1,
            "rule_logp": _log(voted.rule_prob, 1e-6),
            "rule_top": float(voted is best_rule),
            "rule_gap": max(span.score - top_rule, -10.0),
            "fit": span.fit,
            "proximity": parts.proximity if parts else 0.0,
            "role": parts.role if parts else 0.0,
            "head_match": parts.head_match if parts else 0.0,
            "overlap": parts.overlap if parts else 0.0,
            "length_prior": parts.length if parts else 0.0,
            "sent_lexical": sentence.lexical,
            "sent_semantic": sentence.semantic,
            "sent_score": sentence.score,
            "sent_rank_inv": 1.0 / max(sentence.rank, 1),
            "sent_best": float(best_sentence is not None and sentence.doc_id == best_sentence.doc_id
                               and sentence.index == best_sentence.index),
            "tokens_log": math.log1p(n_tokens),
            "is_entity": float(is_entity),
            "kind_other": float(kind not in _KINDS),
            "reader_span_logp_open_type": reader_logp * open_type,
            "fit_strict_type": span.fit * strict_type,
            "tokens_log_open_type": math.log1p(n_tokens) * open_type,
        }
        for k in _KINDS:
            row[f"kind_{k}"] = float(kind == k)
        rows.append([row[name] for name in CANDIDATE_FEATURES])
    return np.asarray(rows, dtype=np.float64)


def choice_probabilities(probabilities: np.ndarray, chosen: int) -> tuple[float, float]:
    """``(p_chosen, p_margin)``: the pick's ranker probability and its lead over the next best."""
    others = np.delete(probabilities, chosen)
    p = float(probabilities[chosen])
    return p, p - (float(others.max()) if others.size else 0.0)


def answer_features(
    chosen: int,
    probabilities: np.ndarray,
    candidate_rows: np.ndarray,
    evidence: Evidence,
    no_answer_prob: float,
    ranked: RankedCandidates,
    passages: Sequence[RetrievedPassage],
) -> np.ndarray:
    """The :data:`ANSWER_FEATURES` of candidate ``chosen`` (an index into the candidates)."""
    column = {name: i for i, name in enumerate(CANDIDATE_FEATURES)}
    row = candidate_rows[chosen]
    p_chosen, p_margin = choice_probabilities(probabilities, chosen)
    support = evidence.support
    n_terms = max(len(ranked.analysis.content_lemmas), 1)
    p = min(max(no_answer_prob, 1e-4), 1 - 1e-4)
    values = {
        "p_chosen": p_chosen,
        "p_margin": p_margin,
        "reader_span_logp": row[column["reader_span_logp"]],
        "reader_expected_f1": row[column["reader_expected_f1"]],
        "rule_logp": row[column["rule_logp"]],
        "fit": evidence.fit,
        "reader_no_answer_logit": math.log(p / (1 - p)),
        "reader_best_logp": float(candidate_rows[:, column["reader_span_logp"]].max()),
        "rule_confidence": evidence.confidence,
        "coverage": support.coverage,
        "missing_frac": len(support.missing) / n_terms,
        "entities_supported": float(support.entities_supported),
        "people_unsupported": float(support.names_unsupported_are_people),
        "absent_from_corpus": float(bool(support.absent_from_corpus)),
        "focus_missing": float(support.focus_missing),
        "semantic": evidence.semantic,
        "lexical": row[column["sent_lexical"]],
        "top_dense": max((p.dense_score for p in passages), default=0.0),
    }
    return np.asarray([values[name] for name in ANSWER_FEATURES], dtype=np.float64)
