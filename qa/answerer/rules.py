"""The rule answerer: ranks the sentences of the retrieved passages and the candidate spans of
the best ones, and answers with the best span its support check accepts.

1. :func:`~qa.answerer.sentences.score_sentences` ranks sentences by IDF-weighted term overlap
   with the question, embedding similarity and retrieval rank.
2. :func:`~qa.answerer.candidates.generate_candidates` proposes spans of a sentence.
3. :func:`~qa.answerer.scoring.score_span` scores a span for the question.
4. :func:`~qa.answerer.support.weigh_evidence` decides whether the chosen sentence (and its
   neighbours) really supports an answer, with a confidence in [0, 1].

The extractive answerer (:mod:`qa.answerer.extractive`) reuses the same ranking, scores the
reader's spans with the same rules and abstains by the same support check.
"""

from __future__ import annotations

from index.analysis import SpacyAnalyzer
from index.corpus import CorpusIndex
from index.embedding import Embedder
from qa.answerer.candidates import generate_candidates
from qa.answerer.citations import build_answer
from qa.answerer.corpus import CorpusViews, sentence_similarities
from qa.answerer.scoring import score_span
from qa.answerer.sentences import antecedents, lexical_overlap, score_sentences, sentence_anchors
from qa.answerer.support import DEFAULT_MIN_CONFIDENCE, Evidence, rules_accept, weigh_evidence
from qa.answerer.tidy import expand_to_entities, tidy_span
from qa.answerer.types import CandidateSpan, RankedCandidates, ScoredSentence, ScoredSpan
from qa.errors import InvalidQuestion
from qa.models import Answer
from qa.question import analyze_question
from qa.retrieval import RetrievedPassage

#: Sentences of the retrieved chunks whose candidates are considered.
MAX_SENTENCES = 6
#: At most this many sentences are embedded per question (the rest are cached from earlier ones).
MAX_EMBEDDED_SENTENCES = 12


class RuleAnswerer:
    """Extracts a short verbatim answer from retrieved passages, or abstains.

    Args:
        analyzer: the spaCy analyser the index was built with (parses the question; its
            vocabulary decodes the parsed passages).
        embedder: sentence embedder for question–sentence similarity; ``None`` uses lexical
            evidence only.
        min_confidence: answers below this confidence are reported as not found.
        max_sentences: how many of the best sentences are searched for candidates.
    """

    def __init__(
        self,
        analyzer: SpacyAnalyzer,
        embedder: Embedder | None = None,
        *,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        max_sentences: int = MAX_SENTENCES,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be in [0, 1]")
        if max_sentences < 1:
            raise ValueError("max_sentences must be positive")
        self.analyzer = analyzer
        self.embedder = embedder
        self.min_confidence = min_confidence
        self.max_sentences = max_sentences
        self._views: dict[int, tuple[CorpusIndex, CorpusViews]] = {}

    #: Kept as a method too, for the callers that hold only the rule answerer.
    expand_to_entities = staticmethod(expand_to_entities)

    def _corpus(self, index: CorpusIndex) -> CorpusViews:
        entry = self._views.get(id(index))
        if entry is not None and entry[0] is index:
            return entry[1]
        views = CorpusViews.of(index, self.analyzer)
        self._views = {id(index): (index, views)}  # one index at a time is plenty
        return views

    def warm_up(self) -> None:
        """Load the spaCy model now (sentence vectors come with the index: nothing to embed)."""
        _ = self.analyzer.nlp

    def answer(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> Answer:
        """Answer ``question`` from ``passages`` of ``index``.

        Raises:
            InvalidQuestion: the question has no words.
        """
        ranked = self.rank(question, passages, index)
        if not ranked.spans:
            return Answer.not_found(ranked.analysis.text)
        return self.decide(ranked, tidy_span(ranked.spans[0], ranked.analysis), index)

    def rank(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> RankedCandidates:
        """Score the sentences of ``passages`` and the candidate spans of the best ones.

        Raises:
            InvalidQuestion: the question has no words.
        """
        if not question or not any(ch.isalnum() for ch in question):
            raise InvalidQuestion("the question is empty")
        analysis = analyze_question(self.analyzer(question.strip()))
        if not passages:
            return RankedCandidates(analysis, [], [], None)
        corpus = self._corpus(index)
        rows = []
        seen = set()
        for rank, passage in enumerate(passages, start=1):
            chunk = passage.chunk
            doc_spans = corpus.spans.get(chunk.doc_id, [])
            sentences = index.sentences.get(chunk.doc_id, [])
            for i in range(chunk.first_sentence, min(chunk.last_sentence + 1, len(doc_spans))):
                if (chunk.doc_id, i) in seen:
                    continue
                seen.add((chunk.doc_id, i))
                offset, span = doc_spans[i]
                start, end = sentences[i]
                rows.append((chunk.doc_id, i, start, end, offset, span, rank))
        if not rows:
            return RankedCandidates(analysis, [], [], corpus)
        before = {id(r): antecedents(corpus.spans[r[0]], r[1]) for r in rows}
        if len(rows) > MAX_EMBEDDED_SENTENCES:
            # Embedding is the costly step: keep the sentences with the most lexical evidence,
            # counted as the full scoring counts it (a pronoun sentence with the names before it).
            lexical = {id(r): lexical_overlap(analysis, r[5], corpus.stats, before[id(r)]) + 0.2 / r[6] for r in rows}
            rows = sorted(rows, key=lambda r: -lexical[id(r)])[:MAX_EMBEDDED_SENTENCES]
        similarities = sentence_similarities(self.embedder, corpus, analysis.text, [(r[0], r[1]) for r in rows])
        previous = [before[id(r)] for r in rows]
        scored_sentences = score_sentences(analysis, rows, similarities, corpus.stats, previous)

        best: list[ScoredSpan] = []
        for sentence in scored_sentences[: self.max_sentences]:
            anchors = sentence_anchors(analysis, sentence.span)
            for candidate in generate_candidates(sentence.span, analysis):
                scored = score_span(analysis, candidate, sentence, anchors)
                if scored is not None:
                    best.append(scored)
        best.sort(key=lambda s: -s.score)
        return RankedCandidates(analysis, best, scored_sentences, corpus)

    def evidence(self, ranked: RankedCandidates, chosen: ScoredSpan, *, agreement: float = 0.0) -> Evidence:
        """Support check of ``chosen`` (:func:`~qa.answerer.support.weigh_evidence`)."""
        return weigh_evidence(ranked, chosen, has_embedder=self.embedder is not None, agreement=agreement)

    def decide(self, ranked: RankedCandidates, chosen: ScoredSpan, index: CorpusIndex, *,
               agreement: float = 0.0) -> Answer:
        """Check the support of ``chosen`` and turn it into an answer, or abstain.

        Args:
            ranked: what :meth:`rank` returned for the question.
            chosen: the span to answer with (the best of the ranking, or one a reader picked).
            index: the index the passages come from.
            agreement: see :func:`~qa.answerer.support.weigh_evidence`.
        """
        evidence = self.evidence(ranked, chosen, agreement=agreement)
        if not rules_accept(evidence, self.min_confidence):
            return Answer.not_found(ranked.analysis.text, evidence.confidence)
        return build_answer(ranked.analysis.text, chosen, index, evidence.confidence)

    def sentence_at(self, ranked: RankedCandidates, index: CorpusIndex, doc_id: str, position: int,
                    rank: int) -> ScoredSentence:
        """The scored sentence ``position`` of ``doc_id``, scoring it now if :meth:`rank` did not."""
        for sentence in ranked.sentences:
            if sentence.doc_id == doc_id and sentence.index == position:
                return sentence
        corpus = ranked.corpus
        offset, span = corpus.spans[doc_id][position]
        start, end = index.sentences[doc_id][position]
        similarity = sentence_similarities(self.embedder, corpus, ranked.analysis.text, [(doc_id, position)])
        scored = score_sentences(ranked.analysis, [(doc_id, position, start, end, offset, span, rank)], similarity,
                                 corpus.stats, [antecedents(corpus.spans[doc_id], position)])[0]
        ranked.sentences.append(scored)
        return scored

    def score_span(self, ranked: RankedCandidates, sentence: ScoredSentence, char_start: int,
                   char_end: int) -> ScoredSpan | None:
        """Score an arbitrary span of a sentence (given in document offsets) with the rule features.

        A span that runs on into the next sentence is cut at the end of this one: an answer is
        quoted from one sentence. Returns ``None`` when the offsets do not fall on tokens of the
        sentence, or the span only repeats the question.
        """
        doc = sentence.span.doc
        char_end = min(char_end, sentence.end)
        span = doc.char_span(char_start - sentence.offset, char_end - sentence.offset, alignment_mode="expand")
        while span is not None and len(span) and span[-1].is_punct and span[-1].i >= sentence.span.end - 1:
            span = span[:-1]  # the sentence's final stop, left when the span was cut there
        if span is None or len(span) == 0:
            return None
        candidate = CandidateSpan(span.start, span.end, "reader", span.root.i)
        return score_span(ranked.analysis, candidate, sentence, sentence_anchors(ranked.analysis, sentence.span))
