"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

Clients send the whole conversation each time; the earlier user messages are replayed through
the same follow-up resolver as ``/chat`` (no retrieval) to rebuild the turns, with the answers,
quotes and citations read back from the assistant messages, and the last user message is
answered against them: the same conversation gets the same answers on both routes.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Iterator

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from api.dependencies import DeadlineDep, ServicesDep, SettingsDep
from api.routes.chat import run_turn
from api.schemas import (AnswerOut, ChatCompletion, ChatCompletionRequest, CompletionChoice, CompletionMessage,
                         ErrorOut, ModelList, ModelOut, OpenAIMessage, Usage)
from qa.conversation import ConversationStep, reply_text

router = APIRouter(prefix="/v1", tags=["openai"])
_STARTED = int(time.time())


def _exchanges(messages: list[OpenAIMessage]) -> list[tuple[str, str | None]]:
    """Each user message with the assistant reply right after it (``None`` when another user message comes first)."""
    exchanges = []
    for n, message in enumerate(messages):
        if message.role != "user":
            continue
        reply = next((m for m in messages[n + 1:] if m.role in {"assistant", "user"}), None)
        exchanges.append((message.text(), reply.text() if reply is not None and reply.role == "assistant" else None))
    return exchanges


def _words(text: str) -> int:
    return len(text.split())


@router.get("/models", response_model=ModelList, summary="List models (OpenAI-compatible)")
def list_models(settings: SettingsDep) -> ModelList:
    """The one model this server offers; any model name is accepted by `/v1/chat/completions`."""
    return ModelList(data=[ModelOut(id=settings.api_model_name, created=_STARTED, owned_by="qa-bot")])


@router.post("/chat/completions", response_model=ChatCompletion, summary="Chat completion (OpenAI-compatible)",
             responses={422: {"model": ErrorOut, "description": "No user message to answer, or an unusable one.",
                              "content": {"application/json": {"example": {
                                  "detail": "the last message must come from the user (got 'assistant')"}}}},
                        200: {"content": {"text/event-stream": {"example": (
                            'data: {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": '
                            '{"content": "Maria "}, "finish_reason": null}], ...}\n\ndata: [DONE]\n\n')}},
                            "description": "A chat completion, or with `stream: true` server-sent chunks."}})
def chat_completions(request: ChatCompletionRequest, services: ServicesDep, settings: SettingsDep,
                     deadline: DeadlineDep):
    """Answer the last user message, follow-ups resolved from the earlier messages.

    `choices[0].message.content` holds the answer with `[n]` citation markers, the quote and
    the numbered sources; `citations` (numbered like the markers) and `answer` (the full answer
    object) are extra fields. With `stream: true` the same content comes as server-sent
    `chat.completion.chunk` events, the citations in the last chunk, then `data: [DONE]`.
    """
    last = request.messages[-1]
    if last.role != "user":
        raise HTTPException(status_code=422, detail=f"the last message must come from the user (got {last.role!r})")

    def answer_last() -> ConversationStep:
        # Rebuilding the history runs spaCy too: it goes to the models' thread with the answer.
        history = services.conversations.replay(_exchanges(request.messages[:-1]), settings.chat_history_turns)
        return run_turn(services, history, last.text())

    step = services.run(answer_last, deadline)
    answer = step.answer
    content = reply_text(answer, step.turn.note)
    answer_out = AnswerOut.model_validate(answer.to_dict())
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    model = settings.api_model_name
    if request.stream:
        return StreamingResponse(_stream(completion_id, created, model, content, answer_out),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    prompt_tokens = sum(_words(m.text()) for m in request.messages)
    return ChatCompletion(
        id=completion_id, created=created, model=model,
        choices=[CompletionChoice(message=CompletionMessage(content=content))],
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=_words(content),
                    total_tokens=prompt_tokens + _words(content)),
        citations=answer_out.citations, answer=answer_out,
    )


def _stream(completion_id: str, created: int, model: str, content: str, answer: AnswerOut) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format: role, content pieces, a final chunk, ``[DONE]``."""

    def event(delta: dict, finish: str | None = None, **extra) -> str:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    # The answer is extracted whole; it is sent a line at a time so clients render progressively.
    for piece in content.splitlines(keepends=True):
        yield event({"content": piece})
    yield event({}, "stop", citations=[c.model_dump() for c in answer.citations], answer=answer.model_dump())
    yield "data: [DONE]\n\n"
