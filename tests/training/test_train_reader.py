"""The reader's training examples and loss (a tiny random BERT; no trained weights)."""
import os
import random
import time

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qa.reader.reader import encode_pairs  # noqa: E402
from qa.training import data as D  # noqa: E402
from qa.training import train_reader as T  # noqa: E402
from qa.training import fit as F  # noqa: E402
from qa.training import soup as S  # noqa: E402
from qa.training.checkpoint import Checkpointer, load_checkpoint, started_at  # noqa: E402
from qa.training.examples import build_epoch, hard_distractors  # noqa: E402
from qa.training.loss import _token_labels, batch_loss  # noqa: E402

PARAGRAPHS = [
    D.Paragraph(0, "Lakes", "000.txt", "Lakes", "Lake Orrin is the deepest lake in the valley. It reaches 212 metres. "
                "Fishermen visit it in spring. The town of Pell sits on its northern shore."),
    D.Paragraph(1, "Lakes", "001.txt", "Lakes", "Lake Tamsin is shallow. Reeds grow along its banks. Herons nest there "
                "every summer. A wooden pier was built in 1931."),
    D.Paragraph(2, "Lakes", "002.txt", "Lakes", "The valley has three lakes. Their water feeds the river Sull. "
                "The river reaches the sea at Carrow."),
]


def _question(qid, text, answer, pid):
    return D.Question(qid, text, [answer] if answer else [], pid=pid,
                      answer_start=PARAGRAPHS[pid].text.index(answer) if answer else -1)


QUESTIONS = [
    _question("a", "How deep is Lake Orrin?", "212 metres", 0),
    _question("b", "When was the pier built?", "1931", 1),
    _question("c", "Which river do the lakes feed?", "Sull", 2),
    _question("d", "Who owns the pier?", "", 1),
]


def _epoch(seed, **cfg):
    by_article = {"Lakes": [0, 1, 2]}
    hard = hard_distractors(QUESTIONS, PARAGRAPHS, by_article)
    return build_epoch(QUESTIONS, PARAGRAPHS, hard, by_article, random.Random(seed), dict(T.DEFAULTS, **cfg))


def test_examples_keep_the_answer_at_its_offsets_in_cropped_passages():
    for seed in range(20):
        for ex, q in zip(_epoch(seed, crop_prob=1.0, crop_words=(5, 12), n_distractors=2), QUESTIONS):
            assert len(ex.passages) == 3
            if q.answers:
                assert ex.passages[ex.gold][ex.ans_start:ex.ans_end] == q.answers[0]
                assert len(ex.passages[ex.gold].split()) < len(PARAGRAPHS[q.pid].text.split())
            else:
                assert ex.ans_start == ex.ans_end == -1
    first = [(e.passages, e.gold) for e in _epoch(3)]
    assert first == [(e.passages, e.gold) for e in _epoch(3)]


def test_distractors_only_examples_target_no_answer():
    exs = _epoch(1, n_distractors=1, neg_passage_prob=1.0)
    assert all(e.gold == -1 and e.ans_start == -1 for e in exs)
    assert all(PARAGRAPHS[q.pid].text not in e.passages for e, q in zip(exs, QUESTIONS))


@pytest.mark.parametrize("bf16", [False, True])
def test_loss_is_finite_learns_and_labels_the_answer_tokens(tokenizer, make_tiny_model, bf16):
    model = make_tiny_model()
    exs = _epoch(0, crop_prob=0.0, n_distractors=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss, ntok = batch_loss(model, exs, tokenizer, dict(T.DEFAULTS), "cpu", bf16)
        assert torch.isfinite(loss) and ntok > 0
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    ex = exs[0]
    enc, _, offsets, ctx = encode_pairs(tokenizer, [ex.question], [ex.passages[ex.gold]], 192, 64)
    s, e = _token_labels(offsets, ctx, 0, ex.ans_start, ex.ans_end)
    assert ex.passages[ex.gold][int(offsets[0][s][0]):int(offsets[0][e][1])] == "212 metres"


def test_trainer_refuses_bad_inputs_with_a_reason(tmp_path, capsys):
    assert T.main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "w")]) == 2
    assert f"no SQuAD data at {tmp_path / 'missing'}" in capsys.readouterr().err
    (tmp_path / "corpus" / "Lakes").mkdir(parents=True)
    (tmp_path / "questions.jsonl").write_text("")
    data = ["--data", str(tmp_path), "--out", str(tmp_path / "w"), "--device", "cpu"]
    assert T.main(data + ["--synthetic-file", str(tmp_path / "nope.jsonl")]) == 2
    assert "cannot read --synthetic-file" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text('{"question": "no other fields"}\n')
    assert T.main(data + ["--synthetic-file", str(tmp_path / "bad.jsonl")]) == 2
    assert "not a file of synthetic questions" in capsys.readouterr().err
    for p in ("-0.1", "1"):
        assert T.main(data + ["--attention-dropout", p]) == 2
        assert "--attention-dropout must be at least 0 and below 1" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_unanswerable_questions_are_read_beside_their_paragraph_with_no_answer():
    (ex,) = _epoch(0, crop_prob=0.0, n_distractors=1)[3:]
    assert ex.ans_start == ex.ans_end == -1
    assert PARAGRAPHS[QUESTIONS[3].pid].text in ex.passages  # the paragraph is there; it does not answer


def test_a_soup_is_the_mean_of_its_members_weights():
    a = {"w": torch.tensor([1.0, 3.0]), "b": torch.tensor([0.5], dtype=torch.float16), "ids": torch.tensor([0, 1])}
    b = {"w": torch.tensor([3.0, 5.0]), "b": torch.tensor([1.5], dtype=torch.float16), "ids": torch.tensor([0, 1])}
    soup = S.average_states([a, b])
    assert torch.equal(soup["w"], torch.tensor([2.0, 4.0]))
    assert soup["b"].dtype == torch.float16 and float(soup["b"]) == 1.0
    assert torch.equal(soup["ids"], a["ids"])
    with pytest.raises(ValueError):
        S.average_states([])


@pytest.mark.parametrize("seeds, reason", [("7", "at least two different seeds"), ("7,7", "at least two different"),
                                           ("7,x", "comma-separated integer seeds")])
def test_soup_seeds_are_checked_before_training(tmp_path, capsys, seeds, reason):
    with pytest.raises(SystemExit) as exit_:
        T.main(["--out", str(tmp_path / "w"), "--soup-seeds", seeds])
    assert exit_.value.code == 2 and reason in capsys.readouterr().err
    assert not (tmp_path / "w").exists()
    assert T._seed_list("13,7") == [13, 7]


@pytest.mark.parametrize("args, reason", [
    (["--no-soup", "--member-workers", "2"], "is for a soup"),
    (["--no-soup", "--soup-seeds", "13,7"], "contradict each other"),
    (["--soup-seeds", "13,7", "--member-workers", "0"], "--member-workers must be at least 1"),
])
def test_soup_options_are_checked_before_training(tmp_path, capsys, args, reason):
    (tmp_path / "corpus" / "Lakes").mkdir(parents=True)
    (tmp_path / "questions.jsonl").write_text("")
    assert T.main(["--data", str(tmp_path), "--out", str(tmp_path / "w"), "--device", "cpu"] + args) == 2
    assert reason in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_soup_members_in_worker_processes_match_members_trained_here(tmp_path, tokenizer):
    """Worker processes (spawned, the real base model) train the same members as this process does
    on as many threads."""
    by_article = {"Lakes": [0, 1, 2]}
    hard = hard_distractors(QUESTIONS, PARAGRAPHS, by_article)
    cfg = dict(T.DEFAULTS, batch_questions=4, crop_prob=0.0, attention_dropout=0.0)
    stages = [(QUESTIONS, "crowd")]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here, _, _ = S.train_members([1, 2], stages, tokenizer, PARAGRAPHS, hard, by_article, cfg, "cpu", False, 0.0,
                                     1, str(tmp_path))
    finally:
        torch.set_num_threads(threads)
    there, times, _ = S.train_members([1, 2], stages, tokenizer, PARAGRAPHS, hard, by_article, cfg, "cpu", False, 0.0,
                                      1, str(tmp_path), workers=2)
    assert len(times) == 2 and all(len(t) == 1 for t in times)
    for a, b in zip(here, there):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(there[0]["qa_outputs.weight"], there[1]["qa_outputs.weight"])


def test_soup_members_train_one_per_cpu_thread_unless_told():
    threads = torch.get_num_threads()
    assert S.member_worker_count(None, 2, "cpu") == min(2, threads)
    assert S.member_worker_count(None, 2, "cuda") == 1
    assert S.member_worker_count(8, 3, "cpu") == 3 and S.member_worker_count(1, 3, "cpu") == 1


def _fit(tokenizer, stages, cfg, checkpointer=None, resume=None, t0=None):
    by_article = {"Lakes": [0, 1, 2]}
    hard = hard_distractors(QUESTIONS, PARAGRAPHS, by_article)
    return F.fit_one(5, stages, tokenizer, PARAGRAPHS, hard, by_article, cfg, "cpu", False, [], time.time() if t0 is None else t0,
                     checkpointer=checkpointer, resume=resume)


class _Stop(Exception):
    pass


def test_a_resumed_training_ends_with_the_weights_of_one_that_never_stopped(tmp_path, tokenizer, make_tiny_model,
                                                                            monkeypatch):
    """A checkpoint mid-epoch (dropout on, so torch's random state matters) and one between epochs:
    going on from either gives the same weights, bit for bit, as training straight through."""
    from qa.reader.model import SpanQAModel

    monkeypatch.setattr(SpanQAModel, "from_config_dir", classmethod(lambda cls, **kw: make_tiny_model()))
    cfg = dict(T.DEFAULTS, batch_questions=1, crop_prob=0.5, lr=3e-3, n_distractors=1)
    stages = [(QUESTIONS, "crowd"), (QUESTIONS, "crowd")]  # 4 steps an epoch, 8 in all
    straight, _, _, steps = _fit(tokenizer, stages, cfg)
    assert steps == 8
    for stop_at in (3, 4, 6):
        path = str(tmp_path / f"ck{stop_at}.pt")
        saver = Checkpointer(path, every_steps=1)
        real_save = saver.save

        def save_then_stop(state, real_save=real_save, stop_at=stop_at):
            real_save(state)
            if state["step"] == stop_at:
                raise _Stop

        saver.save = save_then_stop
        with pytest.raises(_Stop):
            _fit(tokenizer, stages, cfg, saver)
        state = load_checkpoint(path, "cpu")
        assert state["step"] == stop_at
        resumed, _, _, steps = _fit(tokenizer, stages, cfg, Checkpointer(None), state)
        assert steps == 8
        a, b = straight.state_dict(), resumed.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), f"stopped at step {stop_at}"


def test_a_resumed_training_counts_the_time_of_the_runs_before(tmp_path, tokenizer, make_tiny_model, monkeypatch):
    from qa.reader.model import SpanQAModel

    monkeypatch.setattr(SpanQAModel, "from_config_dir", classmethod(lambda cls, **kw: make_tiny_model()))
    cfg = dict(T.DEFAULTS, batch_questions=1, n_distractors=1)
    stages = [(QUESTIONS, "crowd")]
    saved = []
    saver = Checkpointer(str(tmp_path / "ck.pt"), every_steps=1)
    saver.save = saved.append
    _fit(tokenizer, stages, cfg, saver)
    state = dict(saved[1], elapsed=3600.0)  # an hour spent before the stop
    saved.clear()
    _fit(tokenizer, stages, cfg, saver, state, t0=started_at(state))
    assert saved and all(3600.0 <= s["elapsed"] < 3600.0 + 300 for s in saved)


def test_resume_without_a_checkpoint_is_refused_with_a_reason(tmp_path, capsys):
    data = tmp_path / "squad.json"
    data.write_text('{"version": "1.1", "data": []}')
    assert T.main(["--data", str(data), "--out", str(tmp_path / "w"), "--device", "cpu", "--no-soup",
                   "--resume"]) == 2
    assert f"--resume: no checkpoint at {tmp_path / 'w' / 'checkpoint.pt'}" in capsys.readouterr().err


def test_a_checkpoint_makes_its_folder(tmp_path):
    path = tmp_path / "not-yet" / "checkpoint.pt"
    Checkpointer(str(path), every_steps=1).save({"step": 3, "weights": torch.zeros(2)})
    assert torch.load(path, weights_only=False)["step"] == 3
