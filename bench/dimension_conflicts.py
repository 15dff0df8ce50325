"""How often would the dimension check (``qa.units``) throw away SQuAD's own answer?

Usage:
    python bench/dimension_conflicts.py [--data DIR] [--examples 10]

For every answerable training question (the held-out articles left out) that names what it
measures (``QuestionAnalysis.dimensions``: "what wattage", "how heavy", "in acres"), the
paragraph holding the first gold answer is parsed and the gold span's own dimensions are read
(``qa.units.span_dimensions``): a gold that measures another dimension is one the answerer would
drop (``qa.answerer.extractive.measures_another_dimension``). Prints how many questions name a
dimension, how many golds carry a unit, and every gold the check would drop. Parsing all 79,145
questions and the paragraphs asked about takes about 10 minutes on one core.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    from qa.question import analyze_question
    from qa.units import conflicts, span_dimensions
    from squad_golds import gold_span, training_golds

    args, nlp, train, paragraph_doc = training_golds(argv, __doc__, "examples printed of each outcome")
    counts: Counter = Counter()
    by_dimension: Counter = Counter()
    shown: dict[str, list] = {"kept, measured alike": [], "dropped": []}
    texts = [q.question for q in train]
    for question, doc in zip(train, nlp.pipe(texts, batch_size=256)):
        asked = analyze_question(doc).dimensions
        if not asked:
            continue
        counts["name a dimension"] += 1
        by_dimension["/".join(sorted(asked))] += 1
        gold = gold_span(paragraph_doc(question), question)
        measured = span_dimensions(gold) if gold is not None else frozenset()
        if not measured:
            counts["gold carries no unit"] += 1
            continue
        outcome = "dropped" if conflicts(asked, measured) else "kept, measured alike"
        counts[outcome] += 1
        shown[outcome].append((question.question, question.answers[0], sorted(asked), sorted(measured)))
    print(f"{len(train)} answerable training questions")
    for name, count in counts.most_common():
        print(f"{count:6d}  {name}")
    print("dimensions asked:", ", ".join(f"{k} {v}" for k, v in by_dimension.most_common()))
    for outcome, items in shown.items():
        print(f"{outcome}:")
        for text, gold, asked, measured in items[: args.examples] if outcome != "dropped" else items:
            print(f"    {text!r} -> {gold!r} (asks {asked}, measures {measured})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
