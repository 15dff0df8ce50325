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

from pathlib import Path

from qa.chat_store.base import (
    SCHEMA_VERSION,
    ChatStore,
    Conversation,
    SQLChatStore,
    StoredTurn,
    default_chat_db,
    is_postgres_url,
    new_conversation_id,
)
from qa.chat_store.sqlite import SQLiteChatStore

__all__ = ["SCHEMA_VERSION", "ChatStore", "Conversation", "SQLChatStore", "SQLiteChatStore", "StoredTurn",
           "chat_store_at", "default_chat_db", "is_postgres_url", "new_conversation_id", "open_chat_store"]


def chat_store_at(location: str | Path, **options) -> ChatStore:
    """The store at ``location``: PostgreSQL for a ``postgresql://`` URL, else a SQLite file.

    Args:
        location: the URL or the file's path.
        options: ``ttl_seconds``, ``clock``, ``max_conversations``, ``max_turns`` (see :class:`SQLChatStore`).

    Raises:
        ChatStoreUnavailable: the PostgreSQL database cannot be reached or has another schema version.
    """
    if is_postgres_url(location):
        from qa.chat_store.postgres import PostgresChatStore

        return PostgresChatStore(location, **options)
    return SQLiteChatStore(location, **options)


def open_chat_store(settings) -> ChatStore:
    """The store a :class:`qa.config.Settings` describes: at ``chat_db`` (a path or a URL), or
    beside the index folder, with its expiry and bounds."""
    return chat_store_at(settings.chat_db or default_chat_db(settings.index_dir), ttl_seconds=settings.chat_ttl_seconds,
                         max_conversations=settings.chat_max_conversations, max_turns=settings.chat_max_turns)
