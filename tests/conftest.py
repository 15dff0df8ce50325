"""Shared fixtures: deterministic fakes of the embedder, the reader and the answerer, and small
indexes built from test documents."""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
import tempfile
from collections import Counter
from typing import Sequence

import numpy as np
import pytest

from index.analysis import SpacyAnalyzer
from index.documents import document_from_text
from qa.models import Answer, Citation, citation_url

# Exports made by the tests (the int8 question encoder) go to a folder of this run, not the
# user's cache; CLI subprocesses inherit it.
os.environ.setdefault("QA_CACHE_DIR", tempfile.mkdtemp(prefix="qa-test-cache-"))
# The default reader set-up depends on what is installed (``auto``: the cascade where MPNet's
# packages are); the tests answer alike everywhere, and the cascade's tests ask for it by name.
os.environ.setdefault("QA_READER_MODEL", "minilm")

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


class ScriptedReader:
    """Fake :class:`qa.answerer.types.Reader`: returns a fixed span (found by text in the
    passages) with a fixed probability."""

    def __init__(self, text: str | None, score: float = 0.9):
        self.text = text
        self.score = score
        self.calls = 0

    def warm_up(self):
        return self

    def read(self, question, passages, passage_scores=None, top_n=None):
        from qa.reader.reader import ReaderOutput, ReaderSpan

        self.calls += 1
        for i, passage in enumerate(passages):
            if self.text and self.text in passage:
                start = passage.index(self.text)
                return ReaderOutput([ReaderSpan(i, start, start + len(self.text), self.text, self.score)], 0.05)
        return ReaderOutput([], 1.0)


_STOP = {"the", "a", "an", "of", "in", "on", "to", "who", "whom", "what", "where", "when", "which", "how", "will",
         "does", "did", "is", "was", "and", "she", "he", "her", "his", "it", "there", "about"}


class SentenceAnswerer:
    """Fake :class:`qa.answerer.types.Answerer`: the whole sentence of the passages that best
    matches the question's rare words.

    Words are weighted by 1 / (number of sentences of the index holding them); ties go to the
    later sentence. The answer and the quote are that sentence, with exact offsets.
    """

    def answer(self, question, passages, index) -> Answer:
        words = {w for w in _WORD.findall(question.lower()) if w not in _STOP}
        spans = [(p.chunk.doc_id, s, e) for p in passages for s, e in index.sentences[p.chunk.doc_id]
                 if p.chunk.start <= s and e <= p.chunk.end]
        counts = Counter(w for d in index.documents for s, e in index.sentences[d.doc_id]
                         for w in set(_WORD.findall(d.text[s:e].lower())))
        best = None
        for doc_id, s, e in sorted(set(spans), key=lambda x: (x[0], x[1])):
            text = index.document(doc_id).text[s:e]
            score = sum(1 / counts[w] for w in words & set(_WORD.findall(text.lower())))
            if score > 0 and (best is None or score >= best[0] - 1e-9):
                best = (score, doc_id, s, e)
        if best is None:
            return Answer.not_found(question)
        _, doc_id, s, e = best
        document = index.document(doc_id)
        citation = Citation(doc_id, document.title, s, e, s, e, citation_url(doc_id, s, e))
        return Answer(question, document.text[s:e], True, round(1 - math.exp(-best[0]), 4), document.text[s:e], [citation])


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


# --------------------------------------------------------------------------- the reader's models
# (tests/reader and tests/training): the base model's tokenizer and a tiny random span model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def tokenizer():
    transformers = pytest.importorskip("transformers")
    from qa.reader.bases import MINILM, base_dir

    try:
        return transformers.AutoTokenizer.from_pretrained(base_dir(MINILM), use_fast=True)
    except Exception as e:  # pragma: no cover
        pytest.skip(f"base tokenizer unavailable: {e}")


@pytest.fixture(scope="module")
def make_tiny_model(tokenizer):
    """Makes a one-layer, 32-wide BERT with the span head: random, deterministic for a seed."""
    import torch
    import transformers

    from qa.reader.model import SpanQAModel

    def make(seed: int = 0):
        torch.manual_seed(seed)
        cfg = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
        return SpanQAModel(transformers.BertModel(cfg, add_pooling_layer=False), 32)

    return make


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
