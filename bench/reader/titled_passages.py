"""The readers reading each passage with its document's title before it (where the passage does
not already begin with it), through the product, against reading the passage alone.

    python bench/reader/titled_passages.py Q.jsonl --index-dir IX [--plain] [--json OUT]

Answers every question of a ``qa eval`` file (chats left out) with the default answerer, its
readers wrapped so that "TITLE\\n\\n" goes before each passage they read; the readers' spans are
moved back to the passage's own offsets and a span inside the title is dropped. ``--plain``
answers without the titles, in the same process and harness, for the comparison.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from qa.reader.reader import ReaderOutput, ReaderSpan  # noqa: E402

SEPARATOR = "\n\n"


class TitledReader:
    """Reads ``title + SEPARATOR + passage`` for each passage whose title ``titles`` knows."""

    def __init__(self, inner, titles: dict):
        self.inner, self.titles = inner, titles

    def warm_up(self):
        return self.inner.warm_up()

    def read(self, question: str, passages: Sequence[str], passage_scores: Optional[Sequence[float]] = None,
             top_n: Optional[int] = None) -> ReaderOutput:
        shifts, texts = [], []
        for p in passages:
            title = self.titles.get(p, "")
            prefix = title + SEPARATOR if title and not p.lstrip().startswith(title) else ""
            shifts.append(len(prefix))
            texts.append(prefix + p)
        out = self.inner.read(question, texts, passage_scores, top_n=top_n)
        cands = [ReaderSpan(c.passage_index, c.start - shifts[c.passage_index], c.end - shifts[c.passage_index],
                            c.text, c.score)
                 for c in out.candidates if c.start >= shifts[c.passage_index]]

        def scorer(i: int, start: int, end: int) -> float:
            return out.span_probability(i, start + shifts[i], end + shifts[i])

        return ReaderOutput(cands, out.no_answer_prob, scorer)


def main(argv=None) -> int:
    from qa.config import Settings
    from qa.evaluation import evaluate, load_eval_file
    from qa.pipeline import QAPipeline

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions")
    ap.add_argument("--index-dir", required=True)
    ap.add_argument("--plain", action="store_true", help="read the passages alone (the product)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    pipeline = QAPipeline(Settings(index_dir=Path(a.index_dir)))
    index = pipeline.index
    if not a.plain:
        titles = {c.text: index.document(c.doc_id).title for c in index.chunks}
        answerer = pipeline.answerer
        for part in (getattr(answerer, "first", None), getattr(answerer, "second", None), answerer):
            if part is not None and getattr(part, "reader", None) is not None:
                part.reader = TitledReader(part.reader, titles)
    pipeline.warm_up()

    def answer(item):
        answered = pipeline.run(item.question)
        return answered.answer, [p.chunk.text for p in answered.passages]

    items = [i for i in load_eval_file(a.questions) if i.conversation is None]
    report = evaluate(items, answer)
    o = report.overall
    figures = [("EM", o.em), ("F1", o.f1), ("hit", o.hit_rate), ("abstention", o.abstention_accuracy)]
    print(f"{'plain' if a.plain else 'titled'}: {o.count} questions, "
          + ", ".join(f"{name} {value:.1f}" for name, value in figures if value is not None)
          + f", answerable declined {o.false_abstentions}")
    if a.json:
        Path(a.json).write_text(json.dumps([{"id": r.id, "f1": r.f1, "found": r.found, "prediction": r.prediction}
                                            for r in report.items]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
