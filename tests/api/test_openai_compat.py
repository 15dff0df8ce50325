"""The OpenAI-compatible endpoint: with TestClient, and with the official client against a real `qa serve`."""

from __future__ import annotations

import json

import pytest

HISTORY = [
    {"role": "system", "content": "You answer from the documents."},
    {"role": "user", "content": "Who chairs the harbour board?"},
    {"role": "assistant", "content": "Maria Lindqvist chairs the harbour board of Eastport. [1]\n\n\u201c...\u201d [1]"},
    {"role": "user", "content": [{"type": "text", "text": "Where will she speak next month?"}]},
]


def test_completion_resolves_follow_ups_from_the_messages(client):
    response = client.post("/v1/chat/completions", json={"model": "anything", "messages": HISTORY, "temperature": 0})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "qa-bot"
    content = body["choices"][0]["message"]["content"]
    assert content.splitlines()[:2] == ["Understood as: Where will Maria Lindqvist speak next month?",
                                        "She will speak in Oslo next month. [1]"]
    assert body["answer"]["question"] == "Where will Maria Lindqvist speak next month?"
    assert body["citations"][0]["doc_id"] == "news/harbour.txt"
    assert body["choices"][0]["finish_reason"] == "stop" and body["usage"]["completion_tokens"] > 0


def test_streaming_sends_chunks_then_done(client):
    with client.stream("POST", "/v1/chat/completions", json={"messages": HISTORY, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.startswith("Understood as: Where will Maria Lindqvist speak next month?\nShe will speak in Oslo next month. [1]")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"][0]["doc_id"] == "news/harbour.txt"


@pytest.mark.parametrize("messages, detail", [
    ([{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "x"}],
     "the last message must come from the user (got 'assistant')"),
    ([{"role": "user", "content": "   "}], "the question is empty"),
])
def test_completion_errors(client, messages, detail):
    response = client.post("/v1/chat/completions", json={"messages": messages})
    assert response.status_code == 422 and response.json() == {"detail": detail}


def test_completion_validation(client):
    assert client.post("/v1/chat/completions", json={"messages": []}).json()["detail"][0]["type"] == "too_short"
    assert client.post("/v1/chat/completions", json={"messages": [{"role": "robot", "content": "hi"}]}).status_code == 422


def test_models(client):
    body = client.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["qa-bot"]


# --- the official client against a real server --------------------------------------------------


def test_openai_client_against_qa_serve(live_server):
    openai = pytest.importorskip("openai", reason="the openai package is not installed (pip install openai)")
    base, log_path = live_server
    assert "building one from" in log_path.read_text(), "qa serve should say it builds the missing index"
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed", timeout=60, max_retries=0)
    assert [m.id for m in client.models.list().data] == ["qa-bot"]

    messages = [{"role": "user", "content": "Who chairs the harbour board?"}]
    first = client.chat.completions.create(model="qa-bot", messages=messages)
    content = first.choices[0].message.content
    assert "Maria Lindqvist" in content.splitlines()[0] and "[1]" in content
    extra = first.model_extra
    assert extra["citations"][0]["doc_id"] == "news/harbour.txt"

    messages += [{"role": "assistant", "content": content},
                 {"role": "user", "content": "Where will she speak next month?"}]
    stream = client.chat.completions.create(model="qa-bot", messages=messages, stream=True)
    pieces, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    streamed = "".join(pieces)
    assert streamed.splitlines()[0] == "Understood as: Where will Maria Lindqvist speak next month?"
    assert "Oslo" in streamed.splitlines()[1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["answer"]["question"] == "Where will Maria Lindqvist speak next month?"
