"""Domain errors of the question-answering stage."""

from index.errors import QAError


class InvalidQuestion(QAError):
    """The question is empty, too long, or has no words in it."""


class SettingsError(QAError):
    """A setting (a ``QA_*`` variable or a flag) has a value it cannot take."""


class ChatStoreUnavailable(QAError):
    """The conversation database cannot be reached, or holds a schema this program does not know."""
