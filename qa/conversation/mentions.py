"""What a turn talks about: named entities and noun chunks, each with a coarse kind.

A :class:`Mention` is what a later pronoun or ellipsis may refer back to. Its kind (person,
group, place, time, number, thing), number (plural) and, for people, gender come from the
spaCy parse of the question and of the answer's quote, corrected by what the documents say
about the name (:mod:`qa.conversation.evidence`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Iterable

from qa.question import ORGANIZATION, head_noun_type, is_person_noun

class Kind(str, Enum):
    """The coarse kind of a mention, from its named-entity label or its noun (a string, so that
    turns stored as JSON keep it as ``"person"``, ``"place"``...). Not the answer types of
    :mod:`qa.question`, which say what a question asks for."""

    PERSON = "person"
    GROUP = "group"
    PLACE = "place"
    TIME = "time"
    NUMBER = "number"
    THING = "thing"

KIND_OF_LABEL = {
    "PERSON": Kind.PERSON,
    "ORG": Kind.GROUP, "NORP": Kind.GROUP,
    "GPE": Kind.PLACE, "LOC": Kind.PLACE, "FAC": Kind.PLACE,
    "DATE": Kind.TIME, "TIME": Kind.TIME,
    "CARDINAL": Kind.NUMBER, "MONEY": Kind.NUMBER, "PERCENT": Kind.NUMBER, "QUANTITY": Kind.NUMBER, "ORDINAL": Kind.NUMBER,
}
#: Kinds a small NER model often confuses with one another (a city tagged ORG, a firm GPE).
NAMED_KINDS = frozenset({Kind.GROUP, Kind.PLACE, Kind.THING})
#: Where a mention was found in a turn, most salient first.
SOURCES = ("answer", "question", "context")
#: Dependency roles of a clause's topic, most topical first.
TOPIC_ROLES = ("nsubj", "nsubjpass", "dobj", "attr", "ROOT", "appos", "pobj", "conj")

WH_WORDS = frozenset({"who", "whom", "whose", "what", "which", "where", "when", "why", "how"})
_POSSESSIVE_SUFFIX = re.compile(r"\s*['\u2019]s?$")


def strip_possessive(text: str) -> str:
    return _POSSESSIVE_SUFFIX.sub("", text)


@dataclass(frozen=True)
class Mention:
    """Something a turn talked about.

    Attributes:
        text: as written.
        kind: one of ``person``, ``group``, ``place``, ``time``, ``number``, ``thing``.
        label: the spaCy entity label, or ``""`` for a noun chunk that is not an entity.
        source: ``answer``, ``question`` or ``context`` (the supporting quote around the answer).
        role: dependency label of the phrase's head (``nsubj``, ``dobj``, ``pobj`` ...).
        plural: the head noun is plural, or the phrase joins several names.
        gender: ``"m"`` or ``"f"`` when the documents call this person he or she, else ``""``.
        head: lemma of the phrase's head word (what "What about the main hall?" matches on).
    """

    text: str
    kind: str
    label: str = ""
    source: str = "question"
    role: str = ""
    plural: bool = False
    gender: str = ""
    head: str = ""

    @property
    def is_entity(self) -> bool:
        return bool(self.label)

    @property
    def is_subject(self) -> bool:
        return self.role in {"nsubj", "nsubjpass"}


def same_referent(a: str, b: str) -> bool:
    """Whether two names can be the same entity: equal, or one is the other's last word(s)
    ("Ortiz" and "Lena Ortiz"), ignoring case and a possessive ending."""
    a, b = strip_possessive(a).lower().strip(), strip_possessive(b).lower().strip()
    if not a or not b:
        return False
    short, long = sorted((a, b), key=len)
    return short == long or long.endswith(" " + short)


def whole_name(ent):
    """An entity grown to the whole proper-noun compound it is part of: a short question's
    parse often tags "Tomas" of "Tomas Ruiz" alone."""
    doc, start, end = ent.doc, ent.start, ent.end
    if ent.root.pos_ != "PROPN":
        return ent
    while end < len(doc) and doc[end - 1].dep_ == "compound" and doc[end].pos_ == "PROPN" and doc[end - 1].head.i >= end:
        end += 1
    while start > 0 and doc[start - 1].pos_ == "PROPN" and doc[start - 1].dep_ == "compound" and start <= doc[start - 1].head.i < end:
        start -= 1
    if (start, end) == (ent.start, ent.end):
        return ent
    span = doc[start:end]
    span.label_ = ent.label_
    return span


def _kind_of_chunk(chunk) -> str:
    root = chunk.root
    numeric = sum(1 for t in chunk if KIND_OF_LABEL.get(t.ent_type_) == Kind.NUMBER or t.like_num)
    if numeric * 2 >= len(chunk):  # "40 million euros", "12 varieties"
        return Kind.NUMBER
    if root.ent_type_:
        return KIND_OF_LABEL.get(root.ent_type_, Kind.THING)
    if root.pos_ == "NOUN" and head_noun_type(root.lemma_.lower()) == ORGANIZATION:
        return Kind.GROUP  # "the council", "the committee": referred to as "it" or "they"
    if root.pos_ == "NOUN" and is_person_noun(root.lemma_.lower()):
        return Kind.PERSON
    return Kind.THING


def _is_plural(span) -> bool:
    root = span.root
    return root.tag_ in {"NNS", "NNPS"} or any(t.dep_ == "conj" and t.head is root for t in span)


def extract_mentions(doc, source: str, *, within: tuple[int, int] | None = None) -> Iterable[Mention]:
    """Entities and noun chunks of a parsed text, as :class:`Mention` objects.

    Args:
        doc: a spaCy ``Doc`` with entities and a dependency parse.
        source: recorded on every mention.
        within: only phrases inside these character offsets of ``doc.text``; ``None`` for all.

    Returns:
        Entities first (numbers last), then noun chunks that are not pronouns, wh-phrases
        or entities, in text order; no text twice.
    """
    seen: set[str] = set()

    def inside(span) -> bool:
        return within is None or (span.start_char >= within[0] and span.end_char <= within[1])

    names = [whole_name(e) for e in doc.ents]
    entities = [e for e in names if inside(e)]
    entities.sort(key=lambda e: (KIND_OF_LABEL.get(e.label_) == Kind.NUMBER, e.start))
    for ent in entities:
        if ent.label_ != "PERSON" and ent.start > 0 and doc[ent.start - 1].lower_ == "the":
            ent = doc[ent.start - 1 : ent.end]  # "the Ashby Museum": said again with its article
        text = strip_possessive(ent.text)
        key = text.lower()
        if not key or key in seen:
            continue
        seen.add(key)
        # A name is one entity even when it joins words ("Alder & Finch").
        label = ent.label_ or ent.root.ent_type_
        yield Mention(text, KIND_OF_LABEL.get(label, Kind.THING), label, source, ent.root.dep_, False,
                      head=ent.root.lemma_.lower())
    try:
        chunks = list(doc.noun_chunks)
    except ValueError:  # no parser: entities only
        chunks = []
    for chunk in chunks:
        chunk = trim_chunk(chunk)
        if chunk is None or not inside(chunk):
            continue
        key = chunk.text.lower()
        if key in seen or any(e.start <= chunk.start and chunk.end <= e.end for e in names):
            continue
        seen.add(key)
        yield Mention(chunk.text, _kind_of_chunk(chunk), "", source, chunk.root.dep_, _is_plural(chunk),
                      head=chunk.root.lemma_.lower())


def trim_chunk(chunk):
    """A noun chunk without leading conjunctions, wh-words and punctuation; ``None`` when nothing is left."""
    # A chunk holding a wh-word is what the question asks for ("how many varieties"), not a topic.
    if any(t.lower_ in WH_WORDS or t.tag_ in {"MD", "WDT", "WP", "WP$", "WRB"} or t.dep_ in {"aux", "auxpass"} for t in chunk):
        return None
    tokens = [t for t in chunk]
    while tokens and tokens[0].pos_ in {"CCONJ", "PUNCT"}:
        tokens.pop(0)
    if not tokens or chunk.root not in tokens or chunk.root.pos_ == "PRON":
        return None
    return chunk.doc[tokens[0].i : tokens[-1].i + 1] if tokens[0].i <= chunk.root.i else None


def answer_mentions(answer: str, quote: str, start: int, nlp, *, wh_word: str = "") -> list[Mention]:
    """Mentions of the answer span (``answer``) and of the rest of its quote (``context``).

    Args:
        answer: the answer span.
        quote: the sentence around it (parsed whole, so that entities get their context).
        start: where ``answer`` starts in ``quote``.
        nlp: a spaCy pipeline.
        wh_word: the question's wh-word; a whole-answer mention of an unknown kind takes the
            kind the question asked for (the answer to "where" is a place, to "when" a time).
    """
    end = start + len(answer)
    doc = nlp(quote)
    inside = list(extract_mentions(doc, "answer", within=(start, end)))
    if not any(m.kind != Kind.NUMBER for m in inside):
        # The span alone may be a clause or a fragment the quote's parse splits oddly;
        # fall back to parsing it on its own.
        known = {m.text.lower() for m in inside}
        inside += [m for m in extract_mentions(nlp(answer), "answer") if m.text.lower() not in known]
    inside = [_asked_kind(m, answer, wh_word) for m in inside]
    inside.sort(key=lambda m: _answer_rank(m, answer))
    texts = {m.text.lower() for m in inside}
    context = [m for m in extract_mentions(doc, "context") if m.text.lower() not in texts
               and m.text.lower() not in answer.lower()]
    return inside + context


def _asked_kind(mention: Mention, answer: str, wh_word: str) -> Mention:
    if mention.text.strip().lower() != answer.strip().lower():
        return mention
    asked = {"where": Kind.PLACE, "when": Kind.TIME}.get(wh_word)
    if asked is not None and mention.kind != asked and mention.kind in NAMED_KINDS | {Kind.PERSON}:
        return replace(mention, kind=asked)
    return mention


def _answer_rank(mention: Mention, answer_text: str) -> tuple:
    # The whole answer first, then its head phrase (a clause's subject), then entities, then the rest.
    whole = mention.text.strip().lower() == answer_text.strip().lower()
    return (not whole, mention.role not in {"nsubj", "nsubjpass", "ROOT", "appos"}, not mention.is_entity)
