"""What every conversation store shares: the protocol, the stored records, and the SQL both
databases run (:class:`SQLChatStore`)."""

from __future__ import annotations

import json
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from qa.conversation import Turn

SCHEMA_VERSION = 1
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
