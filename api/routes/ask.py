"""POST /ask: one question, answered on its own."""

from __future__ import annotations

from fastapi import APIRouter

from api.dependencies import DeadlineDep, ServicesDep
from api.schemas import AnswerOut, AskRequest, ErrorOut

router = APIRouter(tags=["ask"])


@router.post("/ask", response_model=AnswerOut, summary="Answer one question",
             responses={422: {"model": ErrorOut, "description": "Empty, too long or malformed question.",
                              "content": {"application/json": {"example": {"detail": "the question is empty"}}}},
                        503: {"model": ErrorOut, "description": "The index is not loaded, or the server stayed busy."}})
def ask(request: AskRequest, services: ServicesDep, deadline: DeadlineDep) -> AnswerOut:
    """Answer a question from the documents: the same object as `qa ask --json`.

    `answer` is a verbatim span (or null with `found: false` when the documents do not say);
    each citation's `url` opens the document with the span highlighted.
    """
    with services.models(deadline):
        answer = services.pipeline.ask(request.question, request.top_k)
    return AnswerOut.model_validate(answer.to_dict())
