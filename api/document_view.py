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
"""


def supporting_range(sentences: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """The sentences that contain ``[start, end)``, as one character range (the span itself if none do)."""
    touching = [(s, e) for s, e in sentences if s < max(end, start + 1) and e > start]
    if not touching:
        return start, end
    return min(start, touching[0][0]), max(end, touching[-1][1])


def render_document(doc_id: str, title: str, text: str, *, sentences: Sequence[tuple[int, int]] = (),
                    start: int | None = None, end: int | None = None, nonce: str = "") -> str:
    """A readable HTML page of the whole document, every character of it escaped.

    Args:
        doc_id, title, text: the document.
        sentences: the document's sentence offsets (to shade the supporting sentence).
        start, end: the cited span, highlighted with ``<mark id="cited">`` and scrolled into view.
        nonce: the Content-Security-Policy nonce of the page's one script.
    """
    esc = html.escape
    if start is None or end is None:
        body = esc(text)
        caption = f"{len(text)} characters"
    else:
        s_start, s_end = supporting_range(sentences, start, end)
        body = (
            esc(text[:s_start])
            + '<span class="support">' + esc(text[s_start:start])
            + f'<mark id="cited">{esc(text[start:end])}</mark>'
            + esc(text[end:s_end]) + "</span>"
            + esc(text[s_end:])
        )
        caption = f'characters {start}\u2013{end}: <a href="#cited">\u201c{esc(text[start:end][:80])}\u201d</a>'
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
