"""Domain errors raised by the indexing stage; the CLI and the API translate them."""


class QAError(Exception):
    """Base class of every error this project raises on purpose."""


class CorpusError(QAError):
    """The corpus could not be read, or nothing in it could be indexed."""


class IndexNotFound(QAError):
    """No index exists at the given folder."""


class IndexMismatch(QAError):
    """The index on disk was built with other settings than the ones asked for."""


class IndexCorrupt(QAError):
    """An index file is missing, truncated or does not match its manifest."""


class EmbedderUnavailable(QAError):
    """The embedder cannot run as configured (a question encoder that cannot serve the model)."""


class ClusterError(QAError):
    """The Ray cluster could not be reached or used, or lost documents while indexing."""
