"""Access control: the API key, session ids, document ids, escaping of the citation view, CORS."""

from __future__ import annotations

import html
import re

import pytest
from pydantic import SecretStr

import api.dependencies
from index.build import build_index
from index.documents import document_from_text
from qa.chat_store import SQLiteChatStore
from tests.conftest import FakeEmbedder

KEY = "s3cret-key-\u00e9"  # non-ASCII on purpose: the comparison works on bytes
HTML = {"Accept": "text/html"}
PUBLIC = {"/health", "/", "/docs", "/openapi.json"}


def _example_path(path: str) -> str:
    return path.replace("{doc_id}", "news/harbour.txt").replace("{session_id}", "0" * 32)


def _api_operations(app) -> list[tuple[str, str]]:
    """Every (method, path) the OpenAPI schema describes, so that a new route is covered too."""
    schema = app.openapi()
    return [(method.upper(), path) for path, item in schema["paths"].items() for method in item
            if path not in PUBLIC]


@pytest.fixture
def keyed(make_client, api_settings):
    return make_client(api_settings.model_copy(update={"api_key": SecretStr(KEY)}))


def test_every_route_but_health_and_the_page_needs_the_key(keyed):
    operations = _api_operations(keyed.app)
    assert {("POST", "/ask"), ("POST", "/chat"), ("GET", "/chat/{session_id}"), ("DELETE", "/chat/{session_id}"),
            ("GET", "/documents/{doc_id}"), ("GET", "/documents/{doc_id}/view"), ("POST", "/v1/chat/completions"),
            ("GET", "/v1/models")} <= set(operations)
    for method, path in operations:
        url = _example_path(path)
        for headers, detail in [({}, "missing API key: send the header 'Authorization: Bearer <key>'"),
                                ({"Authorization": "Bearer wrong"}, "invalid API key"),
                                ({"Authorization": f"Bearer {KEY[:-1]}"}, "invalid API key"),
                                ({"Authorization": f"Basic {KEY}"}, "missing API key: send the header 'Authorization: Bearer <key>'")]:
            response = keyed.request(method, url, headers={k: v.encode("utf-8") for k, v in headers.items()})
            assert response.status_code == 401, (method, path, headers)
            assert response.json() == {"detail": detail}
            assert response.headers["www-authenticate"] == "Bearer"
    good = {"Authorization": f"Bearer {KEY}".encode("utf-8")}
    assert keyed.post("/ask", json={"question": "Who chairs the harbour board?"}, headers=good).status_code == 200
    assert keyed.get("/documents/news/harbour.txt", headers=good).status_code == 200
    assert keyed.get("/v1/models", headers=good).status_code == 200


def test_health_and_the_page_shell_stay_open(keyed):
    assert keyed.get("/health").status_code == 200
    assert keyed.get("/").status_code == 200
    assert keyed.get("/static/chat.js").status_code == 200
    assert "bearerAuth" in str(keyed.get("/openapi.json").json()["components"]) or \
        "HTTPBearer" in keyed.get("/openapi.json").json()["components"]["securitySchemes"]


def test_no_key_configured_means_open(client):
    assert client.post("/ask", json={"question": "Who chairs the harbour board?"}).status_code == 200


def test_key_is_compared_in_constant_time(keyed, monkeypatch):
    calls = []
    real = api.dependencies.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api.dependencies.hmac, "compare_digest", spy)
    keyed.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert calls == [(b"nope", KEY.encode("utf-8"))]


def test_the_page_asks_for_the_key_and_sends_it(keyed):
    script = keyed.get("/static/chat.js").text
    assert "window.prompt(" in script and "response.status !== 401" in script
    assert '{ Authorization: "Bearer " + key }' in script
    # Every call of the API goes through apiFetch (the one bare fetch is inside it).
    assert len(re.findall(r"await fetch\(", script)) == 1 and script.count("apiFetch(") >= 5


def test_session_ids_are_128_random_bits(tmp_path):
    store = SQLiteChatStore(tmp_path / "c.sqlite3")
    ids = [store.create().id for _ in range(200)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == len(ids)
    # Every one of the 128 bits takes both values (a UUID4 fixes 6 of them).
    bits = [format(int(i, 16), "0128b") for i in ids]
    assert all(len({b[n] for b in bits}) == 2 for n in range(128))


def test_a_conversation_is_reachable_only_with_its_own_id(client):
    mine = client.post("/chat", json={"message": "Who chairs the harbour board?"}).json()["session_id"]
    theirs = client.post("/chat", json={"message": "How many varieties does the orchard grow?"}).json()["session_id"]
    near = mine[:-1] + ("0" if mine[-1] != "0" else "1")
    for guess in (near, mine.upper(), mine[:16], "0" * 32):
        assert client.get(f"/chat/{guess}").status_code == 404
        assert client.delete(f"/chat/{guess}").status_code == 404
    assert [t["message"] for t in client.get(f"/chat/{theirs}").json()["turns"]] == ["How many varieties does the orchard grow?"]
    assert [t["message"] for t in client.get(f"/chat/{mine}").json()["turns"]] == ["Who chairs the harbour board?"]


@pytest.mark.parametrize("path", [
    "/documents/..%2f..%2fetc%2fpasswd",
    "/documents/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/documents/%2e%2e%2f%2e%2e%2fpyproject.toml/view",
    "/documents/news/../../../../etc/passwd",
    "/documents//etc/passwd/view",
    "/documents/%2Fetc%2Fpasswd",
    "/documents/C:%5cWindows%5cwin.ini",
    "/documents/news/harbour.txt%00.md",
    "/documents/~/.ssh/id_rsa",
])
def test_document_ids_cannot_escape_the_corpus(client, path):
    response = client.get(path, headers=HTML)
    assert response.status_code == 404
    # Either an unknown id, or (dot segments removed by the client) no route at all.
    detail = response.json()["detail"]
    assert re.fullmatch(r"no document '.*' in the index", detail) or detail == "Not Found"


HOSTILE = ("Hostile \"Title' <b>onload=alert(1)</b>\n\n"
           "Plain text <script>alert(1)</script> and \"><img src=x onerror=alert(2)> and ' onmouseover='alert(3)'.\n")
HOSTILE_ID = "evil/\"><script>alert(4)</script>'.md"


@pytest.fixture
def hostile_client(make_client, api_settings, spacy_analyzer, tmp_path):
    folder = tmp_path / "hostile-ix"
    build_index([document_from_text(HOSTILE_ID, HOSTILE)], folder, FakeEmbedder(), spacy_analyzer)
    return make_client(api_settings.model_copy(update={"index_dir": folder}))


def test_the_citation_view_escapes_everything_from_documents(hostile_client):
    start = HOSTILE.index("<script>")
    end = HOSTILE.index("'.\n") + 1
    from urllib.parse import quote
    for url in (f"/documents/{quote(HOSTILE_ID, safe='/')}/view?start={start}&end={end}",
                f"/documents/{quote(HOSTILE_ID, safe='/')}"):
        response = hostile_client.get(url, headers=HTML)
        assert response.status_code == 200
        page = response.text
        # No markup from the document survives: the only tags are the page's own.
        tags = set(re.findall(r"<([a-z]+)", page))
        assert tags <= {"html", "head", "meta", "title", "style", "body", "header", "strong", "code", "main",
                        "div", "span", "mark", "a", "script"}, tags
        assert page.count("<script") == 1 and "alert" not in page.split("<script", 1)[1].split("</script>")[0]
        for raw in ("<script>alert(1)</script>", "\"><img", "' onmouseover='", "<b>onload", "\"><script>alert(4)"):
            assert raw not in page
        assert html.escape(HOSTILE_ID) in page
        assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page and "&#x27; onmouseover=&#x27;alert(3)&#x27;" in page


def test_cors_is_off_by_default(client):
    preflight = client.options("/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    response = client.post("/ask", json={"question": "Who chairs the harbour board?"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_the_configured_origins_only(make_client, api_settings):
    client = make_client(api_settings.model_copy(update={"cors_origins": ["https://docs.example"], "api_key": SecretStr(KEY)}))
    preflight = client.options("/ask", headers={"Origin": "https://docs.example", "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "authorization,content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://docs.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = client.options("/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in refused.headers
    # A 401 still carries the header, so the browser shows the real error to the allowed page.
    unauthorised = client.post("/ask", json={"question": "Who?"}, headers={"Origin": "https://docs.example"})
    assert unauthorised.status_code == 401
    assert unauthorised.headers["access-control-allow-origin"] == "https://docs.example"
