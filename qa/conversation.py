"""Conversation state and follow-up resolution, without a language model.

A conversation is a list of :class:`Turn` objects. Each turn keeps what later questions may
refer back to: the question as typed and as resolved, the answer, and the *mentions* found in
them with spaCy (named entities and noun chunks, each with a coarse kind: person, group,
place, time, number, thing).

:func:`resolve_followup` rewrites a new message against those turns:

* pronouns: he/she/him/his/her → the most recent person; they/them/their → the most recent
  group; it/its → the most recent non-person topic; there → the most recent place;
  then → the most recent date or time;
* ellipsis: "What about X?" / "And X?" → the previous question with its mention of X's kind
  (or its subject) replaced by X; "And the other one?" → the previous question about another
  mention of the same kind seen in the conversation.

Everything here is a pure function of the turns, the message and an injected spaCy pipeline,
apart from :func:`answer_in_conversation`, which also runs the retriever and the answerer.
No word list of any particular corpus is used.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, NamedTuple, Sequence

from qa.models import Answer, Citation
from qa.question import ORGANIZATION, head_noun_type, is_person_noun

# Coarse kinds of mentions.
PERSON = "person"
GROUP = "group"
PLACE = "place"
TIME = "time"
NUMBER = "number"
THING = "thing"

_KIND_OF_LABEL = {
    "PERSON": PERSON,
    "ORG": GROUP, "NORP": GROUP,
    "GPE": PLACE, "LOC": PLACE, "FAC": PLACE,
    "DATE": TIME, "TIME": TIME,
    "CARDINAL": NUMBER, "MONEY": NUMBER, "PERCENT": NUMBER, "QUANTITY": NUMBER, "ORDINAL": NUMBER,
}
#: Kinds a small NER model often confuses with one another (a city tagged ORG, a party GPE).
_NAMED_KINDS = frozenset({GROUP, PLACE, THING})
#: Where a mention was found in a turn, most salient first.
_SOURCES = ("answer", "question", "context")

_WH_WORDS = frozenset({"who", "whom", "whose", "what", "which", "where", "when", "why", "how"})
_PERSON_PRONOUNS = frozenset({"he", "she", "him", "his", "her", "hers", "himself", "herself"})
_GROUP_PRONOUNS = frozenset({"they", "them", "their", "theirs", "themselves"})
_THING_PRONOUNS = frozenset({"it", "its", "itself"})
_POSSESSIVES = frozenset({"his", "its", "their", "hers", "theirs"})
_LEADING_CONJUNCTION = re.compile(r"^\s*(?:and|so|but|also|ok(?:ay)?|then)\b[\s,]*(?=\w)", re.IGNORECASE)
_ELLIPSIS = re.compile(
    r"^\s*(?:(?:and\s+)?(?:what|how)\s+about|and(?:\s+what\s+of)?|what\s+of)\s+(?P<x>[^?]+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_POSSESSIVE_SUFFIX = re.compile(r"\s*['\u2019]s?$")
_GENDER = {"he": "m", "him": "m", "his": "m", "himself": "m", "she": "f", "her": "f", "hers": "f", "herself": "f"}
_TITLE_GENDER = re.compile(r"\b(?P<title>Mr|Mrs|Ms|Miss|Mister|Madam|Sir|Lady|Lord)\.?\s+(?P<name>[A-Z][\w'\-]*(?:\s+[A-Z][\w'\-]*)*)")
_TITLE_GENDERS = {"mr": "m", "mister": "m", "sir": "m", "lord": "m", "mrs": "f", "ms": "f", "miss": "f", "madam": "f", "lady": "f"}
_OTHER_ONE = re.compile(r"^(?:the\s+)?other(?:\s+(?:one|ones|two))?$", re.IGNORECASE)
_ON_DAY = re.compile(r"^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b", re.IGNORECASE)
_BARE_TIME = re.compile(r"^(?:next|last|this|that|these|those|every|each|today|tomorrow|yesterday|tonight|now|"
                        r"early|late|recently|earlier|later|the\s+(?:next|following|previous|same))\b", re.IGNORECASE)


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
    """

    text: str
    kind: str
    label: str = ""
    source: str = "question"
    role: str = ""
    plural: bool = False

    @property
    def is_entity(self) -> bool:
        return bool(self.label)


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, reduced to what later questions can refer to.

    Attributes:
        message: the message as typed.
        question: the message after follow-up resolution (what the answerer was asked).
        answer: the answer span, or ``None`` when the documents did not say.
        mentions: what the question, the answer and its quote talk about, most salient first.
    """

    message: str
    question: str
    answer: str | None = None
    mentions: tuple[Mention, ...] = ()
    replacements: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_answer(cls, message: str, question: str, answer: Answer | None, nlp,
                    replacements: Sequence[tuple[str, str]] = ()) -> "Turn":
        """Build a turn from a message, its resolved question and the answer given to it.

        The answer's quote is parsed (not the bare span) so that entities get their
        context; mentions inside the answer span are ``answer`` mentions, the rest
        ``context``.

        Args:
            message: as typed.
            question: as resolved (equal to ``message`` when it did not refer back).
            answer: the pipeline's answer, or ``None`` when unknown.
            nlp: a spaCy pipeline with a parser and an entity recognizer.
            replacements: the resolution's ``(written, taken to mean)`` pairs; pronouns bound
                to people here tell later turns whether a name is a "he" or a "she".
        """
        mentions = list(extract_mentions(nlp(question), source="question"))
        text = answer.answer if answer is not None and answer.found else None
        if text:
            mentions[:0] = _answer_mentions(answer, nlp)
        return cls(message=message, question=question, answer=text, mentions=tuple(mentions),
                   replacements=tuple(tuple(pair) for pair in replacements))

    @classmethod
    def from_text(cls, message: str, question: str, answer: str | None, nlp,
                  replacements: Sequence[tuple[str, str]] = ()) -> "Turn":
        """Build a turn from plain text, e.g. an assistant message sent back by a chat client."""
        mentions = list(extract_mentions(nlp(question), source="question"))
        if answer:
            mentions[:0] = extract_mentions(nlp(answer), source="answer")
        return cls(message=message, question=question, answer=answer or None, mentions=tuple(mentions),
                   replacements=tuple(tuple(pair) for pair in replacements))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Turn":
        return cls(
            message=data["message"], question=data["question"], answer=data.get("answer"),
            mentions=tuple(Mention(**m) for m in data.get("mentions", ())),
            replacements=tuple(tuple(pair) for pair in data.get("replacements", ())),
        )


@dataclass(frozen=True)
class Resolution:
    """How a message was understood.

    Attributes:
        question: the message rewritten to stand on its own (for the answerer).
        retrieval_query: what to search the index with.
        referred_back: whether the message referred to earlier turns.
        replacements: ``(what was written, what it was taken to mean)`` pairs: a pronoun and its
            antecedent, or for "What about X?" the previous question's phrase and X.
    """

    question: str
    retrieval_query: str
    referred_back: bool = False
    replacements: tuple[tuple[str, str], ...] = field(default=())


# --- mentions -------------------------------------------------------------------------------------


def _kind_of_chunk(chunk) -> str:
    root = chunk.root
    numeric = sum(1 for t in chunk if _KIND_OF_LABEL.get(t.ent_type_) == NUMBER or t.like_num)
    if numeric * 2 >= len(chunk):  # "40 million euros", "12 varieties"
        return NUMBER
    if root.ent_type_:
        return _KIND_OF_LABEL.get(root.ent_type_, THING)
    if root.pos_ == "NOUN" and head_noun_type(root.lemma_.lower()) == ORGANIZATION:
        return GROUP  # "the council", "the committee": referred to as "they"
    if root.pos_ == "NOUN" and is_person_noun(root.lemma_.lower()):
        return PERSON
    return THING


def _is_plural(span) -> bool:
    root = span.root
    return root.tag_ in {"NNS", "NNPS"} or any(t.dep_ == "conj" and t.head is root for t in span.doc)


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

    entities = [e for e in doc.ents if inside(e)]
    entities.sort(key=lambda e: (_KIND_OF_LABEL.get(e.label_) == NUMBER, e.start))
    for ent in entities:
        text = _POSSESSIVE_SUFFIX.sub("", ent.text)
        key = text.lower()
        if not key or key in seen:
            continue
        seen.add(key)
        yield Mention(text, _KIND_OF_LABEL.get(ent.label_, THING), ent.label_, source, ent.root.dep_, False)
    try:
        chunks = list(doc.noun_chunks)
    except ValueError:  # no parser: entities only
        chunks = []
    for chunk in chunks:
        chunk = _trim_chunk(chunk)
        if chunk is None or not inside(chunk):
            continue
        key = chunk.text.lower()
        if key in seen or any(e.start <= chunk.start and chunk.end <= e.end for e in doc.ents):
            continue
        seen.add(key)
        yield Mention(chunk.text, _kind_of_chunk(chunk), "", source, chunk.root.dep_, _is_plural(chunk))


def _trim_chunk(chunk):
    """A noun chunk without leading conjunctions, wh-words and punctuation; ``None`` when nothing is left."""
    # A chunk holding a wh-word is what the question asks for ("how many varieties"), not a topic.
    if any(t.lower_ in _WH_WORDS or t.tag_ in {"MD", "WDT", "WP", "WP$", "WRB"} or t.dep_ in {"aux", "auxpass"} for t in chunk):
        return None
    tokens = [t for t in chunk]
    while tokens and tokens[0].pos_ in {"CCONJ", "PUNCT"}:
        tokens.pop(0)
    if not tokens or chunk.root not in tokens or chunk.root.pos_ == "PRON":
        return None
    return chunk.doc[tokens[0].i : tokens[-1].i + 1] if tokens[0].i <= chunk.root.i else None


def _answer_mentions(answer: Answer, nlp) -> list[Mention]:
    """Mentions of the answer span (``answer``) and of the rest of its quote (``context``)."""
    quote = answer.quote or answer.answer or ""
    start = -1
    if answer.citations and answer.quote:
        c = answer.citations[0]
        start = c.start - c.quote_start
        if quote[start : start + len(answer.answer or "")] != answer.answer:
            start = -1
    if start < 0:
        start = quote.find(answer.answer or "")
    if start < 0:
        quote, start = answer.answer or "", 0
    end = start + len(answer.answer or "")
    doc = nlp(quote)
    inside = list(extract_mentions(doc, "answer", within=(start, end)))
    if not any(m.kind != NUMBER for m in inside):
        # The span alone may be a clause or a fragment the quote's parse splits oddly;
        # fall back to parsing it on its own.
        known = {m.text.lower() for m in inside}
        inside += [m for m in extract_mentions(nlp(answer.answer or ""), "answer") if m.text.lower() not in known]
    inside.sort(key=lambda m: _answer_rank(m, answer.answer or ""))
    texts = {m.text.lower() for m in inside}
    context = [m for m in extract_mentions(doc, "context") if m.text.lower() not in texts
               and not (m.text.lower() in (answer.answer or "").lower())]
    return inside + context


def _answer_rank(mention: Mention, answer_text: str) -> tuple:
    # The whole answer first, then its head phrase (a clause's subject), then entities, then the rest.
    whole = mention.text.strip().lower() == answer_text.strip().lower()
    return (not whole, mention.role not in {"nsubj", "nsubjpass", "ROOT", "appos"}, not mention.is_entity)


# --- resolution -----------------------------------------------------------------------------------


def _ordered_mentions(history: Sequence[Turn]) -> Iterable[tuple[int, Mention]]:
    """Every mention of the conversation, most recent turn first, answer before question before context."""
    for age, turn in enumerate(reversed(history)):
        for source in _SOURCES:
            for mention in turn.mentions:
                if mention.source == source:
                    yield age, mention


def _known_gender(history: Sequence[Turn], name: str) -> str | None:
    """"m" or "f" when the conversation already called ``name`` he or she (or Mr/Mrs ...), else ``None``."""
    lowered = name.lower()
    for turn in reversed(history):
        for written, meant in turn.replacements:
            if _POSSESSIVE_SUFFIX.sub("", meant).lower() == lowered and written.lower() in _GENDER:
                return _GENDER[written.lower()]
        for text in (turn.question, *(m.text for m in turn.mentions)):
            for match in _TITLE_GENDER.finditer(text):
                full = match.group("name").lower()
                if full == lowered or full.endswith(" " + lowered) or lowered.endswith(" " + full):
                    return _TITLE_GENDERS[match.group("title").lower()]
    return None


def _find_person(history: Sequence[Turn], pronoun: str = "") -> Mention | None:
    # Per turn: a named person in the answer, then in the question, then a person noun
    # ("the transport minister"). Within the most recent turn that has people, a name the
    # conversation already called by the same pronoun wins, and one called by the other
    # pronoun is skipped.
    gender = _GENDER.get(pronoun)
    for turn in reversed(history):
        candidates = (
            [m for m in turn.mentions if m.kind == PERSON and m.is_entity and m.source == "answer"]
            + [m for m in turn.mentions if m.kind == PERSON and m.is_entity and m.source == "question"]
            + [m for m in turn.mentions if m.kind == PERSON and not m.is_entity and m.source in {"answer", "question"}]
        )
        if gender is not None:
            known = [(m, _known_gender(history, m.text)) for m in candidates]
            matching = [m for m, g in known if g == gender]
            candidates = matching or [m for m, g in known if g is None]
        if candidates:
            return candidates[0]
    for _, mention in _ordered_mentions(history):
        if mention.kind == PERSON and mention.is_entity and (gender is None or _known_gender(history, mention.text) in {None, gender}):
            return mention
    return None


def _find_group(history: Sequence[Turn]) -> Mention | None:
    for turn in reversed(history):
        for source in ("answer", "question"):
            for mention in turn.mentions:
                if mention.source == source and (mention.kind == GROUP or (mention.plural and mention.kind in {PERSON, THING})):
                    return mention
    return None


def _find_thing(history: Sequence[Turn]) -> Mention | None:
    # The answer's main phrase if it is a thing, else the question's subject or object.
    roles = ("nsubj", "nsubjpass", "dobj", "attr", "ROOT", "appos", "pobj", "conj")
    for turn in reversed(history):
        answer = [m for m in turn.mentions if m.source == "answer" and m.kind in {THING, GROUP, PLACE} and not m.plural]
        if answer:
            return answer[0]
        question = [m for m in turn.mentions if m.source == "question" and m.kind in {THING, GROUP, PLACE} and not m.plural]
        # Phrases before names: "the Appleby orchard" over its modifier "Appleby".
        question.sort(key=lambda m: (roles.index(m.role) if m.role in roles else len(roles), m.is_entity))
        if question:
            return question[0]
    return None


def _find_kind(history: Sequence[Turn], kind: str) -> Mention | None:
    for _, mention in _ordered_mentions(history):
        if mention.kind == kind:
            return mention
    return None


def _possessive(text: str) -> str:
    return text + ("'" if text.endswith("s") else "'s")


def _time_phrase(text: str) -> str:
    if _BARE_TIME.match(text):
        return text
    if _ON_DAY.match(text):
        return f"on {text}"
    if text[:1].isdigit() and ":" in text or text.lower().endswith((" am", " pm", "a.m.", "p.m.")) or text.lower() in {"noon", "midnight"}:
        return f"at {text}"
    return f"in {text}"


def _mentioned_before(doc, index: int, kind: str) -> bool:
    """Whether the message itself names something of ``kind`` before token ``index`` ("Did Berg say he ...")."""
    return any(ent.end <= index and _KIND_OF_LABEL.get(ent.label_) == kind for ent in doc.ents)


def _resolve_pronouns(doc, history: Sequence[Turn]) -> tuple[str, list[tuple[str, str]]]:
    """Replace referring pronouns of ``doc`` by their antecedents; returns the text and the replacements."""
    pieces: list[str] = []
    replacements: list[tuple[str, str]] = []
    for token in doc:
        word = token.lower_
        replacement = None
        if token.tag_ in {"PRP", "PRP$"} or word in {"there", "then"}:
            if word in _PERSON_PRONOUNS and not _mentioned_before(doc, token.i, PERSON):
                antecedent = _find_person(history, word)
                if antecedent is not None:
                    possessive = word in _POSSESSIVES or token.tag_ == "PRP$"
                    replacement = _possessive(antecedent.text) if possessive else antecedent.text
            elif word in _GROUP_PRONOUNS and not _mentioned_before(doc, token.i, GROUP):
                antecedent = _find_group(history)
                if antecedent is not None:
                    replacement = _possessive(antecedent.text) if word in _POSSESSIVES else antecedent.text
            elif word in _THING_PRONOUNS and token.dep_ != "expl":
                antecedent = _find_thing(history)
                if antecedent is not None:
                    replacement = _possessive(antecedent.text) if word in _POSSESSIVES else antecedent.text
            elif word == "there" and token.dep_ != "expl" and token.tag_ != "EX":
                antecedent = _find_kind(history, PLACE)
                if antecedent is not None:
                    after_preposition = token.i > 0 and doc[token.i - 1].pos_ == "ADP"
                    replacement = antecedent.text if after_preposition else f"in {antecedent.text}"
            elif word == "then" and token.pos_ == "ADV":
                antecedent = _find_kind(history, TIME)
                if antecedent is not None:
                    after_preposition = token.i > 0 and doc[token.i - 1].pos_ == "ADP"
                    replacement = antecedent.text if after_preposition else _time_phrase(antecedent.text)
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
    return "".join(pieces), replacements


def _same_kind_target(candidates: Sequence[Mention], kind: str, label: str) -> Mention | None:
    for test in (
        lambda m: label and m.label == label,
        lambda m: m.kind == kind and (kind != THING or m.is_entity),
        lambda m: kind in _NAMED_KINDS and m.kind in _NAMED_KINDS and m.is_entity,
    ):
        for mention in candidates:
            if test(mention):
                return mention
    return None


def _subject(candidates: Sequence[Mention]) -> Mention | None:
    for roles in (("nsubj", "nsubjpass"), ("dobj", "attr"), ("pobj",)):
        for mention in candidates:
            if mention.role in roles and mention.kind in {THING, GROUP, PLACE, PERSON}:
                return mention
    return None


def _replace_once(text: str, old: str, new: str) -> str | None:
    match = re.search(rf"(?<!\w){re.escape(old)}(?!\w)", text, re.IGNORECASE)
    if match is None:
        return None
    return text[: match.start()] + new + text[match.end() :]


def _last_question_turn(history: Sequence[Turn]) -> Turn | None:
    return history[-1] if history else None


def _resolve_ellipsis(doc, x_start: int, x_end: int, history: Sequence[Turn]) -> tuple[str, list[tuple[str, str]]] | None:
    """ "What about X?" → the previous question about X; ``None`` when there is nothing to rewrite."""
    previous = _last_question_turn(history)
    if previous is None:
        return None
    x_text = doc.text[x_start:x_end]
    in_question = [m for m in previous.mentions if m.source == "question"]
    if _OTHER_ONE.match(x_text):
        focus = next((m for m in in_question if m.is_entity and m.kind not in {NUMBER}), None) or _subject(in_question)
        if focus is None:
            return None
        for _, mention in _ordered_mentions(history):
            if mention.text.lower() != focus.text.lower() and (
                mention.kind == focus.kind or (focus.kind in _NAMED_KINDS and mention.kind in _NAMED_KINDS and mention.is_entity)
            ) and mention.text.lower() not in previous.question.lower():
                rewritten = _replace_once(previous.question, focus.text, mention.text)
                if rewritten is not None:
                    return rewritten, [(focus.text, mention.text)]
        return None
    span = doc.char_span(x_start, x_end, alignment_mode="expand")
    ents = [e for e in doc.ents if span is not None and e.start >= span.start and e.end <= span.end]
    label = ents[0].label_ if ents else ""
    # A name seen earlier in the conversation keeps the label it had in a full sentence.
    remembered = next((m for _, m in _ordered_mentions(history) if m.text.lower() == x_text.lower() and m.label), None)
    if remembered is not None:
        label = remembered.label
    if label:
        kind = _KIND_OF_LABEL.get(label, THING)
    elif span is not None and span.root.pos_ == "PROPN":
        kind, label = THING, ""
        target = next((m for m in in_question if m.is_entity and m.kind in _NAMED_KINDS), None)
        if target is not None:
            rewritten = _replace_once(previous.question, target.text, x_text)
            if rewritten is not None:
                return rewritten, [(target.text, x_text)]
    else:
        kind = PERSON if span is not None and is_person_noun(span.root.lemma_.lower()) else THING
    target = _same_kind_target(in_question, kind, label) or _subject(in_question)
    if target is None:
        return None
    rewritten = _replace_once(previous.question, target.text, x_text)
    if rewritten is None:
        return None
    return rewritten, [(target.text, x_text)]


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
    dropped = {old.lower() for old, _ in replaced}  # "What about X?" moved away from these
    extra = [m.text for m in history[-1].mentions
             if m.source == "question" and m.is_entity and m.kind in {PERSON, GROUP, PLACE}
             and m.text.lower() not in lowered and m.text.lower() not in dropped]
    return " ".join([question, *dict.fromkeys(extra[:2])])


def resolve_followup(history: Sequence[Turn], message: str, nlp) -> Resolution:
    """Rewrite ``message`` so that it stands on its own, using the earlier turns.

    Args:
        history: earlier turns, oldest first (may be empty).
        message: the new message (already validated and whitespace-normalised).
        nlp: a spaCy pipeline with a parser and an entity recognizer.

    Returns:
        The resolved question, the retrieval query and whether the message referred back.
        A message that does not refer back comes back unchanged.
    """
    if not history:
        return Resolution(message, message, False)
    doc = nlp(message)
    ellipsis = _ELLIPSIS.match(message)
    if ellipsis is not None and ellipsis.group("x").lower() not in _WH_WORDS and not any(
        t.pos_ in {"VERB", "AUX"} for t in nlp(ellipsis.group("x"))
    ):
        resolved = _resolve_ellipsis(doc, ellipsis.start("x"), ellipsis.end("x"), history)
        if resolved is not None:
            question, replacements = resolved
            return Resolution(question, _retrieval_query(question, history, replacements), True, tuple(replacements))
    text, replacements = _resolve_pronouns(doc, history)
    if not replacements:
        return Resolution(message, message, False)
    question = _strip_leading_conjunction(text)
    return Resolution(question, _retrieval_query(question, history, replacements), True, tuple(replacements))


# --- answering and display ------------------------------------------------------------------------

NOT_FOUND_REPLY = "I could not find the answer in the documents."
_MARKERS = re.compile(r"(?:\s*\[\d+\])+\s*$")


class ConversationStep(NamedTuple):
    """One answered message of a conversation."""

    resolution: Resolution  # how the message was understood
    answer: Answer
    turn: Turn  # what to remember of it
    passages: list  # the retrieved passages the answer was read from


def answer_in_conversation(pipeline, history: Sequence[Turn], message: str, *, nlp, top_k: int | None = None
                           ) -> ConversationStep:
    """Answer ``message`` as the next turn of a conversation.

    Args:
        pipeline: a :class:`qa.pipeline.QAPipeline` (anything with ``search``, ``answerer``, ``index``, ``settings``).
        history: earlier turns, oldest first.
        message: the new message as typed.
        nlp: spaCy pipeline used for resolution and mentions.
        top_k: passages the answerer reads.

    Returns:
        How the message was understood, the answer, the new turn to remember, and the passages.

    Raises:
        InvalidQuestion: the message is empty, too long or has no words.
    """
    from qa.pipeline import clean_question

    message = clean_question(message, pipeline.settings.max_question_chars)
    resolution = resolve_followup(history, message, nlp)
    passages = pipeline.search(resolution.retrieval_query, top_k)
    answer = pipeline.answerer.answer(resolution.question, passages, pipeline.index)
    turn = Turn.from_answer(message, resolution.question, answer, nlp, resolution.replacements)
    return ConversationStep(resolution, answer, turn, passages)


def reply_text(answer: Answer) -> str:
    """Display text of an answer: the span with ``[n]`` markers, the quote, and the numbered sources."""
    if not answer.found or not answer.answer:
        return NOT_FOUND_REPLY
    markers = "".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))
    lines = [f"{answer.answer} {markers}".rstrip()]
    if answer.quote:
        lines += ["", f"\u201c{' '.join(answer.quote.split())}\u201d" + (" [1]" if answer.citations else "")]
    if answer.citations:
        lines.append("")
        lines += [f"[{n}] {c.title} ({c.doc_id}): {c.url}" for n, c in enumerate(answer.citations, start=1)]
    return "\n".join(lines)


def answer_from_reply(text: str) -> str | None:
    """The answer span of a :func:`reply_text` (as a chat client sends it back), ``None`` if not found."""
    first = text.strip().split("\n", 1)[0].strip()
    if not first or first == NOT_FOUND_REPLY:
        return None
    return _MARKERS.sub("", first).strip() or None


def answer_from_dict(data: dict) -> Answer:
    """Inverse of :meth:`Answer.to_dict`."""
    values = dict(data)
    values["citations"] = [Citation(**c) for c in values.get("citations") or []]
    return Answer(**values)
