"""The test chats (tests/data/chats): every follow-up is rewritten as expected.

The chats are played through :class:`qa.conversation.ConversationEngine` over a small index of
the chats' own documents (fake embedder, real spaCy), with an oracle answerer that answers
each turn with its expected answer, cited where the documents say it: so what is tested here
is the resolver (agreement, salience, ellipsis, doubt), not the answerer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from index.build import build_index
from index.documents import document_from_text
from qa.config import Settings
from qa.conversation import ConversationEngine
from qa.models import Answer, Citation, citation_url
from qa.pipeline import QAPipeline
from tests.api.conftest import spacy_analyzer  # noqa: F401
from tests.conftest import FakeEmbedder

CHATS_DIR = Path(__file__).parent / "data" / "chats"
CHATS = [json.loads(line) for line in (CHATS_DIR / "chats.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
_WORD = re.compile(r"[a-z0-9]+")


class OracleAnswerer:
    """Answers with ``self.gold``, cited at the sentence of the corpus that holds it and shares
    most words with the question (the first such sentence on a tie)."""

    gold: str = ""

    def answer(self, question, passages, index) -> Answer:
        words = set(_WORD.findall(question.lower()))
        best = None
        for document in index.documents:
            for s, e in index.sentences[document.doc_id]:
                at = document.text.find(self.gold, s, e)
                if at < 0:
                    continue
                overlap = len(words & set(_WORD.findall(document.text[s:e].lower())))
                if best is None or overlap > best[0]:
                    best = (overlap, document, at, s, e)
        assert best is not None, f"{self.gold!r} is in no sentence of the test corpus"
        _, document, at, s, e = best
        end = at + len(self.gold)
        citation = Citation(document.doc_id, document.title, at, end, s, e, citation_url(document.doc_id, at, end))
        return Answer(question, self.gold, True, 0.9, document.text[s:e], [citation])


@pytest.fixture(scope="module")
def engine(tmp_path_factory, spacy_analyzer):
    folder = tmp_path_factory.mktemp("chats") / "ix"
    documents = [document_from_text(p.name, p.read_text(encoding="utf-8")) for p in sorted((CHATS_DIR / "corpus").glob("*.txt"))]
    build_index(documents, folder, FakeEmbedder(), spacy_analyzer)
    oracle = OracleAnswerer()
    pipeline = QAPipeline(Settings(index_dir=folder), embedder=FakeEmbedder(), analyzer=spacy_analyzer, answerer=oracle)
    return ConversationEngine(pipeline, spacy_analyzer.nlp), oracle


def test_the_chats_cover_every_rule_with_forty_follow_ups():
    follow_ups = [turn for chat in CHATS for turn in chat["turns"][1:]]
    assert len(CHATS) >= 12 and len(follow_ups) >= 40
    messages = [t["q"].lower() for t in follow_ups]
    for pronoun in ("she", "her", "he", "its", "it", "they", "there", "then"):
        assert any(re.search(rf"\b{pronoun}\b", m) for m in messages), pronoun
    assert any(m.startswith(("what about", "how about", "and ")) and t["rewrite"] != t["q"]
               for m, t in zip(messages, follow_ups))
    assert any("assumption" in t for t in follow_ups)


@pytest.mark.parametrize("chat", CHATS, ids=[c["id"] for c in CHATS])
def test_follow_ups_are_rewritten_as_expected(engine, chat):
    engine, oracle = engine
    history, got, expected = [], [], []
    for turn in chat["turns"]:
        oracle.gold = turn["answers"][0]
        step = engine.answer(history, turn["q"])
        history.append(step.turn)
        got.append((step.resolution.question, step.turn.assumption, step.resolution.referred_back))
        expected.append((turn["rewrite"], turn.get("assumption"), turn["rewrite"] != turn["q"]))
    assert got == expected
