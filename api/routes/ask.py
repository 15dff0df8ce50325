"""POST /ask: one question, answered on its own."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response

from api.dependencies import DeadlineDep, ServicesDep, server_timing
from api.schemas import AnswerOut, AskRequest, ErrorOut

router = APIRouter(tags=["ask"])


@router.post("/ask", response_model=AnswerOut, summary="Answer one question",
             responses={422: {"model": ErrorOut, "description": "Empty, too long or malformed question.",
                              "content": {"application/json": {"example": {"detail": "the question is empty"}}}},
                        503: {"model": ErrorOut, "description": "The index is not loaded, or the server stayed busy."}})
def ask(request: AskRequest, services: ServicesDep, deadline: DeadlineDep, response: Response) -> AnswerOut:
    """Answer a question from the documents: the same object as `qa ask --json`.

    `answer` is a verbatim span (or null with `found: false` when the documents do not say);
    each citation's `url` opens the document with the span highlighted. The `Server-Timing`
    header says where the time went: waiting for the models, retrieval, answering.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def answer_question():
        timings["wait"] = time.perf_counter() - started
        return services.pipeline.ask(request.question, request.top_k, timings=timings)

    answer = services.run(answer_question, deadline)
    response.headers["Server-Timing"] = server_timing(**timings)
    return AnswerOut.model_validate(answer.to_dict())
