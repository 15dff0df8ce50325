"""Held-out questions for `qa eval` that `qa train-ranker --limit L` does not read.

    python bench/reader/eval_subset.py OUT.jsonl [--ranker-limit 1500] [--count 1000] [--seed 1]

The ranker's refit reads L evenly spaced questions of the held-out split
(`qa.training.train_ranker.ranker_questions`); the rest are shuffled with the seed and the first
COUNT written, so that a pipeline figure is not measured on questions the ranker was fitted on.
"""
import argparse
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(argv=None) -> int:
    from qa.training.data import split_by_article
    from qa.training.squad import load_training_data
    from qa.training.train_ranker import ranker_questions
    from qa.training.train_reader import DEFAULT_DATA

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--ranker-limit", type=int, default=1500)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    paragraphs, questions, _, held = load_training_data(a.data)
    chosen = split_by_article(questions, paragraphs, held)[1]
    used = {q.qid for q in ranker_questions(chosen, a.ranker_limit)}
    rest = [q for q in chosen if q.qid not in used]
    random.Random(a.seed).shuffle(rest)
    with open(a.out, "w", encoding="utf-8") as f:
        for q in rest[: a.count]:
            f.write(json.dumps({"id": q.qid, "question": q.question, "answers": q.answers}) + "\n")
    print(f"{min(a.count, len(rest))} of {len(rest)} questions the ranker does not read -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
