"""Two readers in a cascade: the fast one answers, the larger one reads what it is unsure of.

The fast reader's answer (or decline) stands when the answer model's confidence in it reaches
``below``. Otherwise the larger reader, with the ranker fitted to its scores, reads the same
passages (the rules' ranking of them does not depend on the reader, so it is computed once), and
its decision is the one given, with one exception: a question the fast reader declined is
answered only when the larger reader's answer overlaps the span the fast one picked and did not
trust. Two readers that settle on the same words independently are better evidence that an
answer is there than the larger reader alone, which answers many of the questions the documents
do not answer as well (docs/reader.md has the measurements).

Most questions stop at the fast reader, so the median question costs what it did.
"""

from __future__ import annotations

import logging

from index.corpus import CorpusIndex
from qa.answerer.extractive import ExtractiveAnswerer, RankerCandidate, overlap_ratio
from qa.models import Answer
from qa.reader.bases import BaseModelUnavailable
from qa.retrieval import RetrievedPassage

logger = logging.getLogger(__name__)


class CascadeAnswerer:
    """Answers with ``first``; when its confidence is under ``below``, with ``second``, except
    that what ``first`` declined ``second`` answers only at the place ``first`` picked.

    Args:
        first: the fast answerer (its reader and ranker).
        second: the larger answerer; it must share ``first``'s rule answerer, whose ranking of
            the passages both read.
        below: confidence under which ``first``'s answer (or decline) goes to ``second``.

    When ``second``'s reader cannot be loaded (its base model's packages damaged, no room to
    unpack them), the cascade says why once and answers with ``first`` alone from then on.
    """

    def __init__(self, first: ExtractiveAnswerer, second: ExtractiveAnswerer, below: float) -> None:
        if not 0.0 <= below <= 1.0:
            raise ValueError("below must be in [0, 1]")
        if first.rules is not second.rules:
            raise ValueError("the two answerers must share one rule answerer")
        self.first = first
        self.second = second
        self.below = below
        self.second_unavailable: str | None = None

    def warm_up(self) -> None:
        self.first.warm_up()
        if self.second.reader is not None:
            self._try_second(self.second.reader.warm_up)

    def answer(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> Answer:
        """Answer ``question`` from ``passages``: ``first``'s answer if it is sure enough, else ``second``'s."""
        ranked = self.first.rules.rank(question, passages, index)
        first = self.first.decide_ranked(ranked, passages, index)
        if first.answer.confidence >= self.below or self.second_unavailable is not None:
            return first.answer
        second = self._try_second(lambda: self.second.decide_ranked(ranked, passages, index))
        if second is None:
            return first.answer
        if not second.answer.found or first.answer.found or same_place(first.pick, second.pick):
            return second.answer
        return first.answer

    def _try_second(self, call):
        try:
            return call()
        except (BaseModelUnavailable, OSError) as exc:
            self.second_unavailable = str(exc)
            logger.warning("the larger reader cannot be loaded, answering with the first reader alone: %s", exc)
            return None

    def candidates(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> list[RankerCandidate]:
        """The first answerer's candidates (what its ranker is fitted on)."""
        return self.first.candidates(question, passages, index)


def same_place(a: tuple[str, int, int] | None, b: tuple[str, int, int] | None) -> bool:
    """Whether two picked spans ``(doc_id, start, end)`` share any characters."""
    return a is not None and b is not None and a[0] == b[0] and overlap_ratio(a[1:], b[1:]) > 0
