"""What SQuAD's annotators answer to "What did X announce?" when the sentence gives the verb a clause.

Usage:
    python bench/content_clauses.py [--data DIR] [--examples 5]

For every training question (the held-out articles left out) whose bare "what" is the whole
object of its verb (``QuestionAnalysis.content_of``), the sentence holding the first gold answer
is parsed; where that sentence gives the same verb a clausal complement, the gold is classed
against the clause as :func:`qa.answerer.tidy.widen_to_content_clause` cuts it: the whole clause,
the clause with its "that", the clause's subject alone (what the widening replaces), another part
of the clause, or outside it. About 5 minutes on one core (spaCy parses the paragraphs asked about).
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def classify(doc, start: int, end: int, verb: str) -> str:
    """Where the gold characters ``start:end`` of ``doc`` fall against ``verb``'s clause."""
    from qa.answerer.candidates import content_clause, core_subtree

    gold = doc.char_span(start, end, alignment_mode="expand")
    if gold is None:
        return "unaligned"
    sentence = gold.sent
    clauses = [c for t in sentence if t.lemma_.lower() == verb for c in t.children if c.dep_ == "ccomp"]
    if not clauses:
        return "no clause of the verb"
    clause = clauses[0]
    with_that = core_subtree(clause, sentence.start, sentence.end)
    s, e = content_clause(clause, sentence.start, sentence.end)
    subjects = [c for c in clause.children if c.dep_ in {"nsubj", "nsubjpass"}]
    if (gold.start, gold.end) == (s, e):
        return "the whole clause"
    if (gold.start, gold.end) == with_that:
        return "the clause with its that"
    if subjects and gold.root.i == subjects[0].i and s <= gold.start and gold.end <= e:
        return "the clause's subject"
    if s <= gold.start and gold.end <= e:
        return "another part of the clause"
    return "outside the clause"


def main(argv: list[str] | None = None) -> int:
    from qa.question import analyze_question
    from squad_golds import training_golds

    args, nlp, train, paragraph_doc = training_golds(argv, __doc__, "examples printed per class")
    counts: Counter = Counter()
    examples: dict[str, list] = defaultdict(list)
    asked = 0
    for question in train:
        if not question.question.lower().startswith("what"):
            continue
        verb = analyze_question(nlp(question.question)).content_of
        if verb is None:
            continue
        asked += 1
        start = question.answer_start
        kind = classify(paragraph_doc(question), start, start + len(question.answers[0]), verb)
        counts[kind] += 1
        examples[kind].append((question.question, question.answers[0]))
    print(f"{len(train)} answerable training questions; {asked} ask what was the whole object of a verb")
    for kind, count in counts.most_common():
        print(f"{count:6d}  {kind}")
        for text, gold in examples[kind][: args.examples]:
            print(f"        {text!r} -> {gold!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
