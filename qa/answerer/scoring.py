"""Span scoring: how well a candidate span answers the question, from its fit to the expected
answer type, its closeness in the parse tree to the question's words, its syntactic role and
its length. Pure functions of the analysed question and spaCy tokens."""

from __future__ import annotations

import math
import re
from typing import Callable, NamedTuple, Sequence

from qa.answerer.sentences import question_forms, terms_match, token_matched_lemmas
from qa.answerer.types import CandidateParts, CandidateSpan, ScoredSentence, ScoredSpan
from qa.question import (
    DATE,
    DESCRIPTION,
    LOCATION,
    MANNER,
    NUMBER,
    ORGANIZATION,
    PERSON,
    POSSESSOR,
    REASON,
    STRICT_TYPES,
    THING,
    QuestionAnalysis,
    is_content,
    is_person_noun,
    term_of,
)

_REASON_MARKERS = {"because", "since", "as", "so", "due", "in order", "for"}
#: Weight of the sentence's own score in the score of a span of it.
SENTENCE_WEIGHT = 1.6


def tree_distance(a, b, limit: int = 8) -> int:
    """Number of dependency edges between two tokens of the same sentence (``limit`` if farther)."""
    # spaCy makes a new Token object on each access: compare positions, never identity.
    ancestors_a = {a.i: 0}
    node, d = a, 0
    while node.head.i != node.i and d < limit:
        node, d = node.head, d + 1
        ancestors_a[node.i] = d
    node, d = b, 0
    while True:
        if node.i in ancestors_a:
            return min(limit, d + ancestors_a[node.i])
        if node.head.i == node.i or d >= limit:
            return limit
        node, d = node.head, d + 1


_ROLE_DEPS = {
    "nsubj": {"nsubj", "agent"},
    "nsubjpass": {"nsubjpass", "nsubj", "dobj"},
    "dobj": {"dobj", "attr", "xcomp", "ccomp", "oprd", "nsubjpass", "acomp", "dative", "pobj"},
    "attr": {"attr", "nsubj", "dobj", "acomp", "xcomp", "ccomp", "advcl"},
    "pobj": {"pobj", "dative", "acl", "ccomp", "dobj"},
    "poss": {"poss", "compound", "amod", "pobj"},
    "det": {"dobj", "nsubj", "attr", "pobj"},
    "advmod": {"prep", "npadvmod", "advmod", "advcl", "agent"},
}


def role_score(question: QuestionAnalysis, candidate: CandidateSpan, tokens, anchors) -> float:
    """Bonus for a span that fills, next to the question's matched words, the role of the wh-phrase.

    The span's governor (the verb or noun it depends on, looking through a preposition) must be
    a matched word or have a matched dependent, and the span's relation must fit the wh-phrase's
    role: subject for "who did", object or complement for "what did", adverbial for "where/when".
    """
    if not anchors or question.wh_role is None:
        return 0.0
    doc = tokens.doc
    head = doc[candidate.head]
    dep = head.dep_
    governor = head.head
    if dep == "appos":
        # "An aide, Jane Roe, said ...": the name takes the role of the noun it renames.
        dep, governor = governor.dep_, governor.head
    if candidate.kind == "prep":
        dep = "prep"
    elif dep == "pobj" and governor.dep_ in {"prep", "agent"}:
        dep = "agent" if governor.dep_ == "agent" or governor.lower_ == "by" else "pobj"
        if question.wh_role == "advmod" and governor.dep_ == "prep":
            dep = "prep"  # "in March" answers "when" as well as "March" does
        governor = governor.head
    anchor_ids = {a.i for a in anchors}
    attached = governor.i in anchor_ids or any(c.i in anchor_ids for c in governor.children)
    if not attached:
        return 0.0
    wanted = _ROLE_DEPS.get(question.wh_role, set())
    if dep not in wanted:
        return 0.0
    on_focus = question.focus_verb is not None and governor.i in anchor_ids and \
        terms_match(term_of(governor), question.focus_verb)
    if not on_focus:
        return 0.3
    # An adverbial of the question's own verb is what "where/when/how did X <verb>" asks for.
    return 0.85 if question.wh_role == "advmod" else 0.6


#: Nouns that measure a length of time.
_TIME_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year", "decade", "century"})


def is_duration_modifier(tokens) -> bool:
    """Whether a span is a length of time that describes a thing ("four-year" of "a four-year
    war", "10-day" of "the 10-day festival"): an attribute, not a point in time."""
    root = tokens.root
    return (root.lemma_.lower() in _TIME_UNITS and root.dep_ in {"compound", "amod", "nmod"}
            and not tokens.start <= root.head.i < tokens.end and root.head.pos_ in {"NOUN", "PROPN"}
            and any(child.dep_ == "nummod" or child.like_num for child in root.children))


class SpanView(NamedTuple):
    """What the type fits look at in a span: its tokens, how it was found, its head token, the
    entity labels of its tokens and the share of its tokens whose label the question asks for."""

    tokens: object
    kind: str
    head: object
    ents: list[str]
    share: float


def _description_fit(question: QuestionAnalysis, span: SpanView) -> float:
    return {"title": 1.0, "appos": 1.0, "predicate": 0.7}.get(span.kind, 0.0)


def _person_fit(question: QuestionAnalysis, span: SpanView) -> float:
    head = span.head
    persons = sum(1 for label in span.ents if label == "PERSON") / len(span.tokens)
    if persons >= 0.5:
        return 0.7 + 0.3 * persons
    if span.share >= 0.5:
        return 0.6
    if head.pos_ == "PROPN":
        return 0.5
    if head.pos_ == "NOUN" and is_person_noun(head.lemma_.lower()):
        return 0.35
    if head.pos_ == "PRON" and head.lower_ in {"they", "he", "she", "them", "him", "her"}:
        return 0.2
    return 0.3 if span.kind in {"noun", "entity"} else 0.0


def _strict_fit(question: QuestionAnalysis, span: SpanView) -> float:
    tokens, head, share = span.tokens, span.head, span.share
    if question.answer_type == DATE and is_duration_modifier(tokens):
        return 0.0  # "four-year" of "a four-year war" says how long, never when
    if question.answer_type == NUMBER and head.pos_ == "NOUN" and any(t.like_num and t.head.i == head.i for t in tokens) \
            and share > 0:
        return 1.0  # the amount with its unit: "40 million euros"
    if share >= 0.5:
        return 0.7 + 0.3 * share
    if share > 0:
        return 0.5 + 0.2 * share
    if question.answer_type == NUMBER and any(t.like_num for t in tokens):
        return 0.6
    return 0.0


def _location_fit(question: QuestionAnalysis, span: SpanView) -> float:
    kind = span.kind
    places = sum(1 for label in span.ents if label in {"GPE", "LOC", "FAC"}) / len(span.tokens)
    if places > 0:
        base = 0.6 + 0.4 * places
        return base if kind != "prep" else min(1.0, base + 0.05)
    if span.share > 0:
        return 0.45
    if kind == "prep" and span.head.lower_ in {"in", "at", "on", "near", "from", "to", "inside", "outside"}:
        return 0.45
    return 0.1 if kind == "noun" else 0.0


def _organization_fit(question: QuestionAnalysis, span: SpanView) -> float:
    if span.share > 0:
        return 0.6 + 0.4 * span.share
    return 0.3 if span.head.pos_ == "PROPN" else (0.15 if span.kind == "noun" else 0.0)


def _possessor_fit(question: QuestionAnalysis, span: SpanView) -> float:
    tokens = span.tokens
    if question.head_noun and any(t.dep_ == "poss" and term_of(t.head) == question.head_noun for t in tokens):
        return 1.0  # "whose position" → "our position"
    if any(t.dep_ == "poss" for t in tokens):
        return 0.6
    if span.share > 0:
        return 0.6
    return 0.2 if span.kind == "noun" else 0.0


def _reason_fit(question: QuestionAnalysis, span: SpanView) -> float:
    kind = span.kind
    first = span.tokens[0].lower_
    if kind in {"clause", "prep"} and (first in _REASON_MARKERS or first == "to" or
                                        (first == "so" and len(span.tokens) > 1)):
        return 1.0
    return 0.3 if kind == "clause" else 0.0


def _manner_fit(question: QuestionAnalysis, span: SpanView) -> float:
    kind = span.kind
    if question.wants_wording:
        return {"quote": 1.0, "adjective": 0.85, "noun": 0.2}.get(kind, 0.05)
    if kind == "prep" and span.tokens[0].lower_ in {"by", "with", "through", "via"}:
        return 0.9
    return {"adjective": 0.6, "quote": 0.5, "clause": 0.4}.get(kind, 0.05)


def _thing_fit(question: QuestionAnalysis, span: SpanView) -> float:
    kind = span.kind
    if question.wants_wording:
        return {"quote": 1.0, "adjective": 0.8}.get(kind, 0.2)
    if kind in {"noun", "entity"}:
        # Dates and amounts answer "when" and "how many", rarely "what".
        if span.ents and all(label in {"DATE", "TIME", "CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY"}
                             for label in span.ents):
            return 0.2
        if span.head.dep_ == "compound":
            return 0.3  # a modifier cut from its noun phrase
        return 0.55
    return {"quote": 0.5, "clause": 0.4, "adjective": 0.15}.get(kind, 0.1)


#: The type fit of each answer type; any other type is fitted as a thing (what / which).
_TYPE_FITS: dict[str, Callable[[QuestionAnalysis, SpanView], float]] = {
    DESCRIPTION: _description_fit,
    PERSON: _person_fit,
    **{answer_type: _strict_fit for answer_type in STRICT_TYPES},
    LOCATION: _location_fit,
    ORGANIZATION: _organization_fit,
    POSSESSOR: _possessor_fit,
    REASON: _reason_fit,
    MANNER: _manner_fit,
    THING: _thing_fit,
}


def type_score(question: QuestionAnalysis, tokens, candidate: CandidateSpan) -> float:
    """How well a span fits the expected answer type, in [0, 1]."""
    ents = [t.ent_type_ for t in tokens if t.ent_type_]
    share = (sum(1 for label in ents if label in question.labels) / len(tokens)) if question.labels else 0.0
    span = SpanView(tokens, candidate.kind, tokens.doc[candidate.head], ents, share)
    return _TYPE_FITS.get(question.answer_type, _thing_fit)(question, span)


def question_overlap(question: QuestionAnalysis, tokens) -> float:
    """Fraction of a span's content words that already appear in the question."""
    words = [t for t in tokens if is_content(t)]
    if not words:
        return 1.0 if all(t.is_punct or t.is_stop for t in tokens) else 0.0
    forms = question_forms(question) + tuple((t, t) for t in question.proper_terms)
    hits = 0
    for token in words:
        if question.head_noun and term_of(token) == question.head_noun:
            continue
        if token_matched_lemmas(token, forms):
            hits += 1
    return hits / len(words)


def is_option(question: QuestionAnalysis, tokens) -> bool:
    """Whether a span names one of the options of the question's "A or B" choice."""
    if not question.alternatives:
        return False
    terms = {term_of(t) for t in tokens if is_content(t)}
    return bool(terms) and any(terms <= option for option in question.alternatives)


_WORD = re.compile(r"[\w'’-]+")


def part_of_a_question_name(question: QuestionAnalysis, tokens) -> bool:
    """Whether a span is a name that the question uses only as part of a longer name
    ("Brightwater", the maker, in "Who makes the Brightwater K2 kettle?"): another thing than the
    question's, not a repeat of it. A longer name goes on with a capitalised word or one with a digit."""
    if not any(is_content(t) for t in tokens) or not all(t.ent_type_ or t.pos_ == "PROPN" for t in tokens if is_content(t)):
        return False
    words = [t.lower_ for t in tokens if not t.is_punct and t.lower_ not in {"the", "a", "an"}]
    said = _WORD.findall(question.text)
    lower = [w.lower() for w in said]
    n = len(words)
    for i in range(1, len(lower) - n + 1):  # from 1: the first word is capitalised anyway
        if lower[i:i + n] != words:
            continue
        around = said[i - 1:i] + said[i + n:i + n + 1]
        if any(w[:1].isupper() or any(c.isdigit() for c in w) for w in around):
            return True
    return False


def length_prior(question: QuestionAnalysis, n_tokens: int, kind: str = "noun") -> float:
    """Penalty (≤ 0) for spans longer than what the answer type usually needs."""
    ideal = {REASON: 12, MANNER: 6, THING: 6, DESCRIPTION: 8}.get(question.answer_type, 4)
    if kind == "clause" and question.answer_type in {THING, REASON, MANNER}:
        ideal = 16
    if question.wants_wording:
        ideal = 3
    return -0.035 * max(0, n_tokens - ideal) - 0.006 * n_tokens


def score_candidate(
    question: QuestionAnalysis, candidate: CandidateSpan, sentence: ScoredSentence, anchors: Sequence[object]
) -> tuple[float, float, CandidateParts | None]:
    """Score a candidate span.

    Args:
        question: the analysed question.
        candidate: a span of ``sentence``.
        sentence: the scored sentence it comes from.
        anchors: the sentence's tokens that match question words (:func:`sentence_anchors`).

    Returns:
        ``(score, type score, parts)``; the score is ``-inf`` (and the parts ``None``) for spans
        that only repeat the question.
    """
    doc = sentence.span.doc
    tokens = doc[candidate.start : candidate.end]
    overlap = question_overlap(question, tokens)
    option = is_option(question, tokens)
    if option:
        overlap = 0.0  # choosing one of the question's options is not repeating the question
    if overlap >= 1.0 and question.answer_type != DESCRIPTION and not part_of_a_question_name(question, tokens):
        return -math.inf, 0.0, None
    if question.head_noun and all(term_of(t) == question.head_noun for t in tokens if is_content(t)) \
            and not any(t.dep_ == "poss" for t in tokens):
        return -math.inf, 0.0, None  # "which provisions" is not answered by "provisions"
    head = doc[candidate.head]
    if candidate.kind in {"noun", "prep", "clause", "adjective"} and head.dep_ == "compound" and head.head.pos_ == "PROPN" \
            and not candidate.start <= head.head.i < candidate.end:
        return -math.inf, 0.0, None  # a title or first word cut from a name ("Mr." of "Mr. Smith")
    fit = 1.0 if option else type_score(question, tokens, candidate)  # the options are the answer's type
    anchors = [t for t in anchors if not (candidate.start <= t.i < candidate.end)]
    proximity = 0.0
    if anchors:
        distances = sorted(tree_distance(head, a) for a in anchors)
        proximity = sum(1.0 / (1 + d) for d in distances[:3]) / 3
    role = role_score(question, candidate, tokens, anchors)
    head_match = 0.0
    if question.head_noun and (term_of(head) == question.head_noun or term_of(head.head) == question.head_noun
                               and head.dep_ in {"compound", "amod", "nmod", "appos"}):
        head_match = 0.6
        if question.answer_type == PERSON and not any(t.ent_type_ == "PERSON" for t in tokens):
            head_match = 0.0  # "which adviser" asks for the adviser's name
    length = length_prior(question, len(tokens), candidate.kind)
    score = 1.1 * fit + 0.9 * proximity + role + head_match - 0.6 * overlap + length
    return score, fit, CandidateParts(proximity, role, head_match, overlap, length)


def score_span(question: QuestionAnalysis, candidate: CandidateSpan, sentence: ScoredSentence,
               anchors: Sequence[object]) -> ScoredSpan | None:
    """``candidate`` scored for the question, its sentence's score included (:func:`score_candidate`);
    ``None`` for a span that only repeats the question."""
    score, fit, parts = score_candidate(question, candidate, sentence, anchors)
    if score == -math.inf:
        return None
    return ScoredSpan(candidate, sentence, score + SENTENCE_WEIGHT * sentence.score, fit, parts)
