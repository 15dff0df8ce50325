"""Where conversations are kept: a small protocol, with SQLite (the default) and PostgreSQL behind it.

``QA_CHAT_DB`` chooses: a file path (or nothing: ``<index folder>.chats.sqlite3`` beside the
index folder, which a rebuild replaces, so neither a restart nor a rebuild loses a conversation)
is an embedded SQLite database, which one machine writes; a ``postgresql://`` URL is a
PostgreSQL database that several ``qa serve`` replicas share (:mod:`qa.chat_store_postgres`), so
a follow-up sent to any replica continues the conversation.

Both keep the same guarantees. Conversations idle for longer than ``ttl_seconds`` expire: they
are invisible at once and deleted on the next write. The store is bounded: beyond
``max_conversations`` the least recently used conversations are dropped, and beyond
``max_turns`` a conversation's oldest turns. Every write is one transaction committed durably
before the method returns, so a turn the server has acknowledged survives a crash of the server.
Conversation ids are 128 random bits (``secrets``): holding the id is what grants access.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

from qa.conversation import Turn

SCHEMA_VERSION = 1
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
#: URL schemes of ``QA_CHAT_DB`` that name a PostgreSQL database.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def default_chat_db(index_dir: Path) -> Path:
    """``<index folder>.chats.sqlite3`` beside the index folder (a rebuild replaces the folder)."""
    index_dir = Path(index_dir)
    return index_dir.parent / f"{index_dir.name}.chats.sqlite3"


def new_conversation_id() -> str:
    """32 hex digits of 128 random bits from the OS's CSPRNG (a UUID4 has only 122)."""
    return secrets.token_hex(16)


def is_postgres_url(chat_db: str | Path | None) -> bool:
    """Whether a ``QA_CHAT_DB`` value names a PostgreSQL database rather than a SQLite file."""
    return isinstance(chat_db, str) and chat_db.startswith(POSTGRES_SCHEMES)


@dataclass(frozen=True)
class StoredTurn:
    """A turn as stored: the resolver's state and the answer object shown to the user."""

    position: int
    created_at: float
    turn: Turn
    answer: dict


@dataclass(frozen=True)
class Conversation:
    id: str
    created_at: float
    updated_at: float
    turns: list[StoredTurn] = field(default_factory=list)

    @property
    def history(self) -> list[Turn]:
        return [t.turn for t in self.turns]


class ChatStore(Protocol):
    """Create, read, extend and delete conversations (see the module's guarantees)."""

    def create(self) -> Conversation:
        """Start a new, empty conversation."""

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with its turns, or ``None`` when unknown or expired."""

    def append(self, conversation_id: str, turn: Turn, answer: dict) -> StoredTurn | None:
        """Add a turn at the end; ``None`` when the conversation is unknown or expired."""

    def delete(self, conversation_id: str) -> bool:
        """End a conversation; ``False`` when it did not exist (or had expired)."""

    def expire(self) -> int:
        """Delete expired conversations; returns how many."""

    def close(self) -> None:
        """Release the database connection."""


def chat_store_at(location: str | Path, **options) -> ChatStore:
    """The store at ``location``: PostgreSQL for a ``postgresql://`` URL, else a SQLite file.

    Args:
        location: the URL or the file's path.
        options: ``ttl_seconds``, ``clock``, ``max_conversations``, ``max_turns`` (see :class:`SQLChatStore`).

    Raises:
        ChatStoreUnavailable: the PostgreSQL database cannot be reached or has another schema version.
    """
    if is_postgres_url(location):
        from qa.chat_store_postgres import PostgresChatStore

        return PostgresChatStore(location, **options)
    return SQLiteChatStore(location, **options)


def open_chat_store(settings) -> ChatStore:
    """The store a :class:`qa.config.Settings` describes: at ``chat_db`` (a path or a URL), or
    beside the index folder, with its expiry and bounds."""
    return chat_store_at(settings.chat_db or default_chat_db(settings.index_dir), ttl_seconds=settings.chat_ttl_seconds,
                         max_conversations=settings.chat_max_conversations, max_turns=settings.chat_max_turns)


class SQLChatStore:
    """The conversation logic, in SQL that SQLite and PostgreSQL both take (``?`` placeholders);
    a subclass opens the database and runs the statements.

    Args:
        ttl_seconds: idle time after which a conversation expires.
        clock: returns the current time in seconds (tests pass a fake).
        max_conversations: conversations kept; creating one more drops the least recently used.
        max_turns: turns kept per conversation; appending one more drops the oldest.
    """

    #: Deletes the conversations beyond the ``?`` most recently used (the dialects differ).
    DROP_LEAST_RECENT: str

    def __init__(self, ttl_seconds: float = 7 * 24 * 3600, clock: Callable[[], float] = time.time, *,
                 max_conversations: int = 10_000, max_turns: int = 200) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        if max_conversations < 1 or max_turns < 1:
            raise ValueError("max_conversations and max_turns must be positive")
        self.ttl_seconds = ttl_seconds
        self.max_conversations = max_conversations
        self.max_turns = max_turns
        self.clock = clock

    def _transaction(self) -> AbstractContextManager:
        """One write transaction, committed durably on leaving; yields an object with ``execute``."""
        raise NotImplementedError

    def _reading(self) -> AbstractContextManager:
        """A connection to read with; yields an object with ``execute``."""
        raise NotImplementedError

    def _cutoff(self) -> float:
        return self.clock() - self.ttl_seconds

    def expire(self) -> int:
        """Delete expired conversations; returns how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM conversations WHERE updated_at < ?", (self._cutoff(),)).rowcount

    def create(self) -> Conversation:
        """Start a new, empty conversation (and drop expired ones and, beyond the bound, the least recently used)."""
        self.expire()
        now = self.clock()
        conversation_id = new_conversation_id()
        with self._transaction() as db:
            db.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)",
                       (conversation_id, now, now))
            db.execute(self.DROP_LEAST_RECENT, (self.max_conversations,))
        return Conversation(conversation_id, now, now, [])

    def get(self, conversation_id: str) -> Conversation | None:
        """The conversation with its turns, or ``None`` when unknown or expired."""
        with self._reading() as db:
            row = db.execute(
                "SELECT id, created_at, updated_at FROM conversations WHERE id = ? AND updated_at >= ?",
                (conversation_id, self._cutoff()),
            ).fetchone()
            if row is None:
                return None
            rows = db.execute(
                "SELECT position, created_at, state, answer FROM turns WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        turns = [StoredTurn(p, c, Turn.from_dict(json.loads(s)), json.loads(a)) for p, c, s, a in rows]
        return Conversation(row[0], row[1], row[2], turns)

    def append(self, conversation_id: str, turn: Turn, answer: dict) -> StoredTurn | None:
        """Add a turn at the end; ``None`` when the conversation is unknown or expired.

        The update of the conversation's row comes first: it locks the row, so two replicas
        appending to one conversation at once take turns and never claim the same position.
        """
        now = self.clock()
        with self._transaction() as db:
            updated = db.execute("UPDATE conversations SET updated_at = ? WHERE id = ? AND updated_at >= ?",
                                 (now, conversation_id, self._cutoff())).rowcount
            if not updated:
                return None
            position = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM turns WHERE conversation_id = ?",
                                  (conversation_id,)).fetchone()[0]
            db.execute(
                "INSERT INTO turns (conversation_id, position, created_at, state, answer) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, position, now, json.dumps(turn.to_dict(), ensure_ascii=False),
                 json.dumps(answer, ensure_ascii=False)),
            )
            db.execute("DELETE FROM turns WHERE conversation_id = ? AND position <= ?",
                       (conversation_id, position - self.max_turns))
        return StoredTurn(position, now, turn, answer)

    def delete(self, conversation_id: str) -> bool:
        """End a conversation; ``False`` when it did not exist (or had expired)."""
        with self._transaction() as db:
            return db.execute("DELETE FROM conversations WHERE id = ? AND updated_at >= ?",
                              (conversation_id, self._cutoff())).rowcount > 0


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
