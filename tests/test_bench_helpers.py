"""The pure helpers of the scale benchmarks (bench/bench_ann.py, bench_haystack.py, make_corpus.py)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name.replace('/', '_')}_under_test", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench_ann = _load("bench_ann")
bench_haystack = _load("bench_haystack")
make_corpus = _load("make_corpus")
learning_curve = _load("reader/learning_curve")
gold_f1 = _load("reader/gold_f1")
answer_model_weights = _load("reader/answer_model_weights")
cascade_sweep = _load("reader/cascade_sweep")
retrieval_fusion = _load("retrieval_fusion")
ensemble_gold = _load("reader/ensemble_gold")
titled_passages = _load("reader/titled_passages")


def test_recall_at_k_counts_shared_ids_per_row_and_ignores_missing():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    approximate = np.array([[4, 3, 9, -1], [8, 7, 6, 5]])
    assert bench_ann.recall_at_k(approximate, exact) == (2 / 4 + 4 / 4) / 2


def test_contains_answer_normalises_and_needs_whole_words():
    assert bench_haystack.contains_answer("It opened in 1889, said The Times.", ["the times"])
    assert bench_haystack.contains_answer("Chaired by Mrs. Okafor.", ["mrs okafor"])
    assert not bench_haystack.contains_answer("A total of 18890 visitors.", ["1889"])
    assert not bench_haystack.contains_answer("anything", [""])


def test_recall_at_k_skips_unanswerable_questions():
    questions = [bench_haystack.Question("q1", ["Paris"]), bench_haystack.Question("q2", []),
                 bench_haystack.Question("q3", ["Rome"])]
    passages = ["Paris is big.", "Rome is old.", "Nothing here."]
    assert bench_haystack.recall_at_k([[2, 0], [1], [2]], passages, questions) == 0.5


def test_swap_entities_keeps_text_between_mentions_and_one_replacement_per_mention():
    text = "Ada met Bob in 1901. Ada left."
    paragraph = make_corpus.Paragraph("a", "A", text, ((0, 3, "PERSON"), (8, 11, "PERSON"), (15, 19, "DATE"),
                                                       (21, 24, "PERSON")))
    pools = {"PERSON": ["Zoe"], "DATE": ["2020"]}
    chosen: dict = {}
    assert make_corpus.swap_entities(paragraph, pools, random.Random(0), chosen) == "Zoe met Zoe in 2020. Zoe left."
    assert chosen == {("PERSON", "Ada"): "Zoe", ("PERSON", "Bob"): "Zoe", ("DATE", "1901"): "2020"}


def test_make_document_is_deterministic_and_titled():
    paragraphs = [make_corpus.Paragraph("art", "Article", f"Para {i} by Ada.", ((10, 13, "PERSON"),)) for i in range(3)]
    pools = {"PERSON": ["Bea", "Cy"]}
    first = make_corpus.make_document(1234, paragraphs, {"art": [0, 1, 2]}, pools, 2, seed=1)
    again = make_corpus.make_document(1234, paragraphs, {"art": [0, 1, 2]}, pools, 2, seed=1)
    assert first == again
    path, text = first
    assert path == "0001/001234.txt"
    assert text.startswith("Article (1234)\n\n")
    assert text.count("\n\n") == 2 and "Ada" not in text


def test_server_time_sums_the_durations_of_a_server_timing_header():
    server_time = _load("bench_latency").server_time
    assert server_time("wait;dur=0.1, retrieve;dur=12.5, answer;dur=70.2") == pytest.approx(82.8)
    assert server_time("") == 0.0
    assert server_time('cache;desc="hit", db;dur=3') == 3.0


def test_learning_curve_reads_the_last_json_object_after_the_log_lines():
    out = '12:00:01 epoch 1 step 20/40 loss {not json}\n{\n "gold": {"F1": 61.5}\n}\n'
    assert learning_curve.last_json(out) == {"gold": {"F1": 61.5}}


def test_learning_curve_gain_is_per_doubling_of_the_questions():
    gains = learning_curve.doubling_gains([(500, 40.0), (1000, 47.0), (4000, 57.0)])
    assert gains == [(500, 1000, 7.0), (1000, 4000, 5.0)]


def test_content_clauses_classes_a_gold_against_the_clause_of_the_verb():
    from index.analysis import SpacyAnalyzer

    content_clauses = _load("content_clauses")
    text = "The council announced that the old mill would close in May."
    doc = SpacyAnalyzer().nlp(text)

    def kind(gold, verb="announce"):
        start = text.index(gold)
        return content_clauses.classify(doc, start, start + len(gold), verb)

    assert kind("the old mill would close in May") == "the whole clause"
    assert kind("that the old mill would close in May") == "the clause with its that"
    assert kind("the old mill") == "the clause's subject"
    assert kind("in May") == "another part of the clause"
    assert kind("The council") == "outside the clause"
    assert kind("the old mill", verb="deny") == "no clause of the verb"


def test_answer_kind_compares_whole_normalised_words_with_each_gold():
    golds = ["the lumber industry"]
    assert gold_f1.answer_kind("Lumber industry.", golds) == "exact"
    assert gold_f1.answer_kind("lumber", golds) == "shorter"
    assert gold_f1.answer_kind("in the lumber industry of Burma", golds) == "longer"
    assert gold_f1.answer_kind("lumber trade", golds) == "overlap"
    assert gold_f1.answer_kind("lum", golds) == "wrong"  # a piece of a word is not a shorter answer
    assert gold_f1.answer_kind("", golds) == "wrong"
    assert gold_f1.answer_kind("400", ["four hundred", "400 horsemen"]) == "shorter"


def test_answer_model_weights_repeat_real_unanswerable_rows_and_thin_synthetic_ones():
    rows = [{"id": "a", "answers": ["x"]}, {"id": "r", "answers": []}]
    rows += [{"id": f"s{i}", "answers": [], "synthetic": True} for i in range(200)]
    out = answer_model_weights.weighted(rows, real=3, synthetic_share=0.5)
    assert [r["id"] for r in out[:4]] == ["a", "r", "r", "r"]
    kept = [r["id"] for r in out[4:]]
    assert 60 < len(kept) < 140 and kept == [r["id"] for r in answer_model_weights.weighted(rows, 3, 0.5)[4:]]
    assert len(answer_model_weights.weighted(rows, real=1, synthetic_share=1.0)) == len(rows)


def test_the_cascade_sweep_replays_the_answerers_decisions_and_the_abstention_rule():
    def pick(conf, accepted, f1=0.0, doc="d", start=0, end=5):
        return {"doc": doc, "start": start, "end": end, "conf": conf, "accepted": accepted, "f1": f1, "em": f1}

    sure = {"golds": ["x"], "fast": pick(0.9, True, 1.0), "strong": pick(0.9, True, 0.0)}
    unsure = {"golds": ["x"], "fast": pick(0.2, True, 0.0), "strong": pick(0.5, True, 1.0, start=40, end=45)}
    declined_same = {"golds": ["x"], "fast": pick(0.05, False, 0.5), "strong": pick(0.5, True, 1.0, start=3, end=9)}
    declined_elsewhere = {"golds": [], "fast": pick(0.05, False), "strong": pick(0.5, True, start=40, end=45)}
    agree, plain = cascade_sweep.cascade(0.3, agree=True), cascade_sweep.cascade(0.3, agree=False)
    assert agree(sure) is sure["fast"] and agree(unsure) is unsure["strong"]
    assert agree(declined_same) is declined_same["strong"]
    assert agree(declined_elsewhere) is None and plain(declined_elsewhere) is declined_elsewhere["strong"]
    m = cascade_sweep.measure([sure, unsure, declined_same, declined_elsewhere], agree)
    assert (m["F1"], m["answerable_declined"], m["declined"]) == (100.0, 0, 100.0)
    assert cascade_sweep.minilm_alone(0.1)(declined_same) is None
    # only a threshold declining >= 60 % of the unanswerable questions can be chosen; then the best F1
    assert cascade_sweep.choose([sure, unsure, declined_same], [declined_elsewhere]) == 0.25
    assert cascade_sweep.choose([sure], [declined_elsewhere], agree=False) == 0.0


def test_the_cascade_sweep_splits_answering_everything_by_whether_retrieval_found_the_answer():
    def pick(f1):
        return {"doc": "d", "start": 0, "end": 5, "conf": 0.1, "accepted": False, "f1": f1, "em": f1}

    rows = [{"golds": ["x"], "retrieved_gold": True, "fast": pick(1.0), "strong": pick(1.0)},
            {"golds": ["x"], "retrieved_gold": True, "fast": pick(0.0), "strong": pick(1.0)},
            {"golds": ["x"], "retrieved_gold": False, "fast": None, "strong": pick(0.0)},
            {"golds": [], "retrieved_gold": False, "fast": pick(0.0), "strong": pick(0.0)}]
    line = cascade_sweep.answering_everything("E", rows)
    assert "MiniLM F1 33.3 EM 33.3, MPNet F1 66.7" in line  # declined picks count; the unanswerable do not
    assert "holds the answer for 66.7 %: there F1 50.0 / 100.0, elsewhere 0.0 / 0.0" in line
    older_dump = [{k: v for k, v in rows[0].items() if k != "retrieved_gold"}]
    assert "holds the answer" not in cascade_sweep.answering_everything("E", older_dump)


def test_the_cascade_sweeps_learned_decision_keeps_sure_answers_and_thresholds_the_rest():
    from qa.answerer.ranker import LinearModel

    def pick(conf, accepted, start=0, end=5):
        return {"doc": "d", "start": start, "end": end, "conf": conf, "accepted": accepted, "f1": 1.0, "em": 1.0}

    trusts_agreement = LinearModel(cascade_sweep.JOINT_FEATURES, (0.0, 0.0, 10.0, 0.0, 0.0), (0.0,) * 5, (1.0,) * 5, -5.0)
    sure = {"golds": ["x"], "fast": pick(0.9, False), "strong": pick(0.9, True)}
    same = {"golds": ["x"], "fast": pick(0.1, False), "strong": pick(0.2, False, 2, 6)}
    elsewhere = {"golds": ["x"], "fast": pick(0.1, True), "strong": pick(0.9, True, 40, 45)}
    decide = cascade_sweep.joint(0.25, trusts_agreement, 0.5)
    assert decide(sure) is None  # MiniLM is sure of its decline
    assert decide(same) is same["strong"] and decide(elsewhere) is None
    assert cascade_sweep.joint_features(same)[2] == 1.0 and cascade_sweep.joint_features(elsewhere)[2] == 0.0


def test_fusion_rules_rank_candidates_and_recall_counts_the_first_gold():
    cands = [{"id": 0, "d": 0.30, "dr": 1, "s": 0.5, "sr": 3, "gold": False},
             {"id": 1, "d": 0.29, "dr": 2, "s": 0.9, "sr": 2, "gold": False},
             {"id": 2, "d": 0.10, "dr": 0, "s": 2.0, "sr": 1, "gold": True}]
    assert retrieval_fusion.rrf(60)(cands)[2] == pytest.approx(1 / 61)
    by_score = retrieval_fusion.convex(0.75, "max")(cands)
    assert by_score[2] == pytest.approx(0.75 * 0.10 + 0.25)
    rows = [{"cands": cands}]
    assert retrieval_fusion.recall(rows, retrieval_fusion.rrf(60)) == {1: 0.0, 3: 100.0, 5: 100.0}
    assert retrieval_fusion.recall(rows, retrieval_fusion.convex(0.5, "max"))[1] == 100.0  # 0.55 against 0.37


def test_ensemble_pick_weighs_each_reader_and_floors_a_span_one_cannot_score():
    spans = [{"text": "a", "p": [0.6, 0.1]}, {"text": "b", "p": [0.3, 0.8]}, {"text": "c", "p": [0.9, 0.0]}]
    assert ensemble_gold.pick(spans, 1.0) == "c"
    assert ensemble_gold.pick(spans, 0.0) == "b"
    assert ensemble_gold.pick(spans, 0.5) == "b"  # c: 0.0 for the second reader is floored, not log(0)
    assert ensemble_gold.pick([], 0.5) == ""


def test_titled_reader_moves_spans_back_to_the_passage_and_drops_the_title():
    from qa.reader.reader import ReaderOutput, ReaderSpan

    class Inner:
        def read(self, question, passages, passage_scores=None, top_n=None):
            self.seen = list(passages)
            first = passages[0]
            at = first.index("1,450")
            return ReaderOutput([ReaderSpan(0, 0, 6, first[:6], 0.5), ReaderSpan(0, at, at + 5, "1,450", 0.3),
                                 ReaderSpan(1, 0, 4, passages[1][:4], 0.1)], 0.1,
                                lambda i, s, e: float(s * 1000 + e))

    inner = Inner()
    reader = titled_passages.TitledReader(inner, {"The bike costs 1,450.": "Roamer", "Roamer rides.": "Roamer"})
    out = reader.read("How much?", ["The bike costs 1,450.", "Roamer rides."])
    assert inner.seen == ["Roamer\n\nThe bike costs 1,450.", "Roamer rides."]  # a passage led by its title keeps it
    assert [(c.passage_index, c.start, c.end) for c in out.candidates] == [(0, 15, 20), (1, 0, 4)]
    assert "The bike costs 1,450."[15:20] == "1,450"
    assert out.span_probability(0, 15, 20) == 23 * 1000 + 28  # asked of the inner reader where it read it

