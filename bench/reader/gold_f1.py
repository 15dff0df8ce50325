"""A reader's gold-paragraph F1 / EM on the learning curve's held-out questions, alone (quick).

    python bench/reader/gold_f1.py DIR [--count 600] [--kinds]

The same questions and scoring as the trainer's own evaluation (`python -m qa.training.train_reader
--eval-only --eval-limit 600 --out DIR`, its "gold" row), without the distractor and BM25 settings,
which take six times as long: what a slow reader (MPNet) needs to be compared on the curve.
``--kinds`` also sorts the answerable questions' answers: exact, no word in common with the gold,
shorter (inside the gold), longer (holding it), overlapping otherwise (after SQuAD's normalisation).
"""
import argparse
from collections import Counter
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def answer_kind(prediction: str, golds: list) -> str:
    """How a prediction stands to a question's gold answers: exact, wrong (no word in common),
    shorter, longer or overlap, compared after SQuAD's normalisation."""
    from qa.evaluation import exact_match, normalize_answer, token_f1

    if exact_match(prediction, golds):
        return "exact"
    if token_f1(prediction, golds) == 0:
        return "wrong"
    p, gs = normalize_answer(prediction), [normalize_answer(g) for g in golds]
    if any(f" {p} " in f" {g} " for g in gs):
        return "shorter"
    if any(f" {g} " in f" {p} " for g in gs):
        return "longer"
    return "overlap"


def main(argv=None) -> int:
    from qa.reader.reader import SpanReader
    from qa.training.heldout_eval import _score_setting, eval_questions
    from qa.training.train_reader import DEFAULT_DATA, prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reader", help="reader weights folder")
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--kinds", action="store_true", help="also count the kinds of answers that are not exact")
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
    if a.kinds:
        kinds = Counter(answer_kind(o.candidates[0].text if o.candidates else "", q.answers)
                        for q, o in read if q.answers)
        n = sum(kinds.values())
        print(", ".join(f"{k} {kinds[k]} ({100 * kinds[k] / n:.1f} %)"
                        for k in ("exact", "wrong", "shorter", "longer", "overlap")) + f" of {n} answerable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
