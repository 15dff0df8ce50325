"""Conversations: follow-up questions resolved against earlier turns, without a language model.

* :mod:`~qa.conversation.mentions`: what a turn talks about (entities and noun chunks, with a kind).
* :mod:`~qa.conversation.evidence`: what the documents say about a name (entity type, pronouns).
* :mod:`~qa.conversation.turns`: turns, the facts of an answer, and the reply text that carries them.
* :mod:`~qa.conversation.resolve`: pronouns, ellipsis and salience (:func:`resolve_followup`).
* :mod:`~qa.conversation.step`: answering the next message; the one engine every endpoint uses.
"""

from qa.conversation.evidence import DocumentEvidence, IndexPassages
from qa.conversation.mentions import Mention, extract_mentions
from qa.conversation.resolve import Resolution, resolve_followup
from qa.conversation.step import ConversationEngine, ConversationStep, answer_in_conversation
from qa.conversation.turns import (NOT_FOUND_REPLY, AnswerFacts, Turn, answer_from_dict, answer_from_reply,
                                   assumption_text, reply_text, understood_note)

__all__ = [
    "NOT_FOUND_REPLY", "AnswerFacts", "ConversationEngine", "ConversationStep", "DocumentEvidence", "IndexPassages",
    "Mention", "Resolution", "Turn", "answer_from_dict", "answer_from_reply", "answer_in_conversation", "assumption_text",
    "extract_mentions", "reply_text", "resolve_followup", "understood_note",
]
