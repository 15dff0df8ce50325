"""Request and response models of the HTTP API (with the limits and examples /docs shows)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Longest message or question accepted, in characters (also enforced by ``Settings.max_question_chars``).
MAX_MESSAGE_CHARS = 2000
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

_CITATION_EXAMPLE = {
    "doc_id": "news/harbour.txt", "title": "Harbour News", "start": 14, "end": 29,
    "quote_start": 14, "quote_end": 67, "url": "/documents/news/harbour.txt?start=14&end=29", "page": None,
}
_ANSWER_EXAMPLE = {
    "question": "Who chairs the harbour board?", "answer": "Maria Lindqvist", "found": True,
    "confidence": 0.87, "quote": "Maria Lindqvist chairs the harbour board of Eastport.",
    "citations": [_CITATION_EXAMPLE],
}


class CitationOut(BaseModel):
    """Where an answer comes from: ``text[start:end]`` is the answer, ``text[quote_start:quote_end]`` the quote."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CITATION_EXAMPLE]})

    doc_id: str
    title: str
    start: int
    end: int
    quote_start: int
    quote_end: int
    url: str = Field(description="Opens the document with the answer highlighted.")
    page: int | None = Field(default=None, description="The page the answer is on (1-based), for a PDF; else null.")


class AnswerOut(BaseModel):
    """The answer object, exactly as ``qa ask --json`` prints it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ANSWER_EXAMPLE]})

    question: str = Field(description="The question as answered (after follow-up resolution).")
    answer: str | None = Field(description="A verbatim span of a document, or null when the documents do not say.")
    found: bool
    confidence: float = Field(ge=0, le=1)
    quote: str | None = Field(default=None, description="The verbatim sentence supporting the answer.")
    citations: list[CitationOut] = []


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "Who chairs the harbour board?", "top_k": 5}]})

    question: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    top_k: int | None = Field(default=None, ge=1, le=100, description="Passages the answerer reads [default 5].")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message": "Who chairs the harbour board?"},
        {"message": "Where will she speak next month?", "session_id": "3f2b9c0e1d8a4b7c9e6f5a4b3c2d1e0f"},
    ]})

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN,
                                   description="Continue this conversation; leave out to start a new one.")


class ChatResponse(AnswerOut):
    """The answer object plus the conversation it belongs to and a display text."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **_ANSWER_EXAMPLE, "question": "Where will Maria Lindqvist speak next month?", "answer": "Oslo",
        "message": "Where will she speak next month?", "session_id": "3f2b9c0e1d8a4b7c9e6f5a4b3c2d1e0f",
        "referred_back": True, "turn": 1,
        "reply": "Understood as: Where will Maria Lindqvist speak next month?\nOslo [1]\n\n\u201cShe will speak in Oslo next month.\u201d [1]\n\n[1] Harbour News (news/harbour.txt): /documents/news/harbour.txt?start=104&end=108",
    }]})

    session_id: str
    message: str = Field(description="The message as typed.")
    referred_back: bool = Field(description="Whether the message was resolved against earlier turns.")
    turn: int = Field(description="Position of this turn in the conversation, from 0.")
    assumption: str | None = Field(default=None, description=(
        "Set when a pronoun had two equally fitting antecedents and the most salient was taken, "
        "e.g. \"Taking 'she' as Lena Ortiz\"."))
    reply: str = Field(description=(
        "Display text: how the message was understood (when it was rewritten), the answer with [n] "
        "citation markers, the quote and the sources."))


class TurnOut(BaseModel):
    turn: int
    created_at: float
    message: str
    answer: AnswerOut
    assumption: str | None = None
    reply: str


class ConversationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "session_id": "3f2b9c0e1d8a4b7c9e6f5a4b3c2d1e0f", "created_at": 1732600000.0, "updated_at": 1732600042.5,
        "turns": [{"turn": 0, "created_at": 1732600042.5, "message": "Who chairs the harbour board?",
                   "answer": _ANSWER_EXAMPLE, "reply": "Maria Lindqvist [1]\n\n..."}],
    }]})

    session_id: str
    created_at: float
    updated_at: float
    turns: list[TurnOut]


class DocumentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "doc_id": "news/harbour.txt", "title": "Harbour News",
        "text": "Harbour News\n\nMaria Lindqvist chairs the harbour board of Eastport. ...", "source": "news/harbour.txt",
    }]})

    doc_id: str
    title: str
    text: str
    source: str
    format: str = Field(default="text", description="What the file was read as: text, markdown, html, pdf, docx.")
    pages: list[int] | None = Field(default=None, description="For a PDF, the offset in `text` where each page starts.")


class HealthOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ok", "documents": 1, "chunks": 12, "model": "all-MiniLM-L6-v2",
        "built_at": "2025-11-26T06:52:00+00:00", "answerer": "cascade"}]})

    status: Literal["ok"] = "ok"
    documents: int
    chunks: int
    model: str
    built_at: str
    answerer: str = Field(description="what answers: `cascade`, `minilm`, `mpnet`, a reader folder, or `rules`")


class ErrorOut(BaseModel):
    detail: str


# --- OpenAI-compatible chat completions -------------------------------------------------------------


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return " ".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request; sampling options are accepted and ignored (answers are extracted)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "model": "qa-bot",
        "messages": [
            {"role": "user", "content": "Who chairs the harbour board?"},
            {"role": "assistant", "content": "Maria Lindqvist [1]"},
            {"role": "user", "content": "Where will she speak next month?"},
        ],
        "stream": False,
    }]})

    model: str = Field(default="qa-bot", max_length=200)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class CompletionChoice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """A standard chat completion, plus ``citations`` and the full ``answer`` object as extra fields."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    citations: list[CitationOut] = Field(description="Structured citations, numbered as the [n] markers.")
    answer: AnswerOut = Field(description="The answer object (as POST /ask returns it).")


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
