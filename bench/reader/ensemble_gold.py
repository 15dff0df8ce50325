"""Two readers' span probabilities combined, with the gold paragraph (the learning curve's 600).

    python bench/reader/ensemble_gold.py dump A B --out P.json [--count 600] [--tune 600]
    python bench/reader/ensemble_gold.py sweep P.json

``dump`` reads each question's gold paragraph with both readers (weights folders, as the product
loads them), keeps the union of their best ``--top-n`` spans and each reader's probability of
every one of them (``span_probability``: 0 where a span is not on the reader's token
boundaries), for the 600 questions of `gold_f1.py` and ``--tune`` other held-out questions
(seeded; ``--exclude`` an earlier dump's) to choose the weight on; ``--count 0`` leaves out
the 600. ``sweep`` picks, per question, the span with the highest
``w log P_A + (1 - w) log P_B`` (a floor keeps a span one reader cannot score in play) and prints
F1 / EM for each weight on both sets: the weight is chosen on the tuning questions only.
"""
import argparse
import json
import math
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

FLOOR = 1e-6
WEIGHTS = [i / 10 for i in range(11)]


def _union(outputs, top_n):
    spans = {}
    for out in outputs:
        for c in out.candidates[:top_n]:
            spans.setdefault((c.start, c.end), c.text)
    return spans


def dump(a) -> int:
    from qa.reader.reader import SpanReader
    from qa.training.heldout_eval import eval_questions
    from qa.training.train_reader import DEFAULT_DATA, prepare

    paragraphs, _, _, _, test_q, _ = prepare(a.data, None)
    evaluation = eval_questions(test_q, a.count) if a.count else []
    taken = {q.qid for q in evaluation}
    for path in a.exclude or ():
        taken |= {r["qid"] for r in json.load(open(path))["rows"]}
    rest = [q for q in test_q if q.qid not in taken and q.answers]
    tuning = random.Random(a.seed).sample(rest, min(a.tune, len(rest)))
    readers = [SpanReader(path, top_n=a.top_n).load() for path in (a.first, a.second)]
    rows, started = [], time.time()
    for part, questions in (("eval", evaluation), ("tune", tuning)):
        for q in questions:
            if not q.answers:
                continue
            text = paragraphs[q.pid].text
            outs = [r.read(q.question, [text], top_n=a.top_n) for r in readers]
            spans = _union(outs, a.top_n)
            rows.append({"part": part, "qid": q.qid, "answers": list(q.answers),
                         "spans": [{"text": t, "p": [o.span_probability(0, s, e) for o in outs]}
                                   for (s, e), t in spans.items()]})
    json.dump({"readers": [a.first, a.second], "rows": rows}, open(a.out, "w"))
    print(f"{len(rows)} questions in {time.time() - started:.0f} s -> {a.out}")
    return 0


def pick(spans, w):
    """The span with the best weighted log-probability of the two readers."""
    def score(s):
        pa, pb = (max(p, FLOOR) for p in s["p"])
        return w * math.log(pa) + (1 - w) * math.log(pb)
    return max(spans, key=score)["text"] if spans else ""


def sweep(a) -> int:
    from qa.evaluation import exact_match, token_f1

    d = json.load(open(a.dump))
    print(f"A = {d['readers'][0]}, B = {d['readers'][1]}; w is A's weight")
    parts = sorted({r["part"] for r in d["rows"]})
    print("w     " + "  ".join(f"{p} F1 / EM ({sum(r['part'] == p for r in d['rows'])})" for p in parts))
    for w in WEIGHTS:
        cells = []
        for p in parts:
            rows = [r for r in d["rows"] if r["part"] == p]
            texts = [pick(r["spans"], w) for r in rows]
            f1 = 100 * sum(token_f1(t, r["answers"]) for t, r in zip(texts, rows)) / len(rows)
            em = 100 * sum(exact_match(t, r["answers"]) for t, r in zip(texts, rows)) / len(rows)
            cells.append(f"{f1:6.2f} / {em:6.2f}      ")
        print(f"{w:.1f}  " + "  ".join(cells))
    return 0


def main(argv=None) -> int:
    from qa.training.train_reader import DEFAULT_DATA

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("first")
    d.add_argument("second")
    d.add_argument("--out", required=True)
    d.add_argument("--count", type=int, default=600)
    d.add_argument("--tune", type=int, default=600)
    d.add_argument("--seed", type=int, default=14)
    d.add_argument("--top-n", type=int, default=20)
    d.add_argument("--exclude", action="append", help="an earlier dump whose questions are not drawn again")
    d.add_argument("--data", default=DEFAULT_DATA)
    s = sub.add_parser("sweep")
    s.add_argument("dump")
    a = ap.parse_args(argv)
    return dump(a) if a.cmd == "dump" else sweep(a)


if __name__ == "__main__":
    sys.exit(main())
