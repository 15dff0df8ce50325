"""Compute a teacher reader's span logits over the gold paragraph of each training question, once,
for distillation (:mod:`qa.training.distill`; ``qa train-reader --teacher-logits FOLDER``).

    python -m qa.training.teacher_logits --teacher DIR --out FOLDER [--limit N --seed S]

The questions are those ``qa train-reader`` with the same ``--limit`` and ``--seed`` trains on.
They are written in shards of ``--shard-size`` questions; a run stopped part-way goes on from the
first shard missing when started again (a shard is written whole or not at all).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional, Sequence

import numpy as np
import torch

from index.embedding import use_bf16
from qa.reader.model import weights_file
from qa.reader.reader import SpanReader, encode_pairs
from .distill import SHARD_PREFIX, TeacherSpans, save_shard
from .log import log
from .train_reader import DEFAULT_DATA, DEFAULTS, input_problem, prepare
from .warm_start import draw


def _best_by_char(chars: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique character positions, sorted, each with its largest logit (windows overlap)."""
    order = np.lexsort((-logits, chars))
    chars, logits = chars[order], logits[order]
    first = np.ones(len(chars), dtype=bool)
    first[1:] = chars[1:] != chars[:-1]
    return chars[first].astype(np.int32), logits[first].astype(np.float32)


@torch.no_grad()
def teacher_spans(model, tokenizer, questions: Sequence[str], paragraphs: Sequence[str], *, max_seq_len: int = 384,
                  doc_stride: int = 128, device: str = "cpu", bf16: bool = False) -> List[TeacherSpans]:
    """The teacher's logits for each (question, paragraph): start logits by the character where
    each paragraph token starts, end logits by where it ends, and the no-answer logits (the first
    token's, averaged over the windows, as the training loss has them). ``bf16`` runs the teacher
    under bfloat16 autocast (always on a GPU)."""
    enc, sample, offsets, ctx = encode_pairs(tokenizer, questions, paragraphs, max_seq_len, doc_stride)
    enc = {k: v.to(device) for k, v in enc.items()}
    cuda = device.startswith("cuda")
    with torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=cuda or bf16):
        S, E = model(**enc)
    S, E = S.float().cpu(), E.float().cpu()
    out = []
    for i in range(len(questions)):
        feats = [f for f, pair in enumerate(sample) if pair == i]
        starts, ends, s_logits, e_logits = [], [], [], []
        for f in feats:
            mask = ctx[f]
            starts.append(offsets[f][mask][:, 0].numpy())
            ends.append(offsets[f][mask][:, 1].numpy())
            s_logits.append(S[f][mask].numpy())
            e_logits.append(E[f][mask].numpy())
        sc, sl = _best_by_char(np.concatenate(starts), np.concatenate(s_logits))
        ec, el = _best_by_char(np.concatenate(ends), np.concatenate(e_logits))
        out.append(TeacherSpans(sc, sl, ec, el, float(S[feats, 0].mean()), float(E[feats, 0].mean())))
    return out


def compute(teacher: str, out: str, data_dir: str = DEFAULT_DATA, limit: Optional[int] = DEFAULTS["limit"],
            seed: int = DEFAULTS["seed"], device: str = "cpu", batch: int = 16, shard_size: int = 2000,
            max_seq_len: int = 384, doc_stride: int = 128, bf16: bool = False) -> int:
    """Write the teacher's logits for the training questions into ``out``; returns how many
    questions it read in this run (those of shards already written are skipped). A shard's
    questions are read in batches of similar paragraph length, so little of a batch is padding."""
    paragraphs, _, _, train_q, _, _ = prepare(data_dir, None)
    questions = draw(train_q, limit, seed)
    reader = SpanReader(teacher, device=device).load()  # any base: the weights name theirs
    model, tokenizer = reader.model, reader.tokenizer
    os.makedirs(out, exist_ok=True)
    shards = range(0, len(questions), shard_size)
    todo = [s for s in shards if not os.path.exists(os.path.join(out, f"{SHARD_PREFIX}{s // shard_size:05d}.npz"))]
    log(f"{len(questions)} questions in {len(shards)} shards, {len(todo)} to compute, device={device} "
        f"threads={torch.get_num_threads()}")
    started, done = time.time(), 0
    total = sum(len(questions[s:s + shard_size]) for s in todo)
    for s in todo:
        part = sorted(questions[s:s + shard_size], key=lambda q: len(paragraphs[q.pid].text))
        entries = {}
        for b in range(0, len(part), batch):
            chunk = part[b:b + batch]
            spans = teacher_spans(model, tokenizer, [q.question for q in chunk], [paragraphs[q.pid].text for q in chunk],
                                  max_seq_len=max_seq_len, doc_stride=doc_stride, device=device, bf16=bf16)
            entries.update({q.qid: sp for q, sp in zip(chunk, spans)})
            done += len(chunk)
            rate = (time.time() - started) / done
            if done % (batch * 20) < batch or done == total:
                log(f"{done}/{total} questions, {rate * 1000:.0f} ms each, eta {rate * (total - done) / 60:.1f} min")
        save_shard(os.path.join(out, f"{SHARD_PREFIX}{s // shard_size:05d}.npz"), entries)
    return done


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.training.teacher_logits", description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", required=True, help="folder of the teacher reader's weights (any base)")
    ap.add_argument("--out", required=True, help="folder of the logit shards")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, help="the questions of qa train-reader --limit N (default: %d; 0: all)"
                    % DEFAULTS["limit"])
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="the questions of qa train-reader --seed S")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=16, help="questions per forward pass")
    ap.add_argument("--shard-size", type=int, default=2000)
    ap.add_argument("--threads", type=int, help="torch.set_num_threads for this process")
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="bfloat16 autocast on a CPU: auto = where the CPU multiplies bf16 natively")
    a = ap.parse_args(argv)
    problem = input_problem(a.data, None, a.device)
    if not problem and not os.path.isfile(weights_file(a.teacher)):  # whole, or a delta to its base
        problem = f"--teacher: no reader weights in {a.teacher}"
    if not problem and (a.batch < 1 or a.shard_size < 1):
        problem = "--batch and --shard-size must be positive"
    if problem:
        print(f"teacher_logits: {problem}", file=sys.stderr)
        return 2
    if a.threads:
        torch.set_num_threads(a.threads)
    limit = DEFAULTS["limit"] if a.limit is None else (a.limit or None)
    compute(a.teacher, a.out, a.data, limit, a.seed, a.device, a.batch, a.shard_size, bf16=use_bf16(a.bf16))
    return 0


if __name__ == "__main__":
    sys.exit(main())
