"""The default answerer: a learned span reader and the rule features, voting on spans.

The reader (``qa.reader``) scores spans of the retrieved passages with probabilities that
are comparable across passages; the rules (:mod:`qa.answerer.rules`) score candidate spans by
answer type, syntax and support. Both are mapped to document offsets, merged where they overlap,
and mixed (or, with a fitted :class:`~qa.answerer.ranker.LearnedRanker`, ranked by it); the
support check (:mod:`qa.answerer.support`) then decides between answering and abstaining.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from index.corpus import CorpusIndex
from qa.answerer.citations import build_answer, span_offsets
from qa.answerer.features import answer_features, candidate_features, expected_f1, shortlist
from qa.answerer.ranker import LearnedRanker, softmax
from qa.answerer.rules import RuleAnswerer
from qa.answerer.support import Evidence, ranker_accepts
from qa.answerer.tidy import expand_to_entities
from qa.answerer.types import RankedCandidates, Reader, ScoredSpan, VotedSpan
from qa.models import Answer
from qa.retrieval import RetrievedPassage
from qa.units import conflicts, span_dimensions

# Mixture settings, chosen on half of the reader's held-out SQuAD articles (a grid over
# weight x temperature x threshold, see bench/hybrid_grid.py) and checked on the other half:
#: Weight of the reader's probability in the mixture (the rules get the rest).
READER_WEIGHT = 0.25
#: Temperature of the softmax that turns rule scores into probabilities.
RULE_TEMPERATURE = 0.5
#: Two spans are the same answer when their character overlap / union reaches this.
SAME_SPAN_IOU = 0.5


@dataclass(frozen=True)
class LearnedChoice:
    """What the learned ranker saw and picked for a question."""

    candidates: list[VotedSpan]
    rows: np.ndarray  # candidate features
    probabilities: np.ndarray  # ranker probabilities of the candidates
    best: int  # index of the pick
    span: ScoredSpan  # the pick, widened to whole entities
    answer_row: np.ndarray  # answer-model features of the pick
    confidence: float  # answer-model probability that the pick is right
    evidence: Evidence  # the rules' support check of the pick


@dataclass(frozen=True)
class Decision:
    """An answer (or a decline) and the span that was picked for it: ``(doc_id, start, end)``,
    also when the answer is declined; ``None`` when there was no candidate at all."""

    answer: Answer
    pick: tuple[str, int, int] | None


@dataclass(frozen=True)
class RankerCandidate:
    """One shortlisted candidate of a question as the learned ranker sees it (what ranker
    training records, and what :meth:`ExtractiveAnswerer.answer` ranks).

    Attributes:
        text: the span's text, widened to whole entities.
        features: its candidate-feature row.
        answer_features: the answer-model features it would have as the pick, with every
            candidate equally likely (training puts in the ranker's own probabilities).
        evidence: the rules' support check of it.
        rule_score: the rules' score of the span.
        mixed: its hand-set mixture of rule and reader probabilities.
        span: ``(doc_id, start, end)`` of the widened span.
    """

    text: str
    features: np.ndarray
    answer_features: np.ndarray
    evidence: Evidence
    rule_score: float
    mixed: float
    span: tuple[str, int, int]


def measures_another_dimension(span: ScoredSpan, asked: frozenset[str]) -> bool:
    """Whether ``span`` is a quantity of another dimension than the question measures ("1.7
    litres" for "What wattage is the kettle?"): never an answer, however well it fits otherwise."""
    if not asked:
        return False
    tokens = span.sentence.span.doc[span.candidate.start:span.candidate.end]
    return conflicts(asked, span_dimensions(tokens))


def overlap_ratio(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two character ranges."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


#: Reader candidates considered per question.
READER_CANDIDATES = 10


def reader_votes(output, passages: list[RetrievedPassage],
                 ranks: Sequence[int] | None = None) -> dict[tuple[str, int, int], tuple[float, int]]:
    """The reader's probability per document span, summed over the passages that hold it.

    Retrieved chunks overlap by a sentence, so one occurrence of an answer can be read twice;
    its probability mass is split between the copies and belongs together. ``ranks`` are the
    passages' retrieval ranks (default: 1, 2, ... in the order given).

    Returns:
        ``{(doc_id, start, end): (probability, best rank of a passage holding it)}``.
    """
    votes: dict[tuple[str, int, int], tuple[float, int]] = {}
    for candidate in output.candidates:
        chunk = passages[candidate.passage_index].chunk
        key = (chunk.doc_id, chunk.start + candidate.start, chunk.start + candidate.end)
        own = ranks[candidate.passage_index] if ranks is not None else candidate.passage_index + 1
        probability, rank = votes.get(key, (0.0, own))
        votes[key] = (min(1.0, probability + candidate.score), min(rank, own))
    return votes


def span_probability(output, passages: list[RetrievedPassage], doc_id: str, start: int, end: int) -> float:
    """The reader's probability of a document span, summed over the retrieved chunks that hold it."""
    total = 0.0
    for i, passage in enumerate(passages):
        chunk = passage.chunk
        if chunk.doc_id == doc_id and chunk.start <= start and end <= chunk.end:
            total += output.span_probability(i, start - chunk.start, end - chunk.start)
    return min(1.0, total)


def passages_to_read(ranked: RankedCandidates, passages: list[RetrievedPassage], count: int | None) -> list[int]:
    """Positions of the ``count`` passages (``None``: all) whose best sentence the rules scored
    highest (ties: the better retrieved), in retrieval order.

    The rules score every sentence of the retrieved passages before the reader runs, with the
    question's terms and the sentence vectors; their best sentence says more about where the
    answer is than the passage's own retrieval rank (held-out SQuAD: the first 3 passages hold the
    answer for 90.5 % of the questions, the 3 with the best sentences for 91.4 %).
    """
    if count is None or count >= len(passages):
        return list(range(len(passages)))
    best: dict[int, float] = {}
    for sentence in ranked.sentences:
        for position, passage in enumerate(passages):
            chunk = passage.chunk
            if chunk.doc_id == sentence.doc_id and chunk.first_sentence <= sentence.index <= chunk.last_sentence:
                best[position] = max(best.get(position, -math.inf), sentence.score)
    return sorted(sorted(range(len(passages)), key=lambda p: (-best.get(p, -math.inf), p))[:count])


class ExtractiveAnswerer:
    """Answers with the span that the reader and the rules together rate best.

    Args:
        rules: the rule answerer (also does the support check and builds the answer).
        reader: a :class:`~qa.answerer.types.Reader` (:class:`qa.reader.SpanReader`, loaded
            lazily), or ``None`` for rules only.
        reader_weight: mixture weight of the reader.
        rule_temperature: softmax temperature of rule scores.
        ranker: a fitted :class:`~qa.answerer.ranker.LearnedRanker`; when given it picks the span among
            the candidates in place of the hand-set mixture, and the answer is given only when
            both its answer model and the rules' support check accept the pick.
        reader_passages: the reader reads only this many of the passages, those whose best
            sentence the rules scored highest (:func:`passages_to_read`; ``None``: all); the
            rules read them all.
    """

    def __init__(self, rules: RuleAnswerer, reader: Reader | None = None, *, reader_weight: float = READER_WEIGHT,
                 rule_temperature: float = RULE_TEMPERATURE, ranker: LearnedRanker | None = None,
                 reader_passages: int | None = None) -> None:
        if not 0.0 <= reader_weight <= 1.0:
            raise ValueError("reader_weight must be in [0, 1]")
        if rule_temperature <= 0:
            raise ValueError("rule_temperature must be positive")
        if reader_passages is not None and reader_passages < 1:
            raise ValueError("reader_passages must be positive")
        self.rules = rules
        self.reader = reader
        self.reader_weight = reader_weight
        self.rule_temperature = rule_temperature
        self.ranker = ranker
        self.reader_passages = reader_passages

    def warm_up(self) -> None:
        self.rules.warm_up()
        if self.reader is not None:
            self.reader.warm_up()

    def read_and_vote(self, ranked: RankedCandidates, passages: list[RetrievedPassage],
                      index: CorpusIndex) -> tuple[list[VotedSpan], float]:
        """All candidate spans with their rule and reader probabilities, best mixture first, and
        the reader's no-answer probability (1.0 without a reader)."""
        probabilities = softmax([s.score for s in ranked.spans], self.rule_temperature).tolist()
        pool = []
        no_answer = 1.0
        for span, prob in zip(ranked.spans, probabilities):
            start, end = span_offsets(span)
            pool.append(VotedSpan(span, span.sentence.doc_id, start, end, prob))
        if self.reader is not None and ranked.corpus is not None:
            positions = passages_to_read(ranked, passages, self.reader_passages)
            read = [passages[p] for p in positions]
            output = self.reader.read(ranked.analysis.text, [p.chunk.text for p in read], top_n=READER_CANDIDATES)
            no_answer = output.no_answer_prob
            top_rule = max((s.score for s in ranked.spans), default=0.0)
            for (doc_id, start, end), (probability, first_rank) in reader_votes(output, read, [p + 1 for p in positions]).items():
                same = [v for v in pool if v.doc_id == doc_id and overlap_ratio((v.start, v.end), (start, end)) >= SAME_SPAN_IOU]
                for voted in same:
                    voted.reader_prob = max(voted.reader_prob, probability)
                if any(v.start == start and v.end == end for v in same):
                    continue
                # the reader's own boundaries stay a candidate beside the rule spans they overlap
                # the last sentence starting at or before the span (no copy of the document's starts)
                position = max(0, bisect_right(index.sentences[doc_id], (start, math.inf)) - 1)
                sentence = self.rules.sentence_at(ranked, index, doc_id, position, first_rank)
                scored = self.rules.score_span(ranked, sentence, start, end)
                if scored is None:
                    continue
                # a span the rules did not propose gets the rule probability its score would have had
                prob = probabilities[0] * math.exp((scored.score - top_rule) / self.rule_temperature) if probabilities else 0.0
                pool.append(VotedSpan(scored, doc_id, *span_offsets(scored), min(prob, 1.0), probability))
            for voted in pool:
                voted.reader_span_prob = span_probability(output, read, voted.doc_id, voted.start, voted.end)
            texts = [index.document(v.doc_id).text[v.start:v.end] for v in pool]
            answers = [(c.text, c.score) for c in output.candidates]
            for voted, value in zip(pool, expected_f1(texts, answers)):
                voted.reader_expected_f1 = value
        pool = [v for v in pool if not measures_another_dimension(v.span, ranked.analysis.dimensions)]
        pool.sort(key=lambda v: -v.mixed(self.reader_weight))
        return pool, no_answer

    def learned_choice(self, ranked: RankedCandidates, pool: list[VotedSpan], no_answer: float,
                       passages: list[RetrievedPassage]) -> LearnedChoice:
        """The learned ranker's pick among the shortlisted candidates, with its features."""
        candidates = shortlist(pool)
        rows = candidate_features(candidates, ranked)
        probabilities = self.ranker.rank(rows)
        best = int(np.argmax(probabilities))
        span = expand_to_entities(candidates[best].span, ranked.analysis)
        evidence = self.rules.evidence(ranked, span, agreement=float(probabilities[best]))
        answer_row = answer_features(best, probabilities, rows, evidence, no_answer, ranked, passages)
        return LearnedChoice(candidates, rows, probabilities, best, span, answer_row,
                             self.ranker.confidence(answer_row), evidence)

    def candidates(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> list[RankerCandidate]:
        """The shortlist :meth:`answer` gives the learned ranker for ``question``, with features."""
        ranked = self.rules.rank(question, passages, index)
        pool, no_answer = self.read_and_vote(ranked, passages, index)
        candidates = shortlist(pool)
        rows = candidate_features(candidates, ranked)
        uniform = np.full(len(candidates), 1.0 / max(len(candidates), 1))
        out = []
        for i, voted in enumerate(candidates):
            span = expand_to_entities(voted.span, ranked.analysis)
            start, end = span_offsets(span)
            evidence = self.rules.evidence(ranked, span)
            out.append(RankerCandidate(
                index.document(voted.doc_id).text[start:end], rows[i],
                answer_features(i, uniform, rows, evidence, no_answer, ranked, passages), evidence,
                voted.span.score, voted.mixed(self.reader_weight), (voted.doc_id, start, end)))
        return out

    def answer(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> Answer:
        """Answer ``question`` from ``passages`` (``found=False`` when the support check fails)."""
        return self.answer_ranked(self.rules.rank(question, passages, index), passages, index)

    def answer_ranked(self, ranked: RankedCandidates, passages: list[RetrievedPassage], index: CorpusIndex) -> Answer:
        """:meth:`answer` from the rules' ranking of the passages, which does not depend on the
        reader (:class:`~qa.answerer.cascade.CascadeAnswerer` computes it once for two readers)."""
        return self.decide_ranked(ranked, passages, index).answer

    def decide_ranked(self, ranked: RankedCandidates, passages: list[RetrievedPassage], index: CorpusIndex) -> Decision:
        """:meth:`answer_ranked`, with the span picked also when the answer is declined."""
        pool, no_answer = self.read_and_vote(ranked, passages, index)
        if not pool:
            return Decision(Answer.not_found(ranked.analysis.text), None)
        if self.ranker is not None:
            choice = self.learned_choice(ranked, pool, no_answer, passages)
            pick = (choice.span.sentence.doc_id, *span_offsets(choice.span))
            if not ranker_accepts(choice.confidence, choice.evidence.confidence,
                                  self.ranker.threshold, self.ranker.min_support):
                return Decision(Answer.not_found(ranked.analysis.text, round(choice.confidence, 4)), pick)
            return Decision(build_answer(ranked.analysis.text, choice.span, index, choice.confidence), pick)
        chosen = pool[0]
        span = expand_to_entities(chosen.span, ranked.analysis)
        pick = (span.sentence.doc_id, *span_offsets(span))
        return Decision(self.rules.decide(ranked, span, index, agreement=chosen.mixed(self.reader_weight)), pick)
