"""PDF: the text layer page by page, read with pypdf, lines re-flowed into paragraphs.

Each page's text follows the page's content order (pypdf's reading order). A line shorter than
most of the page's lines ends a paragraph (or is a heading); the other line breaks are a space,
and a word hyphenated at a line break (a lowercase letter, ``-``, a line break, a lowercase
letter) is joined. Pages are separated by a blank line and the offset where each begins is kept,
so a citation can name its page. A PDF without a text layer (scanned) or that needs a password
is refused with that reason.
"""

from __future__ import annotations

import io
import logging
import re

from index.extract import ENCRYPTED, NO_TEXT, UNREADABLE, ExtractionError, Extracted, checked_text, library_version

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
#: A line shorter than this share of the page's longest line ends its paragraph.
SHORT_LINE = 0.7
#: Pages whose longest line is shorter than this (slides, forms, tables) keep every line break.
MIN_PROSE_WIDTH = 40
_HYPHENATED = re.compile(r"[a-z\u00df-\u00ff]-$")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x0b\x0c]")


def reflow_page(text: str) -> str:
    """A page's extracted lines as paragraphs separated by blank lines.

    Args:
        text: the page text as extracted, one line per printed line.
    """
    lines = [line.strip() for line in _LINE_BREAKS.sub("\n", text).split("\n")]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if not current:
            current = line
        elif current.endswith("\u00ad"):  # a soft hyphen is always a break inside a word
            current = current[:-1] + line
        elif _HYPHENATED.search(current) and line[0].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}"
        if width < MIN_PROSE_WIDTH or len(line) < SHORT_LINE * width:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def join_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """The document text of its pages and the offset where each page starts."""
    starts: list[int] = []
    position = 0
    for number, page in enumerate(pages):
        if number:
            position += len(PAGE_SEPARATOR)
        starts.append(position)
        position += len(page)
    return PAGE_SEPARATOR.join(pages), tuple(starts)


class PdfExtractor:
    """``.pdf`` files (see the module's description)."""

    format = "pdf"
    suffixes = (".pdf",)

    def __init__(self) -> None:
        self.version = f"pdf/1 {library_version('pypdf')}"

    def extract(self, raw: bytes) -> Extracted:
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, PdfReadError

        try:
            reader = PdfReader(io.BytesIO(raw), strict=False)
            if reader.is_encrypted:
                self._decrypt(reader)
            count = len(reader.pages)
        except ExtractionError:
            raise
        except DependencyError as exc:
            raise ExtractionError(ENCRYPTED, f"encrypted ({exc})") from None
        except (PdfReadError, Exception) as exc:  # noqa: BLE001 - any failure of a damaged file is "unreadable"
            raise ExtractionError(UNREADABLE, f"unreadable PDF ({type(exc).__name__}: {exc})") from None
        if count == 0:
            raise ExtractionError(UNREADABLE, "unreadable PDF (no pages)")
        pages, failed = [], 0
        for number in range(count):
            try:
                pages.append(reflow_page(reader.pages[number].extract_text() or ""))
            except Exception as exc:  # noqa: BLE001 - one damaged page does not lose the others
                logger.warning("page %d of a PDF could not be read (%s: %s)", number + 1, type(exc).__name__, exc)
                pages.append("")
                failed += 1
        if failed == count:
            raise ExtractionError(UNREADABLE, f"unreadable PDF (none of its {count} page(s) could be read)")
        text, starts = join_pages(pages)
        if not any(ch.isalnum() for ch in text):
            raise ExtractionError(NO_TEXT, f"no text layer in its {count} page(s) (a scan? it needs OCR first)")
        return Extracted(checked_text(text), title=_metadata_title(reader), pages=starts)

    @staticmethod
    def _decrypt(reader) -> None:
        from pypdf import PasswordType

        # Many PDFs are encrypted only to restrict printing or copying, with an empty user
        # password: any viewer opens them, and so do we.
        if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ExtractionError(ENCRYPTED, "encrypted (it needs a password to open)")


def _metadata_title(reader) -> str:
    try:
        title = (reader.metadata or {}).get("/Title")
    except Exception:  # noqa: BLE001 - a damaged information dictionary only costs the title
        return ""
    title = " ".join(str(title or "").split())
    return title if any(ch.isalnum() for ch in title) else ""
