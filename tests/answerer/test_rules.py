"""The rule answerer on tiny hand-written documents, with the real small spaCy model and a fake embedder."""

from __future__ import annotations

import pytest

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.documents import document_from_text
from index.load import load_index
from qa.answerer.corpus import CorpusStats, DocumentSentences
from qa.answerer.rules import RuleAnswerer
from qa.answerer.scoring import tree_distance
from qa.answerer.sentences import terms_match
from qa.answerer.support import Support, calibrate_confidence
from qa.errors import InvalidQuestion
from qa.retrieval import HybridRetriever
from tests.conftest import HARBOUR, ORCHARD, CountingEmbedder, FakeEmbedder

MUSEUM = """Museum Notes

The Lindholm Museum opened in 1931 in Bergstad. It was founded by Clara Voss, a retired sea captain.
The museum closed for two years because the roof had collapsed.
"""


@pytest.fixture(scope="module")
def analyzer():
    return SpacyAnalyzer()


@pytest.fixture(scope="module")
def setup(tmp_path_factory, analyzer):
    embedder = FakeEmbedder()
    documents = [
        document_from_text("harbour.txt", HARBOUR),
        document_from_text("orchard.md", ORCHARD),
        document_from_text("museum.txt", MUSEUM),
    ]
    folder = tmp_path_factory.mktemp("answerer-index")
    build_index(documents, folder, embedder, analyzer)
    index = load_index(folder)
    return index, HybridRetriever(index, embedder), RuleAnswerer(analyzer, embedder)


def ask(setup, question):
    index, retriever, answerer = setup
    return answerer.answer(question, retriever.retrieve(question, top_k=3), index)


@pytest.mark.parametrize(
    "question, expected, doc_id",
    [
        ("Who chairs the harbour board of Eastport?", "Maria Lindqvist", "harbour.txt"),
        ("When was Maria Lindqvist elected?", "March 2021", "harbour.txt"),
        ("In what year was Maria Lindqvist elected?", "2021", "harbour.txt"),
        ("What year was Maria Lindqvist elected?", "2021", "harbour.txt"),
        ("Which month was Maria Lindqvist elected in?", "March", "harbour.txt"),
        ("Where will Lindqvist speak next month?", "Oslo", "harbour.txt"),
        ("How much would the terminal cost?", "40 million euros", "harbour.txt"),
        ("How many varieties of apples does the Appleby orchard grow?", "12", "orchard.md"),
        ("Who planted the oldest tree of the orchard?", "Thomas Green", "orchard.md"),
        ("In which year did the Lindholm Museum open?", "1931", "museum.txt"),
        ("Who is Jonas Berg?", "the Norwegian transport minister", "harbour.txt"),
        ("Who is Clara Voss?", "a retired sea captain", "museum.txt"),
        ("Why did the museum close for two years?", "because the roof had collapsed", "museum.txt"),
    ],
)
def test_answers_are_exact_spans_with_exact_citations(setup, question, expected, doc_id):
    index = setup[0]
    result = ask(setup, question)
    assert result.found, result
    assert result.answer == expected
    citation = result.citations[0]
    assert citation.doc_id == doc_id
    text = index.document(doc_id).text
    assert text[citation.start : citation.end] == expected
    assert citation.start == text.index(expected)
    assert text[citation.quote_start : citation.quote_end] == result.quote
    assert expected in result.quote
    assert citation.url == f"/documents/{doc_id}?start={citation.start}&end={citation.end}"
    assert 0.0 <= result.confidence <= 1.0


def test_quote_is_the_supporting_sentence(setup):
    result = ask(setup, "When was Maria Lindqvist elected?")
    assert result.quote == "She was elected in March 2021."


def test_unrelated_question_is_not_found(setup):
    result = ask(setup, "What is the boiling point of mercury?")
    assert not result.found
    assert result.answer is None and result.citations == [] and result.quote is None


def test_question_about_an_unknown_person_is_not_found(setup):
    result = ask(setup, "When was Peter Holm elected?")
    assert not result.found


def test_no_passages_is_not_found(setup):
    index, _, answerer = setup
    assert not answerer.answer("Who chairs the harbour board?", [], index).found


def test_empty_question_is_refused(setup):
    index, _, answerer = setup
    with pytest.raises(InvalidQuestion):
        answerer.answer("  ?", [], index)


def test_min_confidence_is_checked(analyzer):
    with pytest.raises(ValueError):
        RuleAnswerer(analyzer, min_confidence=1.5)


def test_works_without_an_embedder(setup, analyzer):
    index, retriever, _ = setup
    answerer = RuleAnswerer(analyzer, None)
    question = "Who planted the oldest tree of the orchard?"
    assert answerer.answer(question, retriever.retrieve(question, 3), index).answer == "Thomas Green"


def test_terms_match_allows_derived_forms_only():
    assert terms_match("norway", "norway")
    assert terms_match("korea", "korean")
    assert not terms_match("art", "artist")
    assert not terms_match("plan", "planet")


def test_tree_distance(analyzer):
    doc = analyzer("Maria chairs the harbour board.")
    chairs, board = doc[1], doc[4]
    assert tree_distance(chairs, board) == 1
    assert tree_distance(doc[0], board) == 2
    assert tree_distance(board, board) == 0


def test_confidence_is_monotone_in_support_and_bounded():
    weak = Support(coverage=0.2, missing=("x",), absent_from_corpus=(), entities_supported=True)
    strong = Support(coverage=0.9, missing=(), absent_from_corpus=(), entities_supported=True)
    low, high = calibrate_confidence(weak, 0.2, 0.5, 0.1), calibrate_confidence(strong, 0.7, 1.0, 0.5)
    assert 0.0 <= low < high <= 1.0
    absent = Support(coverage=0.9, missing=(), absent_from_corpus=("Holm",), entities_supported=False)
    assert calibrate_confidence(absent, 0.9, 1.0, 1.0) == 0.0


def test_corpus_stats_idf_ranks_rare_terms_higher():
    from collections import Counter

    stats = CorpusStats(num_sentences=10, document_frequency=Counter({"board": 5, "ferry": 1}))
    assert stats.idf("ferry") > stats.idf("board")
    assert stats.idf("unseen") > stats.idf("ferry")


def test_large_documents_without_a_stored_parse_are_parsed_on_demand(tmp_path, analyzer):
    """Documents above the size threshold keep no parse in the index; the answerer parses the
    retrieved sentences when asked and still cites exact offsets."""
    embedder = FakeEmbedder()
    documents = [document_from_text("harbour.txt", HARBOUR), document_from_text("museum.txt", MUSEUM)]
    build_index(documents, tmp_path / "ix", embedder, analyzer, large_document_chars=200)
    index = load_index(tmp_path / "ix")
    assert len(HARBOUR) > 200 > len(MUSEUM)
    assert index.parsed_document("harbour.txt", analyzer.vocab) is None
    assert index.parsed_document("museum.txt", analyzer.vocab)
    answerer = RuleAnswerer(analyzer, embedder)
    question = "When was Maria Lindqvist elected?"
    answer = answerer.answer(question, HybridRetriever(index, embedder).retrieve(question, top_k=3), index)
    assert answer.found and answer.answer == "March 2021"
    citation = answer.citations[0]
    assert citation.doc_id == "harbour.txt"
    assert index.document(citation.doc_id).text[citation.start : citation.end] == "March 2021"


def test_documents_are_decoded_when_needed_and_the_cache_is_bounded(setup, analyzer, monkeypatch):
    index, _, _ = setup
    decoded = []
    original = type(index).parsed_document
    monkeypatch.setattr(type(index), "parsed_document",
                        lambda self, doc_id, vocab: decoded.append(doc_id) or original(self, doc_id, vocab))
    harbour_tokens = sum(len(doc) for _, doc in original(index, "harbour.txt", analyzer.vocab))
    sentences = DocumentSentences(index, analyzer, max_tokens=harbour_tokens + 1)
    assert decoded == []  # nothing is decoded up front
    spans = sentences["harbour.txt"]
    text = index.document("harbour.txt").text
    assert [span.text for _, span in spans] == [text[s:e] for s, e in index.sentences["harbour.txt"]]
    assert sentences.get("harbour.txt") is spans and decoded == ["harbour.txt"]  # kept
    sentences["museum.txt"]  # over the token budget: the least recently used document goes
    sentences["harbour.txt"]
    assert decoded == ["harbour.txt", "museum.txt", "harbour.txt"]
    assert sentences.get("missing.txt") is None
    with pytest.raises(KeyError):
        sentences["missing.txt"]


def test_sentence_similarity_uses_the_vectors_stored_in_the_index(tmp_path, analyzer):
    build_index([document_from_text("harbour.txt", HARBOUR)], tmp_path / "ix", FakeEmbedder(), analyzer)
    index = load_index(tmp_path / "ix")
    embedder = CountingEmbedder()
    question = "Who chairs the harbour board of Eastport?"
    passages = HybridRetriever(index, embedder).retrieve(question, top_k=3)
    ranking = RuleAnswerer(analyzer, embedder).rank(question, passages, index)
    assert ranking.sentences and set(embedder.texts) == {question}  # no passage text is embedded
    best = ranking.sentences[0]
    stored = index.stored_sentence_vectors(best.doc_id, [best.index])[0]
    assert best.semantic == pytest.approx(float(embedder.embed([question])[0] @ stored), abs=1e-3)



def test_only_a_date_with_one_asked_part_is_narrowed():
    from types import SimpleNamespace

    from spacy.tokens import Span

    from qa.answerer.tidy import narrow_to_date_part
    from qa.answerer.types import CandidateSpan, ScoredSpan

    doc = SpacyAnalyzer("blank")("It was built between March 1990 and June 1995 and reopened in May 2001 .")
    words = [t.text for t in doc]
    both = Span(doc, words.index("March"), words.index("1995") + 1, label="DATE")
    may = Span(doc, words.index("May"), words.index("2001") + 1, label="DATE")
    doc.ents = [both, may]

    def narrowed(entity, head_noun):
        chosen = ScoredSpan(CandidateSpan(entity.start, entity.end, "entity", entity.end - 1),
                            SimpleNamespace(span=doc[:]), 0.0, 0.0)
        out = narrow_to_date_part(chosen, head_noun).candidate
        return doc[out.start : out.end].text

    assert narrowed(may, "year") == "2001"
    assert narrowed(may, "month") == "May"
    assert narrowed(may, "day") == "May 2001"  # not a part it knows how to pick out
    assert narrowed(may, None) == "May 2001"
    assert narrowed(both, "year") == "March 1990 and June 1995"  # which year is meant is not clear
    assert narrowed(both, "month") == "March 1990 and June 1995"
    outside = ScoredSpan(CandidateSpan(words.index("built"), words.index("1990") + 1, "clause", 0),
                         SimpleNamespace(span=doc[:]), 0.0, 0.0)
    assert narrow_to_date_part(outside, "year") is outside  # not inside one date


def test_answers_get_both_halves_of_a_quote_or_bracket():
    from types import SimpleNamespace

    from qa.answerer.tidy import balance_brackets
    from qa.answerer.types import CandidateSpan, ScoredSpan

    analyzer = SpacyAnalyzer("blank")

    def balanced(sentence, words):
        doc = analyzer(sentence)
        tokens = [t.text for t in doc]
        first = next(i for i in range(len(tokens)) if tokens[i : i + len(words)] == words)
        chosen = ScoredSpan(CandidateSpan(first, first + len(words), "reader", first), SimpleNamespace(span=doc[:]), 0.0, 0.0)
        out = balance_brackets(chosen)
        return out, chosen, doc[out.candidate.start : out.candidate.end].text

    text = 'Phages infect "good" bacteria, said the American Society for Microbiology (ASM) on Monday.'
    assert balanced(text, ["good", '"', "bacteria"])[2] == '"good" bacteria'
    assert balanced(text, ["(", "ASM"])[2] == "(ASM)"
    assert balanced(text, ["Microbiology", "(", "ASM"])[2] == "Microbiology (ASM)"
    assert balanced(text, ["ASM", ")"])[2] == "(ASM)"
    out, chosen, _ = balanced(text, ['"', "good", '"'])
    assert out is chosen  # already whole
    assert balanced('He wrote " the end of it.', ['"', "the", "end"])[2] == "the end"  # no partner: dropped


def test_a_length_of_time_describing_a_thing_is_no_answer_to_when(analyzer):
    from qa.answerer.scoring import is_duration_modifier

    doc = analyzer("The 10-day festival of 1960 ended after a two-year contract ran out in May.")
    assert is_duration_modifier(doc[1:4])  # "10-day" of "10-day festival"
    assert not is_duration_modifier(doc[6:7])  # "1960"
    assert not is_duration_modifier(doc[-3:-1])  # "in May"


def _one_document(analyzer, folder, name: str, text: str, question: str):
    """An index of one document written for a test, and the passages retrieved for ``question``."""
    embedder = FakeEmbedder()
    build_index([document_from_text(name, text)], folder / "ix", embedder, analyzer)
    index = load_index(folder / "ix")
    return index, embedder, HybridRetriever(index, embedder).retrieve(question, top_k=3)


def test_when_questions_are_not_answered_with_a_duration(tmp_path, analyzer):
    text = ("Port Report\n\nThe harbour strike of Eastport ended the ten-year dispute between the unions. "
            "The new ferry line opened to passengers.\n")
    question = "When did the harbour strike of Eastport end?"
    index, embedder, passages = _one_document(analyzer, tmp_path, "port.txt", text, question)
    result = RuleAnswerer(analyzer, embedder).answer(question, passages, index)
    assert result.answer != "ten-year"


def test_a_sentence_that_goes_on_by_pronoun_counts_the_names_before_it(analyzer):
    from qa.answerer.sentences import referred_names

    doc = analyzer.nlp("The society's treasurer is Ilse Varga. She joined the society in 2004. The hall was built in 1890.")
    first, second, third = list(doc.sents)
    assert [t.text for t in referred_names(second, [first])] == ["Ilse", "Varga"]
    assert referred_names(third, [second]) == []  # its subject is no pronoun
    assert referred_names(second, None) == []


def test_a_chain_of_pronoun_sentences_refers_back_to_the_name_before_it(analyzer):
    from qa.answerer.sentences import antecedents, referred_names

    doc = analyzer.nlp("The treasurer is Ilse Varga. She moved to Leeds in 1990. "
                       "Later she chaired the board. She kept the accounts in green ink. The hall was built in 1890.")
    rows = [(s.start_char, s) for s in doc.sents]
    assert len(rows) == 5
    chain = antecedents(rows, 3)  # back through two pronoun sentences to the named one
    assert [s.text for s in chain] == [rows[2][1].text, rows[1][1].text, rows[0][1].text]
    assert {t.text for t in referred_names(rows[3][1], chain)} >= {"Ilse", "Varga", "Leeds"}
    assert [s.text for s in antecedents(rows, 2)] == [rows[1][1].text, rows[0][1].text]
    assert [s.text for s in antecedents(rows, 1)] == [rows[0][1].text]
    assert antecedents(rows, 0) == []
    assert len(antecedents(rows, 4)) == 3  # at most MAX_ANTECEDENTS back
    assert referred_names(rows[4][1], antecedents(rows, 4)) == []  # "The hall" goes on about no one
    doc = analyzer.nlp("Ilse Varga chairs the board. The hall is old. It was built in 1890.")
    rows = [(s.start_char, s) for s in doc.sents]
    assert [s.text for s in antecedents(rows, 2)] == [rows[1][1].text]  # the chain ends at a sentence that names its subject


def test_a_fact_told_two_pronoun_sentences_after_the_name_is_supported_for_a_question_naming_her(analyzer):
    from qa.answerer.sentences import antecedents
    from qa.answerer.support import check_support
    from qa.question import analyze_question

    doc = analyzer.nlp("Marta Lindqvist left the island at sixteen. She became a surveyor of the coast. "
                       "On every chart she drew, she marked the old light with a small star.")
    rows = [(s.start_char, s) for s in doc.sents]
    third = rows[2][1]
    question = analyze_question(analyzer.nlp("How did Marta mark the light on her charts?"))
    stats = CorpusStats(num_sentences=3, document_frequency={"marta": 1, "mark": 1, "light": 1, "chart": 1},
                        phrase_occurs=doc.text.lower().__contains__)
    one_back = check_support(question, third, [rows[1][1]], stats, previous=[rows[1][1]])
    chained = check_support(question, third, [rows[1][1]], stats, previous=antecedents(rows, 2))
    assert not one_back.entities_supported and "marta" in one_back.missing
    assert chained.entities_supported and chained.missing == () and chained.coverage > one_back.coverage


def test_the_support_of_a_pronoun_sentence_counts_the_names_it_refers_to(analyzer):
    from qa.answerer.support import check_support
    from qa.question import analyze_question

    doc = analyzer.nlp("The society's treasurer is Ilse Varga. She joined the society in 2004.")
    first, second = list(doc.sents)
    question = analyze_question(analyzer.nlp("When did Ilse Varga join the society?"))
    stats = CorpusStats(num_sentences=2, document_frequency={"society": 2, "ilse": 1, "varga": 1, "join": 1},
                        phrase_occurs=doc.text.lower().__contains__)
    alone = check_support(question, second, [first], stats)
    referring = check_support(question, second, [first], stats, previous=[first])
    assert referring.coverage > alone.coverage
    assert referring.missing == () and referring.entities_supported


def test_the_sentences_kept_for_embedding_credit_a_pronoun_sentence_with_the_names_before_it(
        analyzer, tmp_path, monkeypatch):
    import qa.answerer.rules as rules

    text = ("Society Notes\n\nThe society's treasurer is Ilse Varga. She joined the society in 2004. "
            "The society was joined by the mayor in 1999.")
    question = "When did Ilse Varga join the society?"
    index, embedder, passages = _one_document(analyzer, tmp_path, "society.txt", text, question)
    monkeypatch.setattr(rules, "MAX_EMBEDDED_SENTENCES", 1)  # only the best sentence is kept
    ranked = RuleAnswerer(analyzer, embedder).rank(question, passages, index)
    assert [s.span.text for s in ranked.sentences] == ["She joined the society in 2004."]


def test_an_answer_may_share_a_word_with_the_question(analyzer, tmp_path):
    text = "Press History\n\nThe Varga Press was founded by Ilse Varga in 1921. It prints maps and atlases."
    question = "Who founded the Varga Press?"
    index, embedder, passages = _one_document(analyzer, tmp_path, "press.txt", text, question)
    assert RuleAnswerer(analyzer, embedder).answer(question, passages, index).answer == "Ilse Varga"
    # a span made only of the question's words still answers nothing
    only = RuleAnswerer(analyzer, embedder).rank(question, passages, index)
    assert not any(s.sentence.span.doc[s.candidate.start:s.candidate.end].text == "The Varga Press" for s in only.spans)


def test_a_choice_question_is_answered_with_one_of_its_options(analyzer, tmp_path):
    text = "Ferry Notes\n\nThe ferry tickets were expensive in 1990. The crossing took two hours."
    question = "Were the ferry tickets cheap or expensive?"
    index, embedder, passages = _one_document(analyzer, tmp_path, "ferry.txt", text, question)
    result = RuleAnswerer(analyzer, embedder, min_confidence=0.0).answer(question, passages, index)
    assert result.answer == "expensive"  # all its words are the question's, but it is one of the options


def test_a_name_that_is_part_of_a_longer_name_in_the_question_can_answer_it(analyzer, tmp_path):
    text = "Toaster Guide\n\nThe Halden K4 toaster browns four slices. The K4 is made by Halden, a firm based in York."
    question = "Who makes the Halden K4 toaster?"
    index, embedder, passages = _one_document(analyzer, tmp_path, "toaster.txt", text, question)
    ranked = RuleAnswerer(analyzer, embedder).rank(question, passages, index)
    texts = [s.sentence.span.doc[s.candidate.start:s.candidate.end].text for s in ranked.spans]
    assert "Halden" in texts  # the maker, not the question's product repeated
    assert "Halden K4" not in texts and "The Halden K4 toaster" not in texts


def test_what_was_said_is_the_whole_clause_not_its_subject(analyzer):
    from types import SimpleNamespace

    from qa.answerer.tidy import widen_to_content_clause
    from qa.answerer.types import CandidateSpan, ScoredSpan

    doc = analyzer("The council announced on Monday that the old mill on the river would close in May "
                   "and that its workers would move to the new plant.")
    tokens = [t.text for t in doc]

    def widened(words, verb):
        first = next(i for i in range(len(tokens)) if tokens[i : i + len(words)] == words)
        chosen = ScoredSpan(CandidateSpan(first, first + len(words), "reader", first), SimpleNamespace(span=doc[:]), 0.0, 0.0)
        out = widen_to_content_clause(chosen, verb)
        return doc[out.candidate.start : out.candidate.end].text

    clause = "the old mill on the river would close in May"  # the first of the two clauses, without "that"
    assert widened(["the", "old", "mill"], "announce") == clause
    assert widened(["the", "old", "mill", "on", "the", "river"], "announce") == clause
    assert widened(["the", "old", "mill"], "deny") == "the old mill"  # a clause of another verb
    assert widened(["the", "old", "mill"], None) == "the old mill"
    assert widened(["May"], "announce") == "May"  # not the clause's subject
    assert widened(["The", "council"], "announce") == "The council"  # the speaker, not a clause
