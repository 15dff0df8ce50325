"""The SQLite conversation store: turns in order, deletion, expiry, survival across reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.chat_store import ChatStore, default_chat_db
from qa.conversation import Mention, Turn


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


TURN = Turn("Who chairs it?", "Who chairs the board?", "Maria Lindqvist",
            (Mention("Maria Lindqvist", "person", "PERSON", "answer", "nsubj"),), (("it", "the board"),))


def test_turns_are_kept_in_order_and_survive_reopening(tmp_path):
    path = tmp_path / "chats.sqlite3"
    store = ChatStore(path)
    conversation = store.create()
    assert store.append(conversation.id, TURN, {"answer": "Maria Lindqvist"}).position == 0
    assert store.append(conversation.id, TURN, {"answer": "Oslo"}).position == 1
    store.close()

    again = ChatStore(path).get(conversation.id)
    assert [t.answer["answer"] for t in again.turns] == ["Maria Lindqvist", "Oslo"]
    assert again.history == [TURN, TURN]


def test_delete_and_unknown(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    conversation = store.create()
    assert store.delete(conversation.id) is True
    assert store.delete(conversation.id) is False
    assert store.get(conversation.id) is None
    assert store.append(conversation.id, TURN, {}) is None


def test_idle_conversations_expire(tmp_path):
    clock = Clock()
    store = ChatStore(tmp_path / "c.sqlite3", ttl_seconds=60, clock=clock)
    old, fresh = store.create(), store.create()
    clock.now += 50
    store.append(fresh.id, TURN, {})
    clock.now += 20  # old idle 70 s, fresh idle 20 s
    assert store.get(old.id) is None and store.get(fresh.id) is not None
    assert store.append(old.id, TURN, {}) is None
    assert store.expire() == 1


def test_default_database_is_beside_the_index_folder():
    assert default_chat_db(Path("/srv/.qa-index")) == Path("/srv/.qa-index.chats.sqlite3")


def test_ttl_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        ChatStore(tmp_path / "c.sqlite3", ttl_seconds=0)
