"""Latency of SpanReader.read() on CPU for 3-5 passages per question.

    python bench/reader/bench_latency.py [--weights qa/reader/weights] [--n 40] [--dynamic-int8]

Passages are held-out SQuAD-sample paragraphs: full paragraphs (~120-200
words) and "chunks" (windows of 2-3 sentences), read 3 and 5 at a time.
"""
import argparse
import os
import random
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from qa.reader import SpanReader  # noqa: E402
from qa.training import data as D  # noqa: E402
from qa.training.examples import crop_sentences  # noqa: E402
from qa.training.train_reader import DEFAULT_DATA  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--weights", default=None)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--dynamic-int8", action="store_true")
    a = ap.parse_args(argv)
    paras = [p for p in D.load_corpus(a.data) if p.article in D.DEFAULT_HELDOUT]
    qs = [q for q in D.load_questions(a.data)][:2000]
    rng = random.Random(0)
    chunks = []
    for p in paras:
        ss = crop_sentences(p.text)
        for i in range(0, len(ss), 3):
            chunks.append(p.text[ss[i][0]:ss[min(i + 2, len(ss) - 1)][1]])
    t = time.perf_counter()
    r = SpanReader(a.weights, dynamic_int8=a.dynamic_int8).warm_up()
    print(f"load+warm-up {1000 * (time.perf_counter() - t):.0f} ms  dynamic_int8={a.dynamic_int8}")
    for name, pool in (("paragraphs", [p.text for p in paras]), ("3-sentence chunks", chunks)):
        for k in (3, 5):
            lat = []
            for i in range(a.n):
                q = rng.choice(qs).question
                ps = rng.sample(pool, k)
                t = time.perf_counter()
                r.read(q, ps)
                lat.append(1000 * (time.perf_counter() - t))
            words = statistics.mean(len(p.split()) for p in pool)
            print(f"{name:18s} k={k} (~{words:.0f} words each): mean {statistics.mean(lat):6.1f} ms  "
                  f"p50 {statistics.median(lat):6.1f}  p95 {sorted(lat)[int(0.95 * len(lat)) - 1]:6.1f}")


if __name__ == "__main__":
    main()
