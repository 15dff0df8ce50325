"""The default answerer: a learned span reader and the rule features, voting on spans.

The reader (``qa.reader``) scores spans of the retrieved passages with probabilities that
are comparable across passages; the rules (``qa.answerer``) score candidate spans by answer
type, syntax and support. Both are mapped to document offsets, merged where they overlap,
and mixed; the rules' support check then decides between answering and abstaining.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

from index.store import CorpusIndex
from qa.answerer import Ranking, RuleAnswerer, ScoredSpan
from qa.models import Answer
from qa.retrieval import RetrievedPassage

# Mixture settings, chosen on half of the reader's held-out SQuAD articles (a grid over
# weight x temperature x threshold, see bench/hybrid_grid.py) and checked on the other half:
#: Weight of the reader's probability in the mixture (the rules get the rest).
READER_WEIGHT = 0.25
#: Temperature of the softmax that turns rule scores into probabilities.
RULE_TEMPERATURE = 0.5
#: Two spans are the same answer when their character overlap / union reaches this.
SAME_SPAN_IOU = 0.5


@dataclass
class VotedSpan:
    """A span with the probability each answerer gives it."""

    span: ScoredSpan
    doc_id: str
    start: int
    end: int
    rule_prob: float
    reader_prob: float = 0.0

    def mixed(self, reader_weight: float) -> float:
        return (1 - reader_weight) * self.rule_prob + reader_weight * self.reader_prob


def span_offsets(span: ScoredSpan) -> tuple[int, int]:
    """Document character offsets of a scored span."""
    doc = span.sentence.span.doc
    tokens = doc[span.candidate.start : span.candidate.end]
    return span.sentence.offset + tokens.start_char, span.sentence.offset + tokens.end_char


def overlap_ratio(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two character ranges."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


#: Reader candidates considered per question.
READER_CANDIDATES = 10


def reader_votes(output, passages: list[RetrievedPassage]) -> dict[tuple[str, int, int], tuple[float, int]]:
    """The reader's probability per document span, summed over the passages that hold it.

    Retrieved chunks overlap by a sentence, so one occurrence of an answer can be read twice;
    its probability mass is split between the copies and belongs together.

    Returns:
        ``{(doc_id, start, end): (probability, best rank of a passage holding it)}``.
    """
    votes: dict[tuple[str, int, int], tuple[float, int]] = {}
    for candidate in output.candidates:
        chunk = passages[candidate.passage_index].chunk
        key = (chunk.doc_id, chunk.start + candidate.start, chunk.start + candidate.end)
        probability, rank = votes.get(key, (0.0, candidate.passage_index + 1))
        votes[key] = (min(1.0, probability + candidate.score), min(rank, candidate.passage_index + 1))
    return votes


def softmax(scores: list[float], temperature: float) -> list[float]:
    if not scores:
        return []
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


class HybridAnswerer:
    """Answers with the span that the reader and the rules together rate best.

    Args:
        rules: the rule answerer (also does the support check and builds the answer).
        reader: a :class:`qa.reader.reader.SpanReader` (loaded lazily), or ``None`` for rules only.
        reader_weight: mixture weight of the reader.
        rule_temperature: softmax temperature of rule scores.
    """

    def __init__(self, rules: RuleAnswerer, reader=None, *, reader_weight: float = READER_WEIGHT,
                 rule_temperature: float = RULE_TEMPERATURE) -> None:
        if not 0.0 <= reader_weight <= 1.0:
            raise ValueError("reader_weight must be in [0, 1]")
        if rule_temperature <= 0:
            raise ValueError("rule_temperature must be positive")
        self.rules = rules
        self.reader = reader
        self.reader_weight = reader_weight
        self.rule_temperature = rule_temperature

    def warm_up(self, index: CorpusIndex | None = None) -> None:
        self.rules.warm_up(index)
        if self.reader is not None:
            self.reader.warm_up()

    def vote(self, ranking: Ranking, passages: list[RetrievedPassage], index: CorpusIndex) -> list[VotedSpan]:
        """All candidate spans with their rule and reader probabilities, best mixture first."""
        probabilities = softmax([s.score for s in ranking.spans], self.rule_temperature)
        pool = []
        for span, prob in zip(ranking.spans, probabilities):
            start, end = span_offsets(span)
            pool.append(VotedSpan(span, span.sentence.doc_id, start, end, prob))
        if self.reader is not None and ranking.cache is not None:
            output = self.reader.read(ranking.analysis.text, [p.chunk.text for p in passages], top_n=READER_CANDIDATES)
            top_rule = max((s.score for s in ranking.spans), default=0.0)
            for (doc_id, start, end), (probability, first_rank) in reader_votes(output, passages).items():
                same = [v for v in pool if v.doc_id == doc_id and overlap_ratio((v.start, v.end), (start, end)) >= SAME_SPAN_IOU]
                if same:
                    for voted in same:
                        voted.reader_prob = max(voted.reader_prob, probability)
                    continue
                starts = [s for s, _ in index.sentences[doc_id]]
                position = max(0, bisect_right(starts, start) - 1)
                sentence = self.rules.sentence_at(ranking, index, doc_id, position, first_rank)
                scored = self.rules.score_span(ranking, sentence, start, end)
                if scored is None:
                    continue
                # a span the rules did not propose gets the rule probability its score would have had
                prob = probabilities[0] * math.exp((scored.score - top_rule) / self.rule_temperature) if probabilities else 0.0
                pool.append(VotedSpan(scored, doc_id, *span_offsets(scored), min(prob, 1.0), probability))
        pool.sort(key=lambda v: -v.mixed(self.reader_weight))
        return pool

    def answer(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> Answer:
        """Answer ``question`` from ``passages`` (``found=False`` when the support check fails)."""
        ranking = self.rules.rank(question, passages, index)
        pool = self.vote(ranking, passages, index)
        if not pool:
            return Answer.not_found(ranking.analysis.text)
        chosen = pool[0]
        span = self.rules.expand_to_entities(chosen.span)
        return self.rules.decide(ranking, span, index, agreement=chosen.mixed(self.reader_weight))
