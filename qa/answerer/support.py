"""Support, calibration and abstention: whether the chosen sentence (and its neighbours) really
supports an answer, how confident that makes us, and when the answerer says "not found"."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from qa.answerer.corpus import CorpusStats
from qa.answerer.sentences import antecedents, matched_terms, referred_names, terms_match
from qa.answerer.types import RankedCandidates, ScoredSpan
from qa.question import STRICT_TYPES, QuestionAnalysis

#: The rule answerer's default abstention threshold on :func:`calibrate_confidence`.
DEFAULT_MIN_CONFIDENCE = 0.35
_NEIGHBOUR_WEIGHT = 0.6


@dataclass(frozen=True)
class Support:
    """How well the chosen sentence and its neighbours support the question.

    Attributes:
        coverage: IDF-weighted fraction of the question's terms found (neighbours count less).
        missing: question terms found neither in the sentence nor in its neighbours.
        absent_from_corpus: question names or entities that occur nowhere in the corpus.
        entities_supported: whether every question entity appears in the sentence or a neighbour.
        names_unsupported_are_people: whether an unsupported entity is a person's name.
        focus_missing: the question's main verb is found neither in the sentence nor its neighbours.
    """

    coverage: float
    missing: tuple[str, ...]
    absent_from_corpus: tuple[str, ...]
    entities_supported: bool
    names_unsupported_are_people: bool = False
    focus_missing: bool = False


def check_support(
    question: QuestionAnalysis, sentence, neighbours: Sequence[object], stats: CorpusStats, *, previous=None
) -> Support:
    """Check that a sentence (with its neighbours) supports the question's terms and entities.

    Args:
        question: the analysed question.
        sentence: the parsed answer sentence.
        neighbours: parsed sentences right before and after it.
        stats: corpus statistics.
        previous: the sentences before it that it may refer back to (:func:`antecedents`), whose
            names count as the sentence's own when it refers back by a pronoun (:func:`referred_names`).
    """
    terms = list(question.content_lemmas)
    referred = referred_names(sentence, previous)
    in_sentence = matched_terms(question, sentence) | matched_terms(question, referred)
    near = set()
    for other in neighbours:
        near |= matched_terms(question, other)
    total = sum(stats.idf(t) for t in terms)
    got = sum(stats.idf(t) * (1.0 if t in in_sentence else _NEIGHBOUR_WEIGHT) for t in in_sentence | near)
    coverage = got / total if total > 0 else 0.0
    missing = tuple(t for t in terms if t not in in_sentence and t not in near)
    names = list(question.entities) + [t for t in question.proper_terms
                                       if not any(t in e.lower() for e in question.entities)]
    absent = tuple(n for n in names if not stats.contains(n) and not stats.contains(n.removesuffix("'s")))
    window_text = " ".join([sentence.text] + [s.text for s in neighbours] + [t.text for t in referred]).lower()
    def supported(name: str) -> bool:
        name = name.lower().removesuffix("'s")
        return name in window_text or any(terms_match(w, t) for w in name.split() for t in window_text.split())

    unsupported = [n for n in names if not supported(n)]
    people = {e.lower() for e in question.people}
    focus_missing = question.focus_verb is not None and not question.wants_wording and question.focus_verb in missing
    return Support(coverage, missing, absent, not unsupported,
                   any(n.lower() in people for n in unsupported), focus_missing)


def calibrate_confidence(support: Support, semantic: float, fit: float, margin: float) -> float:
    """Map the evidence for an answer to a confidence in [0, 1].

    Lexical coverage and embedding similarity are alternative routes to support: a paraphrase
    shares few words with its sentence but is close to it in embedding space.

    Args:
        support: the support check of the answer sentence.
        semantic: embedding similarity of the answer sentence to the question.
        fit: type score of the chosen span.
        margin: score gap to the best different answer of another sentence (≥ 0).
    """
    if support.absent_from_corpus or fit <= 0.0:
        return 0.0
    paraphrase = min(1.0, max(0.0, (semantic - 0.3) / 0.4))
    evidence = 0.5 * max(support.coverage, paraphrase) + 0.25 * max(semantic, 0.0) + 0.25 * fit \
        + 0.1 * min(margin, 1.0)
    if not support.entities_supported:
        evidence -= 0.25 if support.names_unsupported_are_people else 0.1
    if support.focus_missing and semantic < 0.5:
        # The question's own verb is nowhere near, and the sentence is not a close paraphrase.
        evidence -= 0.3
    if semantic < 0.25:
        evidence -= 0.15
    # A logistic squash centred where answers start to be right more often than not.
    return float(1.0 / (1.0 + math.exp(-8.0 * (evidence - 0.55))))


@dataclass(frozen=True)
class Evidence:
    """The support check of one candidate answer.

    Attributes:
        support: which question terms and names its sentence and neighbours hold.
        semantic: embedding similarity of its sentence to the question.
        fit: its answer-type score (0 for a strict type it does not fit).
        margin: score gap to the best rival answer, or the reader's agreement if larger.
        confidence: the hand-calibrated confidence (:func:`calibrate_confidence`).
    """

    support: Support
    semantic: float
    fit: float
    margin: float
    confidence: float


def weigh_evidence(ranked: RankedCandidates, chosen: ScoredSpan, *, has_embedder: bool,
                   agreement: float = 0.0) -> Evidence:
    """Support check of ``chosen``: what its sentence and neighbours say for the question.

    Args:
        ranked: the question's ranked candidates (``ranked.corpus`` must be set).
        chosen: the span to answer with (the best of the ranking, or one a reader picked).
        has_embedder: whether sentence similarities were computed; without them lexical
            overlap stands in for similarity.
        agreement: in [0, 1], how strongly an independent reader backs the same span; it
            stands in for the score margin over rival answers.
    """
    analysis, best, corpus = ranked.analysis, ranked.spans, ranked.corpus
    chosen_text = chosen.sentence.span.doc[chosen.candidate.start : chosen.candidate.end].text.lower()
    rival = next((s for s in best if s is not chosen and (s.sentence.index != chosen.sentence.index
                                                          or s.sentence.doc_id != chosen.sentence.doc_id)
                  and s.sentence.span.doc[s.candidate.start : s.candidate.end].text.lower() not in chosen_text
                  and chosen_text not in s.sentence.span.doc[s.candidate.start : s.candidate.end].text.lower()),
                 None)
    margin = chosen.score - rival.score if rival is not None else 1.0
    margin = max(margin, agreement)

    sentence = chosen.sentence
    doc_spans = corpus.spans[sentence.doc_id]
    neighbours = [doc_spans[j][1] for j in (sentence.index - 1, sentence.index + 1) if 0 <= j < len(doc_spans)]
    support = check_support(analysis, sentence.span, neighbours, corpus.stats,
                            previous=antecedents(doc_spans, sentence.index))
    fit = chosen.fit
    if analysis.answer_type in STRICT_TYPES and fit < 0.5:
        fit = 0.0
    semantic = sentence.semantic if has_embedder else sentence.lexical
    return Evidence(support, semantic, fit, margin, calibrate_confidence(support, semantic, fit, margin))


def rules_accept(evidence: Evidence, min_confidence: float) -> bool:
    """Whether the rule answerer answers with a span of this evidence (else it abstains)."""
    return not evidence.confidence < min_confidence


def ranker_accepts(answer_confidence: float, support_confidence: float, threshold: float, min_support: float) -> bool:
    """Whether the learned ranker's pick is given as the answer: its answer model's probability
    reaches ``threshold`` and the rules' support confidence of it reaches ``min_support``."""
    return support_confidence >= min_support and not answer_confidence < threshold
