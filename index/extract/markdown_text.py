"""Markdown: rendered with markdown-it-py (CommonMark with tables and strikethrough), then read as
the HTML page a reader would see, so the text has no markup: ``**25 days**`` is ``25 days``, a
link is its text, a heading has no ``#``."""

from __future__ import annotations

from index.extract import UNREADABLE, ExtractionError, Extracted, library_version
from index.extract.html_text import html_extracted, parse_html
from index.extract.plain_text import decode_text


class MarkdownExtractor:
    """``.md``/``.markdown`` files; the title is the first heading, else the first line."""

    format = "markdown"
    suffixes = (".md", ".markdown")

    def __init__(self) -> None:
        self.version = f"markdown/1 {library_version('markdown-it-py')} {library_version('lxml')}"
        self._renderer = None

    def render(self, text: str) -> str:
        """The HTML of a Markdown text (inline HTML passes through, as a Markdown viewer shows it)."""
        if self._renderer is None:
            from markdown_it import MarkdownIt

            self._renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
        return self._renderer.render(text)

    def extract(self, raw: bytes) -> Extracted:
        try:
            text, encoding = decode_text(raw)
        except ExtractionError as exc:
            raise ExtractionError(UNREADABLE, str(exc)) from None
        page = self.render(text)
        extracted = html_extracted(page, encoding)
        return Extracted(extracted.text, title=_first_heading(page), encoding=encoding)


def _first_heading(page: str) -> str:
    document = parse_html(page)
    for element in document.xpath("//h1|//h2|//h3|//h4|//h5|//h6"):
        title = " ".join(element.text_content().split())
        if title:
            return title
    return ""
