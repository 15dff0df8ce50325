"""The conversation stores (SQLite, and PostgreSQL where a server can be started): turns in
order, deletion, expiry, survival across reopening; PostgreSQL's schema, concurrency and outages."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qa.chat_store import SQLiteChatStore, chat_store_at, default_chat_db, open_chat_store
from qa.config import load_settings
from qa.conversation import Mention, Turn
from qa.errors import ChatStoreUnavailable, SettingsError


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


TURN = Turn("Who chairs it?", "Who chairs the board?", "Maria Lindqvist",
            (Mention("Maria Lindqvist", "person", "PERSON", "answer", "nsubj"),), (("it", "the board"),))


def test_turns_are_kept_in_order_and_survive_reopening(open_store):
    store = open_store()
    conversation = store.create()
    assert store.append(conversation.id, TURN, {"answer": "Maria Lindqvist"}).position == 0
    assert store.append(conversation.id, TURN, {"answer": "Oslo"}).position == 1
    store.close()

    again = open_store().get(conversation.id)
    assert [t.answer["answer"] for t in again.turns] == ["Maria Lindqvist", "Oslo"]
    assert again.history == [TURN, TURN]


def test_delete_and_unknown(open_store):
    store = open_store()
    conversation = store.create()
    assert store.delete(conversation.id) is True
    assert store.delete(conversation.id) is False
    assert store.get(conversation.id) is None
    assert store.append(conversation.id, TURN, {}) is None


def test_idle_conversations_expire(open_store):
    clock = Clock()
    store = open_store(ttl_seconds=60, clock=clock)
    old, fresh = store.create(), store.create()
    clock.now += 50
    store.append(fresh.id, TURN, {})
    clock.now += 20  # old idle 70 s, fresh idle 20 s
    assert store.get(old.id) is None and store.get(fresh.id) is not None
    assert store.append(old.id, TURN, {}) is None
    assert store.expire() == 1


def test_a_second_store_on_the_same_database_continues_a_conversation(open_store):
    first, second = open_store(), open_store()  # two replicas
    conversation = first.create()
    first.append(conversation.id, TURN, {"answer": "Maria Lindqvist"})
    assert second.append(conversation.id, TURN, {"answer": "Oslo"}).position == 1
    assert [t.answer["answer"] for t in first.get(conversation.id).turns] == ["Maria Lindqvist", "Oslo"]


def test_default_database_is_beside_the_index_folder():
    assert default_chat_db(Path("/srv/.qa-index")) == Path("/srv/.qa-index.chats.sqlite3")


def test_ttl_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        SQLiteChatStore(tmp_path / "c.sqlite3", ttl_seconds=0)


def test_the_setting_picks_the_store_by_url_scheme(tmp_path):
    store = open_chat_store(load_settings(index_dir=tmp_path / "ix", chat_db=tmp_path / "c.sqlite3"))
    assert isinstance(store, SQLiteChatStore) and store.path == tmp_path / "c.sqlite3"
    with pytest.raises(SettingsError, match=r"^--chat-db: Value error, a URL here must be postgresql://\.\.\.; "
                                            r"anything else is a SQLite file path \(got 'mysql://db/chats'\)$"):
        load_settings(chat_db="mysql://db/chats")


# --- PostgreSQL only ---------------------------------------------------------------------------------


def test_postgres_appends_from_many_replicas_at_once_get_distinct_positions(postgres_server):
    url = postgres_server.create_database()
    replicas = [chat_store_at(url) for _ in range(4)]
    conversation = replicas[0].create()
    positions, errors = [], []

    def append_five(store):
        try:
            positions.extend(store.append(conversation.id, TURN, {}).position for _ in range(5))
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=append_five, args=(store,)) for store in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(positions) == list(range(20))
    assert [t.position for t in replicas[1].get(conversation.id).turns] == list(range(20))
    for store in replicas:
        store.close()


def test_postgres_schema_is_created_once_and_versioned(postgres_server):
    import psycopg

    url = postgres_server.create_database()
    chat_store_at(url).close()
    chat_store_at(url).close()  # the second finds the schema there
    with psycopg.connect(url, autocommit=True) as db:
        assert db.execute("SELECT version FROM chat_schema").fetchall() == [(1,)]
        db.execute("UPDATE chat_schema SET version = 2")
    with pytest.raises(ChatStoreUnavailable, match=r"has schema version 2; this program uses version 1"):
        chat_store_at(url)


def test_postgres_store_reconnects_after_the_server_drops_its_connection(postgres_server):
    import psycopg

    url = postgres_server.create_database()
    store = chat_store_at(url)
    conversation = store.create()
    with psycopg.connect(url, autocommit=True) as admin:  # what a server restart does to idle connections
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    assert store.append(conversation.id, TURN, {"answer": "Oslo"}).position == 0
    assert [t.answer for t in store.get(conversation.id).turns] == [{"answer": "Oslo"}]
    store.close()


def test_an_unreachable_postgres_is_a_clear_error(tmp_path):
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    url = f"postgresql://qa:secret@/chats?host={tmp_path}&connect_timeout=2"  # no server on that socket
    with pytest.raises(ChatStoreUnavailable, match=rf"^the conversation database {tmp_path}:5432/chats is unavailable: ") as caught:
        chat_store_at(url)
    assert "secret" not in str(caught.value)
