"""The extractive answerer: reader and rule votes merged on document offsets (fake reader, real spaCy)."""

from __future__ import annotations

import pytest

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.documents import document_from_text
from index.load import load_index
from qa.answerer.extractive import ExtractiveAnswerer, overlap_ratio
from qa.answerer.ranker import softmax
from qa.answerer.rules import RuleAnswerer
from qa.answerer.types import Answerer, Reader
from qa.reader.reader import ReaderOutput, ReaderSpan
from qa.retrieval import HybridRetriever
from tests.conftest import HARBOUR, ORCHARD, FakeEmbedder, ScriptedReader, SentenceAnswerer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    analyzer = SpacyAnalyzer()
    embedder = FakeEmbedder()
    folder = tmp_path_factory.mktemp("hybrid-index")
    build_index([document_from_text("harbour.txt", HARBOUR), document_from_text("orchard.md", ORCHARD)],
                folder, embedder, analyzer)
    index = load_index(folder)
    return index, HybridRetriever(index, embedder), RuleAnswerer(analyzer, embedder)


def one_document(tmp_path, name: str, text: str):
    """``(index, retriever, rules)`` over one document written for a test."""
    analyzer, embedder = SpacyAnalyzer(), FakeEmbedder()
    build_index([document_from_text(name, text)], tmp_path / "ix", embedder, analyzer)
    index = load_index(tmp_path / "ix")
    return index, HybridRetriever(index, embedder), RuleAnswerer(analyzer, embedder)


def ask(setup, question, reader, weight=0.5):
    index, retriever, rules = setup
    answerer = ExtractiveAnswerer(rules, reader, reader_weight=weight)
    return answerer.answer(question, retriever.retrieve(question, top_k=3), index)


def test_pure_helpers():
    assert overlap_ratio((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert overlap_ratio((0, 4), (4, 8)) == 0.0
    assert softmax([1.0, 1.0], 1.0).tolist() == [0.5, 0.5]
    assert softmax([], 1.0).tolist() == []
    with pytest.raises(ValueError, match="reader_weight"):
        ExtractiveAnswerer(None, None, reader_weight=1.5)


def test_the_answerers_and_readers_keep_to_their_protocols(setup):
    from qa.reader.reader import SpanReader

    rules = setup[2]
    assert isinstance(SpanReader(), Reader) and isinstance(ScriptedReader("x"), Reader)
    assert not isinstance(rules, Reader)
    for answerer in (rules, ExtractiveAnswerer(rules, ScriptedReader("x")), SentenceAnswerer()):
        assert isinstance(answerer, Answerer)
    assert not isinstance(ScriptedReader("x"), Answerer)


def test_without_reader_it_is_the_rule_answer(setup):
    index, retriever, rules = setup
    question = "When was Maria Lindqvist elected?"
    passages = retriever.retrieve(question, top_k=3)
    assert ExtractiveAnswerer(rules, None).answer(question, passages, index) == rules.answer(question, passages, index)


def test_reader_vote_decides_and_offsets_are_exact(setup):
    index = setup[0]
    answer = ask(setup, "Who is the Norwegian transport minister?", ScriptedReader("Jonas Berg"), weight=0.9)
    assert answer.found and answer.answer == "Jonas Berg"
    citation = answer.citations[0]
    text = index.document(citation.doc_id).text
    assert text[citation.start : citation.end] == "Jonas Berg"
    assert text[citation.quote_start : citation.quote_end] == answer.quote
    assert "Jonas Berg" in answer.quote


def test_reader_span_outside_rule_candidates_is_scored(setup):
    # the reader proposes a span the rules did not: it is mapped to document offsets and scored
    answer = ask(setup, "What did frost damage in April?", ScriptedReader("the blossoms"), weight=1.0)
    assert answer.answer in ("the blossoms", "blossoms")


def test_unrelated_question_still_abstains(setup):
    answer = ask(setup, "What is the boiling point of mercury?", ScriptedReader("12 varieties", 0.2))
    assert answer.found is False and answer.answer is None


def test_a_span_inside_a_named_entity_is_widened_to_the_entity(setup):
    # the reader proposes only part of a date; the answer is the whole date entity
    answer = ask(setup, "When was Maria Lindqvist elected?", ScriptedReader("2021", 0.99), weight=1.0)
    assert answer.answer == "March 2021"


def test_reader_votes_sum_the_copies_of_one_occurrence():
    from index.chunking import Chunk
    from qa.answerer.extractive import reader_votes
    from qa.retrieval import RetrievedPassage

    text = "One. Two three. Four."
    first = Chunk("d", 0, 15, text[0:15], 0, 1)   # "One. Two three."
    second = Chunk("d", 5, 21, text[5:21], 1, 2)  # "Two three. Four." (shares a sentence)
    passages = [RetrievedPassage(0, first, 1.0, 0, 0, 1, 1), RetrievedPassage(1, second, 0.9, 0, 0, 2, 2)]
    output = ReaderOutput([ReaderSpan(0, 5, 14, "Two three", 0.3), ReaderSpan(1, 0, 9, "Two three", 0.25),
                           ReaderSpan(1, 11, 15, "Four", 0.2)], 0.1)
    votes = reader_votes(output, passages)
    assert votes[("d", 5, 14)] == (pytest.approx(0.55), 1)
    assert votes[("d", 16, 20)] == (pytest.approx(0.2), 2)
    assert text[16:20] == "Four"


class RecordingReader(ScriptedReader):
    """A scripted reader that keeps the passages it was given."""

    def read(self, question, passages, passage_scores=None, top_n=None):
        self.passages = list(passages)
        return super().read(question, passages, passage_scores, top_n)


def test_reader_reads_only_the_best_passages(setup):
    from qa.answerer.extractive import passages_to_read

    index, retriever, rules = setup
    question = "Who is the Norwegian transport minister?"
    passages = retriever.retrieve(question, top_k=3)
    assert len(passages) == 3
    reader = RecordingReader("Jonas Berg")
    ExtractiveAnswerer(rules, reader, reader_passages=2).answer(question, passages, index)
    chosen = passages_to_read(rules.rank(question, passages, index), passages, 2)
    assert reader.passages == [passages[p].chunk.text for p in chosen]
    assert any("Jonas Berg" in text for text in reader.passages)
    everything = RecordingReader("Jonas Berg")
    ExtractiveAnswerer(rules, everything).answer(question, passages, index)
    assert everything.passages == [p.chunk.text for p in passages]
    with pytest.raises(ValueError, match="reader_passages"):
        ExtractiveAnswerer(rules, reader, reader_passages=0)


def test_passages_to_read_follow_the_best_sentence_then_retrieval_order():
    from types import SimpleNamespace

    from index.chunking import Chunk
    from qa.answerer.extractive import passages_to_read
    from qa.retrieval import RetrievedPassage

    def passage(doc_id, first, last):
        return RetrievedPassage(0, Chunk(doc_id, 0, 1, "x", first, last), 0.0, 0.0, 0.0, 0, 0)

    passages = [passage("a", 0, 2), passage("a", 2, 4), passage("b", 0, 1), passage("c", 0, 3)]
    sentences = [SimpleNamespace(doc_id="a", index=1, score=0.2), SimpleNamespace(doc_id="a", index=4, score=0.9),
                 SimpleNamespace(doc_id="b", index=1, score=0.5), SimpleNamespace(doc_id="c", index=0, score=0.5)]
    ranking = SimpleNamespace(sentences=sentences)
    assert passages_to_read(ranking, passages, 1) == [1]
    assert passages_to_read(ranking, passages, 2) == [1, 2]  # b and c tie: b was retrieved first
    assert passages_to_read(ranking, passages, 3) == [1, 2, 3]
    assert passages_to_read(ranking, passages, None) == [0, 1, 2, 3]
    assert passages_to_read(SimpleNamespace(sentences=[]), passages, 2) == [0, 1]  # nothing scored: retrieval order


def test_a_widened_span_is_judged_by_its_own_type_fit(tmp_path):
    # The reader proposes "ten", a number inside the date entity "ten-year"; widened to the whole
    # entity it is a length of time describing the dispute, which cannot answer "when".
    text = ("Port Report\n\nThe harbour strike of Eastport ended the ten-year dispute between the unions. "
            "The new ferry line opened to passengers.\n")
    index, retriever, rules = one_document(tmp_path, "port.txt", text)
    question = "When did the harbour strike of Eastport end?"
    passages = retriever.retrieve(question, top_k=3)
    ranking = rules.rank(question, passages, index)
    proposed = next(s for s in ranking.sentences if "ten-year" in s.span.text)
    ten = proposed.span.doc.text.index("ten")
    span = rules.score_span(ranking, proposed, proposed.offset + ten, proposed.offset + ten + 3)
    widened = rules.expand_to_entities(span, ranking.analysis)
    assert widened.sentence.span.doc[widened.candidate.start : widened.candidate.end].text == "ten-year"
    assert span.fit > 0 and widened.fit == 0.0
    assert rules.expand_to_entities(span).fit == span.fit  # without the question, nothing to judge by


def voted_pool(setup, question: str, reader) -> dict:
    """The candidate pool the answerer votes on for ``question`` with ``reader``, by span text."""
    index, retriever, rules = setup
    passages = retriever.retrieve(question, top_k=3)
    pool, _ = ExtractiveAnswerer(rules, reader).read_and_vote(rules.rank(question, passages, index), passages, index)
    return {index.document(v.doc_id).text[v.start:v.end]: v for v in pool}


def test_the_readers_own_boundaries_stay_a_candidate_beside_an_overlapping_rule_span(setup):
    texts = voted_pool(setup, "How much would the terminal cost?", ScriptedReader("cost 40 million euros", 0.9))
    assert "40 million euros" in texts and "cost 40 million euros" in texts  # overlapping (IoU 0.76), both kept
    assert texts["cost 40 million euros"].reader_prob == pytest.approx(0.9)
    assert texts["40 million euros"].reader_prob == pytest.approx(0.9)  # the rule span shares the vote


def test_a_quantity_of_another_dimension_is_no_candidate(tmp_path):
    """Asked for a power, the answerer drops a volume the reader is sure of; asked for the volume, keeps it."""
    text = ("Brisk Heater Guide\n\nThe Brisk heater has a 0.8 litre water tank for the humidifier. "
            "At full setting it draws 1,500 W from the mains.\n")
    setup = one_document(tmp_path, "heater.txt", text)
    for question in ("What voltage does the Brisk heater need?", "What wattage is the Brisk heater's water tank?"):
        assert not any("0.8" in t for t in voted_pool(setup, question, ScriptedReader("0.8 litre", 0.95))), question
        assert ask(setup, question, ScriptedReader("0.8 litre", 0.95), weight=1.0).answer != "0.8 litre"
    texts = voted_pool(setup, "What is the capacity of the Brisk heater's water tank?", ScriptedReader("0.8 litre", 0.95))
    assert "0.8 litre" in texts  # "capacity" names no single dimension: nothing is dropped
    assert ask(setup, "What wattage does the Brisk heater draw?", ScriptedReader("1,500 W", 0.95), weight=1.0).answer == "1,500 W"
