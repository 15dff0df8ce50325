"""A real `qa serve` on loopback: a short load test, then a SIGKILL in the middle of chat turns.

The long version of the load test is ``bench/load_test.py`` (32 clients, 60 s); this one runs
the same code for a few seconds. Then the server is killed with SIGKILL while clients are
sending chat turns and restarted on the same folders: every turn it acknowledged must be in
the history (the store commits each turn, WAL journal, before the response is sent).
"""

from __future__ import annotations

import importlib.util
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

_spec = importlib.util.spec_from_file_location("load_test", Path(__file__).resolve().parents[2] / "bench" / "load_test.py")
load_test = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("load_test", load_test)  # dataclasses look their module up there
_spec.loader.exec_module(load_test)

MAX_GROWTH_MIB = 150


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve-load")
    process, base = load_test.start_server(folder)
    state = {"process": process, "base": base, "folder": folder}
    yield state
    # a test may have replaced the server by a restarted one: stop whichever runs now
    load_test.stop_server(state["process"], signal.SIGKILL)


def test_short_load_has_no_errors_lost_turns_or_changed_answers(server):
    report = load_test.run_load(server["base"], clients=16, seconds=4, server_pid=server["process"].pid)
    assert report["requests"] > 16
    assert report["errors"] == []
    assert report["answer_mismatches"] == []  # same answers under load as one at a time
    assert report["sequential_answers_changed"] == []
    assert report["acknowledged_turns"] > 0 and report["lost_turns"] == []
    if report["rss_start_mib"] is not None:  # psutil installed
        assert report["rss_end_mib"] - report["rss_start_mib"] < MAX_GROWTH_MIB


def test_acknowledged_turns_survive_a_sigkill(server):
    base, folder = server["base"], server["folder"]
    acknowledged: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def chat(n: int) -> None:
        session = None
        with httpx.Client(base_url=base, timeout=30) as client:
            for turn in range(1000):
                if stop.is_set():
                    return
                message = f"Who chairs the harbour board? (client {n}, turn {turn})"
                body = {"message": message} if session is None else {"message": message, "session_id": session}
                try:
                    response = client.post("/chat", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200:
                    data = response.json()
                    session = data["session_id"]
                    with lock:
                        acknowledged.append((session, data["turn"], data["message"]))

    threads = [threading.Thread(target=chat, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    load_test.stop_server(server["process"], signal.SIGKILL)  # mid-flight: clients are still sending
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert server["process"].returncode == -signal.SIGKILL
    assert len(acknowledged) >= 12

    database = folder / ".qa-index.chats.sqlite3"
    assert sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    process, base = load_test.start_server(folder)  # the same index and conversation database
    server["process"] = process
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/health").status_code == 200
        assert load_test.lost_turns(client, acknowledged) == []
        # Conversations go on where they stopped.
        session = acknowledged[0][0]
        last = max(t for s, t, _ in acknowledged if s == session)
        follow = client.post("/chat", json={"message": "When was she elected?", "session_id": session})
        assert follow.status_code == 200 and follow.json()["turn"] > last
