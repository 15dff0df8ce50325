"""Data that crosses the boundary between the core and its edges (CLI, API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from urllib.parse import quote


#: Where a citation link points: the product's citation format, which the HTTP API serves
#: (``api/routes/documents.py`` routes this path) and chat replies carry back.
DOCUMENTS_PATH = "/documents/"


def citation_url(doc_id: str, start: int, end: int) -> str:
    """Link that opens ``doc_id`` with ``[start, end)`` highlighted."""
    return f"{DOCUMENTS_PATH}{quote(doc_id, safe='/')}?start={start}&end={end}"


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from.

    ``document.text[start:end]`` is the answer and ``document.text[quote_start:quote_end]``
    the supporting quote; ``page`` is the 1-based page the answer starts on, for a paged
    document (PDF), else ``None``.
    """

    doc_id: str
    title: str
    start: int
    end: int
    quote_start: int
    quote_end: int
    url: str
    page: int | None = None


@dataclass
class Answer:
    """The result of answering one question.

    Attributes:
        question: the question as answered (after follow-up resolution, if any).
        answer: a verbatim span of a document, or ``None`` when not found.
        found: whether the documents answer the question.
        confidence: in [0, 1].
        quote: the verbatim sentence(s) supporting the answer, or ``None``.
        citations: where the answer is, first the main one.
    """

    question: str
    answer: str | None
    found: bool
    confidence: float
    quote: str | None = None
    citations: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def not_found(cls, question: str, confidence: float = 0.0) -> "Answer":
        return cls(question=question, answer=None, found=False, confidence=round(float(confidence), 4))
