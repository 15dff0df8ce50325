"""The reader's training loss: shared normalisation over all the passages of a question (see
:mod:`qa.training.train_reader`)."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch

from index.embedding import BF16_PAD_MULTIPLE

from qa.reader.reader import encode_pairs, span_token_bounds
from .distill import at_chars, distill_kl, load_teacher
from .examples import Example


def _token_labels(offsets: torch.Tensor, ctx: torch.Tensor, f: int, a0: int, a1: int) -> Tuple[int, int]:
    """Sequence positions of the answer's first and last tokens in window ``f``; ``(-1, -1)``
    when the window does not hold the whole answer."""
    idx = torch.nonzero(ctx[f]).flatten().tolist()
    off = offsets[f].tolist()
    bounds = span_token_bounds([off[t][0] for t in idx], [off[t][1] for t in idx], a0, a1)
    return (idx[bounds[0]], idx[bounds[1]]) if bounds else (-1, -1)


def batch_loss(model, exs: Sequence[Example], tokenizer, cfg: dict, device: str, bf16: bool = False):
    """Shared-normalisation loss of a batch; ``bf16``: matrix products under bfloat16 autocast
    (always on CUDA, as the shipped reader was trained; on a CPU with native bf16 when asked).

    With ``cfg["teacher_logits"]`` (a folder of :mod:`qa.training.distill` shards), a question
    the teacher read weighs ``distill_alpha`` of its loss on the teacher's start and end
    distributions over the gold passage (:func:`~qa.training.distill.distill_kl`, temperature
    ``distill_temperature``) and the rest on the gold span."""
    teacher = load_teacher(cfg["teacher_logits"]) if cfg.get("teacher_logits") else None
    alpha = float(cfg.get("distill_alpha") or 0.0)
    temperature = float(cfg.get("distill_temperature") or 1.0)
    qs, ps, owner = [], [], []
    for i, ex in enumerate(exs):
        for k, p in enumerate(ex.passages):
            qs.append(ex.question)
            ps.append(p)
            owner.append((i, k))
    on_cuda = device.startswith("cuda")
    # On CPU, oneDNN keeps bf16 kernels per input shape: padding to a multiple bounds the shapes.
    pad = BF16_PAD_MULTIPLE if bf16 and not on_cuda else None
    enc, sample, offsets, ctx = encode_pairs(tokenizer, qs, ps, cfg["max_seq_len"], cfg["doc_stride"],
                                             pad_to_multiple_of=pad)
    enc = {k: v.to(device) for k, v in enc.items()}
    with torch.autocast("cuda" if on_cuda else "cpu", dtype=torch.bfloat16, enabled=on_cuda or bf16):
        S, E = model(**enc)
    S, E = S.float(), E.float()
    ctx_d = ctx.to(device)
    feats_of: Dict[int, List[int]] = {}
    for f, pair in enumerate(sample):
        feats_of.setdefault(owner[pair][0], []).append(f)
    losses = []
    for i, ex in enumerate(exs):
        fs = feats_of[i]
        s_pos, e_pos = [], []
        start_vecs, end_vecs = [], []
        entry = teacher.get(ex.qid) if teacher is not None and ex.gold >= 0 else None
        gold_rows: List[Tuple[int, int]] = []  # (feature, position) of each gold-passage token, once
        seen_chars = set()
        base = 0
        for f in fs:
            pair_k = owner[sample[f]][1]
            cidx = torch.nonzero(ctx[f]).flatten()
            if entry is not None and pair_k == ex.gold:
                for t in cidx.tolist():
                    char = int(offsets[f][t][0])
                    if char not in seen_chars:  # overlapping windows read a token twice
                        seen_chars.add(char)
                        gold_rows.append((f, t))
            if pair_k == ex.gold and ex.ans_start >= 0:
                s, e = _token_labels(offsets, ctx, f, ex.ans_start, ex.ans_end)
                if s >= 0:
                    pos = {int(t): n for n, t in enumerate(cidx.tolist())}
                    s_pos.append(base + pos[s])
                    e_pos.append(base + pos[e])
            start_vecs.append(S[f][ctx_d[f]])
            end_vecs.append(E[f][ctx_d[f]])
            base += int(cidx.numel())
        null_s = S[fs, 0].mean().reshape(1)
        null_e = E[fs, 0].mean().reshape(1)
        sv = torch.cat(start_vecs + [null_s])
        ev = torch.cat(end_vecs + [null_e])
        if not s_pos:
            s_pos, e_pos = [base], [base]
        sp = torch.tensor(s_pos, device=sv.device)
        ep = torch.tensor(e_pos, device=sv.device)
        loss = (torch.logsumexp(sv, 0) - torch.logsumexp(sv[sp], 0)) + (torch.logsumexp(ev, 0) - torch.logsumexp(ev[ep], 0))
        loss = loss / 2
        if gold_rows and alpha > 0:
            rows = torch.tensor([f for f, _ in gold_rows], device=S.device)
            cols = torch.tensor([t for _, t in gold_rows], device=S.device)
            chars = offsets[[f for f, _ in gold_rows], [t for _, t in gold_rows]].numpy() + ex.gold_offset
            kl_s = distill_kl(S[rows, cols], null_s, at_chars(entry.start_chars, entry.start_logits, chars[:, 0]),
                              entry.null_start, temperature)
            kl_e = distill_kl(E[rows, cols], null_e, at_chars(entry.end_chars, entry.end_logits, chars[:, 1]),
                              entry.null_end, temperature)
            if kl_s is not None and kl_e is not None:
                loss = (1 - alpha) * loss + alpha * (kl_s + kl_e) / 2
        losses.append(loss)
    return torch.stack(losses).mean(), int(enc["input_ids"].numel())
