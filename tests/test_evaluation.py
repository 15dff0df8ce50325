import json

import pytest

from qa.evaluation import (EvalFileError, evaluate, exact_match, is_hit, load_eval_file, normalize_answer, token_f1)
from qa.models import Answer


def test_squad_normalisation():
    assert normalize_answer("The  Harbour-Board!") == "harbourboard"
    assert normalize_answer("an Apple a day") == "apple day"


def test_em_f1_and_hit():
    assert exact_match("the Board", ["board"]) == 1.0
    assert token_f1("Maria Lindqvist", ["Lindqvist"]) == pytest.approx(2 / 3)
    assert token_f1(None, ["x"]) == 0.0
    assert is_hit("chair Maria Lindqvist", ["Maria Lindqvist"])
    assert not is_hit("one two three four five Maria Lindqvist", ["Maria Lindqvist"])
    assert not is_hit("Marian", ["Maria"])


def test_load_questions_and_chats(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(
        json.dumps({"id": "d01", "question": "Who?", "answers": ["X"]}) + "\n\n"
        + json.dumps({"id": "n01", "question": "Why?", "answers": []}) + "\n"
        + json.dumps({"id": "c1", "turns": [{"q": "A?", "answers": ["a"]}, {"q": "B?", "answers": []}]}) + "\n",
        encoding="utf-8",
    )
    items = load_eval_file(path)
    assert [(i.id, i.category, i.conversation, i.turn) for i in items] == [
        ("d01", "d", None, 0), ("n01", "n", None, 0), ("c1.1", "chat", "c1", 0), ("c1.2", "chat", "c1", 1),
    ]


def test_bad_eval_file(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(EvalFileError, match="bad.jsonl:1"):
        load_eval_file(path)
    with pytest.raises(EvalFileError, match="cannot read"):
        load_eval_file(tmp_path / "missing.jsonl")


def test_evaluate_scores_each_item(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text(
        "\n".join(json.dumps(r) for r in [
            {"id": "a1", "question": "q1", "answers": ["Oslo"]},
            {"id": "a2", "question": "q2", "answers": ["March 2021"]},
            {"id": "n1", "question": "q3", "answers": []},
        ]),
        encoding="utf-8",
    )
    replies = {
        "q1": (Answer("q1", "Oslo", True, 0.9), ["She will speak in Oslo."]),
        "q2": (Answer.not_found("q2"), ["nothing relevant"]),
        "q3": (Answer.not_found("q3"), []),
    }
    report = evaluate(load_eval_file(path), lambda item: replies[item.question])
    assert report.categories["a"].hit_rate == 50.0
    assert report.categories["a"].false_abstentions == 1
    assert report.categories["a"].retrieval_recall == 50.0
    assert report.categories["n"].abstention_accuracy == 100.0
    assert report.overall.em == 50.0


def test_percentile_interpolates_and_handles_no_values():
    from qa.evaluation import percentile

    assert percentile([], 0.5) == 0.0
    assert percentile([5.0], 0.99) == 5.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9) == pytest.approx(4.6)
