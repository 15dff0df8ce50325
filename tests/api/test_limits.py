"""Limits: body size, time per request, stored conversations and turns; /health while loading."""

from __future__ import annotations

import re
import threading
import time


from api.dependencies import Services
from qa.chat_store import open_chat_store
from qa.pipeline import QAPipeline
from tests.api.conftest import fake_loader
from tests.conftest import FakeEmbedder, SentenceAnswerer
from tests.test_chat_store import TURN, Clock


# --- body size ------------------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_413(make_client, api_settings):
    client = make_client(api_settings.model_copy(update={"max_body_bytes": 4096}))
    response = client.post("/ask", json={"question": "Who chairs the board? " * 300})
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is larger than the limit of 4096 bytes"}
    assert client.post("/ask", json={"question": "Who chairs the harbour board?"}).status_code == 200


def test_a_streamed_body_over_the_limit_is_413(make_client, api_settings):
    client = make_client(api_settings.model_copy(update={"max_body_bytes": 4096}))
    chunks = (b'{"question": "' + b"a" * 1000 for _ in range(10))
    response = client.post("/chat", content=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is larger than the limit of 4096 bytes"}
    small = (part for part in (b'{"message": "Who chairs ', b'the harbour board?"}'))
    assert client.post("/chat", content=small, headers={"Content-Type": "application/json"}).status_code == 200


def test_the_default_limit_refuses_a_megabyte(client):
    response = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 1_000_000}]})
    assert response.status_code == 413


# --- time -----------------------------------------------------------------------------------------


class SlowAnswerer(SentenceAnswerer):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def answer(self, question, passages, index):
        time.sleep(self.seconds)
        return super().answer(question, passages, index)


def slow_loader(spacy_analyzer, seconds: float):
    def load(settings):
        pipeline = QAPipeline(settings, embedder=FakeEmbedder(), analyzer=spacy_analyzer, answerer=SlowAnswerer(seconds))
        return Services(pipeline=pipeline, nlp=spacy_analyzer.nlp, store=open_chat_store(settings))
    return load


def test_a_slow_answer_is_cut_off_with_504(make_client, api_settings, spacy_analyzer):
    client = make_client(api_settings.model_copy(update={"request_timeout_seconds": 0.3}),
                         loader=slow_loader(spacy_analyzer, 1.0))
    started = time.monotonic()
    response = client.post("/ask", json={"question": "Who chairs the harbour board?"})
    assert time.monotonic() - started < 0.9
    assert response.status_code == 504
    assert response.json() == {"detail": "the request took longer than the limit of 0.3 s; retry later or ask a shorter question"}
    time.sleep(1.0)  # let the abandoned answer finish


def test_a_chat_turn_past_the_limit_is_not_kept(make_client, api_settings, spacy_analyzer):
    client = make_client(api_settings.model_copy(update={"request_timeout_seconds": 0.3}),
                         loader=slow_loader(spacy_analyzer, 0.6))
    assert client.post("/chat", json={"message": "Who chairs the harbour board?"}).status_code == 504
    time.sleep(0.8)
    store = client.app.state.qa.services.store
    count = store._db.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
    assert count == 0


def test_waiting_too_long_for_busy_models_is_503(make_client, api_settings, spacy_analyzer):
    client = make_client(api_settings.model_copy(update={"request_timeout_seconds": 0.5}),
                         loader=slow_loader(spacy_analyzer, 0.0))
    services = client.app.state.qa.services
    with services.lock:  # another request is using the models
        response = client.post("/ask", json={"question": "Who chairs the harbour board?"})
    assert response.status_code == 503
    detail = response.json()["detail"]
    waited = re.fullmatch(r"the server is busy answering other questions \(waited ([0-9.]+) s\); retry shortly", detail)
    assert waited and 0.0 < float(waited.group(1)) <= 0.5  # within the time limit, less what came before the wait
    assert response.headers["retry-after"] == "5"
    assert client.post("/ask", json={"question": "Who chairs the harbour board?"}).status_code == 200


# --- stored conversations -------------------------------------------------------------------------


def test_the_store_keeps_at_most_max_conversations(open_store):
    clock = Clock()
    store = open_store(clock=clock, max_conversations=3)
    ids = []
    for n in range(5):
        clock.now += 1
        ids.append(store.create().id)
    clock.now += 1
    store.append(ids[2], TURN, {"n": 2})  # used most recently: kept
    clock.now += 1
    ids.append(store.create().id)
    assert [store.get(i) is not None for i in ids] == [False, False, True, False, True, True]


def test_the_store_keeps_the_last_max_turns(open_store):
    store = open_store(max_turns=2)
    conversation = store.create()
    for n in range(5):
        assert store.append(conversation.id, TURN, {"n": n}).position == n
    kept = store.get(conversation.id).turns
    assert [(t.position, t.answer) for t in kept] == [(3, {"n": 3}), (4, {"n": 4})]


def test_the_api_applies_the_configured_bounds(make_client, api_settings):
    client = make_client(api_settings.model_copy(update={"chat_max_turns": 2, "chat_max_conversations": 2}))
    first = client.post("/chat", json={"message": "Who chairs the harbour board?"}).json()["session_id"]
    for message in ("When was she elected?", "Where will she speak next month?"):
        client.post("/chat", json={"message": message, "session_id": first})
    turns = client.get(f"/chat/{first}").json()["turns"]
    assert [t["turn"] for t in turns] == [1, 2]
    client.post("/chat", json={"message": "How many varieties does the orchard grow?"})
    client.post("/chat", json={"message": "Who planted the oldest tree?"})
    assert client.get(f"/chat/{first}").status_code == 404


def test_a_refused_message_creates_no_conversation(client):
    assert client.post("/chat", json={"message": "?!?"}).status_code == 422
    store = client.app.state.qa.services.store
    assert store._db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 0


# --- health ---------------------------------------------------------------------------------------


def test_health_is_503_while_the_index_loads_in_the_background(make_client, api_settings, spacy_analyzer):
    release = threading.Event()
    load = fake_loader(spacy_analyzer)

    def slow(settings):
        release.wait(timeout=10)
        return load(settings)

    client = make_client(api_settings.model_copy(update={"load_in_background": True}), loader=slow)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"detail": "the index is still loading; retry shortly"}
    assert response.headers["retry-after"] == "5"
    assert client.post("/ask", json={"question": "Who chairs the harbour board?"}).status_code == 503
    release.set()
    deadline = time.monotonic() + 10
    while (response := client.get("/health")).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert response.status_code == 200
    assert response.json()["documents"] == 3 and response.json()["model"] == "fake-bow"


def test_a_crash_while_loading_is_reported_not_hidden(make_client, api_settings):
    def broken(settings):
        raise RuntimeError("the spaCy model is not installed")

    client = make_client(api_settings.model_copy(update={"load_in_background": True}), loader=broken)
    deadline = time.monotonic() + 10
    while client.get("/health").json()["detail"] == "the index is still loading; retry shortly" and time.monotonic() < deadline:
        time.sleep(0.05)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"detail": "the index is not loaded: RuntimeError: the spaCy model is not installed"}


# --- threads --------------------------------------------------------------------------------------


class ThreadRecordingAnswerer(SentenceAnswerer):
    """Notes the thread of every answer; the first ones wait a little, so that requests overlap."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def answer(self, question, passages, index):
        self.threads.append(threading.get_ident())
        time.sleep(0.05)
        return super().answer(question, passages, index)


def test_every_use_of_the_models_runs_on_one_thread(make_client, api_settings, spacy_analyzer):
    # torch and FAISS give each thread that runs them an OpenMP team; more teams than cores makes
    # every answer slower (api.dependencies.model_thread), so the models keep one thread.
    answerer = ThreadRecordingAnswerer()

    def load(settings):
        pipeline = QAPipeline(settings, embedder=FakeEmbedder(), analyzer=spacy_analyzer, answerer=answerer)
        services = Services(pipeline=pipeline, nlp=spacy_analyzer.nlp, store=open_chat_store(settings))
        services.run(lambda: pipeline.ask("warm up"))
        return services

    client = make_client(loader=load)
    requests = [("/ask", {"question": "Who chairs the harbour board?"}),
                ("/chat", {"message": "Who chairs the harbour board?"}),
                ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Who chairs the harbour board?"}]})]
    statuses = []
    callers = [threading.Thread(target=lambda path=path, body=body: statuses.append(client.post(path, json=body).status_code))
               for path, body in requests * 2]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert statuses == [200] * 6
    assert len(answerer.threads) == 7
    assert len(set(answerer.threads)) == 1
    assert answerer.threads[0] != threading.get_ident()
