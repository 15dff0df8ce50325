"""Domain errors of the question-answering stage, and those of the indexing stage it passes on
(the CLI and the API import every error from here)."""

from index.errors import (ClusterError, CorpusError, EmbedderUnavailable, IndexCorrupt, IndexMismatch, IndexNotFound,
                          QAError)

__all__ = ["QAError", "CorpusError", "IndexNotFound", "IndexMismatch", "IndexCorrupt", "EmbedderUnavailable",
           "ClusterError", "InvalidQuestion", "SettingsError", "ChatStoreUnavailable"]


class InvalidQuestion(QAError):
    """The question is empty, too long, or has no words in it."""


class SettingsError(QAError):
    """A setting (a ``QA_*`` variable or a flag) has a value it cannot take."""


class ChatStoreUnavailable(QAError):
    """The conversation database cannot be reached, or holds a schema this program does not know."""
