"""Conversations in an embedded SQLite database, which one machine writes."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from qa.chat_store.base import SCHEMA_VERSION, SQLChatStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
"""


class SQLiteChatStore(SQLChatStore):
    """Conversations in an embedded SQLite file (WAL journal, ``synchronous=FULL``).

    Args:
        path: the SQLite file (created with its folder when missing).
        ttl_seconds, clock, max_conversations, max_turns: see :class:`SQLChatStore`.
    """

    DROP_LEAST_RECENT = ("DELETE FROM conversations WHERE id IN (SELECT id FROM conversations "
                         "ORDER BY updated_at DESC, rowid DESC LIMIT -1 OFFSET ?)")

    def __init__(self, path: str | Path, ttl_seconds: float = 7 * 24 * 3600,
                 clock: Callable[[], float] = time.time, *, max_conversations: int = 10_000,
                 max_turns: int = 200) -> None:
        super().__init__(ttl_seconds, clock, max_conversations=max_conversations, max_turns=max_turns)
        self.path = Path(path)
        # One connection shared by the server's worker threads; SQLite serialises writes and
        # the lock keeps each transaction whole.
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        # Durable at COMMIT even on power loss (WAL's default, NORMAL, only survives a process crash).
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA busy_timeout = 5000")
        with self._lock:  # executescript commits on its own: no surrounding transaction
            self._db.executescript(_SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
        self.expire()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def close(self) -> None:
        with self._lock:
            self._db.close()
