"""Distillation: teacher logits kept by character, matched to the student's tokens, and the loss."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from qa.training import train_reader as T  # noqa: E402
from qa.training.distill import TeacherSpans, at_chars, distill_kl, load_teacher, read_shard, save_shard  # noqa: E402
from qa.training.examples import Example  # noqa: E402
from qa.training.loss import batch_loss  # noqa: E402
from qa.training.teacher_logits import teacher_spans  # noqa: E402

PASSAGE = "The lighthouse at Kestrel Point was rebuilt in 1874 by the harbour board, after a storm."


def test_teacher_logits_are_found_by_character_and_missing_ones_are_nan():
    chars = np.array([0, 4, 15], dtype=np.int32)
    logits = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    found = at_chars(chars, logits, np.array([4, 5, 15, 40, 0]))
    assert found[0] == 2.0 and found[2] == 3.0 and found[4] == 1.0
    assert np.isnan(found[1]) and np.isnan(found[3])
    assert np.isnan(at_chars(chars[:0], logits[:0], np.array([1]))).all()


def test_the_divergence_is_zero_for_the_same_distribution_and_skips_unknown_tokens():
    student = torch.tensor([1.0, 2.0, 0.5])
    same = distill_kl(student, torch.tensor(0.3), np.array([1.0, 2.0, 0.5], dtype=np.float32), 0.3, 2.0)
    assert abs(float(same)) < 1e-6
    other = distill_kl(student, torch.tensor(0.3), np.array([3.0, np.nan, 0.0], dtype=np.float32), 0.3, 2.0)
    assert float(other) > 0
    shifted = distill_kl(student, torch.tensor(0.3), np.array([5.0, np.nan, 4.5], dtype=np.float32), 4.3, 2.0)
    assert abs(float(shifted)) < 1e-5  # the middle token is left out, a constant shift changes nothing
    assert distill_kl(student, torch.tensor(0.0), np.full(3, np.nan, dtype=np.float32), 0.0, 1.0) is None


def test_shards_round_trip_and_an_empty_folder_is_an_error(tmp_path):
    spans = TeacherSpans(np.array([0, 4], np.int32), np.array([0.5, -1.0], np.float32),
                         np.array([3, 9], np.int32), np.array([2.0, 1.0], np.float32), -0.5, -0.25)
    save_shard(str(tmp_path / "teacher-00000.npz"), {"q1": spans})
    back = read_shard(str(tmp_path / "teacher-00000.npz"))["q1"]
    assert back.start_chars.tolist() == [0, 4] and back.end_logits.tolist() == [2.0, 1.0]
    assert (back.null_start, back.null_end) == (-0.5, -0.25)
    assert list(tmp_path.iterdir()) == [tmp_path / "teacher-00000.npz"]  # nothing temporary left
    with pytest.raises(FileNotFoundError, match="no teacher logits"):
        load_teacher(str(tmp_path / "missing"))
    assert T.distill_problem(str(tmp_path / "missing"), None, None).startswith("--teacher-logits")
    assert T.distill_problem(str(tmp_path), 1.5, None).startswith("--distill-alpha")
    assert T.distill_problem(None, None, 0.0).startswith("--distill-temperature")
    assert T.distill_problem(str(tmp_path), 0.5, 2.0) is None


def test_teacher_logits_cover_each_character_once_over_overlapping_windows(tokenizer, make_tiny_model):
    long = " ".join([PASSAGE] * 6)
    [spans] = teacher_spans(make_tiny_model(1), tokenizer, ["When was the lighthouse rebuilt?"], [long],
                            max_seq_len=64, doc_stride=16)
    assert spans.start_chars.tolist() == sorted(set(spans.start_chars.tolist()))
    assert long[spans.start_chars[0]:].startswith("The") and len(spans.start_chars) > 60
    assert spans.end_chars.max() == len(long)
    [low] = teacher_spans(make_tiny_model(1), tokenizer, ["When was the lighthouse rebuilt?"], [long],
                          max_seq_len=64, doc_stride=16, bf16=True)
    assert np.array_equal(low.start_chars, spans.start_chars)  # bf16: the same places, logits nearly equal
    assert np.allclose(low.start_logits, spans.start_logits, atol=0.1) and not np.array_equal(low.start_logits,
                                                                                                spans.start_logits)


def test_a_student_that_matches_its_teacher_keeps_only_the_span_loss(tmp_path, tokenizer, make_tiny_model):
    model = make_tiny_model(2).eval()  # no dropout: the same logits twice
    start = PASSAGE.index("1874")
    example = Example("When was the lighthouse rebuilt?", [PASSAGE], 0, start, start + 4, "q1")
    cfg = dict(T.DEFAULTS)
    plain, _ = batch_loss(model, [example], tokenizer, cfg, "cpu")
    [spans] = teacher_spans(model, tokenizer, [example.question], [PASSAGE], max_seq_len=cfg["max_seq_len"],
                            doc_stride=cfg["doc_stride"])
    save_shard(str(tmp_path / "teacher-00000.npz"), {"q1": spans})
    taught, _ = batch_loss(model, [example], tokenizer, dict(cfg, teacher_logits=str(tmp_path), distill_alpha=0.25), "cpu")
    assert float(taught.detach()) == pytest.approx(0.75 * float(plain.detach()), rel=1e-4)  # the divergence from itself is 0

    other = tmp_path / "other"
    [theirs] = teacher_spans(make_tiny_model(3), tokenizer, [example.question], [PASSAGE],
                             max_seq_len=cfg["max_seq_len"], doc_stride=cfg["doc_stride"])
    other.mkdir()
    save_shard(str(other / "teacher-00000.npz"), {"q1": theirs})
    learned, _ = batch_loss(model, [example], tokenizer, dict(cfg, teacher_logits=str(other), distill_alpha=0.25), "cpu")
    assert float(learned.detach()) > float(taught.detach())
    learned.backward()
    assert model.qa_outputs.weight.grad.abs().sum() > 0


def test_a_cropped_passage_is_matched_to_the_teacher_at_its_place_in_the_paragraph(tmp_path, tokenizer,
                                                                                  make_tiny_model):
    model = make_tiny_model(2).eval()
    offset = len("An opening sentence of the paragraph. ")
    start = PASSAGE.index("1874")
    cfg = dict(T.DEFAULTS, teacher_logits=str(tmp_path), distill_alpha=0.25)
    [spans] = teacher_spans(model, tokenizer, ["When was the lighthouse rebuilt?"], [PASSAGE],
                            max_seq_len=cfg["max_seq_len"], doc_stride=cfg["doc_stride"])
    in_paragraph = TeacherSpans(spans.start_chars + offset, spans.start_logits, spans.end_chars + offset,
                                spans.end_logits, spans.null_start, spans.null_end)
    save_shard(str(tmp_path / "teacher-00000.npz"), {"q1": in_paragraph})
    plain, _ = batch_loss(model, [Example("When was the lighthouse rebuilt?", [PASSAGE], 0, start, start + 4, "q1")],
                          tokenizer, dict(T.DEFAULTS), "cpu")
    placed = Example("When was the lighthouse rebuilt?", [PASSAGE], 0, start, start + 4, "q1", gold_offset=offset)
    misplaced = Example("When was the lighthouse rebuilt?", [PASSAGE], 0, start, start + 4, "q1", gold_offset=0)
    assert float(batch_loss(model, [placed], tokenizer, cfg, "cpu")[0].detach()) == \
        pytest.approx(0.75 * float(plain.detach()), rel=1e-4)
    assert float(batch_loss(model, [misplaced], tokenizer, cfg, "cpu")[0].detach()) != \
        pytest.approx(0.75 * float(plain.detach()), rel=1e-4)
