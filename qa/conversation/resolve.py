"""Follow-up resolution: pronouns and ellipsis rewritten against the earlier turns, without a language model.

:func:`resolve_followup` rewrites a new message so that it stands on its own:

* **Agreement.** A pronoun only takes an antecedent it can refer to: he/she/him/her/his → a
  person, of the gender the documents use for that name when they show one; it/its → a
  thing, place or organisation, never a person; they/them/their → a plural or an
  organisation; there → a place; then → a time.
* **Salience.** Candidates come in the order a reader would pick them: per turn, latest
  first, the answer, then the question's topic (its subject, then its object ...), and
  only after every turn's answers and questions the other phrases of the quotes. A name
  the new message already uses is not substituted for one of its pronouns; a subject or
  possessive pronoun after such a name refers to it and is left alone.
* **Ellipsis.** "What about X?", "And X?", "How about in 2015?" replace the slot of the
  previous question that has X's type (a person for a person, a date for a date, the
  phrase with the same head noun for a thing), keeping its question word and verb; a time
  or place with no slot to replace is added.
* **Doubt.** When two antecedents of the same kind from the same turn fit equally, the
  most salient is taken and the choice is recorded in ``Resolution.assumptions``, so the
  reply can say so.

Everything here is a pure function of the turns, the message and an injected spaCy pipeline.
No word list of any particular corpus is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

from qa.conversation.evidence import PRONOUN_CLASS
from qa.conversation.mentions import (KIND_OF_LABEL, NAMED_KINDS, TOPIC_ROLES, WH_WORDS, Kind, Mention, same_referent,
                                      strip_possessive, trim_chunk)
from qa.conversation.turns import Turn
from qa.question import is_person_noun

_POSSESSIVES = frozenset({"his", "its", "their", "hers", "theirs"})
_LEADING_CONJUNCTION = re.compile(r"^\s*(?:and|so|but|also|ok(?:ay)?|then)\b[\s,]*(?=\w)", re.IGNORECASE)
_ELLIPSIS = re.compile(
    r"^\s*(?:(?:and\s+)?(?:what|how)\s+about|and(?:\s+what\s+of)?|what\s+of)\s+(?P<x>[^?]+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_PREPOSITION = re.compile(r"^(?P<prep>in|on|at|during|by|before|after|since|for|from|to)\s+(?P<rest>\S.*)$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:1[0-9]|20)\d\d$")
_OTHER_ONE = re.compile(r"^(?:the\s+)?other(?:\s+(?:one|ones|two))?$", re.IGNORECASE)
_ON_DAY = re.compile(r"^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b", re.IGNORECASE)
_BARE_TIME = re.compile(r"^(?:next|last|this|that|these|those|every|each|today|tomorrow|yesterday|tonight|now|"
                        r"early|late|recently|earlier|later|the\s+(?:next|following|previous|same))\b", re.IGNORECASE)
_INDEFINITE = re.compile(r"^(?:a|an)\s+(?=\w)", re.IGNORECASE)
_TIERS = {"answer": 0, "question": 1, "context": 2}


@dataclass(frozen=True)
class Resolution:
    """How a message was understood.

    Attributes:
        question: the message rewritten to stand on its own (for the answerer).
        retrieval_query: what to search the index with.
        referred_back: whether the message referred to earlier turns.
        replacements: ``(what was written, what it was taken to mean)`` pairs: a pronoun and its
            antecedent, or for "What about X?" the previous question's phrase and X.
        assumptions: the pronouns among them that had two equally fitting antecedents (the
            most salient was taken).
    """

    question: str
    retrieval_query: str
    referred_back: bool = False
    replacements: tuple[tuple[str, str], ...] = field(default=())
    assumptions: tuple[tuple[str, str], ...] = field(default=())


# --- candidates -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    age: int  # 0: the latest turn
    tier: int  # 0 answer, 1 the question's topic, 2 the rest of the question, 3 context
    mention: Mention


def _question_order(mention: Mention) -> tuple:
    # The question's topic first (its subject, then its object ...); a phrase before the name
    # inside it ("the Appleby orchard" before "Appleby").
    return (TOPIC_ROLES.index(mention.role) if mention.role in TOPIC_ROLES else len(TOPIC_ROLES), mention.is_entity)


def candidates(history: Sequence[Turn]) -> Iterator[_Candidate]:
    """Every mention of the conversation, most salient first.

    Per turn, latest first: the answer's mentions, then the question's by topic role; then
    the quotes' other phrases, latest turn first.
    """
    turns = list(enumerate(reversed(history)))
    for age, turn in turns:
        yield from (_Candidate(age, 0, m) for m in turn.mentions if m.source == "answer")
        question = sorted((m for m in turn.mentions if m.source == "question"), key=_question_order)
        yield from (_Candidate(age, 1 if n == 0 else 2, m) for n, m in enumerate(question))
    for age, turn in turns:
        yield from (_Candidate(age, 3, m) for m in turn.mentions if m.source == "context")


def _conversation_gender(history: Sequence[Turn], name: str) -> str:
    """"m" or "f" when the conversation already bound ``name`` to he or she, else ``""``."""
    for turn in reversed(history):
        for written, meant in turn.replacements:
            cls = PRONOUN_CLASS.get(written.lower())
            if cls in {"m", "f"} and same_referent(meant, name):
                return cls
    return ""


def _fit(cls: str, mention: Mention, history: Sequence[Turn]) -> int:
    """How well a pronoun of class ``cls`` (or ``there``/``then``) agrees with ``mention``: 0 not at all,
    1 in kind and number, 2 also in a gender the documents (or the conversation) show."""
    if cls in {"m", "f"}:
        if mention.kind != Kind.PERSON or mention.plural:
            return 0
        gender = mention.gender or _conversation_gender(history, mention.text)
        return 1 if not gender else (2 if gender == cls else 0)
    if cls == "n":
        return int(mention.kind in {Kind.THING, Kind.GROUP, Kind.PLACE} and not mention.plural)
    if cls == "p":
        return int(mention.kind == Kind.GROUP or (mention.plural and mention.kind in {Kind.PERSON, Kind.THING, Kind.PLACE}))
    if cls == "there":
        return int(mention.kind == Kind.PLACE)
    if cls == "then":
        return int(mention.kind == Kind.TIME)
    return 0


@dataclass(frozen=True)
class _Choice:
    mention: Mention
    doubtful: bool  # another antecedent of the same kind in the same turn fitted as well


def choose_antecedent(history: Sequence[Turn], cls: str, excluded: Sequence[str] = ()) -> _Choice | None:
    """The most salient mention a pronoun of class ``cls`` can refer to.

    Within the latest turn that has a fitting mention, a better fit (a known matching gender)
    wins over salience; people are named people before descriptions ("Lena Ortiz" before
    "a harbour pilot"); a mention whose name is in ``excluded`` is skipped.
    """
    fitting = [(c, _fit(cls, c.mention, history)) for c in candidates(history)
               if not any(same_referent(c.mention.text, name) for name in excluded)]
    fitting = [(c, fit) for c, fit in fitting if fit]
    if not fitting:
        return None
    first = fitting[0][0]
    group = [(c, fit) for c, fit in fitting if (c.age, c.tier == 3) == (first.age, first.tier == 3)]
    personal = cls in {"m", "f"}
    order = {id(c): n for n, (c, _) in enumerate(group)}
    group.sort(key=lambda pair: (-pair[1], personal and not pair[0].mention.is_entity, order[id(pair[0])]))
    best, best_fit = group[0]
    # Doubt only between the answer and the question's topic: a reader weighs those two.
    rival = next((c for c, fit in group[1:] if fit == best_fit and c.tier < 2 and best.tier < 2
                  and c.mention.kind == best.mention.kind and c.mention.is_entity == best.mention.is_entity
                  and not same_referent(c.mention.text, best.mention.text)), None)
    return _Choice(best.mention, rival is not None)


# --- pronouns -------------------------------------------------------------------------------------


def _possessive(text: str) -> str:
    return text + ("'" if text.endswith("s") else "'s")


def _definite(text: str) -> str:
    """A phrase introduced as "a ..." is "the ..." when mentioned again."""
    return _INDEFINITE.sub("the ", text, count=1)


def _time_phrase(text: str) -> str:
    if _BARE_TIME.match(text):
        return text
    if _ON_DAY.match(text):
        return f"on {text}"
    if text[:1].isdigit() and ":" in text or text.lower().endswith((" am", " pm", "a.m.", "p.m.")) or text.lower() in {"noon", "midnight"}:
        return f"at {text}"
    return f"in {text}"


def _named_in(doc) -> list[tuple[int, str, str]]:
    """``(token index, text, kind)`` of the names and noun phrases the message itself uses."""
    out = [(e.start, strip_possessive(e.text), KIND_OF_LABEL.get(e.label_, Kind.THING)) for e in doc.ents]
    try:
        chunks = list(doc.noun_chunks)
    except ValueError:
        chunks = []
    for chunk in filter(None, map(trim_chunk, chunks)):
        if chunk.root.pos_ in {"NOUN", "PROPN"} and not any(e.start <= chunk.root.i < e.end for e in doc.ents):
            kind = Kind.PERSON if chunk.root.pos_ == "NOUN" and is_person_noun(chunk.root.lemma_.lower()) else Kind.THING
            if chunk.root.tag_ in {"NNS", "NNPS"}:
                kind = "plural"
            out.append((chunk.start, chunk.text, kind))
    return out


def _bound_inside(cls: str, token, named: Iterable[tuple[int, str, str]]) -> bool:
    """Whether a subject or possessive pronoun refers to a name earlier in its own message
    ("Did Jonas Berg say he would come?", "When did Alder & Finch open its mill?")."""
    if token.dep_ not in {"nsubj", "nsubjpass", "poss"} and token.tag_ != "PRP$":
        return False
    before = [kind for start, _, kind in named if start < token.i]
    if cls in {"m", "f"}:
        return Kind.PERSON in before
    if cls == "n":
        return any(kind in NAMED_KINDS for kind in before)
    if cls == "p":
        return any(kind in {Kind.GROUP, "plural"} for kind in before)
    return False


def _resolve_pronouns(doc, history: Sequence[Turn]) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    """Replace referring pronouns of ``doc`` by their antecedents.

    Returns:
        The text, the ``(pronoun, antecedent)`` replacements, and those chosen among equals.
    """
    pieces: list[str] = []
    replacements: list[tuple[str, str]] = []
    assumptions: list[tuple[str, str]] = []
    named = _named_in(doc)
    names = [text for _, text, _ in named]
    for token in doc:
        word = token.lower_
        replacement = None
        cls = PRONOUN_CLASS.get(word) if token.tag_ in {"PRP", "PRP$"} else None
        if word == "there" and token.dep_ != "expl" and token.tag_ != "EX":
            cls = "there"
        elif word == "then" and token.pos_ == "ADV":
            cls = "then"
        if cls is not None and not (cls == "n" and token.dep_ == "expl") and word not in {"himself", "herself", "itself", "themselves"} \
                and not _bound_inside(cls, token, named):
            choice = choose_antecedent(history, cls, excluded=names)
            if choice is not None:
                text = choice.mention.text if choice.mention.kind == Kind.PERSON else _definite(choice.mention.text)
                after_preposition = token.i > 0 and doc[token.i - 1].pos_ == "ADP"
                if cls == "there":
                    replacement = text if after_preposition else f"in {text}"
                elif cls == "then":
                    replacement = text if after_preposition else _time_phrase(text)
                elif word in _POSSESSIVES or token.tag_ == "PRP$":
                    replacement = _possessive(text)
                else:
                    replacement = text
                if choice.doubtful:
                    assumptions.append((token.text, choice.mention.text))
        if replacement is not None:
            # Match the case of the position: "When did the harbour board meet?", "The board ... ?".
            if token.i == 0:
                replacement = replacement[:1].upper() + replacement[1:]
            elif re.match(r"(?:The|A|An)\s", replacement):
                replacement = replacement[:1].lower() + replacement[1:]
        if replacement is None:
            pieces.append(token.text_with_ws)
        else:
            replacements.append((token.text, replacement))
            pieces.append(replacement + token.whitespace_)
    return "".join(pieces), replacements, assumptions


# --- ellipsis -------------------------------------------------------------------------------------


def _replace_once(text: str, old: str, new: str) -> str | None:
    match = re.search(rf"(?<!\w){re.escape(old)}(?!\w)", text, re.IGNORECASE)
    if match is None:
        return None
    return text[: match.start()] + new + text[match.end() :]


def _phrase_kind(doc, start: int, end: int) -> tuple[str, bool]:
    """``(kind, proper)`` of the phrase ``doc.text[start:end]`` as parsed in ``doc``."""
    text = doc.text[start:end]
    if _YEAR.match(text):
        return Kind.TIME, True
    span = doc.char_span(start, end, alignment_mode="expand")
    if span is None:
        return Kind.THING, False
    ents = [e for e in doc.ents if e.start >= span.start and e.end <= span.end]
    if ents:
        return KIND_OF_LABEL.get(ents[0].label_, Kind.THING), True
    root = span.root
    if root.pos_ == "NOUN" and is_person_noun(root.lemma_.lower()):
        return Kind.PERSON, False
    return Kind.THING, root.pos_ == "PROPN"


def _fits_slot(kind: str, proper: bool, slot: Mention) -> bool:
    """Whether a phrase of this kind may take the place of ``slot`` in a question."""
    if slot.kind == Kind.NUMBER or kind == Kind.NUMBER:
        return kind == slot.kind
    if kind == slot.kind and kind != Kind.THING:
        return True
    if kind in NAMED_KINDS and slot.kind in NAMED_KINDS:
        # A small model confuses places, organisations and things; a name takes a name's
        # place and a common noun a common noun's ("the toaster" for "the kettle").
        return proper == slot.is_entity
    return False


def _resolve_ellipsis(doc, x_start: int, x_end: int, history: Sequence[Turn], nlp
                      ) -> tuple[str, list[tuple[str, str]]] | None:
    """ "What about X?" → the previous question about X; ``None`` when there is nothing to rewrite.

    The slot X replaces is, in this order: the phrase after the same preposition ("in the
    fridge" for "in the freezer"), the phrase with the same head noun ("the small hall" for
    "the main hall"), then the question's first phrase whose type X has where it would stand
    (X is typed in the rewritten question, where a name is easier to tell than on its own).
    A time or place with no slot is added to the question.
    """
    previous = history[-1]
    x_text = doc.text[x_start:x_end]
    slots = sorted((m for m in previous.mentions if m.source == "question"), key=_question_order)
    if _OTHER_ONE.match(x_text):
        return _other_one(previous, slots, history)
    preposition = _PREPOSITION.match(x_text)
    core = preposition.group("rest") if preposition else x_text
    if preposition:
        for slot in slots:
            if re.search(rf"(?<!\w){re.escape(preposition.group('prep'))}\s+{re.escape(slot.text)}(?!\w)",
                         previous.question, re.IGNORECASE):
                rewritten = _replace_once(previous.question, slot.text, core)
                if rewritten is not None:
                    return rewritten, [(slot.text, core)]
    core_doc = nlp(core)
    head = core_doc[:].root.lemma_.lower() if len(core_doc) else ""
    # A name seen earlier in the conversation keeps what was learnt about it in full sentences.
    known = next((c.mention for c in candidates(history)
                  if c.mention.is_entity and c.mention.text.lower() == core.lower()), None)
    ordered = [m for m in slots if m.head == head and m.kind != Kind.NUMBER] + [m for m in slots if m.head != head]
    for slot in ordered:
        rewritten = _replace_once(previous.question, slot.text, core)
        if rewritten is None:
            continue
        if slot.head == head and slot.kind != Kind.NUMBER:
            return rewritten, [(slot.text, core)]
        if known is not None:
            kind, proper = known.kind, True
        else:
            at = rewritten.lower().find(core.lower(), max(0, previous.question.lower().find(slot.text.lower())))
            kind, proper = _phrase_kind(nlp(rewritten), at, at + len(core))
        if _fits_slot(kind, proper, slot):
            return rewritten, [(slot.text, core)]
    if preposition and (_YEAR.match(core) or _phrase_kind(nlp(x_text), len(x_text) - len(core), len(x_text))[0] in {Kind.TIME, Kind.PLACE}):
        # "How about in 2015?" after a question without a date: the date is added.
        return f"{previous.question.rstrip(' ?.!')} {x_text}?", [("", x_text)]
    return None


def _other_one(previous: Turn, slots: Sequence[Mention], history: Sequence[Turn]) -> tuple[str, list[tuple[str, str]]] | None:
    """ "And the other one?" → the previous question about another mention of the same kind."""
    focus = next((m for m in slots if m.is_entity and m.kind != Kind.NUMBER), None) or next(
        (m for m in slots if m.kind in {Kind.THING, Kind.GROUP, Kind.PLACE, Kind.PERSON}), None)
    if focus is None:
        return None
    for candidate in candidates(history):
        mention = candidate.mention
        if mention.text.lower() != focus.text.lower() and (
            mention.kind == focus.kind or (focus.kind in NAMED_KINDS and mention.kind in NAMED_KINDS and mention.is_entity)
        ) and mention.text.lower() not in previous.question.lower():
            rewritten = _replace_once(previous.question, focus.text, mention.text)
            if rewritten is not None:
                return rewritten, [(focus.text, mention.text)]
    return None


# --- the entry point ------------------------------------------------------------------------------


def _strip_leading_conjunction(text: str) -> str:
    stripped = _LEADING_CONJUNCTION.sub("", text, count=1)
    if stripped != text and stripped:
        stripped = stripped[0].upper() + stripped[1:]
    return stripped


def _retrieval_query(question: str, history: Sequence[Turn], replaced: Sequence[tuple[str, str]]) -> str:
    """The rewritten question, plus the names the previous question was about when the message referred back.

    The antecedents are already in the question; the previous question's names keep the
    search on the same topic when the new question's own words are few ("And the other one?").
    """
    if not replaced or not history:
        return question
    lowered = question.lower()
    dropped = {old.lower() for old, _ in replaced if old}  # "What about X?" moved away from these
    extra = [m.text for m in history[-1].mentions
             if m.source == "question" and m.is_entity and m.kind in {Kind.PERSON, Kind.GROUP, Kind.PLACE}
             and m.text.lower() not in lowered and m.text.lower() not in dropped]
    return " ".join([question, *dict.fromkeys(extra[:2])])


def resolve_followup(history: Sequence[Turn], message: str, nlp) -> Resolution:
    """Rewrite ``message`` so that it stands on its own, using the earlier turns.

    Args:
        history: earlier turns, oldest first (may be empty).
        message: the new message (already validated and whitespace-normalised).
        nlp: a spaCy pipeline with a parser and an entity recognizer.

    Returns:
        The resolved question, the retrieval query, whether the message referred back, and
        the antecedents chosen among equals. A message that does not refer back comes back unchanged.
    """
    if not history:
        return Resolution(message, message, False)
    doc = nlp(message)
    ellipsis = _ELLIPSIS.match(message)
    x_span = doc.char_span(ellipsis.start("x"), ellipsis.end("x"), alignment_mode="expand") if ellipsis else None
    if x_span is not None and x_span.text.lower() not in WH_WORDS and not any(
        t.pos_ in {"VERB", "AUX"} and not t.ent_type_ for t in x_span
    ):
        resolved = _resolve_ellipsis(doc, ellipsis.start("x"), ellipsis.end("x"), history, nlp)
        if resolved is not None:
            question, replacements = resolved
            return Resolution(question, _retrieval_query(question, history, replacements), True, tuple(replacements))
    text, replacements, assumptions = _resolve_pronouns(doc, history)
    if not replacements:
        return Resolution(message, message, False)
    question = _strip_leading_conjunction(text)
    return Resolution(question, _retrieval_query(question, history, replacements), True, tuple(replacements),
                      tuple(assumptions))
