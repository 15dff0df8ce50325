"""DOCX (Word): paragraphs, headings and tables in document order, read with python-docx.

Each paragraph is a block of the text; a table is a block per row, its cells separated by
``" | "`` (a merged cell once). The zip is checked before it is opened: a file that is not a zip,
or whose parts would unpack to more than :data:`~index.extract.MAX_UNPACKED_BYTES`, is refused.
"""

from __future__ import annotations

import io
import zipfile

from index.extract import (MAX_UNPACKED_BYTES, TOO_LARGE, UNREADABLE, ExtractionError, Extracted, checked_text,
                           library_version)
from index.extract.html_text import CELL_SEPARATOR

BLOCK_SEPARATOR = "\n\n"


def check_archive(raw: bytes) -> None:
    """Refuse bytes that are not a DOCX zip, or whose parts would unpack to too much.

    Python's zip reader stops at each member's declared size (and fails its checksum if the data
    is longer), so the declared sizes bound what opening the document can unpack.

    Raises:
        ExtractionError: :data:`UNREADABLE` or :data:`TOO_LARGE`.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ExtractionError(UNREADABLE, f"not a DOCX file (not a zip archive: {exc})") from None
    if "word/document.xml" not in {m.filename for m in members}:
        raise ExtractionError(UNREADABLE, "not a DOCX file (no word/document.xml in the archive)")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise ExtractionError(TOO_LARGE, f"too large when unpacked ({unpacked // (1024 * 1024):,} MB; "
                                         f"the limit is {MAX_UNPACKED_BYTES // (1024 * 1024)} MB)")


def table_rows(table) -> list[str]:
    """One line per row of a python-docx table, cells joined by :data:`CELL_SEPARATOR`."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is repeated once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(CELL_SEPARATOR.join(cells))
    return rows


class DocxExtractor:
    """``.docx`` files; the title is the document's title property, else its first heading."""

    format = "docx"
    suffixes = (".docx",)

    def __init__(self) -> None:
        self.version = f"docx/1 {library_version('python-docx')}"

    def extract(self, raw: bytes) -> Extracted:
        import docx
        from docx.table import Table

        check_archive(raw)
        try:
            document = docx.Document(io.BytesIO(raw))
            blocks: list[str] = []
            heading = ""
            for item in document.iter_inner_content():
                if isinstance(item, Table):
                    blocks.extend(table_rows(item))
                    continue
                text = item.text.strip()
                if not text:
                    continue
                blocks.append(text)
                style = (item.style.name if item.style is not None else "") or ""
                if not heading and (style.startswith("Heading") or style == "Title"):
                    heading = " ".join(text.split())
            title = " ".join((document.core_properties.title or "").split())
        except ExtractionError:
            raise
        except Exception as exc:  # noqa: BLE001 - python-docx and lxml raise many kinds on a damaged file
            raise ExtractionError(UNREADABLE, f"unreadable DOCX ({type(exc).__name__}: {exc})") from None
        return Extracted(checked_text(BLOCK_SEPARATOR.join(blocks)), title=title or heading)
