"""How the ranker's pick is decoded from its probabilities, compared in its own cross-validation.

    python bench/reader/ranker_decoding.py WORK/dump.json [--top 5]

Reads the candidates `qa train-ranker` dumped (WORK/dump.json, its --work folder), refits the
ranker leaving one article out as `qa train-ranker` does, and scores each held-out fold's
answerable questions, answering everything, under three ways to pick:

- argmax: the most probable candidate (the product's pick);
- pooled: candidates that are one document span add their probabilities;
- mbr: minimum Bayes risk under token F1 among the TOP most probable candidates, each agreeing
  only with candidates that overlap it in the same document.

- words: the ranker's pick says where; its words are those of the candidate at that place (the
  same document, overlapping characters) with the best expected F1 under the reader.

Beside them, two picks with no ranker, the reader's alone (nothing fitted): its most probable
candidate (``reader``) and the candidate with the best expected F1 under it (``reader-ef1``).

Dumps written before candidates carried their span count each candidate as its own span.
"""
import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def spans_of(candidates: list) -> list:
    return [(*c["span"], c["text"]) if "span" in c else (str(i), 0, 0, c["text"]) for i, c in enumerate(candidates)]


def mbr(spans: list, probabilities: np.ndarray, top: int) -> int:
    """Minimum Bayes risk under token F1 among overlapping candidates (see the module docstring)."""
    from qa.evaluation import bag_f1, normalize_answer

    order = sorted(range(len(spans)), key=lambda i: -float(probabilities[i]))[:top]
    bags = {i: Counter(normalize_answer(spans[i][3]).split()) for i in order}

    def agreement(i: int, j: int) -> float:
        (doc_i, start_i, end_i, _), (doc_j, start_j, end_j, _) = spans[i], spans[j]
        if i == j or (doc_i, start_i, end_i) == (doc_j, start_j, end_j):
            return 1.0
        if doc_i != doc_j or start_i >= end_j or start_j >= end_i:
            return 0.0
        return bag_f1(bags[i], bags[j])

    expected = [sum(float(probabilities[j]) * agreement(i, j) for j in order) for i in order]
    return order[max(range(len(order)), key=lambda k: (expected[k], -k))]


def pooled(spans: list, probabilities: np.ndarray) -> int:
    """The candidate whose document span has the most probability in all (ties: the more probable alone)."""
    total: dict = {}
    for span, probability in zip(spans, probabilities):
        total[span[:3]] = total.get(span[:3], 0.0) + float(probability)
    return max(range(len(spans)), key=lambda i: (total[spans[i][:3]], float(probabilities[i]), -i))


def words_at_place(spans: list, chosen: int, expected: list) -> int:
    """Of the candidates overlapping ``chosen`` in its document, the one with the best expected F1
    (``chosen`` on ties)."""
    from qa.answerer.cascade import same_place  # the cascade's own test of one place

    at_place = [i for i, span in enumerate(spans) if i == chosen or same_place(span[:3], spans[chosen][:3])]
    return max(at_place, key=lambda i: (expected[i], i == chosen))


def main(argv=None) -> int:
    from qa.answerer.features import CANDIDATE_FEATURES, CANDIDATE_SIGNS
    from qa.answerer.ranker import fit_conditional_logit, softmax
    from qa.training.train_ranker import RANKER_L2, ranking_groups

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--top", type=int, default=5, help="candidates the MBR pick weighs")
    a = ap.parse_args(argv)
    rows = [r for r in json.load(open(a.dump)) if not r.get("synthetic")]
    started = time.time()
    scores = {"argmax": [], "pooled": [], "mbr": [], "words": [], "reader": [], "reader-ef1": []}
    logp, expected_f1 = CANDIDATE_FEATURES.index("reader_span_logp"), CANDIDATE_FEATURES.index("reader_expected_f1")
    for article in sorted({r["article"] for r in rows}):
        groups, targets = ranking_groups([r for r in rows if r["article"] != article])
        model = fit_conditional_logit(groups, targets, CANDIDATE_FEATURES, l2=RANKER_L2, signs=CANDIDATE_SIGNS)
        for r in rows:
            if r["article"] != article or not r["answers"]:
                continue
            cands = r["candidates"]
            if not cands:
                for picks in scores.values():
                    picks.append((0.0, 0.0))
                continue
            p = softmax(model.scores(np.array([c["x"] for c in cands])))
            spans = spans_of(cands)
            chosen = {"argmax": int(np.argmax(p)), "pooled": pooled(spans, p),
                      "mbr": mbr(spans, p, a.top),
                      "words": words_at_place(spans, int(np.argmax(p)), [c["x"][expected_f1] for c in cands]),
                      "reader": max(range(len(cands)), key=lambda i: cands[i]["x"][logp]),
                      "reader-ef1": max(range(len(cands)), key=lambda i: cands[i]["x"][expected_f1])}
            for name, i in chosen.items():
                scores[name].append((cands[i]["f1"], cands[i]["em"]))
    print(f"{len(scores['argmax'])} answerable questions, leave one article out, {time.time() - started:.0f} s")
    for name, picks in scores.items():
        f1, em = np.mean(picks, axis=0) * 100
        changed = sum(x != y for x, y in zip(picks, scores["argmax"]))
        print(f"{name:10} F1 {f1:.2f}  EM {em:.2f}  ({changed} picks scored differently from argmax)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
