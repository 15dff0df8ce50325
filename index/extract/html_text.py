"""HTML pages: the visible text, one block per paragraph, heading, list item and table row.

The page is parsed with lxml (entities decoded); its bytes are decoded by the encoding its
``<meta charset>`` declares (found with Beautiful Soup's detector), else as :func:`decode_text`
finds. What a reader does not see is left out: scripts, styles, templates, the ``<head>``,
hidden elements and navigation; when the page marks its main content (``<main>``), only that.
"""

from __future__ import annotations

import re

from index.extract import NO_TEXT, UNREADABLE, ExtractionError, Extracted, checked_text, library_version
from index.extract.plain_text import decode_text

#: Elements whose content is never shown as text.
INVISIBLE = frozenset({
    "head", "script", "style", "noscript", "template", "svg", "math", "canvas", "iframe", "object", "embed",
    "nav", "button", "select", "datalist", "input", "textarea", "audio", "video", "map",
})
#: Elements that begin and end a block of text (a paragraph of the extracted text).
BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "html", "legend", "li", "main", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "thead", "tfoot", "tr", "ul",
})
CELLS = frozenset({"td", "th"})
CELL_SEPARATOR = " | "
_SPACE = re.compile(r"\s+")


class _TextBuilder:
    """Collects text like a browser lays it out: runs of spaces collapse, blocks are separated by a
    blank line, ``<br>`` breaks a line, ``<pre>`` keeps its spacing."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = 0  # newlines owed before the next text
        self.at_line_start = True

    def text(self, value: str | None, preformatted: bool = False) -> None:
        if not value:
            return
        if not preformatted:
            value = _SPACE.sub(" ", value)
            if self.at_line_start or (self.parts and not self.pending and self.parts[-1].endswith(" ")):
                value = value.lstrip(" ")
            if not value:
                return
        if self.pending and self.parts:
            self._trim_trailing_space()
            self.parts.append("\n" * self.pending)
        self.pending = 0
        self.parts.append(value)
        self.at_line_start = value.endswith("\n")

    def separator(self, value: str) -> None:
        """Text between two table cells on one line (``" | "``)."""
        self._trim_trailing_space()
        self.text(value, preformatted=True)
        self.at_line_start = True  # the next cell's leading spaces go

    def brk(self, newlines: int) -> None:
        if self.parts:
            self.pending = max(self.pending, newlines)
        self.at_line_start = True

    def _trim_trailing_space(self) -> None:
        while self.parts and self.parts[-1].endswith(" "):
            self.parts[-1] = self.parts[-1].rstrip(" ")
            if not self.parts[-1]:
                self.parts.pop()

    def result(self) -> str:
        return "".join(self.parts).rstrip()


def _tag(element) -> str | None:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else None  # comments and processing instructions: None


def _hidden(element) -> bool:
    get = element.get
    return (get("hidden") is not None or (get("aria-hidden") or "").lower() == "true"
            or (get("role") or "").lower() == "navigation")


def visible_text(root) -> str:
    """The text a reader sees in an lxml element, blocks separated by blank lines."""
    from lxml import etree

    out = _TextBuilder()
    preformatted = 0
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = _tag(element)
        if event == "start":
            if tag is None or tag in INVISIBLE or _hidden(element):
                walker.skip_subtree()
                continue
            if tag in BLOCKS:
                out.brk(2)
            elif tag == "br":
                out.brk(1)
            elif tag in CELLS and _follows_cell(element):
                out.separator(CELL_SEPARATOR)
            if tag == "pre":
                preformatted += 1
            out.text(element.text, preformatted > 0)
        else:
            visible = tag is not None and tag not in INVISIBLE and not _hidden(element)
            if visible:
                if tag == "pre":
                    preformatted -= 1
                if tag in BLOCKS:
                    out.brk(2)
            if element is not root:
                out.text(element.tail, preformatted > 0)
    return out.result()


def _follows_cell(element) -> bool:
    previous = element.getprevious()
    while previous is not None and _tag(previous) is None:
        previous = previous.getprevious()
    return previous is not None and _tag(previous) in CELLS


def parse_html(text: str):
    """The lxml document of an HTML text.

    Raises:
        ExtractionError: :data:`NO_TEXT` when there is no document in it, :data:`UNREADABLE` when
            the parser had to stop.
    """
    import lxml.html
    from lxml import etree

    # Bytes with a stated encoding: lxml refuses str input that carries an XML encoding declaration.
    # huge_tree: libxml2 otherwise drops what is nested deeper than 256 elements (the walk is iterative).
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, huge_tree=True)
    try:
        document = lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser=parser)
    except etree.ParserError as exc:  # "Document is empty"
        raise ExtractionError(NO_TEXT, f"no text ({exc})") from None
    fatal = [e for e in parser.error_log if e.level_name == "FATAL"]
    if fatal:  # the parser stopped there (e.g. nesting past its depth limit): the rest would be lost
        raise ExtractionError(UNREADABLE, f"unreadable HTML ({fatal[0].message.strip()})")
    return document


def html_title(document) -> str:
    """``<title>``, else the first ``<h1>``, whitespace collapsed (``""`` if neither has text)."""
    for path in ("//title", "//h1"):
        for element in document.xpath(path):
            title = " ".join(element.text_content().split())
            if title:
                return title
    return ""


def html_extracted(text: str, encoding: str | None = None) -> Extracted:
    """Visible text and title of an HTML page already decoded."""
    document = parse_html(text)
    main = document.xpath("//main|//*[@role='main']")
    body = main[0] if main else document
    return Extracted(checked_text(visible_text(body)), title=html_title(document), encoding=encoding)


class HtmlExtractor:
    """``.html``/``.htm`` files (see the module's description)."""

    format = "html"
    suffixes = (".html", ".htm", ".xhtml")

    def __init__(self) -> None:
        self.version = f"html/1 {library_version('lxml')} {library_version('beautifulsoup4')}"

    def extract(self, raw: bytes) -> Extracted:
        from bs4.dammit import EncodingDetector

        declared = EncodingDetector.find_declared_encoding(raw[:4096], is_html=True)
        try:
            text, encoding = decode_text(raw, declared)
        except ExtractionError as exc:
            raise ExtractionError(UNREADABLE, str(exc)) from None
        return html_extracted(text, encoding)
