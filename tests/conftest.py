"""Shared fixtures: a deterministic fake embedder and small indexes built from test documents."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from typing import Sequence

import numpy as np
import pytest

from index.analysis import SpacyAnalyzer
from index.documents import document_from_text

# Exports made by the tests (the int8 question encoder) go to a folder of this run, not the
# user's cache; CLI subprocesses inherit it.
os.environ.setdefault("QA_CACHE_DIR", tempfile.mkdtemp(prefix="qa-test-cache-"))

_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Hashes lower-cased words into a 64-dim bag-of-words vector; downloads nothing."""

    def __init__(self, name: str = "fake-bow", dimension: int = 64) -> None:
        self.name = name
        self._dimension = dimension
        self.calls = 0

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % self._dimension
                out[row, bucket] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


class CountingEmbedder(FakeEmbedder):
    """A fake embedder that keeps every text it embeds."""

    def __init__(self):
        super().__init__()
        self.texts = []

    def embed(self, texts, *, show_progress=False):
        self.texts.extend(texts)
        return super().embed(texts)

    def embed_with_spans(self, texts, spans, *, show_progress=False):
        """Passages are counted; their sentences' vectors come with them, as from a real model."""
        self.texts.extend(texts)
        pieces = [text[start:end] for text, own in zip(texts, spans) for start, end in own]
        return FakeEmbedder.embed(self, texts), FakeEmbedder.embed(self, pieces)


HARBOUR = """Harbour News

Maria Lindqvist chairs the harbour board of Eastport. She was elected in March 2021.

The board met on Tuesday to discuss a new ferry terminal. Lindqvist said the terminal would cost 40 million euros.
She will speak in Oslo next month. In Oslo she will meet the Norwegian transport minister, Jonas Berg.
"""

ORCHARD = """Orchard Report

The Appleby orchard grows 12 varieties of apples. Its oldest tree was planted in 1892 by Thomas Green.
Frost damaged the blossoms in April, so the harvest was smaller than usual.
"""


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def blank_analyzer() -> SpacyAnalyzer:
    return SpacyAnalyzer("blank")


@pytest.fixture
def small_docs():
    return [document_from_text("harbour.txt", HARBOUR), document_from_text("orchard.md", ORCHARD)]


@pytest.fixture
def corpus_dir(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (folder / "orchard.md").write_text(ORCHARD, encoding="utf-8")
    return folder


def missing_engine(reason: str) -> None:
    """Skip a test whose engine (PostgreSQL, Ray) is not installed; in CI, where ``.ci/run``
    installs them, fail instead, so that a broken install cannot pass as a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"CI should have installed this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server (see :mod:`tests.postgres_server`) for the whole run."""
    from tests.postgres_server import ThrowawayPostgres, why_unavailable

    reason = why_unavailable()
    if reason:
        missing_engine(reason)
    server = ThrowawayPostgres()
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        log = server.folder / "server.log"
        told = exc.stderr.decode(errors="replace") + (log.read_text() if log.exists() else "")
        server.stop()
        pytest.fail(f"the PostgreSQL server did not start: {told}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def chat_db(request, tmp_path) -> str:
    """A fresh conversation database of each kind: a SQLite path, or a ``postgresql://`` URL."""
    if request.param == "sqlite":
        return str(tmp_path / "chats.sqlite3")
    return request.getfixturevalue("postgres_server").create_database()


@pytest.fixture
def open_store(chat_db):
    """``open_store(**options)`` opens the store at ``chat_db`` (again: the same database each call)."""
    from qa.chat_store import chat_store_at

    stores = []

    def open_(**options):
        stores.append(chat_store_at(chat_db, **options))
        return stores[-1]

    yield open_
    for store in stores:
        store.close()
