"""Conversations in PostgreSQL, shared by every ``qa serve`` replica that names the same database.

Selected by ``QA_CHAT_DB=postgresql://user:password@host:5432/dbname`` (any libpq URL). The
tables are created on first use, under an advisory lock so that replicas starting together do
not race, and the schema's version is kept in ``chat_schema``: a database written by a newer
version is refused rather than misread. Every write is one transaction committed with
``synchronous_commit = on`` (whatever the server's default), so an acknowledged turn survives a
crash of the replica and of the database server. Expiry compares the replicas' own clocks, as
the SQLite store does: keep them synchronised (NTP).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from qa.chat_store.base import SCHEMA_VERSION, SQLChatStore
from qa.errors import ChatStoreUnavailable

_SCHEMA = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE TABLE turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position)
);
CREATE INDEX conversations_updated ON conversations(updated_at);
"""
#: Key of the advisory lock held while the schema is checked or created (any fixed number).
_SCHEMA_LOCK = 0x51A_C4A7
#: Seconds to wait for the server to accept a connection, unless the URL says otherwise.
CONNECT_TIMEOUT = 5
#: A statement waits at most this long for a row another replica holds.
LOCK_TIMEOUT = "5s"


class _Statements:
    """Runs the shared store's ``?``-placeholder SQL on a psycopg connection (``%s`` placeholders)."""

    def __init__(self, connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: tuple = ()):
        return self._connection.execute(sql.replace("?", "%s"), params)


def describe(url: str) -> str:
    """``host:port/dbname`` of a libpq URL, without the user or password (for messages)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # psycopg.ProgrammingError for a malformed URL: say nothing of it
        return "(an unreadable URL)"
    return f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


class PostgresChatStore(SQLChatStore):
    """Conversations in a PostgreSQL database.

    Args:
        url: a libpq URL (``postgresql://user:password@host:port/dbname``).
        ttl_seconds, clock, max_conversations, max_turns: see :class:`qa.chat_store.SQLChatStore`.

    Raises:
        ChatStoreUnavailable: the database cannot be reached or has another schema version.
    """

    DROP_LEAST_RECENT = ("DELETE FROM conversations WHERE id IN (SELECT id FROM conversations "
                         "ORDER BY updated_at DESC, seq DESC OFFSET ?)")

    def __init__(self, url: str, ttl_seconds: float = 7 * 24 * 3600, clock: Callable[[], float] = time.time, *,
                 max_conversations: int = 10_000, max_turns: int = 200) -> None:
        super().__init__(ttl_seconds, clock, max_conversations=max_conversations, max_turns=max_turns)
        try:
            import psycopg
        except ImportError:
            raise ChatStoreUnavailable(
                "QA_CHAT_DB names a PostgreSQL database but the driver is missing: pip install 'psycopg[binary]'"
            ) from None
        self._psycopg = psycopg
        self.url = url
        self.where = describe(url)
        # One connection shared by the server's threads, one transaction at a time, as with SQLite.
        self._lock = threading.Lock()
        self._db = None
        with self._lock, self._translated_errors():
            self._create_schema(self._connection())
        self.expire()

    def _connection(self):
        """The open connection, made (again) when there is none or the last one broke."""
        if self._db is None or self._db.closed or self._db.broken:
            from psycopg.conninfo import conninfo_to_dict

            options = {} if "connect_timeout" in conninfo_to_dict(self.url) else {"connect_timeout": CONNECT_TIMEOUT}
            db = self._psycopg.connect(self.url, autocommit=True, **options)
            db.execute("SET synchronous_commit = on")  # durable at COMMIT, whatever the server's default
            db.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            self._db = db
        return self._db

    def _create_schema(self, db) -> None:
        """Create the tables on first use; refuse a database with another schema version."""
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS chat_schema (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM chat_schema").fetchone()
            if row is None:
                db.execute(_SCHEMA)
                db.execute("INSERT INTO chat_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise ChatStoreUnavailable(
                    f"the conversation database {self.where} has schema version {row[0]}; this program "
                    f"uses version {SCHEMA_VERSION}: use a qa-bot of the same version, or another database")

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except self._psycopg.OperationalError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ChatStoreUnavailable(f"the conversation database {self.where} is unavailable: {first_line}") from exc

    def _begin(self):
        """A connection inside a new transaction. A connection the server dropped while it was
        idle (a restart, a failover) fails at ``BEGIN``, before anything was done in it, so one
        retry on a new connection is safe."""
        db = self._connection()
        try:
            db.execute("BEGIN")
        except self._psycopg.OperationalError:
            if not db.broken:
                raise
            db = self._connection()
            db.execute("BEGIN")
        return db

    @contextmanager
    def _transaction(self) -> Iterator[_Statements]:
        with self._lock, self._translated_errors():
            db = self._begin()
            try:
                yield _Statements(db)
            except BaseException:
                if not db.broken:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # Reads run in a transaction too, so a dropped connection is replaced the same way.
    _reading = _transaction

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
