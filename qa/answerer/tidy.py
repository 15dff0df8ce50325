"""Span tidying: the final touches of an answer span (whole entities, the asked part of a date,
the whole clause of what was said, both halves of a quote or bracket)."""

from __future__ import annotations

import calendar
import re
from dataclasses import replace

from qa.answerer.candidates import MAX_CANDIDATE_TOKENS, content_clause
from qa.answerer.scoring import type_score
from qa.answerer.types import ScoredSpan
from qa.question import QuestionAnalysis

#: English month names and their usual abbreviations.
_MONTHS = frozenset(m.lower() for m in (*calendar.month_name[1:], *calendar.month_abbr[1:]))
_YEAR = re.compile(r"\d{4}")


def _is_date_part(token, part: str) -> bool:
    """Whether ``token`` is a ``part`` ("year": 2013, "month": April) of a date."""
    text = token.text.rstrip(".").lower()
    return bool(_YEAR.fullmatch(text)) if part == "year" else text in _MONTHS


def narrow_to_date_part(chosen: ScoredSpan, head_noun: str | None) -> ScoredSpan:
    """For "What year ...?" or "Which month ...?", the year or month alone of a date answer.

    A span inside one date or time entity ("April 2013") that holds exactly one token of the
    asked part is narrowed to that token ("2013"); anything else is left as it is.
    """
    if head_noun not in ("year", "month"):
        return chosen
    doc = chosen.sentence.span.doc
    start, end = chosen.candidate.start, chosen.candidate.end
    inside = [e for e in doc.ents if e.label_ in ("DATE", "TIME") and e.start <= start and end <= e.end]
    if not inside or end - start < 2:
        return chosen
    parts = [t.i for t in doc[start:end] if _is_date_part(t, head_noun)]
    if len(parts) != 1:
        return chosen
    return replace(chosen, candidate=replace(chosen.candidate, start=parts[0], end=parts[0] + 1, head=parts[0]))


def widen_to_content_clause(chosen: ScoredSpan, verb: str | None) -> ScoredSpan:
    """For "What did X announce?" (``verb``: the lemma whose object the bare "what" is), a span
    headed by the subject of the clause the sentence gives that verb becomes the whole clause:
    in "The council announced that the old mill would close", "the old mill" is what was talked
    about and "the old mill would close" what was announced. The clause is cut before a
    coordinated second one and without its "that"; anything else is left as it is.
    """
    if verb is None:
        return chosen
    doc = chosen.sentence.span.doc
    low, high = chosen.sentence.span.start, chosen.sentence.span.end
    start, end = chosen.candidate.start, chosen.candidate.end
    subject = doc[start:end].root
    clause = subject.head
    if subject.dep_ not in {"nsubj", "nsubjpass"} or clause.dep_ != "ccomp" or clause.head.lemma_.lower() != verb \
            or not subject.left_edge.i <= start <= end <= subject.right_edge.i + 1:
        return chosen
    s, e = content_clause(clause, low, high)
    if not s <= start < end <= e or e - s > MAX_CANDIDATE_TOKENS:
        return chosen
    return replace(chosen, candidate=replace(chosen.candidate, start=s, end=e, head=clause.i))


_STRAIGHT_QUOTES = frozenset({'"'})
_BRACKETS = (("(", ")"), ("[", "]"), ("\u201c", "\u201d"), ("\u2018", "\u2019"))


def balance_brackets(chosen: ScoredSpan) -> ScoredSpan:
    """Give an answer both halves of a quote or bracket it holds one half of (`good" bacteria`
    becomes `"good" bacteria`, `(ASM` becomes `(ASM)`), looking no further than its sentence; a
    half with no partner there is dropped when it sits at the answer's edge."""
    doc = chosen.sentence.span.doc
    low, high = chosen.sentence.span.start, chosen.sentence.span.end
    start, end = chosen.candidate.start, chosen.candidate.end
    quotes = [i for i in range(start, end) if doc[i].text in _STRAIGHT_QUOTES]
    if len(quotes) % 2:
        if end < high and doc[end].text in _STRAIGHT_QUOTES:
            end += 1
        elif start > low and doc[start - 1].text in _STRAIGHT_QUOTES:
            start -= 1
        elif quotes[-1] == end - 1:
            end -= 1
        elif quotes[0] == start:
            start += 1
    for opening, closing in _BRACKETS:
        depth = sum((t.text == opening) - (t.text == closing) for t in doc[start:end])
        if depth > 0:
            after = next((i for i in range(end, high) if doc[i].text == closing), None)
            if after is not None:
                end = after + 1
            elif doc[start].text == opening:
                start += 1
        elif depth < 0:
            before = next((i for i in range(start - 1, low - 1, -1) if doc[i].text == opening), None)
            if before is not None:
                start = before
            elif doc[end - 1].text == closing:
                end -= 1
    if end <= start or (start, end) == (chosen.candidate.start, chosen.candidate.end):
        return chosen
    head = chosen.candidate.head if start <= chosen.candidate.head < end else doc[start:end].root.i
    return replace(chosen, candidate=replace(chosen.candidate, start=start, end=end, head=head))


def tidy_span(chosen: ScoredSpan, analysis: QuestionAnalysis | None, *, before: ScoredSpan | None = None) -> ScoredSpan:
    """The final touches of an answer span: the whole clause of what was said
    (:func:`widen_to_content_clause`), the asked part of a date (:func:`narrow_to_date_part`),
    then whole quotes and brackets (:func:`balance_brackets`).

    Given the question's ``analysis``, a span that ends up other than it was proposed (``before``,
    when ``chosen`` was already widened from it) gets the type fit of what it has become.
    """
    before = before or chosen
    verb, head_noun = (analysis.content_of, analysis.head_noun) if analysis is not None else (None, None)
    chosen = balance_brackets(narrow_to_date_part(widen_to_content_clause(chosen, verb), head_noun))
    if analysis is not None and chosen.candidate != before.candidate:
        tokens = chosen.sentence.span.doc[chosen.candidate.start : chosen.candidate.end]
        chosen = replace(chosen, fit=type_score(analysis, tokens, chosen.candidate))
    return chosen


def expand_to_entities(chosen: ScoredSpan, analysis: QuestionAnalysis | None = None) -> ScoredSpan:
    """Widen a span that cuts through a named entity so that it covers the whole entity.

    An answer is never half a name or half a date ("month" of "earlier this month"), unless
    the question asks for that part of a date. The result gets the final touches of
    :func:`tidy_span` (given ``analysis``, the question's).
    """
    doc = chosen.sentence.span.doc
    start, end = chosen.candidate.start, chosen.candidate.end
    for entity in doc.ents:
        if entity.start < end and start < entity.end and (entity.start < start or entity.end > end):
            start, end = min(start, entity.start), max(end, entity.end)
    widened = chosen
    if (start, end) != (chosen.candidate.start, chosen.candidate.end):
        widened = replace(chosen, candidate=replace(chosen.candidate, start=start, end=end))
    return tidy_span(widened, analysis, before=chosen)
