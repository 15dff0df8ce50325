"""Every test chat (tests/data/chats) played through `/chat`, `/v1/chat/completions` and `qa chat`
gets the same rewritten questions and the same answers on all three.

A fake answerer (the best-matching sentence) keeps this fast; what is compared is the turn
building and resolution each endpoint goes through, which is the same code whatever answers.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import qa.cli_support
from index.build import build_index
from index.documents import document_from_text
from qa.cli import main
from qa.config import Settings
from qa.pipeline import QAPipeline
from tests.api.conftest import SentenceAnswerer, fake_loader
from tests.conftest import FakeEmbedder
from tests.test_conversation_chats import CHATS, CHATS_DIR


@pytest.fixture(scope="module")
def chats_index(tmp_path_factory, spacy_analyzer):
    folder = tmp_path_factory.mktemp("chats-api") / "ix"
    documents = [document_from_text(p.name, p.read_text(encoding="utf-8")) for p in sorted((CHATS_DIR / "corpus").glob("*.txt"))]
    build_index(documents, folder, FakeEmbedder(), spacy_analyzer)
    return folder


@pytest.fixture
def chats_client(make_client, chats_index, tmp_path, spacy_analyzer):
    settings = Settings(index_dir=chats_index, chat_db=tmp_path / "chats.sqlite3", load_in_background=False)
    return make_client(settings, loader=fake_loader(spacy_analyzer))


def _play_chat_route(client, messages):
    session, out = None, []
    for message in messages:
        body = {"message": message} if session is None else {"message": message, "session_id": session}
        response = client.post("/chat", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        session = data["session_id"]
        out.append((data["question"], data["answer"], data["reply"]))
    return out


def _play_openai_route(client, messages):
    history, out = [], []
    for message in messages:
        history.append({"role": "user", "content": message})
        response = client.post("/v1/chat/completions", json={"messages": history})
        assert response.status_code == 200, response.text
        data = response.json()
        content = data["choices"][0]["message"]["content"]
        history.append({"role": "assistant", "content": content})
        out.append((data["answer"]["question"], data["answer"]["answer"], content))
    return out


def _play_cli(monkeypatch, chats_index, spacy_analyzer, messages):
    pipeline = QAPipeline(Settings(index_dir=chats_index), embedder=FakeEmbedder(), analyzer=spacy_analyzer,
                          answerer=SentenceAnswerer())
    monkeypatch.setattr(qa.cli_support, "open_pipeline", lambda settings: pipeline)
    result = CliRunner().invoke(main, ["chat"], input="".join(m + "\n" for m in messages))
    assert result.exit_code == 0, result.output
    # One block per message: "> message", then "Understood as: ..." / "Taking ...", then the answer.
    blocks = re.split(r"^> .*$", result.output, flags=re.MULTILINE)[1:]
    out = []
    for message, block in zip(messages, blocks):
        lines = [line for line in block.splitlines() if line]
        note = lines[0] if lines[0].startswith(("Understood as: ", "Taking '")) else None
        answer = next((line[len("Answer: "):] for line in lines if line.startswith("Answer: ")), None)
        out.append((note, answer))
    assert len(out) == len(messages)
    return out


@pytest.mark.parametrize("chat", CHATS, ids=[c["id"] for c in CHATS])
def test_chat_v1_and_cli_agree(chat, chats_client, monkeypatch, chats_index, spacy_analyzer):
    messages = [turn["q"] for turn in chat["turns"]]
    chat_route = _play_chat_route(chats_client, messages)
    openai_route = _play_openai_route(chats_client, messages)
    cli = _play_cli(monkeypatch, chats_index, spacy_analyzer, messages)
    assert [(q, a) for q, a, _ in openai_route] == [(q, a) for q, a, _ in chat_route]
    assert [reply for _, _, reply in openai_route] == [reply for _, _, reply in chat_route]
    notes = [reply.splitlines()[0] if q != m else None for m, (q, _, reply) in zip(messages, chat_route)]
    assert cli == [(note, answer) for note, (_, answer, _) in zip(notes, chat_route)]
