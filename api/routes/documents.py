"""GET /documents/{doc_id}: a document as JSON, or as HTML with a cited span highlighted."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from api.dependencies import ServicesDep
from api.document_view import render_document
from api.schemas import DocumentOut, ErrorOut
from qa.models import DOCUMENTS_PATH

router = APIRouter(tags=["documents"])

Start = Annotated[int | None, Query(ge=0, description="First character of the span to highlight.", examples=[14])]
End = Annotated[int | None, Query(ge=0, description="Character after the span to highlight.", examples=[29])]
_ERRORS = {
    404: {"model": ErrorOut, "description": "No document with this id in the index.",
          "content": {"application/json": {"example": {"detail": "no document 'news/missing.txt' in the index"}}}},
    422: {"model": ErrorOut, "description": "Offsets outside the document, or only one of them.",
          "content": {"application/json": {"example": {
              "detail": "offsets 10-99999 are outside the document news/harbour.txt (0-230)"}}}},
}
_HTML = {"content": {"text/html": {"example": "<!doctype html>... <mark id=\"cited\">Maria Lindqvist</mark> ..."}},
         "description": "The document as HTML, the span highlighted."}


def _lookup(services, doc_id: str, start: int | None, end: int | None):
    """The indexed document and checked offsets.

    Only ids of the index are served, from the index's stored text: nothing is read from
    disk, so "../", absolute paths and encoded variants are simply unknown ids.
    """
    document = services.pipeline.index.document(doc_id)
    if document is None:
        raise HTTPException(status_code=404, detail=f"no document {doc_id!r} in the index")
    if (start is None) != (end is None):
        raise HTTPException(status_code=422, detail="give both start and end, or neither")
    if start is not None and not (start <= end <= len(document.text)):
        raise HTTPException(status_code=422, detail=(
            f"offsets {start}-{end} are outside the document {doc_id} (0-{len(document.text)})"
            if end > len(document.text) else f"start {start} is after end {end}"))
    return document


def _html_response(services, document, start: int | None, end: int | None) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    page = render_document(document.doc_id, document.title, document.text,
                           sentences=services.pipeline.index.sentences.get(document.doc_id, ()),
                           start=start, end=end, nonce=nonce, pages=document.pages or (),
                           cited_page=document.page_at(start) if start is not None else None)
    # The text is escaped; the policy is a second wall: only the page's own script may run.
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'"
    return HTMLResponse(page, headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff"})


def _wants_html(request: Request) -> bool:
    """Whether the client asks for HTML before JSON (browsers do; API clients and ``*/*`` get JSON)."""
    accept = request.headers.get("accept", "").lower()
    html_at, json_at = accept.find("text/html"), accept.find("application/json")
    return html_at != -1 and (json_at == -1 or html_at < json_at)


# Declared before the catch-all route: "{doc_id:path}" would otherwise swallow "/view".
@router.get(DOCUMENTS_PATH + "{doc_id:path}/view", response_class=HTMLResponse, summary="Citation view (HTML)",
            responses={**_ERRORS, 200: _HTML})
def view_document(doc_id: str, services: ServicesDep, start: Start = None, end: End = None) -> HTMLResponse:
    """The whole document as a readable page, the span `[start, end)` highlighted and scrolled into view,
    its sentence shaded. Every `citations[].url` of an answer opens such a page."""
    document = _lookup(services, doc_id, start, end)
    return _html_response(services, document, start, end)


@router.get(DOCUMENTS_PATH + "{doc_id:path}", response_model=DocumentOut, summary="A document",
            responses={**_ERRORS, 200: {"content": {"application/json": {}, "text/html": {}},
                                        "description": "JSON, or with `Accept: text/html` the citation view."}})
def get_document(doc_id: str, request: Request, services: ServicesDep, start: Start = None, end: End = None):
    """The document as JSON (`doc_id`, `title`, `text`, `source`). Ids contain slashes (`news/harbour.txt`).

    With `Accept: text/html` (a browser following a citation link), the same page as
    `/documents/{doc_id}/view`.
    """
    document = _lookup(services, doc_id, start, end)
    if _wants_html(request):
        return _html_response(services, document, start, end)
    return DocumentOut(doc_id=document.doc_id, title=document.title, text=document.text, source=document.source,
                       format=document.format, pages=list(document.pages) if document.pages else None)
