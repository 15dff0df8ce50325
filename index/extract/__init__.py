"""Turning the bytes of a document file into plain text: one extractor per format.

Every extractor has the same small interface (:class:`Extractor`): raw bytes in, an
:class:`Extracted` out (the plain text that is indexed and shown in the citation view, the title,
and for paged formats where each page starts). What cannot be read raises
:class:`ExtractionError` with the kind of problem and a reason a person can act on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import metadata
from typing import Protocol

#: The kinds of :class:`ExtractionError` (and of skipped files), as shown in ``qa index``'s summary.
UNSUPPORTED = "unsupported type"
TOO_LARGE = "too large"
ENCRYPTED = "encrypted"
NO_TEXT = "no text"
UNREADABLE = "unreadable"

#: An archive-based document (DOCX) whose parts would unpack to more than this is refused.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
#: Extracted text longer than this is refused (it would not fit the in-memory analysis).
MAX_TEXT_CHARS = 64 * 1024 * 1024


class ExtractionError(ValueError):
    """A file that cannot be turned into text.

    Attributes:
        kind: one of :data:`UNSUPPORTED`, :data:`TOO_LARGE`, :data:`ENCRYPTED`, :data:`NO_TEXT`,
            :data:`UNREADABLE`.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


@dataclass(frozen=True)
class Extracted:
    """The text of one document file.

    Attributes:
        text: the plain text (offsets of answers and citations point into it).
        title: the document's own title (``""``: none; the caller falls back to the first line).
        pages: for paged formats, the offset in ``text`` where each page starts (page 1 first).
        encoding: the character encoding the bytes were decoded with, where there was one to detect.
    """

    text: str
    title: str = ""
    pages: tuple[int, ...] | None = None
    encoding: str | None = None


class Extractor(Protocol):
    """Reads one file format.

    Attributes:
        format: a short name (``"pdf"``), stored with each document.
        suffixes: the file name endings it reads, lower case with the dot.
        version: the extractor's identity and version (its own revision and its libraries'),
            recorded with each document: a change re-extracts the documents it read.
    """

    format: str
    suffixes: tuple[str, ...]
    version: str

    def extract(self, raw: bytes) -> Extracted:
        """The text of a file's bytes.

        Raises:
            ExtractionError: the file cannot be read as this format, or holds no text.
        """
        ...


def library_version(distribution: str) -> str:
    """``name-version`` of an installed distribution (``name-?`` when it has no metadata)."""
    try:
        return f"{distribution}-{metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return f"{distribution}-?"


def checked_text(text: str) -> str:
    """``text`` if it has words in it and is not too large.

    Raises:
        ExtractionError: :data:`NO_TEXT` or :data:`TOO_LARGE`.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise ExtractionError(TOO_LARGE, f"too large ({len(text):,} characters of text; the limit is {MAX_TEXT_CHARS:,})")
    if not any(ch.isalnum() for ch in text):
        raise ExtractionError(NO_TEXT, "no text (no words in it)")
    return text


@functools.cache
def extractors() -> dict[str, Extractor]:
    """Every extractor by the suffix it reads (``".pdf" -> PdfExtractor``)."""
    from index.extract.docx_text import DocxExtractor
    from index.extract.html_text import HtmlExtractor
    from index.extract.markdown_text import MarkdownExtractor
    from index.extract.pdf_text import PdfExtractor
    from index.extract.plain_text import PlainTextExtractor

    table: dict[str, Extractor] = {}
    for extractor in (PlainTextExtractor(), MarkdownExtractor(), HtmlExtractor(), PdfExtractor(), DocxExtractor()):
        for suffix in extractor.suffixes:
            table[suffix] = extractor
    return table


def supported_suffixes() -> list[str]:
    """The file name endings that are read as documents, sorted."""
    return sorted(extractors())


def extractor_for(name: str) -> Extractor:
    """The extractor for a file name, by its suffix.

    Raises:
        ExtractionError: :data:`UNSUPPORTED` for any other file.
    """
    lowered = name.lower()
    for suffix, extractor in extractors().items():
        if lowered.endswith(suffix):
            return extractor
    raise ExtractionError(UNSUPPORTED, UNSUPPORTED)
