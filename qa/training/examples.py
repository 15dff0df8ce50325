"""The reader's training examples: each question read with distractor paragraphs of its article
(BM25-hard or random), passages randomly cropped to a few sentences like retrieval chunks, and
the examples' batches."""
from __future__ import annotations

import random
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import data as D


# --------------------------------------------------------------------------- cropping

_SENT_RE = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])")


def crop_sentences(text: str) -> List[Tuple[int, int]]:
    """Character spans of the sentences of ``text`` by punctuation (cropping needs no parser)."""
    spans, s = [], 0
    for m in _SENT_RE.finditer(text):
        spans.append((s, m.start()))
        s = m.end()
    spans.append((s, len(text)))
    return [(a, b) for a, b in spans if b > a]


def crop_passage(text: str, rng: random.Random, max_words: int,
                 must: Optional[Tuple[int, int]] = None) -> Tuple[str, int]:
    """Window of consecutive sentences (<= max_words words, at least one
    sentence) that contains char span `must`. Returns (cropped, offset)."""
    sents = crop_sentences(text)
    if len(sents) <= 1:
        return text, 0
    if must is not None:
        inside = [i for i, (a, b) in enumerate(sents) if a <= must[0] < b or a < must[1] <= b]
        if not inside:
            return text, 0
        lo, hi = min(inside), max(inside)
    else:
        lo = hi = rng.randrange(len(sents))
    words = lambda i, j: len(text[sents[i][0]:sents[j][1]].split())
    while True:
        opts = []
        if lo > 0 and words(lo - 1, hi) <= max_words:
            opts.append((lo - 1, hi))
        if hi < len(sents) - 1 and words(lo, hi + 1) <= max_words:
            opts.append((lo, hi + 1))
        if not opts:
            break
        lo, hi = rng.choice(opts)
    a, b = sents[lo][0], sents[hi][1]
    return text[a:b], a


# --------------------------------------------------------------------------- examples

class Example:
    """A question with its passages: ``passages[gold]`` (``gold`` -1: none) holds the answer at
    ``ans_start:ans_end`` and starts at character ``gold_offset`` of its paragraph (where it was
    cropped)."""

    __slots__ = ("question", "passages", "gold", "ans_start", "ans_end", "qid", "gold_offset")

    def __init__(self, question, passages, gold, ans_start, ans_end, qid, gold_offset: int = 0):
        self.question, self.passages, self.gold = question, passages, gold
        self.ans_start, self.ans_end, self.qid = ans_start, ans_end, qid
        self.gold_offset = gold_offset


def build_epoch(questions: Sequence[D.Question], paragraphs: Sequence[D.Paragraph], hard: Dict[int, List[int]],
                by_article: Dict[str, List[int]], rng: random.Random, cfg: dict) -> List[Example]:
    exs = []
    for q in questions:
        gp = paragraphs[q.pid]
        pool = [j for j in by_article[gp.article] if j != q.pid]
        dis: List[int] = []
        hard_list = [j for j in hard.get(q.qid, []) if j != q.pid]
        nd = float(cfg["n_distractors"])  # fractional part = probability of one more
        nd = int(nd) + (1 if rng.random() < nd - int(nd) else 0)
        for _ in range(min(nd, len(pool))):
            cand = [j for j in hard_list if j not in dis]
            if cand and rng.random() < cfg["hard_distractor_prob"]:
                dis.append(cand[0])
            else:
                rest = [j for j in pool if j not in dis]
                dis.append(rng.choice(rest))
        a0 = q.answer_start if q.answers else -1
        a1 = a0 + len(q.answers[0]) if q.answers else -1
        texts, gold_idx = [], 0
        items = [(q.pid, True)] + [(j, False) for j in dis]
        if dis and cfg.get("neg_passage_prob", 0.0) and rng.random() < cfg["neg_passage_prob"]:
            items = [(j, False) for j in dis]      # synthetic unanswerable: gold paragraph not shown
            a0 = a1 = -1
        rng.shuffle(items)
        s_out = e_out = -1
        gold_offset = 0
        for k, (j, is_gold) in enumerate(items):
            t, off = paragraphs[j].text, 0
            if rng.random() < cfg["crop_prob"]:
                mw = rng.randint(*cfg["crop_words"])
                if is_gold and a0 >= 0:
                    t, off = crop_passage(t, rng, mw, (a0, a1))
                    s_out, e_out = a0 - off, a1 - off
                else:
                    t, off = crop_passage(t, rng, mw, None)
            elif is_gold:
                s_out, e_out = a0, a1
            if is_gold:
                gold_idx, gold_offset = k, off
            texts.append(t)
        if a0 < 0:
            s_out = e_out = -1
            if not any(g for _, g in items):
                gold_idx = -1
        exs.append(Example(q.question, texts, gold_idx, s_out, e_out, q.qid, gold_offset))
    return exs


def hard_distractors(questions: Sequence[D.Question], paragraphs: Sequence[D.Paragraph],
                     by_article: Dict[str, List[int]], k: int = 3) -> Dict[str, List[int]]:
    """BM25-nearest other paragraphs of the same article, per question."""
    out = {}
    for art, pids in by_article.items():
        idx = D.TfIdf([paragraphs[j].text for j in pids])
        for q in questions:
            if paragraphs[q.pid].article != art:
                continue
            s = idx.bm25(q.question)
            order = [pids[i] for i in np.argsort(-s) if pids[i] != q.pid]
            out[q.qid] = order[:k]
    return out


def make_batches(exs: List[Example], bs: int, rng: random.Random) -> List[List[Example]]:
    """Length-bucketed batches (within chunks of 32 batches), shuffled."""
    order = list(range(len(exs)))
    rng.shuffle(order)
    chunk = bs * 32
    batches = []
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: sum(len(p) for p in exs[i].passages))
        for b in range(0, len(part), bs):
            batches.append([exs[i] for i in part[b:b + bs]])
    rng.shuffle(batches)
    return batches
