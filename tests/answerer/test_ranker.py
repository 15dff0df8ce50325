"""The learned ranker: fitting, saving/loading, and its use by the extractive answerer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.answerer.extractive import ExtractiveAnswerer
from qa.answerer.features import ANSWER_FEATURES, CANDIDATE_FEATURES
from qa.answerer.ranker import (
    LearnedRanker, LinearModel, RankerFormatError, fit_conditional_logit, fit_logistic, sigmoid, softmax,
)
from qa.training.train_ranker import pick_operating_point, ranker_questions, score_picks
from qa.reader.reader import ReaderOutput
from tests.conftest import ScriptedReader
from tests.answerer.test_extractive import setup, voted_pool  # noqa: F401  (setup: module fixture)


def _groups(rng, n_groups=200, size=6, d=3, true_w=(2.0, -1.0, 0.0)):
    groups, targets = [], []
    for _ in range(n_groups):
        x = rng.normal(size=(size, d))
        t = np.zeros(size)
        t[int(np.argmax(x @ np.asarray(true_w)))] = 1.0
        groups.append(x)
        targets.append(t)
    return groups, targets


def test_conditional_logit_learns_which_feature_ranks():
    rng = np.random.default_rng(0)
    groups, targets = _groups(rng)
    model = fit_conditional_logit(groups, targets, ["a", "b", "c"], l2=0.1)
    w = np.asarray(model.weights) / np.asarray(model.scale)
    assert w[0] > 0 > w[1] and abs(w[2]) < 0.3 * w[0]
    test_groups, test_targets = _groups(np.random.default_rng(1), n_groups=100)
    hits = [t[int(np.argmax(model.scores(g)))] for g, t in zip(test_groups, test_targets)]
    assert np.mean(hits) > 0.85


def test_conditional_logit_with_tied_targets_spreads_mass():
    # two identical best candidates: both are targets, the fit must not blow up
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    model = fit_conditional_logit([x] * 20, [np.array([0.5, 0.5, 0.0])] * 20, ["a", "b"], l2=0.01)
    p = softmax(model.scores(x))
    assert p[0] == pytest.approx(p[1]) and p[2] < 0.1


def test_logistic_is_calibrated_on_soft_labels():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < sigmoid(1.5 * x[:, 0] - 0.5)).astype(float)
    model = fit_logistic(x, y, ["a", "b"], l2=0.1)
    p = sigmoid(model.scores(x))
    assert abs(p.mean() - y.mean()) < 0.02
    assert np.corrcoef(p, sigmoid(1.5 * x[:, 0] - 0.5))[0, 1] > 0.98


def test_fit_rejects_empty_data():
    with pytest.raises(ValueError):
        fit_conditional_logit([], [], ["a"])
    with pytest.raises(ValueError):
        fit_logistic(np.zeros((0, 1)), np.zeros(0), ["a"])


def _model(threshold=0.5, **weights):
    ranker = LinearModel(CANDIDATE_FEATURES, tuple(weights.get(n, 0.0) for n in CANDIDATE_FEATURES),
                         (0.0,) * len(CANDIDATE_FEATURES), (1.0,) * len(CANDIDATE_FEATURES))
    answer = LinearModel(ANSWER_FEATURES, (0.0,) * len(ANSWER_FEATURES), (0.0,) * len(ANSWER_FEATURES),
                         (1.0,) * len(ANSWER_FEATURES), weights.get("bias", 0.0))
    return LearnedRanker(ranker, answer, threshold, 0.0, {"note": "test"})


def test_save_load_round_trip_and_refusals(tmp_path):
    path = tmp_path / "ranker.json"
    model = _model(threshold=0.3, reader_logp=1.5)
    model.save(path)
    loaded = LearnedRanker.load(path, candidate_features=CANDIDATE_FEATURES, answer_features=ANSWER_FEATURES)
    assert loaded == model and loaded.recipe == {"note": "test"}

    with pytest.raises(RankerFormatError, match="other candidate features"):
        LearnedRanker.load(path, candidate_features=CANDIDATE_FEATURES[:-1])
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "format": 99}))
    with pytest.raises(RankerFormatError, match="unknown ranker format"):
        LearnedRanker.load(path)
    path.write_text(json.dumps({**data, "threshold": 2}))
    with pytest.raises(RankerFormatError, match="threshold"):
        LearnedRanker.load(path)
    path.write_text(json.dumps({**data, "min_support": "high"}))
    with pytest.raises(RankerFormatError, match="malformed threshold"):
        LearnedRanker.load(path)
    path.write_text("{not json")
    with pytest.raises(RankerFormatError, match="cannot read"):
        LearnedRanker.load(path)
    with pytest.raises(RankerFormatError, match="cannot read"):
        LearnedRanker.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="features per row"):
        model.ranker.scores(np.zeros((2, 3)))


def test_shipped_ranker_matches_this_code():
    model = LearnedRanker.load(candidate_features=CANDIDATE_FEATURES, answer_features=ANSWER_FEATURES)
    assert 0.0 <= model.threshold <= 1.0
    assert model.recipe["cross_validation"]["scheme"] == "leave one article out"


def test_operating_point_reaches_the_abstention_target_with_the_best_f1():
    grid = [{"threshold": 0.0, "min_support": 0.0, "F1": 60.0, "abstain_unanswerable": 10.0, "overall": 50.0},
            {"threshold": 0.2, "min_support": 0.0, "F1": 57.0, "abstain_unanswerable": 50.0, "overall": 55.0},
            {"threshold": 0.4, "min_support": 0.0, "F1": 55.5, "abstain_unanswerable": 65.0, "overall": 54.0},
            {"threshold": 0.1, "min_support": 0.3, "F1": 56.0, "abstain_unanswerable": 61.0, "overall": 54.5},
            {"threshold": 0.6, "min_support": 0.0, "F1": 50.0, "abstain_unanswerable": 90.0, "overall": 52.0}]
    assert pick_operating_point(grid, target_abstention=60.0)["threshold"] == 0.1
    assert pick_operating_point(grid, target_abstention=10.0)["threshold"] == 0.0
    assert pick_operating_point(grid, target_abstention=95.0)["threshold"] == 0.2  # unreachable: best overall


def test_ranker_questions_are_an_even_sample_and_every_unanswerable_one():
    from types import SimpleNamespace

    heldout = [SimpleNamespace(qid=f"q{i}", answers=[] if i in (1, 7, 8) else ["a"]) for i in range(12)]
    chosen = [q.qid for q in ranker_questions(heldout, 4)]
    assert chosen == ["q0", "q1", "q3", "q6", "q7", "q8", "q9"]  # q0, q3, q6, q9 evenly; q1, q7, q8 unanswerable
    assert len(ranker_questions(heldout, None)) == len(ranker_questions(heldout, 12)) == 12


def test_score_picks_counts_abstentions():
    rows = [{"answers": ["x"]}, {"answers": ["y"]}, {"answers": []}, {"answers": [], "synthetic": True},
            {"id": "q7/entity-swapped", "answers": [], "synthetic": True}]
    cand = {"em": 1.0, "f1": 1.0}
    picks = [(rows[0], cand, 0.9, 0.9), (rows[1], cand, 0.2, 0.9), (rows[2], cand, 0.1, 0.9), (rows[3], cand, 0.9, 0.1),
             (rows[4], cand, 0.9, 0.9)]
    s = score_picks(picks, 0.5, 0.5)
    assert s["F1"] == 50.0 and s["abstain_unanswerable"] == 100.0 and s["answered_answerable"] == 0.5
    assert s["abstain_synthetic"] == 100.0 and s["abstain_swapped"] == 0.0
    s = score_picks(picks, 0.0, 0.0)
    assert s["F1"] == 100.0 and s["abstain_unanswerable"] == 0.0


class ScoringReader(ScriptedReader):
    """A scripted reader that also scores arbitrary spans: ``target`` gets ``span_score``."""

    def __init__(self, text, target, span_score):
        super().__init__(text)
        self.target, self.span_score = target, span_score

    def read(self, question, passages, passage_scores=None, top_n=None):
        out = super().read(question, passages, passage_scores, top_n)

        def scorer(i, start, end):
            return self.span_score if passages[i][start:end] == self.target else 0.0
        return ReaderOutput(out.candidates, out.no_answer_prob, scorer)


def test_every_candidate_gets_the_readers_span_probability(setup):  # noqa: F811
    index, retriever, rules = setup
    question = "Who is the Norwegian transport minister?"
    passages = retriever.retrieve(question, top_k=3)
    hybrid = ExtractiveAnswerer(rules, ScoringReader(None, "Jonas Berg", 0.4))
    ranking = rules.rank(question, passages, index)
    pool, no_answer = hybrid.read_and_vote(ranking, passages, index)
    assert no_answer == 1.0   # the scripted reader proposed nothing
    scored = {index.document(v.doc_id).text[v.start:v.end]: v.reader_span_prob for v in pool}
    assert scored.get("Jonas Berg") == pytest.approx(0.4)
    assert all(p == 0.0 for text, p in scored.items() if text != "Jonas Berg")


def test_default_answerer_uses_the_shipped_ranker_unless_told_otherwise(tmp_path):
    from index.analysis import SpacyAnalyzer
    from qa.config import Settings
    from qa.pipeline import default_answerer
    from tests.conftest import FakeEmbedder

    analyzer, embedder = SpacyAnalyzer("blank"), FakeEmbedder()
    assert default_answerer(analyzer, embedder, Settings()).ranker is not None
    assert default_answerer(analyzer, embedder, Settings(ranker=False)).ranker is None
    assert default_answerer(analyzer, embedder, Settings(reader=False)).ranker is None   # fitted with the reader
    bad = tmp_path / "ranker.json"
    bad.write_text("{}")
    with pytest.raises(RankerFormatError, match="unknown ranker format"):
        default_answerer(analyzer, embedder, Settings(ranker_weights=bad))


def test_a_reader_folder_with_its_own_ranker_gets_it(tmp_path):
    import json

    from index.analysis import SpacyAnalyzer
    from qa.answerer.ranker import DEFAULT_RANKER_PATH
    from qa.config import Settings
    from qa.pipeline import default_answerer
    from tests.conftest import FakeEmbedder

    (tmp_path / "reader.int8.safetensors").write_bytes(b"")  # the reader loads lazily: never read here
    own = json.loads(DEFAULT_RANKER_PATH.read_text())
    own["threshold"] = 0.4321
    (tmp_path / "ranker.json").write_text(json.dumps(own))
    analyzer, embedder = SpacyAnalyzer("blank"), FakeEmbedder()
    assert default_answerer(analyzer, embedder, Settings(reader_weights=tmp_path)).ranker.threshold == 0.4321
    shipped = default_answerer(analyzer, embedder, Settings(reader_weights=tmp_path, ranker_weights=DEFAULT_RANKER_PATH))
    assert shipped.ranker.threshold != 0.4321  # named by the setting: that one


def test_the_reader_model_setting_picks_a_shipped_reader(monkeypatch):
    from index.analysis import SpacyAnalyzer
    from qa.answerer.cascade import CascadeAnswerer
    from qa.config import Settings, load_settings
    from qa.errors import SettingsError
    from qa.pipeline import default_answerer
    from qa.reader.reader import SHIPPED_READERS
    from tests.conftest import FakeEmbedder

    analyzer, embedder = SpacyAnalyzer("blank"), FakeEmbedder()
    minilm = default_answerer(analyzer, embedder, Settings(reader_model="minilm"))
    assert minilm.reader.weights_path == SHIPPED_READERS["minilm"]
    mpnet = default_answerer(analyzer, embedder, Settings(reader_model="mpnet"))
    assert mpnet.reader.weights_path == SHIPPED_READERS["mpnet"]
    own = json.loads((Path(SHIPPED_READERS["mpnet"]) / "ranker.json").read_text())["threshold"]
    assert mpnet.ranker.threshold == own != minilm.ranker.threshold
    cascade = default_answerer(analyzer, embedder, Settings(reader_model="cascade", cascade_below=0.3))
    assert isinstance(cascade, CascadeAnswerer) and cascade.below == 0.3
    assert cascade.first.reader.weights_path == SHIPPED_READERS["minilm"]
    assert cascade.first.ranker.threshold == minilm.ranker.threshold
    assert cascade.second.reader.weights_path == SHIPPED_READERS["mpnet"] and cascade.second.ranker.threshold == own
    monkeypatch.setenv("QA_READER_MODEL", "gpt-17")
    with pytest.raises(SettingsError, match="QA_READER_MODEL"):
        load_settings()


@pytest.mark.parametrize("mpnet_installed", [True, False])
def test_auto_is_the_cascade_where_the_larger_reader_is_installed(monkeypatch, tmp_path, mpnet_installed):
    from index.analysis import SpacyAnalyzer
    from qa.answerer.cascade import CascadeAnswerer
    from qa.config import Settings
    from qa.pipeline import default_answerer, reader_model
    from qa.reader import bases
    from tests.conftest import FakeEmbedder

    monkeypatch.delenv("QA_READER_MODEL", raising=False)  # the tests' conftest fixes it
    monkeypatch.setattr(bases, "installed", lambda name: mpnet_installed and name == bases.MPNET)
    analyzer, embedder = SpacyAnalyzer("blank"), FakeEmbedder()
    assert reader_model(Settings()) == ("cascade" if mpnet_installed else "minilm")
    assert isinstance(default_answerer(analyzer, embedder, Settings()), CascadeAnswerer) is mpnet_installed
    (tmp_path / "reader.int8.safetensors").write_bytes(b"")  # a folder named by the user answers alone
    assert reader_model(Settings(reader_weights=tmp_path)) == "minilm"
    assert reader_model(Settings(reader_model="mpnet")) == "mpnet"
    assert not isinstance(default_answerer(analyzer, embedder, Settings(reader=False)), CascadeAnswerer)


def test_reader_bf16_setting():
    from index.analysis import SpacyAnalyzer
    from qa.config import Settings
    from qa.pipeline import default_answerer
    from index.embedding import native_bf16
    from tests.conftest import FakeEmbedder

    analyzer, embedder = SpacyAnalyzer("blank"), FakeEmbedder()
    assert default_answerer(analyzer, embedder, Settings(reader_bf16="on")).reader.bf16 is True
    assert default_answerer(analyzer, embedder, Settings(reader_bf16="off")).reader.bf16 is False
    assert default_answerer(analyzer, embedder, Settings(reader_bf16="auto")).reader.bf16 is native_bf16()


def test_embedder_bf16_is_for_questions_only(tmp_path, monkeypatch):
    """The pipeline's embedder (questions, and sentences compared with them) follows
    QA_EMBEDDER_BF16; the one that builds an index never uses bf16."""
    from index.embedding import SentenceTransformerEmbedder, native_bf16
    from qa.config import Settings
    from qa.pipeline import QAPipeline, index_corpus
    from tests.conftest import HARBOUR, FakeEmbedder

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    settings = Settings(index_dir=tmp_path / "ix", reader=False)
    index_corpus([corpus], settings, embedder=FakeEmbedder())
    for value, expected in [("on", True), ("off", False), ("auto", native_bf16())]:
        pipeline = QAPipeline(Settings(index_dir=tmp_path / "ix", reader=False, embedder_bf16=value))
        assert isinstance(pipeline.embedder, SentenceTransformerEmbedder) and pipeline.embedder.bf16 is expected

    builders = []
    monkeypatch.setattr("qa.pipeline.build_index", lambda documents, index_dir, embedder, *a, **k: builders.append(embedder)
                        or pipeline.index.manifest)
    index_corpus([corpus], Settings(index_dir=tmp_path / "ix2", reader=False, embedder_bf16="on"))
    assert isinstance(builders[0], SentenceTransformerEmbedder) and builders[0].bf16 is False


def test_expected_f1_gathers_the_readers_mass_over_near_identical_spans():
    from qa.answerer.features import expected_f1

    answers = [("Treaty of Paris", 0.5), ("the treaty", 0.2), ("1783", 0.1)]
    wide, city, year, other = expected_f1(["the Treaty of Paris", "Paris", "1783", "Versailles"], answers)
    # "the" is an article, so "the Treaty of Paris" matches the first answer exactly: F1 1 x 5/8,
    # and "the treaty" half way (F1 0.5 x 2/8)
    assert wide == pytest.approx(0.625 + 0.125)
    assert city == pytest.approx(0.5 * 0.5 / 0.8)  # F1 0.5 against "Treaty of Paris", nothing else
    assert year == pytest.approx(0.1 / 0.8)
    assert other == 0.0
    assert expected_f1(["Paris"], []) == [0.0]
    assert expected_f1(["Paris"], [("Paris", 0.0)]) == [0.0]


def test_every_candidate_gets_its_expected_f1_under_the_reader(setup):  # noqa: F811
    pool = voted_pool(setup, "Who is the Norwegian transport minister?", ScriptedReader("Jonas Berg", 0.6))
    by_text = {text: v.reader_expected_f1 for text, v in pool.items()}
    assert by_text["Jonas Berg"] == pytest.approx(1.0)  # the reader's only answer, whatever its probability
    assert all(value == 0.0 for text, value in by_text.items() if "Jonas" not in text and "Berg" not in text)


def test_entity_swapped_asks_about_an_entity_the_paragraph_does_not_mention():
    from qa.training.contrast import entity_swapped

    question = "When did Nintendo reveal the Wii?"
    entities = [(9, 17, "ORG"), (29, 32, "ORG")]  # "Nintendo", "Wii"
    pool = {"ORG": ["Nintendo", "Sony", "Sega", "Wii"]}
    paragraph = "Nintendo revealed the Wii in 2005."
    swapped = entity_swapped(question, entities, pool, paragraph, "q1")
    assert swapped in {"When did Sony reveal the Wii?", "When did Sega reveal the Wii?"}
    assert entity_swapped(question, entities, pool, paragraph, "q1") == swapped  # the same on every run
    # no other entity of the type that the paragraph leaves out, or no entity of the paragraph to swap
    assert entity_swapped(question, entities, {"ORG": ["Nintendo", "Wii"]}, paragraph, "q1") is None
    assert entity_swapped(question, entities[:1], pool, "The console came out in 2005.", "q1") is None


def test_verb_swapped_asks_about_a_predicate_the_paragraph_does_not_use():
    from qa.training.contrast import verb_swapped

    question = "When did Nintendo reveal the Wii?"
    verb = (18, 24, "VB", "reveal")
    pool = {"VB": [("reveal", "reveal"), ("release", "release"), ("cancel", "cancel")], "VBD": [("sold", "sell")]}
    paragraph = "Nintendo revealed the Wii in 2005 and released it a year later."
    assert verb_swapped(question, verb, pool, paragraph, "q1") == "When did Nintendo cancel the Wii?"
    assert verb_swapped(question, verb, pool, paragraph, "q1") == verb_swapped(question, verb, pool, paragraph, "q1")
    # no verb of the same form left that the paragraph does not use
    assert verb_swapped(question, verb, {"VB": [("release", "release")]}, paragraph, "q1") is None
    # a question that paraphrases its paragraph's verb is left alone
    assert verb_swapped(question, verb, pool, "Nintendo unveiled the Wii in 2005.", "q1") is None


def test_entity_swapped_does_not_double_the_article():
    from qa.training.contrast import entity_swapped

    question = "When was the Guggenheim built?"
    swapped = entity_swapped(question, [(13, 23, "FAC")], {"FAC": ["the Guggenheim", "the Stonewall Inn"]},
                             "The Guggenheim was built in 1959.", "q1")
    assert swapped == "When was the Stonewall Inn built?"


def test_contrast_questions_are_unanswerable_variants_beside_their_paragraph():
    from qa.training import data as D
    from qa.training.contrast import QuestionParses, contrast_questions

    paragraphs = [D.Paragraph(0, "Consoles", "0.txt", "Consoles", "Nintendo revealed the Wii in 2005."),
                  D.Paragraph(1, "Consoles", "1.txt", "Consoles", "Sony cancelled the handheld in 2014.")]
    questions = [D.Question("a", "When did Nintendo reveal the Wii?", ["2005"], pid=0, answer_start=28),
                 D.Question("b", "When did Sony cancel the handheld?", ["2014"], pid=1, answer_start=31),
                 D.Question("c", "Who designed the Wii?", [], pid=0)]
    parses = QuestionParses(
        entities={"a": [(9, 17, "ORG")], "b": [(9, 13, "ORG")], "c": []},
        verbs={"a": (18, 24, "VB", "reveal"), "b": (14, 20, "VB", "cancel"), "c": None},
        entity_pool={"Consoles": {"ORG": ["Nintendo", "Sony"]}},
        verb_pool={"Consoles": {"VB": [("reveal", "reveal"), ("cancel", "cancel")]}})
    made = contrast_questions(questions, paragraphs, parses, rate=1.0, seed=13)
    assert {q.qid.split("/")[0] for q in made} == {"a", "b"}  # the unanswerable "c" gets none
    for q in made:
        assert q.answers == [] and q.pid == {"a": 0, "b": 1}[q.qid.split("/")[0]]
        assert q.question in {"When did Sony reveal the Wii?", "When did Nintendo cancel the Wii?",
                              "When did Nintendo cancel the handheld?", "When did Sony reveal the handheld?"}
    assert contrast_questions(questions, paragraphs, parses, rate=0.0, seed=13) == []
    assert [q.question for q in contrast_questions(questions, paragraphs, parses, 1.0, 13)] == [q.question for q in made]
