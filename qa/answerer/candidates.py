"""Candidate generation: the spans of a parsed sentence that might answer a question (named
entities, noun phrases, prepositional phrases, clauses, adjectives, quoted words, and the
titles, appositives and predicates that describe a person asked about)."""

from __future__ import annotations

import re

from qa.answerer.types import CandidateSpan
from qa.question import QuestionAnalysis

MAX_CANDIDATE_TOKENS = 25
_QUOTE = re.compile(r"[\"“”]([^\"“”]{1,80})[\"“”]|'([^']{3,60})'")


def _trim(doc, start: int, end: int) -> tuple[int, int]:
    """Drop punctuation, spaces and leading conjunctions/wh-words at the edges of a token range."""
    while start < end and (doc[start].is_punct or doc[start].is_space or doc[start].dep_ in {"cc", "punct"}):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space or doc[end - 1].dep_ == "cc"):
        end -= 1
    return start, end


def core_subtree(token, lo: int, hi: int) -> tuple[int, int]:
    """Token range of ``token``'s subtree without coordinated conjuncts and relative clauses,
    clipped to ``[lo, hi)``."""
    start, end = token.left_edge.i, token.right_edge.i + 1
    for child in token.rights:
        if child.dep_ in {"cc", "conj", "relcl", "punct"} and child.i > token.i:
            if child.dep_ == "punct" and child.text not in {",", ";", "—", "–", "("}:
                continue
            end = min(end, child.left_edge.i)
    start, end = max(start, lo), min(end, hi)
    return _trim(token.doc, start, end)


def content_clause(clause, lo: int, hi: int) -> tuple[int, int]:
    """Token range of the clause headed by ``clause``, as :func:`core_subtree` cuts it, without
    its subordinating conjunction ("that ...")."""
    start, end = core_subtree(clause, lo, hi)
    doc = clause.doc
    if start < end and doc[start].dep_ == "mark" and doc[start].head.i == clause.i:
        start += 1
    return start, end


def _name_tokens(span, target: str) -> list[tuple[int, int]]:
    """Token ranges of ``span`` whose text is the target name or ends a longer mention of it."""
    words = target.lower().split()
    last = words[-1]
    found = []
    for token in span:
        if token.lower_ == last or (len(words) == 1 and token.lower_.removesuffix("'s") == last):
            begin = token.i - len(words) + 1
            if begin >= span.start and [t.lower_ for t in token.doc[begin : token.i + 1]] == words:
                found.append((begin, token.i + 1))
            elif token.ent_type_ == "PERSON" or token.pos_ == "PROPN":
                # A surname alone refers to the same person ("Lindqvist said ...").
                left = token.i
                while left - 1 >= span.start and token.doc[left - 1].pos_ == "PROPN" and token.doc[left - 1].ent_iob_ == "I" :
                    left -= 1
                found.append((left, token.i + 1))
    return found


def description_candidates(span, target: str) -> list[CandidateSpan]:
    """Titles, appositives and predicates that describe ``target`` in a sentence.

    "press secretary Jane Roe" → "press secretary"; "Jane Roe, the mayor of X," → "the mayor of X";
    "Jane Roe is a painter" → "a painter"; "Jane Roe chairs the board" → "chairs the board".
    """
    doc = span.doc
    out: list[CandidateSpan] = []
    for begin, stop in _name_tokens(span, target):
        name_head = doc[stop - 1]
        # Title words right before the name in the same noun phrase.
        left = begin
        while left - 1 >= span.start and doc[left - 1].dep_ in {"compound", "amod", "nmod", "poss", "case", "det"} \
                and doc[left - 1].head.i in range(left - 1, stop) and not doc[left - 1].is_punct:
            left -= 1
        while left < begin and doc[left].dep_ in {"det"}:
            left += 1
        if left < begin and any(t.pos_ in {"NOUN", "PROPN", "ADJ"} for t in doc[left:begin]):
            out.append(CandidateSpan(left, begin, "title", begin - 1))
        # "X, the mayor of Y," and "the mayor of Y, X": appositions.
        for child in name_head.children:
            if child.dep_ == "appos" and child.i >= stop:
                s, e = core_subtree(child, span.start, span.end)
                if e > s:
                    out.append(CandidateSpan(s, e, "appos", child.i))
        if name_head.dep_ == "appos" and name_head.head.i < begin:
            governor = name_head.head
            s, e = governor.left_edge.i, begin
            s, e = _trim(doc, max(s, span.start), e)
            if e > s:
                out.append(CandidateSpan(s, e, "appos", governor.i))
        # "X is a painter" / "X chairs the board".
        if name_head.dep_ in {"nsubj", "nsubjpass"}:
            verb = name_head.head
            if verb.lemma_ == "be":
                for child in verb.rights:
                    if child.dep_ in {"attr", "acomp"}:
                        s, e = core_subtree(child, span.start, span.end)
                        if e > s:
                            out.append(CandidateSpan(s, e, "appos", child.i))
            elif verb.pos_ == "VERB":
                ends = [core_subtree(c, span.start, span.end)[1] for c in verb.rights if c.dep_ in {"dobj", "attr", "prep", "xcomp"}]
                if ends:
                    out.append(CandidateSpan(verb.i, max(ends), "predicate", verb.i))
    return out


def _noun_chunks(span) -> list[tuple[int, int, int]]:
    """``(start, end, root)`` token positions of the noun chunks of a sentence, kept on its Doc:
    the same sentences come back question after question, and spaCy finds them anew each time."""
    kept = span.doc.user_data.setdefault("qa_noun_chunks", {})
    key = (span.start, span.end)
    if key not in kept:
        kept[key] = [(chunk.start, chunk.end, chunk.root.i) for chunk in span.noun_chunks]
    return kept[key]


def generate_candidates(span, question: QuestionAnalysis) -> list[CandidateSpan]:
    """Propose answer spans inside a parsed sentence.

    Args:
        span: the sentence (a spaCy ``Span`` of a block ``Doc``).
        question: the analysed question (decides which special kinds are proposed).

    Returns:
        Unique candidate spans, at most ``MAX_CANDIDATE_TOKENS`` tokens long.
    """
    doc = span.doc
    lo, hi = span.start, span.end
    found: dict[tuple[int, int], CandidateSpan] = {}

    def add(start: int, end: int, kind: str, head: int) -> None:
        start, end = _trim(doc, max(start, lo), min(end, hi))
        if end <= start:
            return
        # Never cut a name in half: grow the span to whole entities at both edges.
        while start > lo and doc[start].ent_iob_ == "I":
            start -= 1
        while end < hi and doc[end].ent_iob_ == "I":
            end += 1
        if end - start > MAX_CANDIDATE_TOKENS:
            return
        if (start, end) not in found:
            found[(start, end)] = CandidateSpan(start, end, kind, head)

    for ent in span.ents:
        add(ent.start, ent.end, "entity", ent.root.i)
    for start, end, root in _noun_chunks(span):
        add(start, end, "noun", root)
    for token in span:
        if token.pos_ in {"NOUN", "PROPN", "NUM"}:
            s, e = core_subtree(token, lo, hi)
            add(s, e, "noun", token.i)
        elif token.dep_ == "prep" or (token.dep_ == "agent"):
            s, e = core_subtree(token, lo, hi)
            add(s, e, "prep", token.i)
        elif token.dep_ in {"advcl", "xcomp", "ccomp", "acl", "pcomp", "relcl"} and token.pos_ in {"VERB", "AUX"}:
            s, e = core_subtree(token, lo, hi)
            add(s, e, "clause", token.i)
            bare = content_clause(token, lo, hi)
            if bare[0] != s:
                add(*bare, "clause", token.i)
        elif token.pos_ == "ADJ" or token.dep_ in {"acomp", "oprd"}:
            add(token.i, token.i + 1, "adjective", token.i)
    text = span.text
    for match in _QUOTE.finditer(text):
        group = 1 if match.group(1) is not None else 2
        quote = doc.char_span(span.start_char + match.start(group), span.start_char + match.end(group),
                              alignment_mode="contract")
        if quote is not None and len(quote):
            add(quote.start, quote.end, "quote", quote.root.i)
    if question.target:
        for candidate in description_candidates(span, question.target):
            found[(candidate.start, candidate.end)] = candidate
    return list(found.values())
