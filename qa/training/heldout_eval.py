"""Held-out evaluation of a reader: EM/F1 and a no-answer threshold sweep with the gold
paragraph alone, with BM25-hard distractors, and over BM25's top passages."""
from __future__ import annotations

import random
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from . import data as D
from .log import log
from qa.evaluation import exact_match, token_f1
from qa.reader.reader import ReaderOutput, SpanReader


# The held-out questions sampled for an evaluation, and the order of their distractors, do not
# depend on the training seed, so readers trained with different seeds are compared on the same ones.
EVAL_SEED = 13
THRESHOLDS = [round(x, 2) for x in np.arange(0.0, 1.0001, 0.05)]


def _score_setting(preds: List[Tuple[D.Question, ReaderOutput]]) -> dict:
    ans = [(q, o) for q, o in preds if q.answers]
    una = [(q, o) for q, o in preds if not q.answers]

    def best_text(o):
        return o.candidates[0].text if o.candidates else ""

    em = [exact_match(best_text(o), q.answers) for q, o in ans]
    f1 = [token_f1(best_text(o), q.answers) for q, o in ans]
    res = {
        "answerable": len(ans), "unanswerable": len(una),
        "EM": round(100 * float(np.mean(em)), 2) if em else None,
        "F1": round(100 * float(np.mean(f1)), 2) if f1 else None,
        "mean_no_answer_prob_answerable": round(float(np.mean([o.no_answer_prob for _, o in ans])), 4) if ans else None,
        "mean_no_answer_prob_unanswerable": round(float(np.mean([o.no_answer_prob for _, o in una])), 4) if una else None,
    }
    sweep = []
    for t in THRESHOLDS:
        a_em = [e if o.no_answer_prob < t else 0.0 for e, (q, o) in zip(em, ans)]
        a_f1 = [f if o.no_answer_prob < t else 0.0 for f, (q, o) in zip(f1, ans)]
        u_ok = [1.0 if o.no_answer_prob >= t else 0.0 for q, o in una]
        n = len(a_f1) + len(u_ok)
        sweep.append({
            "threshold": t,
            "answerable_EM": round(100 * float(np.mean(a_em)), 2) if a_em else None,
            "answerable_F1": round(100 * float(np.mean(a_f1)), 2) if a_f1 else None,
            "answered_frac_answerable": round(float(np.mean([o.no_answer_prob < t for q, o in ans])), 4) if ans else None,
            "unanswerable_abstain_acc": round(100 * float(np.mean(u_ok)), 2) if u_ok else None,
            "overall_F1": round(100 * (sum(a_f1) + sum(u_ok)) / n, 2) if n else None,
        })
    res["threshold_sweep"] = sweep
    best = max(sweep, key=lambda r: r["overall_F1"] or 0)
    res["best_overall_threshold"] = best["threshold"]
    return res


def eval_questions(questions: Sequence[D.Question], limit: Optional[int] = None, seed: int = EVAL_SEED) -> list:
    """The held-out questions an evaluation reads: all, or a seeded random ``limit`` of them."""
    qs = list(questions)
    return random.Random(seed).sample(qs, min(limit, len(qs))) if limit else qs


def evaluate_reader(reader: SpanReader, paragraphs: Sequence[D.Paragraph], questions: Sequence[D.Question],
                    limit: Optional[int] = None, seed: int = EVAL_SEED, n_distractors: int = 2, top_k: int = 3) -> dict:
    """Held-out evaluation: (a) gold paragraph only, (b) gold + BM25-hardest
    distractors from the held-out pool (shuffled), (c) BM25 top-k over the
    held-out pool (gold may be missing). No-answer threshold sweep for each."""
    qs = eval_questions(questions, limit, seed)
    arts = {paragraphs[q.pid].article for q in qs}
    pool = [p.pid for p in paragraphs if p.article in arts]
    idx = D.TfIdf([paragraphs[j].title + " " + paragraphs[j].text for j in pool])
    rng = random.Random(seed)
    out = {"gold": [], "gold+distractors": [], f"bm25_top{top_k}": []}
    recall, lat = 0, []
    t0 = time.time()
    for n, q in enumerate(qs):
        s = idx.bm25(q.question)
        order = [pool[i] for i in np.argsort(-s, kind="stable")]
        gold = paragraphs[q.pid].text
        out["gold"].append((q, reader.read(q.question, [gold])))
        dis = [j for j in order if j != q.pid][:n_distractors]
        items = [q.pid] + dis
        rng.shuffle(items)
        out["gold+distractors"].append((q, reader.read(q.question, [paragraphs[j].text for j in items])))
        top = order[:top_k]
        recall += q.pid in top
        t = time.perf_counter()
        out[f"bm25_top{top_k}"].append((q, reader.read(q.question, [paragraphs[j].text for j in top], passage_scores=None)))
        lat.append(time.perf_counter() - t)
        if (n + 1) % 200 == 0:
            log(f"eval {n + 1}/{len(qs)} ({(time.time() - t0) / 60:.1f} min)")
    res = {k: _score_setting(v) for k, v in out.items()}
    res[f"bm25_top{top_k}"]["retrieval_recall_at_k"] = round(recall / max(1, len(qs)), 4)
    res["latency_ms_top3_full_paragraphs"] = {"mean": round(1000 * float(np.mean(lat)), 1),
                                              "p50": round(1000 * float(np.median(lat)), 1),
                                              "p95": round(1000 * float(np.percentile(lat, 95)), 1)}
    res["eval_questions"] = len(qs)
    res["eval_time_s"] = round(time.time() - t0, 1)
    res["note"] = ("threshold sweep: predict no-answer when no_answer_prob >= threshold; answerable_F1 counts "
                   "abstentions as 0; best_overall_threshold is chosen on these held-out questions (optimistic)")
    return res
