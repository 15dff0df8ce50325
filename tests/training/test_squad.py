"""SQuAD's official JSON format and the fixed held-out split (small files written for the test)."""
import json

import pytest

from qa.training import squad as S

V11 = {"version": "1.1", "data": [
    {"title": "Lakes", "paragraphs": [
        {"context": "Lake Orrin reaches 212 metres. Lake Tamsin is shallow.",
         "qas": [{"id": "q1", "question": "How deep is Lake Orrin?",
                  "answers": [{"text": "212 metres", "answer_start": 19}]},
                 {"id": "q2", "question": "Which lake is shallow?",
                  "answers": [{"text": "Lake Tamsin", "answer_start": 31}]}]}]},
    {"title": "Rivers:_Sull", "paragraphs": [
        {"context": "The Sull reaches the sea at Carrow.",
         "qas": [{"id": "q3", "question": "Where does the Sull reach the sea?",
                  "answers": [{"text": "Carrow", "answer_start": 28}]}]}]},
]}
V20 = {"version": "v2.0", "data": [
    {"title": "Lakes", "paragraphs": [
        {"context": "Lake Orrin reaches 212 metres. Lake Tamsin is shallow.",
         "qas": [{"id": "u1", "question": "Who owns Lake Tamsin?", "answers": [], "is_impossible": True,
                  "plausible_answers": [{"text": "Lake Tamsin", "answer_start": 31}]},
                 {"id": "q1", "question": "How deep is Lake Orrin?", "is_impossible": False,
                  "answers": [{"text": "212 metres", "answer_start": 19}]}]}]}]}


def _folder(tmp_path, v20=True):
    (tmp_path / S.V11_FILE).write_text(json.dumps(V11))
    if v20:
        (tmp_path / S.V20_FILE).write_text(json.dumps(V20))
    return str(tmp_path)


def test_paragraphs_and_answer_offsets_come_from_the_file(tmp_path):
    paragraphs, questions = S.load_squad_dir(_folder(tmp_path, v20=False))
    assert [(p.article, p.text[:10]) for p in paragraphs] == [("Lakes", "Lake Orrin"), ("Rivers:_Sull", "The Sull r")]
    for q in questions:
        p = paragraphs[q.pid].text
        assert p[q.answer_start:q.answer_start + len(q.answers[0])] == q.answers[0]
    assert [q.qid for q in questions] == ["q1", "q2", "q3"]


def test_the_v2_sample_adds_only_its_unanswerable_questions_to_the_same_paragraph(tmp_path):
    paragraphs, questions = S.load_squad_dir(_folder(tmp_path))
    assert len(paragraphs) == 2
    assert [(q.qid, q.answers, q.pid, q.answer_start) for q in questions if not q.answers] == [("u1", [], 0, -1)]
    assert [q.qid for q in questions].count("q1") == 1


def test_a_wrong_offset_or_field_is_refused(tmp_path):
    bad = json.loads(json.dumps(V11))
    bad["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(S.SquadFormatError, match="q1: answer_start 3 does not point at '212 metres'"):
        S.load_squad(str(tmp_path / "bad.json"))
    (tmp_path / "other.json").write_text('{"rows": []}')
    with pytest.raises(S.SquadFormatError, match="no top-level 'data' list"):
        S.load_squad(str(tmp_path / "other.json"))


def test_the_heldout_split_is_fixed_by_its_seed_and_holds_out_one_article_with_unanswerable_questions():
    titles = [f"T{i:03d}" for i in range(100)]
    first = S.heldout_articles(titles, 10, seed=1, unanswerable=["T005", "T050"])
    assert first == S.heldout_articles(list(reversed(titles)), 10, seed=1, unanswerable=["T050", "T005"])
    assert len(first) == 10 and len(set(first)) == 10
    assert len({"T005", "T050"} & set(first)) == 1
    assert S.heldout_articles(titles, 10, seed=2) != S.heldout_articles(titles, 10, seed=1)


def test_written_corpus_files_hold_the_paragraphs_under_safe_names(tmp_path):
    paragraphs, _ = S.load_squad_dir(_folder(tmp_path, v20=False))
    ids = S.write_corpus(paragraphs, ["Rivers:_Sull"], str(tmp_path / "corpus"))
    assert ids == {1: "Rivers__Sull/0000.txt"}
    assert (tmp_path / "corpus" / ids[1]).read_text() == "Rivers: Sull\n\nThe Sull reaches the sea at Carrow.\n"
