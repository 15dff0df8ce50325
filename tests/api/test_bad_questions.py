"""Hostile or odd questions get a precise 4xx or a normal answer from every route, never a 5xx."""

from __future__ import annotations

import pytest

ODD = [
    "Who chairs the harbour board?\x00\x07\x1b[31m",  # control characters and an ANSI escape
    "\u0421\u043a\u043e\u043b\u044c\u043a\u043e \u0441\u043e\u0440\u0442\u043e\u0432 \u044f\u0431\u043b\u043e\u043a?",  # Cyrillic
    "\u6e2f\u53e3\u8463\u4e8b\u4f1a\u7684\u4e3b\u5e2d\u662f\u8c01\uff1f",  # Chinese
    "'; DROP TABLE conversations; --",
    "1 OR 1=1 UNION SELECT * FROM turns",
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    '{"question": null, "top_k": 1e9}',
    "\u202eevil\u202c \U0001F600 \ufeff who?",  # bidi override, emoji, BOM
]
REFUSED = [
    ("", 422, "String should have at least 1 character"),
    ("   \t\n ", 422, "the question is empty"),
    ("\x00\x01\x02", 422, "the question is empty"),
    ("?!?...;:--", 422, "the question has no words in it"),
    ("x" * 2001, 422, "String should have at most 2000 characters"),
    ("Who? " * 20_000, 413, "the request body is larger than the limit of 65536 bytes"),  # 100 KB
]


@pytest.fixture
def small_limit_client(make_client, api_settings):
    return make_client(api_settings.model_copy(update={"max_body_bytes": 65536}))


def _detail(response):
    detail = response.json()["detail"]
    return detail if isinstance(detail, str) else detail[0]["msg"]


@pytest.mark.parametrize("question", ODD)
def test_odd_questions_get_a_normal_answer(small_limit_client, question):
    for path, body in (("/ask", {"question": question}), ("/chat", {"message": question})):
        response = small_limit_client.post(path, json=body)
        assert response.status_code == 200, (path, response.text)
        assert isinstance(response.json()["found"], bool)
    completion = small_limit_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]})
    assert completion.status_code == 200


def test_sql_in_a_question_leaves_the_store_intact(small_limit_client):
    session = small_limit_client.post("/chat", json={"message": "'; DROP TABLE turns; --"}).json()["session_id"]
    assert [t["message"] for t in small_limit_client.get(f"/chat/{session}").json()["turns"]] == ["'; DROP TABLE turns; --"]


@pytest.mark.parametrize("question, status, detail", REFUSED)
def test_bad_questions_are_refused_with_a_precise_4xx(small_limit_client, question, status, detail):
    for path, body in (("/ask", {"question": question}), ("/chat", {"message": question})):
        response = small_limit_client.post(path, json=body)
        assert (response.status_code, _detail(response)) == (status, detail), path


@pytest.mark.parametrize("body", [b"", b"{", b"null", b"[]", b'{"question": 5}', b"\xff\xfe", b'{"question": "a"' + b" " * 10])
def test_malformed_bodies_are_422(client, body):
    response = client.post("/ask", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
