"""Training that goes on from an earlier reader (``--init-from``): a tiny random BERT on a tiny SQuAD file."""
import itertools
import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from qa.training import train_reader as T  # noqa: E402
from qa.training import data as D  # noqa: E402
from qa.training.warm_start import Sample, WarmStartError, describe, draw, remaining  # noqa: E402

FACTS = [  # (subject, value): one paragraph and one question each, "What is the <subject>?"
    ("colour of the gate", "green"), ("height of the tower", "forty metres"), ("name of the ferry", "Marl"),
    ("age of the mill", "two centuries"), ("owner of the inn", "Ada Rusk"), ("length of the pier", "ninety feet"),
    ("date of the fair", "early May"), ("source of the stream", "Coldwell"), ("roof of the chapel", "slate"),
    ("weight of the bell", "one ton"), ("width of the road", "six metres"), ("builder of the bridge", "Tom Hale"),
]


def _squad(path, articles=("Harbour", "Valley", "Moor")):
    """A SQuAD 1.1 file: the facts dealt round the articles, a paragraph and a question each."""
    data = {a: [] for a in articles}
    for n, (subject, value) in enumerate(FACTS):
        context = f"The {subject} is {value}. Visitors often ask about it."
        qa = {"id": f"q{n}", "question": f"What is the {subject}?",
              "answers": [{"text": value, "answer_start": context.index(value)}]}
        data[articles[n % len(articles)]].append({"context": context, "qas": [qa]})
    doc = {"version": "1.1", "data": [{"title": t, "paragraphs": ps} for t, ps in data.items()]}
    path.write_text(json.dumps(doc))
    return str(path)


def _questions(n):
    return [D.Question(f"q{i}", f"question {i}?", ["x"], pid=i, answer_start=0) for i in range(n)]


def test_a_chain_of_runs_never_draws_a_question_twice():
    pool = _questions(50)
    earlier = [Sample(13, 20, 50), Sample(7, 10, 30)]
    left = remaining(pool, earlier)
    first = {q.qid for q in draw(pool, 20, 13)}
    second = {q.qid for q in draw([q for q in pool if q.qid not in first], 10, 7)}
    assert len(first) == 20 and len(second) == 10 and not first & second
    assert {q.qid for q in left} == {q.qid for q in pool} - first - second
    assert [q.qid for q in left] == [q.qid for q in pool if q.qid in {x.qid for x in left}]  # original order
    assert remaining(pool, [Sample(13, 20, None)]) == remaining(pool, [Sample(13, 20, 50)])  # before pools were kept
    assert remaining(pool, [Sample(13, None, 50)]) == []
    with pytest.raises(WarmStartError, match="drew its questions from 40 training questions, this data has 50"):
        remaining(pool, [Sample(13, 20, 40)])


def test_a_run_goes_on_from_an_earlier_reader_on_questions_it_did_not_read(tmp_path, make_tiny_model, monkeypatch):
    from qa.reader.model import SpanQAModel, load_compact

    seeds = itertools.count()  # every model made is a different random one
    monkeypatch.setattr(SpanQAModel, "from_config_dir", classmethod(lambda cls, *a, **kw: make_tiny_model(next(seeds))))
    data = _squad(tmp_path / "train.json")
    common = dict(heldout=["Moor"], evaluate=False, batch_questions=2, n_distractors=0, lr=1e-3)
    first = T.train_reader(data, str(tmp_path / "first"), seed=3, limit=4,
                           checkpoint=str(tmp_path / "first" / "checkpoint.pt"), **common)
    assert first["data"]["train_questions"] == 4 and first["hyperparameters"]["pool"] == 8

    # from the reader folder (its int8 weights) and from the training's last checkpoint (float32)
    for source in (tmp_path / "first", tmp_path / "first" / "checkpoint.pt"):
        out = tmp_path / f"second-{source.name}"
        second = T.train_reader(data, str(out), seed=5, limit=3, init_from=str(source), checkpoint=str(out / "ck.pt"),
                                **common)
        hyper = second["hyperparameters"]
        assert hyper["samples_before"] == [[3, 4, 8]] and hyper["pool"] == 4 and hyper["init_from"]["path"] == str(source)
        assert second["data"]["train_questions"] == 3
        assert second["training_time_total_s"] == pytest.approx(second["training_time_s"] + first["training_time_s"], abs=0.25)
        # a third run knows both samples and reads the one question left; a fourth has none
        assert [s.to_list() for s in describe(str(out)).samples] == [[3, 4, 8], [5, 3, 4]]
        third = out.parent / f"third-{source.name}"
        T.train_reader(data, str(third), seed=1, limit=1, init_from=str(out), checkpoint=str(third / "ck.pt"), **common)
        with pytest.raises(T.TrainingInputError, match="read every training question"):
            T.train_reader(data, str(tmp_path / "fourth"), seed=2, limit=1, init_from=str(third),
                           checkpoint=str(tmp_path / "fourth.pt"), **common)

    # the run started from the earlier weights, not from a fresh model: with a learning rate of 0
    # its weights are the earlier reader's
    still = T.train_reader(data, str(tmp_path / "still"), seed=5, limit=2, init_from=str(tmp_path / "first"),
                           checkpoint=str(tmp_path / "still.pt"), **dict(common, lr=0.0))
    assert still["data"]["train_questions"] == 2
    a, b = load_compact(str(tmp_path / "first")).state_dict(), load_compact(str(tmp_path / "still")).state_dict()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-2) for k in a)


def test_init_from_refuses_what_cannot_go_on_with_a_reason(tmp_path, capsys, make_tiny_model, monkeypatch):
    from qa.reader.model import SpanQAModel

    monkeypatch.setattr(SpanQAModel, "from_config_dir", classmethod(lambda cls, *a, **kw: make_tiny_model()))
    data = _squad(tmp_path / "train.json")
    T.train_reader(data, str(tmp_path / "first"), seed=3, limit=4, heldout=["Moor"], evaluate=False,
                   batch_questions=2, n_distractors=0)
    args = ["--data", data, "--device", "cpu", "--no-eval", "--limit", "2"]
    cases = [
        (["--init-from", str(tmp_path / "nowhere")], "no such checkpoint file or reader folder"),
        (["--init-from", str(tmp_path / "first"), "--base", "mpnet"], "--base mpnet differs from the earlier reader's base (minilm)"),
        (["--init-from", str(tmp_path / "first")], "another held-out split"),  # the data's own split differs
        (["--init-from", str(tmp_path / "first"), "--soup-seeds", "1,2"], "leave out --soup-seeds"),
    ]
    for extra, reason in cases:
        assert T.main(args + ["--out", str(tmp_path / "w")] + extra) == 2, extra
        assert reason in capsys.readouterr().err
    (tmp_path / "first" / "recipe.json").unlink()
    assert T.main(args + ["--out", str(tmp_path / "w"), "--init-from", str(tmp_path / "first")]) == 2
    assert "not a reader folder with weights and recipe.json" in capsys.readouterr().err


def test_an_unfinished_checkpoint_is_not_a_starting_point(tmp_path):
    path = tmp_path / "ck.pt"
    torch.save({"model": {}, "cfg": {"seed": 1, "limit": 2, "epochs": 1}, "stage": 0, "next_batch": 3}, path)
    with pytest.raises(WarmStartError, match="unfinished training: finish it with --resume first"):
        describe(str(path))
