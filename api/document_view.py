"""The citation view: a whole document as HTML with the cited span highlighted."""

from __future__ import annotations

import html
from typing import Sequence

_STYLE = """
body { font: 17px/1.6 Georgia, 'Times New Roman', serif; margin: 0; background: #fafaf7; color: #222; }
header { font: 14px/1.4 system-ui, sans-serif; background: #fff; border-bottom: 1px solid #ddd; padding: .8em 1.5em;
         position: sticky; top: 0; }
header a { color: #1a5fb4; }
main { max-width: 46em; margin: 1.5em auto 40vh; padding: 0 1.5em; }
h1 { font-size: 1.5em; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.support { background: #e8eefc; border-radius: 3px; }
mark { background: #ffd54a; padding: 0 1px; border-radius: 2px; scroll-margin: 40vh; }
.page { display: block; margin: 1.2em 0 .4em; border-top: 1px dashed #bbb; font: 12px system-ui, sans-serif; color: #777; }
.page::before { content: "page " attr(data-page); }
"""


def supporting_range(sentences: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """The sentences that contain ``[start, end)``, as one character range (the span itself if none do)."""
    touching = [(s, e) for s, e in sentences if s < max(end, start + 1) and e > start]
    if not touching:
        return start, end
    return min(start, touching[0][0]), max(end, touching[-1][1])


def _with_page_marks(text: str, begin: int, pages: Sequence[int]) -> str:
    """``text`` (which starts at offset ``begin`` of the document) escaped, with an empty
    ``<span class="page">`` where each page after the first starts: the page number is drawn by
    CSS, so the text on the page is exactly the document's.

    A page that starts where ``text`` ends is marked at its end, one that starts where it begins
    is not: each mark is drawn once, before any highlight that opens at the same offset.
    """
    out, position = [], 0
    for number, page_start in enumerate(pages, start=1):
        cut = page_start - begin
        if number == 1 or not 0 < cut <= len(text):
            continue
        out.append(html.escape(text[position:cut]))
        out.append(f'<span class="page" id="page-{number}" data-page="{number}"></span>')
        position = cut
    out.append(html.escape(text[position:]))
    return "".join(out)


def render_document(doc_id: str, title: str, text: str, *, sentences: Sequence[tuple[int, int]] = (),
                    start: int | None = None, end: int | None = None, nonce: str = "",
                    pages: Sequence[int] = (), cited_page: int | None = None) -> str:
    """A readable HTML page of the whole document, every character of it escaped.

    Args:
        doc_id, title, text: the document.
        sentences: the document's sentence offsets (to shade the supporting sentence).
        start, end: the cited span, highlighted with ``<mark id="cited">`` and scrolled into view.
        nonce: the Content-Security-Policy nonce of the page's one script.
        pages: for a paged document, where each page starts: each page after the first is marked
            "page N".
        cited_page: the page the span starts on, named in the caption.
    """
    def esc_from(begin: int, stop: int) -> str:
        if not pages:
            return html.escape(text[begin:stop])
        return _with_page_marks(text[begin:stop], begin, pages)

    esc = html.escape
    if start is None or end is None:
        body = esc_from(0, len(text))
        caption = f"{len(pages)} pages, {len(text)} characters" if pages else f"{len(text)} characters"
    else:
        s_start, s_end = supporting_range(sentences, start, end)
        body = (
            esc_from(0, s_start)
            + '<span class="support">' + esc_from(s_start, start)
            + f'<mark id="cited">{esc_from(start, end)}</mark>'
            + esc_from(end, s_end) + "</span>"
            + esc_from(s_end, len(text))
        )
        where = f"page {cited_page}, " if cited_page else ""
        caption = f'{where}characters {start}\u2013{end}: <a href="#cited">\u201c{esc(text[start:end][:80])}\u201d</a>'
    script = (
        f'<script nonce="{esc(nonce)}">var m = document.getElementById("cited");'
        ' if (m) m.scrollIntoView({block: "center"});</script>'
    )
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} \u2014 {esc(doc_id)}</title><style>{_STYLE}</style></head>\n"
        f'<body><header><strong>{esc(title)}</strong> \u00b7 <code>{esc(doc_id)}</code> \u00b7 {caption}</header>\n'
        f'<main><div class="text" id="text">{body}</div></main>\n{script}</body></html>\n'
    )
