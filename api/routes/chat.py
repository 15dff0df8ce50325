"""POST /chat, GET and DELETE /chat/{session_id}: conversations with follow-up resolution."""

from __future__ import annotations

import time
from typing import Annotated, Sequence

from fastapi import APIRouter, HTTPException, Path, Response

from api.dependencies import DeadlineDep, Services, ServicesDep, SettingsDep, server_timing
from api.schemas import SESSION_ID_PATTERN, AnswerOut, ChatRequest, ChatResponse, ConversationOut, ErrorOut, TurnOut
from qa.conversation import ConversationStep, Turn, answer_from_dict, reply_text

router = APIRouter(tags=["chat"])

SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="The conversation's id.",
                                examples=["3f2b9c0e1d8a4b7c9e6f5a4b3c2d1e0f"])]
_UNKNOWN = {404: {"model": ErrorOut, "description": "No such conversation (never started, ended or expired).",
                  "content": {"application/json": {"example": {
                      "detail": "unknown session '3f2b9c0e1d8a4b7c9e6f5a4b3c2d1e0f' (it may have expired)"}}}}}


def unknown_session(session_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"unknown session {session_id!r} (it may have expired)")


def run_turn(services: Services, history: Sequence[Turn], message: str, top_k: int | None = None
             ) -> ConversationStep:
    """Answer ``message`` after ``history`` (used by /chat and /v1/chat/completions).

    Runs on the models' thread (``services.run``).
    """
    return services.conversations.answer(history, message, top_k)


def past_deadline() -> HTTPException:
    return HTTPException(status_code=504, detail="the answer came after the time limit and was not kept; retry later")


@router.post("/chat", response_model=ChatResponse, summary="Send a chat message",
             responses={**_UNKNOWN,
                        422: {"model": ErrorOut, "description": "Empty, too long or malformed message.",
                              "content": {"application/json": {"example": {"detail": "the question is empty"}}}},
                        503: {"model": ErrorOut, "description": "The index is not loaded, or the server stayed busy."},
                        504: {"model": ErrorOut, "description": "Not answered within the time limit (the turn is not kept)."}})
def post_chat(request: ChatRequest, services: ServicesDep, settings: SettingsDep, deadline: DeadlineDep,
              response: Response) -> ChatResponse:
    """Answer a message as the next turn of a conversation.

    Leave `session_id` out to start a conversation; send the returned `session_id` with the
    next message. Follow-ups are resolved against the earlier turns: "Where will *she* speak?",
    "Whom will she meet *there*?", "What about *X*?", "And the other one?". `question` says how
    the message was understood.
    """
    store = services.store
    history: list[Turn] = []
    if request.session_id is not None:
        conversation = store.get(request.session_id)
        if conversation is None:
            raise unknown_session(request.session_id)
        history = conversation.history[-settings.chat_history_turns:]
    started = time.perf_counter()
    marks: dict[str, float] = {}

    def answer_turn() -> ConversationStep:
        marks["acquired"] = time.perf_counter()
        step = run_turn(services, history, request.message)
        marks["answered"] = time.perf_counter()
        return step

    resolution, answer, turn, _ = services.run(answer_turn, deadline)
    response.headers["Server-Timing"] = server_timing(wait=marks["acquired"] - started,
                                                      answer=marks["answered"] - marks["acquired"])
    if time.monotonic() > deadline:
        # The client has already been told 504: keeping the turn would add one it never saw.
        raise past_deadline()
    # A new conversation is created only once its first message is answered: a refused
    # message leaves nothing behind.
    session_id = request.session_id or store.create().id
    stored = store.append(session_id, turn, answer.to_dict())
    if stored is None:  # ended by a DELETE while this message was being answered
        raise unknown_session(session_id)
    return ChatResponse(**answer.to_dict(), session_id=session_id, message=turn.message,
                        referred_back=resolution.referred_back, turn=stored.position,
                        assumption=turn.assumption, reply=reply_text(answer, turn.note))


@router.get("/chat/{session_id}", response_model=ConversationOut, summary="A conversation's history",
            responses=_UNKNOWN)
def get_chat(session_id: SessionId, services: ServicesDep) -> ConversationOut:
    """Every turn of a conversation, oldest first: the message as typed, the answer object and its display text."""
    conversation = services.store.get(session_id)
    if conversation is None:
        raise unknown_session(session_id)
    return ConversationOut(
        session_id=conversation.id, created_at=conversation.created_at, updated_at=conversation.updated_at,
        turns=[TurnOut(turn=t.position, created_at=t.created_at, message=t.turn.message,
                       answer=AnswerOut.model_validate(t.answer), assumption=t.turn.assumption,
                       reply=reply_text(answer_from_dict(t.answer), t.turn.note))
               for t in conversation.turns],
    )


@router.delete("/chat/{session_id}", status_code=204, summary="End a conversation", responses=_UNKNOWN)
def delete_chat(session_id: SessionId, services: ServicesDep) -> Response:
    """Forget a conversation and its turns."""
    if not services.store.delete(session_id):
        raise unknown_session(session_id)
    return Response(status_code=204)
