"""A reader's gold-paragraph F1 / EM on the learning curve's held-out questions, alone (quick).

    python bench/reader/gold_f1.py DIR [--count 600]

The same questions and scoring as the trainer's own evaluation (`python -m qa.training.train_reader
--eval-only --eval-limit 600 --out DIR`, its "gold" row), without the distractor and BM25 settings,
which take six times as long: what a slow reader (MPNet) needs to be compared on the curve.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def main(argv=None) -> int:
    from qa.reader.reader import SpanReader
    from qa.training.heldout_eval import _score_setting, eval_questions
    from qa.training.train_reader import DEFAULT_DATA, prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reader", help="reader weights folder")
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--data", default=DEFAULT_DATA)
    a = ap.parse_args(argv)
    path = os.path.join(a.reader, "recipe.json")
    recipe = json.load(open(path)) if os.path.exists(path) else {}
    paragraphs, _, _, _, test_q, _ = prepare(a.data, recipe.get("data", {}).get("heldout_articles"))
    questions = eval_questions(test_q, a.count)
    reader = SpanReader(a.reader).load()
    started = time.time()
    read = [(q, reader.read(q.question, [paragraphs[q.pid].text])) for q in questions]
    scores = _score_setting(read)
    seconds = time.time() - started
    print(f"{len(questions)} questions: gold paragraph F1 {scores['F1']} EM {scores['EM']} "
          f"({seconds:.0f} s, {1000 * seconds / len(questions):.0f} ms a question)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
