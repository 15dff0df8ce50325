"""Two real ``qa serve`` replicas on one index share conversations through PostgreSQL: a
follow-up sent to either continues the conversation, also after the replica that served the
last turn is killed with SIGKILL; a database that goes away is a 503 with the reason."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest

from tests.api.conftest import qa_serve, write_small_corpus
from tests.conftest import missing_engine
from tests.postgres_server import ThrowawayPostgres, why_unavailable


def _chat(base: str, message: str, session_id: str | None = None) -> dict:
    body = {"message": message} if session_id is None else {"message": message, "session_id": session_id}
    response = httpx.post(f"{base}/chat", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_a_conversation_continues_on_another_replica_after_a_sigkill(postgres_server, tmp_path):
    corpus = write_small_corpus(tmp_path / "corpus")
    # The rules answer without the reader, whose loading would only slow the start of each replica.
    env = {"QA_CORPUS": str(corpus), "QA_CHAT_DB": postgres_server.create_database(), "QA_READER": "0"}
    # The first replica builds the default index (.qa-index in tmp_path); the second starts on it
    # once it is there.
    with qa_serve(None, tmp_path / "a.log", env) as (a, _), \
            qa_serve(None, tmp_path / "b.log", env) as (b, process_b):
        first = _chat(a, "Who chairs the harbour board?")
        assert first["answer"] == "Maria Lindqvist"
        session = first["session_id"]

        second = _chat(b, "Where will she speak next month?", session)
        assert second["question"] == "Where will Maria Lindqvist speak next month?"
        assert second["answer"] == "Oslo"
        assert (second["session_id"], second["turn"]) == (session, 1)

        os.killpg(process_b.pid, signal.SIGKILL)  # the replica that served the last turn
        assert process_b.wait(timeout=10) == -signal.SIGKILL

        # "she" and "there" are resolved from the turn the killed replica answered.
        third = _chat(a, "Whom will she meet there?", session)
        assert third["question"] == "Whom will Maria Lindqvist meet in Oslo?"
        assert third["turn"] == 2

        history = httpx.get(f"{a}/chat/{session}", timeout=10).json()
        assert [t["message"] for t in history["turns"]] == [
            "Who chairs the harbour board?", "Where will she speak next month?", "Whom will she meet there?"]
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{b}/health", timeout=2)


def test_chat_answers_503_while_the_database_is_down(make_client, api_settings):
    if why_unavailable():
        missing_engine(why_unavailable())
    server = ThrowawayPostgres().start()  # its own server: this test stops it
    try:
        client = make_client(api_settings.model_copy(update={"chat_db": server.create_database()}))
        first = client.post("/chat", json={"message": "Who chairs the harbour board?"})
        assert first.status_code == 200
    finally:
        server.stop()
    follow_up = client.post("/chat", json={"message": "When was she elected?", "session_id": first.json()["session_id"]})
    assert follow_up.status_code == 503
    assert follow_up.json()["detail"].startswith(f"the conversation database {server.folder}:5432/chats_1 is unavailable: ")
    assert client.post("/ask", json={"question": "Who chairs the harbour board?"}).status_code == 200
