"""POST /chat, GET and DELETE /chat/{id}: follow-ups, history, errors, persistence."""

from __future__ import annotations

from pathlib import Path

from index.errors import IndexNotFound
from tests.api.conftest import fake_loader


def _post(client, message, session_id=None):
    body = {"message": message} if session_id is None else {"message": message, "session_id": session_id}
    return client.post("/chat", json=body)


def test_follow_ups_are_resolved_against_earlier_turns(client):
    first = _post(client, "Who chairs the harbour board?")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["answer"] == "Maria Lindqvist chairs the harbour board of Eastport."
    assert body["referred_back"] is False and body["turn"] == 0
    session = body["session_id"]

    second = _post(client, "Where will she speak next month?", session).json()
    assert second["question"] == "Where will Maria Lindqvist speak next month?"
    assert second["message"] == "Where will she speak next month?"
    assert second["referred_back"] is True and second["turn"] == 1
    assert second["answer"] == "She will speak in Oslo next month."

    third = _post(client, "Whom will she meet there?", session).json()
    assert third["question"] == "Whom will Maria Lindqvist meet in Oslo?"
    assert third["answer"] == "In Oslo she will meet the Norwegian transport minister, Jonas Berg."
    citation = third["citations"][0]
    assert third["reply"].splitlines()[:2] == ["Understood as: Whom will Maria Lindqvist meet in Oslo?",
                                               f"{third['answer']} [1]"]
    assert third["assumption"] is None
    assert f"[1] Harbour News (news/harbour.txt): {citation['url']}" in third["reply"]


def test_a_question_that_does_not_refer_back_is_answered_on_its_own(client):
    session = _post(client, "Who chairs the harbour board?").json()["session_id"]
    body = _post(client, "How many varieties does the Appleby orchard grow?", session).json()
    assert body["referred_back"] is False
    assert body["question"] == "How many varieties does the Appleby orchard grow?"
    assert body["answer"] == "The Appleby orchard grows 12 varieties of apples."


def test_not_found_answer_says_so(client):
    body = _post(client, "Zebra xylophone quantum?").json()
    assert body["found"] is False and body["answer"] is None and body["citations"] == []
    assert body["reply"] == "I could not find the answer in the documents."


def test_history_and_delete(client):
    session = _post(client, "Who chairs the harbour board?").json()["session_id"]
    _post(client, "Where will she speak next month?", session)
    history = client.get(f"/chat/{session}")
    assert history.status_code == 200
    turns = history.json()["turns"]
    assert [t["message"] for t in turns] == ["Who chairs the harbour board?", "Where will she speak next month?"]
    assert [t["turn"] for t in turns] == [0, 1]
    assert turns[1]["answer"]["question"] == "Where will Maria Lindqvist speak next month?"
    assert turns[1]["reply"].startswith(
        "Understood as: Where will Maria Lindqvist speak next month?\nShe will speak in Oslo next month. [1]")

    assert client.delete(f"/chat/{session}").status_code == 204
    gone = client.get(f"/chat/{session}")
    assert gone.status_code == 404
    assert gone.json() == {"detail": f"unknown session '{session}' (it may have expired)"}
    assert client.delete(f"/chat/{session}").json() == {"detail": f"unknown session '{session}' (it may have expired)"}


def test_unknown_session_is_404(client):
    response = _post(client, "Who chairs the harbour board?", "0123456789abcdef")
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown session '0123456789abcdef' (it may have expired)"}


def test_message_errors_are_precise_4xx(client):
    empty = _post(client, "")
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "message"]
    assert empty.json()["detail"][0]["type"] == "string_too_short"

    blank = _post(client, "   \n\t ")
    assert blank.status_code == 422 and blank.json() == {"detail": "the question is empty"}

    punctuation = _post(client, "?!")
    assert punctuation.status_code == 422 and punctuation.json() == {"detail": "the question has no words in it"}

    long = _post(client, "a" * 2001)
    assert long.status_code == 422
    assert long.json()["detail"][0]["msg"] == "String should have at most 2000 characters"
    assert "input" not in long.json()["detail"][0]

    wrong_type = client.post("/chat", json={"message": 42})
    assert wrong_type.status_code == 422 and wrong_type.json()["detail"][0]["type"] == "string_type"

    missing = client.post("/chat", json={})
    assert missing.status_code == 422 and missing.json()["detail"][0]["type"] == "missing"

    bad_json = client.post("/chat", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422 and bad_json.json()["detail"][0]["type"] == "json_invalid"

    bad_session = _post(client, "Who chairs the harbour board?", "../../etc")
    assert bad_session.status_code == 422 and bad_session.json()["detail"][0]["loc"] == ["body", "session_id"]

    assert client.get("/chat/not a valid id!").status_code == 422


def test_a_conversation_survives_a_restart(make_client, api_settings):
    first = make_client()
    session = _post(first, "Who chairs the harbour board?").json()["session_id"]
    first.__exit__(None, None, None)  # shut the app down (lifespan end closes the store)

    second = make_client(api_settings)
    history = second.get(f"/chat/{session}").json()
    assert [t["message"] for t in history["turns"]] == ["Who chairs the harbour board?"]
    follow_up = _post(second, "Where will she speak next month?", session).json()
    assert follow_up["question"] == "Where will Maria Lindqvist speak next month?"
    assert follow_up["turn"] == 1


def test_routes_answer_503_while_the_index_is_not_loaded(make_client):
    def failing_loader(settings):
        raise IndexNotFound("no index in /nowhere; build one with `qa index PATH --index-dir /nowhere`")

    client = make_client(loader=failing_loader)
    expected = {"detail": "the index is not loaded: no index in /nowhere; build one with `qa index PATH --index-dir /nowhere`"}
    for response in (client.get("/health"), _post(client, "Who chairs the harbour board?"),
                     client.post("/ask", json={"question": "Who?"}), client.get("/documents/orchard.md")):
        assert response.status_code == 503
        assert response.json() == expected
    assert client.get("/health").headers["retry-after"] == "5"


def test_dependency_override_replaces_the_services(make_client, spacy_analyzer, api_settings):
    from api.dependencies import get_services

    client = make_client()
    services = fake_loader(spacy_analyzer)(api_settings.model_copy(update={"chat_db": str(Path(api_settings.chat_db).with_name("other.sqlite3"))}))
    client.app.dependency_overrides[get_services] = lambda: services
    session = _post(client, "Who chairs the harbour board?").json()["session_id"]
    assert services.store.get(session) is not None
    client.app.dependency_overrides.clear()
    assert client.get(f"/chat/{session}").status_code == 404
