"""Turns: what a conversation remembers of each exchange, and the reply text that carries it.

A turn is built from :class:`AnswerFacts`: the answer span, its quote and its citations,
whitespace-normalised. The facts read from an answer object (``/chat``, ``qa chat``, ``qa
eval``) and the facts read back from that answer's reply text (an assistant message that an
OpenAI-style client sends back to ``/v1/chat/completions``) are equal, so every endpoint
rebuilds the same turns and resolves the next message the same way.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from qa.conversation.evidence import DocumentEvidence, apply_evidence, combined_profile
from qa.conversation.mentions import WH_WORDS, Mention, answer_mentions, extract_mentions, strip_possessive
from qa.models import DOCUMENTS_PATH, Answer, Citation

NOT_FOUND_REPLY = "I could not find the answer in the documents."
UNDERSTOOD_PREFIX = "Understood as: "
_MARKERS = re.compile(r"(?:\s*\[\d+\])+\s*$")
_QUOTE_LINE = re.compile(r"^\u201c(?P<quote>.*)\u201d(?:\s*\[\d+\])?$")
_SOURCE_LINE = re.compile(rf"^\[\d+\] .*: (?P<url>{re.escape(DOCUMENTS_PATH)}\S+)$")
_ASSUMPTION_LINE = re.compile(r"^Taking '[^']+' as .*\u201d$|^Understood as: ")


def _flat(text: str | None) -> str:
    return " ".join((text or "").split())


@dataclass(frozen=True)
class AnswerFacts:
    """What later turns may use of an answer.

    Attributes:
        text: the answer span (whitespace-normalised), ``None`` when the documents did not say.
        quote: the supporting quote (whitespace-normalised), ``""`` when none.
        citations: ``(doc_id, start, end)`` of each citation, the main one first.
    """

    text: str | None = None
    quote: str = ""
    citations: tuple[tuple[str, int, int], ...] = ()

    @classmethod
    def from_answer(cls, answer: Answer | None) -> "AnswerFacts":
        if answer is None or not answer.found or not _flat(answer.answer):
            return cls()
        return cls(_flat(answer.answer), _flat(answer.quote),
                   tuple((c.doc_id, c.start, c.end) for c in answer.citations))

    @classmethod
    def from_reply(cls, text: str) -> "AnswerFacts":
        """The facts of a :func:`reply_text` (as a chat client sends it back); a reply of another
        shape gives its first line as the answer, without quote or citations."""
        lines = [line.strip() for line in text.strip().splitlines()]
        if lines and _ASSUMPTION_LINE.match(lines[0]):
            lines = lines[1:]
        answer = _MARKERS.sub("", lines[0]).strip() if lines else ""
        if not answer or answer == NOT_FOUND_REPLY:
            return cls()
        quote = next((m.group("quote") for m in map(_QUOTE_LINE.match, lines[1:]) if m), "")
        citations = []
        for match in filter(None, map(_SOURCE_LINE.match, lines[1:])):
            url = urlsplit(match.group("url"))
            query = parse_qs(url.query)
            try:
                citations.append((unquote(url.path[len(DOCUMENTS_PATH):]), int(query["start"][0]), int(query["end"][0])))
            except (KeyError, ValueError):
                continue
        return cls(_flat(answer), _flat(quote), tuple(citations))


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, reduced to what later questions can refer to.

    Attributes:
        message: the message as typed.
        question: the message after follow-up resolution (what the answerer was asked).
        answer: the answer span, or ``None`` when the documents did not say.
        mentions: what the question, the answer and its quote talk about.
        replacements: the resolution's ``(written, taken to mean)`` pairs.
        assumptions: the pronouns among them that had two equally fitting antecedents.
    """

    message: str
    question: str
    answer: str | None = None
    mentions: tuple[Mention, ...] = ()
    replacements: tuple[tuple[str, str], ...] = ()
    assumptions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def build(cls, message: str, question: str, facts: AnswerFacts, nlp, *,
              replacements: Sequence[tuple[str, str]] = (), assumptions: Sequence[tuple[str, str]] = (),
              evidence: DocumentEvidence | None = None) -> "Turn":
        """Build a turn from a message, its resolved question and the facts of its answer.

        The answer's quote is parsed (not the bare span) so that entities get their context;
        mentions inside the answer span are ``answer`` mentions, the rest ``context``. With
        ``evidence``, each name takes the kind and gender the cited passages give it.

        Args:
            message: as typed.
            question: as resolved (equal to ``message`` when it did not refer back).
            facts: what the answer said.
            nlp: a spaCy pipeline with a parser and an entity recognizer.
            replacements: the resolution's ``(written, taken to mean)`` pairs.
            assumptions: those of them chosen between equally fitting antecedents.
            evidence: profiles of the names in the documents, read around the citations (around
                where the documents write the question's names, when the answer cites nothing).
        """
        question_doc = nlp(question)
        antecedents = [meant for written, meant in replacements if written]
        mentions = [_trim_to_known(m, antecedents) for m in extract_mentions(question_doc, source="question")]
        if facts.text:
            wh = next((t.lower_ for t in question_doc if t.lower_ in WH_WORDS), "")
            quote = facts.quote
            start = quote.find(facts.text) if quote else -1
            if start < 0:
                quote, start = facts.text, 0
            mentions[:0] = answer_mentions(facts.text, quote, start, nlp, wh_word=wh)
        # An answer's citations say where to read about its names; a declined question's names
        # are read where the documents write them, so that "And Daniel Brooks?" after a declined
        # "When did Amara Lewis join?" still knows a person's name was asked about.
        places = facts.citations
        if evidence is not None and not places:
            places = evidence.places_of([m.text for m in mentions if m.source == "question" and m.is_entity])
        if evidence is not None and places:
            profiles = evidence.profiles(places)
            mentions = [_trim_to_known(m, profiles) if m.source == "question" else m for m in mentions]
            mentions = [apply_evidence(m, combined_profile(profiles, m.text)) for m in mentions]
        return cls(message=message, question=question, answer=facts.text, mentions=tuple(mentions),
                   replacements=tuple(tuple(p) for p in replacements), assumptions=tuple(tuple(p) for p in assumptions))

    @classmethod
    def from_answer(cls, message: str, question: str, answer: Answer | None, nlp,
                    replacements: Sequence[tuple[str, str]] = (), *, evidence: DocumentEvidence | None = None) -> "Turn":
        """Build a turn from the pipeline's answer (``None`` when unknown); see :meth:`build`."""
        return cls.build(message, question, AnswerFacts.from_answer(answer), nlp,
                         replacements=replacements, evidence=evidence)

    @property
    def note(self) -> str | None:
        """How the message was understood (:func:`understood_note`); ``None`` when it was taken as typed."""
        return understood_note(self.question, self.assumptions) if self.question != self.message else None

    @property
    def assumption(self) -> str | None:
        return assumption_text(self.assumptions)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Turn":
        return cls(
            message=data["message"], question=data["question"], answer=data.get("answer"),
            mentions=tuple(Mention(**m) for m in data.get("mentions", ())),
            replacements=tuple(tuple(pair) for pair in data.get("replacements", ())),
            assumptions=tuple(tuple(pair) for pair in data.get("assumptions", ())),
        )


def _trim_to_known(mention: Mention, names) -> Mention:
    """A name of a question that ran on into the next word ("Clara Jensen catalogue", a short
    question's parse) cut back to a name known to be whole: an antecedent put there by the
    resolution, or a name of the cited passage."""
    if not mention.is_entity:
        return mention
    text = strip_possessive(mention.text)
    for name in names:
        name = strip_possessive(name)
        if len(name) < len(text) and text.lower().startswith(name.lower() + " "):
            return replace(mention, text=text[: len(name)])
    return mention


def assumption_text(assumptions: Sequence[tuple[str, str]]) -> str | None:
    """``Taking 'she' as Lena Ortiz`` for antecedents chosen between equally fitting ones; ``None`` for none."""
    if not assumptions:
        return None
    return "Taking " + ", ".join(f"'{written}' as {meant}" for written, meant in assumptions)


def understood_note(question: str, assumptions: Sequence[tuple[str, str]]) -> str:
    """The line that says how a rewritten message was understood.

    ``Taking 'she' as Lena Ortiz: \u201cWhen did Lena Ortiz step down?\u201d`` when an antecedent
    was chosen between equally fitting ones, else ``Understood as: When did ...?``.
    """
    assumption = assumption_text(assumptions)
    return f"{assumption}: \u201c{question}\u201d" if assumption else UNDERSTOOD_PREFIX + question


def reply_text(answer: Answer, note: str | None = None) -> str:
    """Display text of an answer: ``note`` (how the message was understood) when given, the span
    with ``[n]`` markers, the quote, and the numbered sources (with the page, in a paged document)."""
    head = [note] if note else []
    if not answer.found or not _flat(answer.answer):
        return "\n".join(head + [NOT_FOUND_REPLY])
    markers = "".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))
    lines = head + [f"{_flat(answer.answer)} {markers}".rstrip()]
    if answer.quote:
        lines += ["", f"\u201c{_flat(answer.quote)}\u201d" + (" [1]" if answer.citations else "")]
    if answer.citations:
        lines.append("")
        lines += [f"[{n}] {c.title} ({c.doc_id}{f', page {c.page}' if c.page else ''}): {c.url}"
                  for n, c in enumerate(answer.citations, start=1)]
    return "\n".join(lines)


def answer_from_reply(text: str) -> str | None:
    """The answer span of a :func:`reply_text`, ``None`` if not found."""
    return AnswerFacts.from_reply(text).text


def answer_from_dict(data: dict) -> Answer:
    """Inverse of :meth:`Answer.to_dict`."""
    values = dict(data)
    values["citations"] = [Citation(**c) for c in values.get("citations") or []]
    return Answer(**values)
