"""POST /ask, GET /health, GET /documents/{id} (JSON and the citation view), /docs."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import SCRIPT_DOC
from tests.conftest import HARBOUR

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_health_reports_the_index(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 3 and body["model"] == "fake-bow"
    assert body["chunks"] >= 3 and body["built_at"]
    assert body["answerer"] == "SentenceAnswerer"  # the tests' fake answerer, by its class


def test_ask_returns_the_answer_object(client):
    response = client.post("/ask", json={"question": "Who chairs the harbour board?", "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "answer", "found", "confidence", "quote", "citations"}
    assert body["answer"] == "Maria Lindqvist chairs the harbour board of Eastport."
    c = body["citations"][0]
    assert HARBOUR[c["start"]:c["end"]] == body["answer"]
    assert c["url"] == f"/documents/news/harbour.txt?start={c['start']}&end={c['end']}"


@pytest.mark.parametrize("body, status, detail", [
    ({"question": "   "}, 422, "the question is empty"),
    ({"question": "Who?", "top_k": 0}, 422, "Input should be greater than or equal to 1"),
    ({"question": ["Who?"]}, 422, "Input should be a valid string"),
    ({"question": "x" * 2001}, 422, "String should have at most 2000 characters"),
    ({"question": "Who?", "colour": "red"}, 422, "Extra inputs are not permitted"),
])
def test_ask_errors(client, body, status, detail):
    response = client.post("/ask", json=body)
    assert response.status_code == status
    got = response.json()["detail"]
    assert (got if isinstance(got, str) else got[0]["msg"]) == detail


def test_every_citation_url_opens_the_highlighted_span(client):
    answer = client.post("/ask", json={"question": "Where will Maria Lindqvist speak next month?"}).json()
    for citation in answer["citations"]:
        page = client.get(citation["url"], headers=HTML)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        marked = re.search(r'<mark id="cited">(.*?)</mark>', page.text, re.S).group(1)
        assert marked == HARBOUR[citation["start"]:citation["end"]]
        assert "scrollIntoView" in page.text
        assert "nonce-" in page.headers["content-security-policy"]


def test_view_shades_the_supporting_sentence(client):
    start = HARBOUR.index("Oslo next month")
    page = client.get(f"/documents/news/harbour.txt/view?start={start}&end={start + 4}").text
    assert '<span class="support">She will speak in <mark id="cited">Oslo</mark> next month.</span>' in page


def test_document_json(client):
    body = client.get("/documents/news/harbour.txt").json()
    assert body == {"doc_id": "news/harbour.txt", "title": "Harbour News", "text": HARBOUR, "source": "news/harbour.txt",
                    "format": "text", "pages": None}
    # Offsets are checked for JSON too, and a JSON-first Accept gets JSON.
    assert client.get("/documents/news/harbour.txt?start=0&end=7", headers={"Accept": "application/json, text/html"}).json()["title"] == "Harbour News"


def test_document_text_is_escaped(client):
    page = client.get("/documents/notes/markup.txt", headers=HTML).text
    assert '<script>alert("owned")</script>' not in page
    assert "&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    start = SCRIPT_DOC.index("<script>")
    view = client.get(f"/documents/notes/markup.txt/view?start={start}&end={start + 8}").text
    assert '<mark id="cited">&lt;script&gt;</mark>' in view


@pytest.mark.parametrize("path", [
    "/documents/missing.txt",
    "/documents/%2e%2e/%2e%2e/etc/passwd",
    "/documents/news/%2e%2e/%2e%2e/pyproject.toml",
    "/documents/news%2F..%2F..%2Fpyproject.toml",
    "/documents//etc/passwd",
    "/documents/%2Fetc%2Fpasswd/view",
    "/documents/..%5c..%5cwindows%5cwin.ini",
])
def test_unknown_and_escaping_ids_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["detail"].startswith("no document '") and response.json()["detail"].endswith("' in the index")


def test_unknown_id_detail_names_it(client):
    assert client.get("/documents/news/missing.txt").json() == {"detail": "no document 'news/missing.txt' in the index"}


@pytest.mark.parametrize("query, detail", [
    ("start=5&end=100000", f"offsets 5-100000 are outside the document news/harbour.txt (0-{len(HARBOUR)})"),
    ("start=9&end=3", "start 9 is after end 3"),
    ("start=3", "give both start and end, or neither"),
])
def test_bad_offsets_are_422(client, query, detail):
    for path in ("/documents/news/harbour.txt", "/documents/news/harbour.txt/view"):
        response = client.get(f"{path}?{query}", headers=HTML)
        assert response.status_code == 422
        assert response.json() == {"detail": detail}


def test_negative_offset_is_422(client):
    response = client.get("/documents/news/harbour.txt?start=-1&end=3")
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "start"]


def test_openapi_describes_every_route_with_examples(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/ask", "/chat", "/chat/{session_id}", "/documents/{doc_id}", "/documents/{doc_id}/view",
                 "/health", "/v1/chat/completions", "/v1/models", "/"):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation.get("summary") and operation.get("description"), (path, operation)
    for model in ("AskRequest", "ChatRequest", "ChatResponse", "AnswerOut", "ChatCompletionRequest", "DocumentOut", "HealthOut"):
        assert schema["components"]["schemas"][model].get("examples"), model
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "/docs-assets/swagger-ui-bundle.js" in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        served = client.get(f"/docs-assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 100_000, asset


def test_chat_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/chat.js"></script>' in page.text
    assert "textContent" in client.get("/static/chat.js").text


def test_ask_and_chat_say_where_the_time_went(client):
    def stages(response):
        parts = [p.strip().split(";dur=") for p in response.headers["server-timing"].split(",")]
        return {name: float(ms) for name, ms in parts}

    ask = stages(client.post("/ask", json={"question": "Who chairs the harbour board?"}))
    assert list(ask) == ["wait", "retrieve", "answer"] and all(ms >= 0 for ms in ask.values())
    assert ask["answer"] > 0
    chat = stages(client.post("/chat", json={"message": "Who chairs the harbour board?"}))
    assert list(chat) == ["wait", "answer"] and chat["answer"] > 0
