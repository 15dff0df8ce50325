"""Answering a message as the next turn of a conversation, and rebuilding the turns of a replayed one.

Every endpoint goes through :class:`ConversationEngine`: ``/chat`` and ``qa chat`` keep the
turns it returns, ``/v1/chat/completions`` rebuilds them from the messages a client sends
back (:meth:`ConversationEngine.replay`), and ``qa eval`` plays chat files through it. The
turns are built from the same :class:`~qa.conversation.turns.AnswerFacts` either way, so the
same conversation gets the same answers everywhere.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from index.errors import QAError
from qa.conversation.evidence import DocumentEvidence, IndexPassages
from qa.conversation.resolve import Resolution, resolve_followup
from qa.conversation.turns import AnswerFacts, Turn
from qa.models import Answer


class ConversationStep(NamedTuple):
    """One answered message of a conversation."""

    resolution: Resolution  # how the message was understood
    answer: Answer
    turn: Turn  # what to remember of it
    passages: list  # the retrieved passages the answer was read from


def answer_in_conversation(pipeline, history: Sequence[Turn], message: str, *, nlp, top_k: int | None = None,
                           evidence: DocumentEvidence | None = None) -> ConversationStep:
    """Answer ``message`` as the next turn of a conversation.

    Args:
        pipeline: a :class:`qa.pipeline.QAPipeline` (anything with ``question``, ``run`` and ``index``).
        history: earlier turns, oldest first.
        message: the new message as typed.
        nlp: spaCy pipeline used for resolution and mentions.
        top_k: passages the answerer reads.
        evidence: what the documents say about names (made for this call when ``None``).

    Returns:
        How the message was understood, the answer, the new turn to remember, and the passages.

    Raises:
        InvalidQuestion: the message is empty, too long or has no words.
    """
    from qa.pipeline import Question

    message = pipeline.question(message).text
    resolution = resolve_followup(history, message, nlp)
    answered = pipeline.run(Question(resolution.question, resolution.retrieval_query), top_k)
    answer, passages = answered.answer, answered.passages
    evidence = evidence or DocumentEvidence(IndexPassages(pipeline.index), nlp)
    turn = Turn.build(message, resolution.question, AnswerFacts.from_answer(answer), nlp,
                      replacements=resolution.replacements, assumptions=resolution.assumptions, evidence=evidence)
    return ConversationStep(resolution, answer, turn, passages)


class ConversationEngine:
    """The one follow-up resolver of an index: answers messages and replays conversations.

    Args:
        pipeline: a :class:`qa.pipeline.QAPipeline`.
        nlp: spaCy pipeline (with a parser and an entity recognizer).
    """

    def __init__(self, pipeline, nlp) -> None:
        self.pipeline = pipeline
        self.nlp = nlp
        self.evidence = DocumentEvidence(IndexPassages(pipeline.index), nlp)

    def answer(self, history: Sequence[Turn], message: str, top_k: int | None = None) -> ConversationStep:
        """See :func:`answer_in_conversation`."""
        return answer_in_conversation(self.pipeline, history, message, nlp=self.nlp, top_k=top_k,
                                      evidence=self.evidence)

    def replay(self, exchanges: Sequence[tuple[str, str | None]], keep: int) -> list[Turn]:
        """The turns of a conversation a client sends back whole: each user message with the
        reply it got (``None`` when none), resolved in order without retrieval.

        Args:
            exchanges: ``(user message, assistant reply text or None)``, oldest first.
            keep: turns a message is resolved against (and kept at the end).

        Returns:
            The last ``keep`` turns. An unusable message (empty, too long) is skipped: it cannot
            be referred to.
        """
        turns: list[Turn] = []
        for message, reply in exchanges:
            try:
                text = self.pipeline.question(message).text
            except QAError:
                continue
            resolution = resolve_followup(turns[-keep:], text, self.nlp)
            facts = AnswerFacts.from_reply(reply) if reply is not None else AnswerFacts()
            turns.append(Turn.build(text, resolution.question, facts, self.nlp, replacements=resolution.replacements,
                                    assumptions=resolution.assumptions, evidence=self.evidence))
        return turns[-keep:]
