"""What the documents say about a name: the entity type they give it and the pronouns they use for it.

A follow-up's "she" may only take a person the documents call "she" (or whose gender they
do not show); "it" never takes a person. The evidence is read from the cited passage and a
few sentences around it, parsed with spaCy:

* entity labels: every occurrence of the name in the passage votes (a single occurrence in a
  short question is often mislabelled);
* pronouns: a subject pronoun ("She was succeeded by ...") refers to the subject of the
  previous sentence, or to a subject named earlier in its own sentence; a possessive ("her
  shares") to the only name before it in its sentence; titles (Mr, Mrs, Ms ...) count too.

These are the rules of thumb of centering theory, not a coreference model: they are right
often enough to break ties between candidates and are never the only signal.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Mapping, Protocol, Sequence

from index.cache import LRUCache
from qa.question import is_person_noun
from qa.conversation.mentions import KIND_OF_LABEL, NAMED_KINDS, Kind, Mention, same_referent, strip_possessive

#: Pronoun → the class it shows: masculine, feminine, neuter ("it"), plural ("they").
PRONOUN_CLASS = {
    "he": "m", "him": "m", "his": "m", "himself": "m",
    "she": "f", "her": "f", "hers": "f", "herself": "f",
    "it": "n", "its": "n", "itself": "n",
    "they": "p", "them": "p", "their": "p", "theirs": "p", "themselves": "p",
}
_TITLE = re.compile(r"\b(?P<title>Mr|Mrs|Ms|Miss|Mister|Madam|Sir|Lady|Lord|Dame)\.?\s+(?P<name>[A-Z][\w'\-]*(?:\s+[A-Z][\w'\-]*)*)")
_TITLE_CLASS = {"mr": "m", "mister": "m", "sir": "m", "lord": "m",
                "mrs": "f", "ms": "f", "miss": "f", "madam": "f", "lady": "f", "dame": "f"}
_SUBJECTS = frozenset({"nsubj", "nsubjpass"})


@dataclass
class EntityProfile:
    """What one passage says about one name.

    Attributes:
        labels: spaCy entity labels given to the name, with counts.
        pronouns: pronoun classes (``m``, ``f``, ``n``, ``p``) used for it, with counts.
    """

    labels: Counter = field(default_factory=Counter)
    pronouns: Counter = field(default_factory=Counter)


def _referent(token) -> tuple[str, str] | None:
    """The name a token stands for, with its entity label: its entity, or a proper noun with its compounds."""
    if token.ent_type_ and token.ent_iob_ in {"B", "I"}:
        for ent in token.doc.ents:
            if ent.start <= token.i < ent.end:
                return strip_possessive(ent.text), ent.label_
    if token.pos_ == "PROPN":
        first = min([c.i for c in token.children if c.dep_ == "compound"] + [token.i])
        return token.doc[first : token.i + 1].text, ""
    return None


def _copula_subject(token):
    """The subject of "<subject> is <token>", or ``None``."""
    if token.dep_ != "attr" or token.head.lemma_ != "be":
        return None
    return next((c for c in token.head.children if c.dep_ in _SUBJECTS), None)


def _is_described(token) -> bool:
    """Whether ``token`` is the name in "<noun> is <name>" ("The club captain is Amara Lewis"):
    the name is what the sentence is about."""
    subject = _copula_subject(token)
    return subject is not None and subject.pos_ == "NOUN"


def _is_person_description(token) -> bool:
    subject = _copula_subject(token)
    return subject is not None and is_person_noun(subject.lemma_.lower())


def _can_be(cls: str, label: str) -> bool:
    """Whether a pronoun of class ``cls`` may stand for a name with this entity label."""
    if cls in {"m", "f"}:
        return label in {"PERSON", ""}
    if cls == "n":
        return label != "PERSON"
    return label in {"ORG", "NORP", ""}


def profile_entities(doc) -> dict[str, EntityProfile]:
    """The :class:`EntityProfile` of every name in a parsed passage, keyed by the name as written."""
    profiles: dict[str, EntityProfile] = {}

    def profile(name: str) -> EntityProfile:
        return profiles.setdefault(name, EntityProfile())

    for ent in doc.ents:
        profile(strip_possessive(ent.text)).labels[ent.label_] += 1
    for match in _TITLE.finditer(doc.text):
        profile(match.group("name")).pronouns[_TITLE_CLASS[match.group("title").lower()]] += 1

    previous_subject: tuple[str, str] | None = None  # the centre: the last sentence's subject
    previous_names: list[tuple[str, str]] = []
    for sentence in doc.sents:
        names: list[tuple[str, str]] = []  # (name, label) of this sentence so far, in order
        subjects: list[tuple[str, str]] = []  # those of them that are subjects
        subject: tuple[str, str] | None = None  # what this sentence's first subject stands for
        for token in sentence:
            cls = PRONOUN_CLASS.get(token.lower_) if token.tag_ in {"PRP", "PRP$"} else None
            if cls is not None:
                referent = None
                is_subject = token.dep_ in _SUBJECTS
                possessive = token.tag_ == "PRP$" or token.dep_ == "poss"
                if is_subject or (possessive and cls in {"m", "f"}):
                    fits = [n for n in dict.fromkeys(subjects if is_subject else names) if _can_be(cls, n[1])]
                    if possessive and len(fits) > 1:
                        fits = []  # "Marsh met Osei and his wife": no telling whose
                    elif fits:
                        fits = fits[-1:]
                    elif previous_subject is not None and _can_be(cls, previous_subject[1]):
                        fits = [previous_subject]
                    elif cls in {"m", "f"}:
                        people = list(dict.fromkeys(n for n in previous_names if _can_be(cls, n[1])))
                        if not people and previous_subject is not None and set(previous_names) == {previous_subject}:
                            # The only name around, mislabelled ("Amara Lewis" tagged ORG): the
                            # pronoun is better evidence than the label.
                            people = [previous_subject]
                        fits = people if len(people) == 1 else []
                    referent = fits[0] if fits else None
                if referent is not None:
                    profile(referent[0]).pronouns[cls] += 1
                    if is_subject and subject is None:
                        subject = referent
                continue
            found = _referent(token) if token.pos_ in {"PROPN", "NOUN"} else None
            if found is None:
                continue
            described = _is_described(token)
            if described and _is_person_description(token):
                # "The head coach is Daniel Brooks": a name said to be a person noun is a person.
                profile(found[0]).labels["PERSON"] += 1
                found = (found[0], "PERSON")
            if not names or names[-1] != found:
                names.append(found)
            if token.dep_ in _SUBJECTS or described:
                subjects.append(found)
                subject = subject or found
        if any(t.dep_ in _SUBJECTS for t in sentence):  # the centre moves to this sentence's subject
            previous_subject = subject
        previous_names = names
    return profiles


def combined_profile(profiles: Mapping[str, EntityProfile], name: str) -> EntityProfile:
    """Everything the passages say about ``name`` or a shorter or longer form of it ("Ortiz", "Lena Ortiz")."""
    out = EntityProfile()
    for key, found in profiles.items():
        if same_referent(key, name):
            out.labels.update(found.labels)
            out.pronouns.update(found.pronouns)
    return out


def apply_evidence(mention: Mention, profile: EntityProfile) -> Mention:
    """The mention with the kind, label and gender the documents give its name.

    The passage's majority entity label wins over the label of a single occurrence; a name
    the documents call "he" or "she" is a person, one they only call "it" is not.
    """
    if not (mention.is_entity or mention.kind in NAMED_KINDS | {Kind.PERSON}):
        return mention
    label, kind = mention.label, mention.kind
    if profile.labels:
        votes = profile.labels.copy()
        if mention.label:
            votes[mention.label] += 1
        best, count = votes.most_common(1)[0]
        if count > votes.get(mention.label, 0) or not mention.label:
            label, kind = best, KIND_OF_LABEL.get(best, Kind.THING)
    personal = profile.pronouns["m"] + profile.pronouns["f"]
    if personal and kind in NAMED_KINDS and (label or kind == Kind.THING and not mention.is_entity and mention.text[:1].isupper()):
        kind = Kind.PERSON
    elif kind == Kind.PERSON and mention.is_entity and not personal and profile.pronouns["n"]:
        kind = Kind.GROUP
    gender = ""
    if kind == Kind.PERSON:
        if profile.pronouns["m"] > profile.pronouns["f"]:
            gender = "m"
        elif profile.pronouns["f"] > profile.pronouns["m"]:
            gender = "f"
    if (label, kind, gender) == (mention.label, mention.kind, mention.gender):
        return mention
    return replace(mention, label=label, kind=kind, gender=gender or mention.gender)


#: Places read per name of a question whose answer cites nothing (a declined question).
NAME_PLACES = 2


class PassageSource(Protocol):
    """Where the text around a cited span comes from (the index, in the application)."""

    def passage(self, doc_id: str, start: int, end: int) -> str | None:
        """The sentences around ``[start, end)`` of ``doc_id``, or ``None`` for an unknown document."""

    def places(self, phrase: str, limit: int) -> list[tuple[str, int, int]]:
        """``(doc_id, start, end)`` of the first ``limit`` places the documents write ``phrase``."""


class IndexPassages:
    """Passages around cited spans, read from a loaded index (its documents and sentence table).

    Args:
        index: anything with ``document(doc_id)`` (``.text``), ``sentences[doc_id]`` (offsets) and
            ``phrase_places(phrase, limit)`` (:meth:`index.corpus.CorpusIndex.phrase_places`).
        before: sentences taken before the cited one (names are introduced before pronouns).
        after: sentences taken after it (where the pronouns that refer back to it are).
    """

    def __init__(self, index, before: int = 3, after: int = 4) -> None:
        self.index = index
        self.before = before
        self.after = after

    def places(self, phrase: str, limit: int) -> list[tuple[str, int, int]]:
        return self.index.phrase_places(phrase, limit)

    def passage(self, doc_id: str, start: int, end: int) -> str | None:
        document = self.index.document(doc_id)
        if document is None:
            return None
        sentences: Sequence[tuple[int, int]] = self.index.sentences.get(doc_id) or [(0, len(document.text))]
        first = next((n for n, (s, e) in enumerate(sentences) if e > start), len(sentences) - 1)
        last = next((n for n, (s, e) in enumerate(sentences) if e >= end), len(sentences) - 1)
        first, last = max(0, first - self.before), min(len(sentences) - 1, max(first, last) + self.after)
        return document.text[sentences[first][0] : sentences[last][1]]


class DocumentEvidence:
    """Profiles of the names around cited spans, parsed once per passage and kept (bounded).

    Args:
        source: where passages come from.
        nlp: the spaCy pipeline (with a parser and an entity recognizer).
        capacity: passages whose profiles are kept.
    """

    def __init__(self, source: PassageSource, nlp, capacity: int = 256) -> None:
        self.source = source
        self.nlp = nlp
        self._cache: LRUCache[str, dict[str, EntityProfile]] = LRUCache(capacity)
        self._lock = threading.Lock()

    def places_of(self, names: Sequence[str], per_name: int = NAME_PLACES) -> list[tuple[str, int, int]]:
        """Where the documents write each of ``names`` (the first ``per_name`` places of each): what
        can be read about the names of a question whose answer cites nothing."""
        return [place for name in dict.fromkeys(names) for place in self.source.places(name, per_name)]

    def profiles(self, citations: Sequence[tuple[str, int, int]]) -> dict[str, EntityProfile]:
        """The merged profiles of the passages around each ``(doc_id, start, end)``."""
        merged: dict[str, EntityProfile] = {}
        for doc_id, start, end in citations:
            text = self.source.passage(doc_id, start, end)
            if not text:
                continue
            with self._lock:
                found = self._cache.get(text)
                if found is None:
                    found = profile_entities(self.nlp(text))
                    self._cache[text] = found
            for name, profile in found.items():
                target = merged.setdefault(name, EntityProfile())
                target.labels.update(profile.labels)
                target.pronouns.update(profile.pronouns)
        return merged
