"""BM25 top-k selection: bm25s's own ``retrieve`` against scoring with bm25s and picking the
best k with ``numpy.argpartition`` (what ``qa.retrieval.sparse_search`` does).

Usage:
    python bench/make_corpus.py /tmp/c100k --target-chunks 100000
    python bench/bench_bm25_topk.py /tmp/c100k [--chunks 100000] [--k 50]

Passages are 75-word windows of the corpus's text; prints the median milliseconds per question
for both ways and whether they return the same scores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUESTIONS = ["When was the oldest tree planted in the orchard?", "Who founded the university?",
             "What is the population of the state?", "Which antibiotic was discovered first?",
             "How many people died in the earthquake?"]


def main(argv: list[str] | None = None) -> int:
    from index.bm25 import bm25_query_tokens, bm25_tokenize, import_bm25s
    from qa.retrieval import sparse_search

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    texts: list[str] = []
    for path in sorted(Path(args.corpus).rglob("*.txt")):
        words = path.read_text(encoding="utf-8").split()
        texts.extend(" ".join(words[i : i + 75]) for i in range(0, len(words), 75))
        if len(texts) >= args.chunks:
            break
    texts = texts[: args.chunks]
    bm25s = import_bm25s()
    started = time.perf_counter()
    index = bm25s.BM25()
    index.index(bm25_tokenize(texts), show_progress=False)
    print(f"{len(texts)} passages indexed in {time.perf_counter() - started:.1f} s")

    timings: dict[str, list[float]] = {"bm25s retrieve": [], "argpartition": []}
    same = True
    for _ in range(args.rounds):
        for question in QUESTIONS:
            tokens = [t for t in bm25_query_tokens(question) if t in index.vocab_dict]
            if not tokens:
                continue
            t0 = time.perf_counter()
            _, scores = index.retrieve([tokens], k=args.k, show_progress=False, n_threads=1)
            t1 = time.perf_counter()
            ours = sparse_search(index, tokens, args.k)
            t2 = time.perf_counter()
            timings["bm25s retrieve"].append((t1 - t0) * 1000)
            timings["argpartition"].append((t2 - t1) * 1000)
            theirs = [round(float(s), 4) for s in scores[0] if s > 0]
            same &= theirs == [round(s, 4) for _, s in ours]
    for name, values in timings.items():
        print(f"{name:<16} median {np.median(values):8.2f} ms")
    print(f"same scores in the same order: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
