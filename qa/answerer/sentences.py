"""Sentence scoring: which sentences of the retrieved passages match the question, by
IDF-weighted term overlap, embedding similarity and retrieval rank."""

from __future__ import annotations

from functools import lru_cache
from itertools import islice
from typing import Sequence

from qa.answerer.corpus import CorpusStats
from qa.answerer.types import ScoredSentence
from qa.question import QuestionAnalysis, is_content, term_of

_DERIVING_SUFFIXES = ("s", "es", "n", "an", "ian", "ese", "ish", "i", "d", "ed", "ing", "al")


def terms_match(a: str, b: str) -> bool:
    """Whether two terms are the same word, allowing derived forms ("korea" / "korean")."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long_.startswith(short) and long_[len(short):] in _DERIVING_SUFFIXES


def question_forms(question: QuestionAnalysis) -> tuple[tuple[str, str], ...]:
    """``(lemma, surface word)`` of each of the question's content words."""
    words = question.content_words or question.content_lemmas
    return tuple(zip(question.content_lemmas, words))


@lru_cache(maxsize=1 << 16)
def _matched_lemmas(forms: tuple[tuple[str, str], ...], term: str, lower: str) -> frozenset[str]:
    """The lemmas of ``forms`` (question lemma, surface word) that a token with normalised
    ``term`` and lower-case text ``lower`` matches; memoised, since the same few hundred words
    are compared with the same question many times while one question is answered."""
    return frozenset(lemma for lemma, word in forms
                     if terms_match(lemma, term) or terms_match(word, lower) or terms_match(lemma, lower))


def token_matched_lemmas(token, forms: tuple[tuple[str, str], ...]) -> frozenset[str]:
    """The lemmas of ``forms`` that a spaCy token matches."""
    return _matched_lemmas(forms, term_of(token), token.lower_)


def matched_terms(question: QuestionAnalysis, tokens) -> set[str]:
    """The question's content lemmas that some token of ``tokens`` matches."""
    forms = question_forms(question)
    found: set[str] = set()
    for token in tokens:
        if is_content(token):
            found |= token_matched_lemmas(token, forms)
    return found


def is_anchor(token, question: QuestionAnalysis) -> bool:
    """Whether a sentence token matches one of the question's content words."""
    return is_content(token) and bool(token_matched_lemmas(token, question_forms(question)))


#: Subject (and possessive) pronouns through which a sentence goes on about what the one before named.
_REFERRING_PRONOUNS = {"he", "she", "it", "they", "his", "her", "its", "their"}
_SUBJECT_DEPS = {"nsubj", "nsubjpass", "poss"}
#: How far back a chain of sentences going on by pronoun is followed for the names it refers to.
MAX_ANTECEDENTS = 3


def refers_back(sentence) -> bool:
    """Whether a sentence goes on about something named before it: its subject, among its first
    words, is a pronoun ("She joined the club in 2011.")."""
    return any(t.lower_ in _REFERRING_PRONOUNS and t.dep_ in _SUBJECT_DEPS for t in islice(sentence, 4))


def referred_names(sentence, before: Sequence | None) -> list:
    """The names that ``sentence`` refers back to: when it refers back (:func:`refers_back`), all
    names of ``before``, the sentences before it that it may refer to (:func:`antecedents`), else
    none. Tokens of those sentences."""
    if not before or not refers_back(sentence):
        return []
    return [t for earlier in before for t in earlier if t.ent_type_ or t.pos_ == "PROPN"]


def antecedents(document_sentences: Sequence[tuple[int, object]], position: int) -> list:
    """The parsed sentences before sentence ``position`` of a document (its ``(offset, span)``
    rows) that it may refer back to by a pronoun, nearest first: the sentence before, and the one
    before that while the last taken goes on by pronoun itself ("Marta left for Karlskrona. She
    became a hydrographer. She marked ..."), at most :data:`MAX_ANTECEDENTS`; none for the first."""
    chain: list = []
    for before in range(position - 1, max(-1, position - 1 - MAX_ANTECEDENTS), -1):
        chain.append(document_sentences[before][1])
        if not refers_back(chain[-1]):
            break
    return chain


def lexical_overlap(question: QuestionAnalysis, tokens, stats: CorpusStats, previous=None) -> float:
    """IDF-weighted fraction of the question's content terms that occur among ``tokens`` (a
    sentence), or among the names before it that it refers back to (``previous``, its antecedent
    sentences: :func:`referred_names`)."""
    total = sum(stats.idf(t) for t in question.content_lemmas)
    if total <= 0:
        return 0.0
    matched = matched_terms(question, tokens) | matched_terms(question, referred_names(tokens, previous))
    return sum(stats.idf(t) for t in matched) / total


def combine_sentence_score(lexical: float, semantic: float, rank: int) -> float:
    """Score of a sentence from its lexical overlap, embedding similarity and retrieval rank."""
    return 0.55 * lexical + 0.45 * max(semantic, 0.0) + 0.05 / rank


def score_sentences(
    question: QuestionAnalysis,
    sentences: Sequence[tuple[str, int, int, int, int, object, int]],
    similarities: Sequence[float],
    stats: CorpusStats,
    previous: Sequence[object] | None = None,
) -> list[ScoredSentence]:
    """Rank candidate sentences for a question.

    Args:
        question: the analysed question.
        sentences: ``(doc_id, index, start, end, block offset, span, retrieval rank)`` per sentence.
        similarities: embedding similarity of each sentence to the question (same order).
        stats: corpus statistics for IDF.
        previous: the antecedent sentences of each (same order, :func:`referred_names`; ``None``
            where there are none).

    Returns:
        Scored sentences, best first.
    """
    scored = []
    before = previous if previous is not None else [None] * len(sentences)
    for (doc_id, i, start, end, offset, span, rank), semantic, prior in zip(sentences, similarities, before):
        lexical = lexical_overlap(question, span, stats, prior)
        scored.append(
            ScoredSentence(doc_id, i, start, end, offset, span, lexical, float(semantic), rank,
                           combine_sentence_score(lexical, float(semantic), rank))
        )
    return sorted(scored, key=lambda s: (-s.score, s.rank, s.doc_id, s.index))


def sentence_anchors(question: QuestionAnalysis, span) -> list:
    """Tokens of a sentence that match the question's content words."""
    return [t for t in span if is_anchor(t, question)]
