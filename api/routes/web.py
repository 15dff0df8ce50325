"""GET /: the chat page (plain HTML and JavaScript, no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(tags=["web"])
_PAGE = Path(__file__).resolve().parent.parent / "static" / "index.html"


@router.get("/", response_class=FileResponse, summary="The chat page",
            responses={200: {"content": {"text/html": {"example": "<!doctype html>..."}},
                             "description": "The chat web page."}})
def chat_page() -> FileResponse:
    """A chat page that keeps the conversation and shows each answer with its quote and numbered,
    clickable citations (they open the highlighted document). Its script is `/static/chat.js`."""
    return FileResponse(_PAGE, media_type="text/html")
