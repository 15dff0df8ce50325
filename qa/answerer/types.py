"""What the answerer's stages hand each other: one span type per stage, and the protocols of
the components a pipeline can be given.

A span goes through three stages, each with its own type:

* :class:`CandidateSpan`: a token range of a parsed sentence that might answer the question
  (:mod:`qa.answerer.candidates`); the learned reader's own proposals are
  :class:`qa.reader.ReaderSpan` (character offsets in a passage) until
  :mod:`qa.answerer.extractive` maps them onto a sentence;
* :class:`ScoredSpan`: a candidate with its sentence and its rule score
  (:mod:`qa.answerer.scoring`);
* :class:`VotedSpan`: a scored span at its document offsets, with the probability the rules and
  the reader each give it (:mod:`qa.answerer.extractive`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol, Sequence, runtime_checkable

from index.corpus import CorpusIndex
from qa.answerer.corpus import CorpusViews
from qa.models import Answer
from qa.question import QuestionAnalysis
from qa.retrieval import RetrievedPassage

if TYPE_CHECKING:  # pragma: no cover - the reader's module imports torch
    from qa.reader.reader import ReaderOutput


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved chunk and how well it matches the question.

    Attributes:
        doc_id: document id.
        index: position in the document's sentence list.
        start: character offset of the sentence in the document.
        end: end offset.
        offset: character offset of the parsed block the span belongs to.
        span: the parsed sentence (spaCy ``Span``).
        lexical: IDF-weighted fraction of question terms found in the sentence.
        semantic: cosine similarity of question and sentence embeddings (0 without embedder).
        rank: best retrieval rank of a chunk containing the sentence (1 = first).
        score: combined score.
    """

    doc_id: str
    index: int
    start: int
    end: int
    offset: int
    span: object
    lexical: float
    semantic: float
    rank: int
    score: float


@dataclass(frozen=True)
class CandidateSpan:
    """A span of a parsed sentence that might answer the question.

    Attributes:
        start: index of the first token in the block ``Doc``.
        end: index one past the last token.
        kind: how it was found: "entity", "noun", "prep", "clause", "adjective", "quote",
            "title", "appos", "predicate".
        head: index of its syntactic head token.
    """

    start: int
    end: int
    kind: str
    head: int


class CandidateParts(NamedTuple):
    """The terms of a candidate's rule score besides its type fit (features for a learned ranker)."""

    proximity: float  # closeness in the parse tree to the question's words in the sentence
    role: float  # syntactic role bonus for the answer type
    head_match: float  # the span's head is the question's head noun ("which city" / "the city of X")
    overlap: float  # fraction of the span's content words that the question already has
    length: float  # length prior (≤ 0)


@dataclass(frozen=True)
class ScoredSpan:
    """A candidate with its score and the sentence it comes from."""

    candidate: CandidateSpan
    sentence: ScoredSentence
    score: float
    fit: float
    parts: CandidateParts | None = None


@dataclass
class RankedCandidates:
    """What the rules ranked for a question: its analysis, its sentences and candidate spans, best first.

    Attributes:
        analysis: the analysed question.
        spans: the candidate spans of the best sentences, best rule score first.
        sentences: the scored sentences of the retrieved passages, best first (sentences scored
            later, for spans the reader proposed, are appended).
        corpus: the views of the index the passages come from (``None`` when nothing was retrieved).
    """

    analysis: QuestionAnalysis
    spans: list[ScoredSpan]
    sentences: list[ScoredSentence]
    corpus: CorpusViews | None


@dataclass
class VotedSpan:
    """A span with the probability each answerer gives it."""

    span: ScoredSpan
    doc_id: str
    start: int
    end: int
    rule_prob: float
    reader_prob: float = 0.0
    #: the reader's probability of exactly this span (any span, not only its own top candidates)
    reader_span_prob: float = 0.0
    #: this span's token F1 against the reader's answers, averaged with their probabilities
    reader_expected_f1: float = 0.0

    def mixed(self, reader_weight: float) -> float:
        return (1 - reader_weight) * self.rule_prob + reader_weight * self.reader_prob


@runtime_checkable
class Reader(Protocol):
    """A learned span reader (:class:`qa.reader.SpanReader`; tests use a scripted fake)."""

    def warm_up(self) -> object:
        """Load the model now."""

    def read(self, question: str, passages: Sequence[str], passage_scores: Sequence[float] | None = None,
             top_n: int | None = None) -> "ReaderOutput":
        """The best spans of ``passages`` for ``question``, with their probabilities."""


@runtime_checkable
class Answerer(Protocol):
    """Turns retrieved passages into an answer (:class:`qa.answerer.extractive.ExtractiveAnswerer`)."""

    def answer(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> Answer:
        """Answer ``question`` from ``passages`` of ``index`` (``found=False`` when they do not say)."""
