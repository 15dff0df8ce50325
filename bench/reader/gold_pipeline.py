"""The answerer with the gold paragraph: the product's readers and rankers reading only the
paragraph a held-out question was written on, answering everything.

    python bench/reader/gold_pipeline.py --index-dir IX [--count 600]

``IX`` is an index of the held-out paragraphs (``python bench/make_squad_heldout.py OUT --limit 0``
then ``qa index OUT/corpus --index-dir IX``). The questions are the learning curve's 600
(``bench/reader/gold_f1.py``, the trainer's own ``--eval-limit 600``), so the reader-alone figure
there (the reader's best span) and this one (the rules, the reader and the ranker fitted to it
choosing among their candidates, as every question in the product is answered) are comparable.
The passages are the gold paragraph's chunks, with the scores retrieval gives them for the
question (50 passages are retrieved; a chunk not among them gets a zero score).

Each reader is measured as the cascade holds it (MiniLM with its ranker, MPNet with its own), and
the cascade's own pick: F1 / EM of the pick whether or not the answer model would decline it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def chunk_positions(index) -> dict[str, list[int]]:
    """Each document's chunk positions in the index, in document order (read once)."""
    positions: dict[str, list[int]] = {}
    for position, chunk in enumerate(index.chunks):
        positions.setdefault(chunk.doc_id, []).append(position)
    return positions


def gold_passages(pipeline, question: str, doc_id: str, positions: list[int]):
    """The chunks of ``doc_id`` (at ``positions``) as retrieved passages for ``question``."""
    from qa.retrieval import RetrievedPassage

    found = {p.chunk_index: p for p in pipeline.search(question, 50) if p.chunk.doc_id == doc_id}
    chunks = pipeline.index.chunks
    return [found.get(i) or RetrievedPassage(i, chunks[i], 0.0, 0.0, 0.0, 0, 0) for i in positions]


def main(argv=None) -> int:
    from qa.config import Settings
    from qa.evaluation import exact_match, token_f1
    from qa.pipeline import QAPipeline
    from qa.training.heldout_eval import eval_questions
    from qa.training.squad import write_corpus
    from qa.training.train_reader import DEFAULT_DATA, prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index-dir", required=True)
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--data", default=DEFAULT_DATA)
    a = ap.parse_args(argv)
    paragraphs, _, _, _, test_q, heldout = prepare(a.data, None)
    with tempfile.TemporaryDirectory() as folder:
        doc_ids = write_corpus(paragraphs, heldout, folder)
    questions = [q for q in eval_questions(test_q, a.count) if q.answers]
    pipeline = QAPipeline(Settings(index_dir=Path(a.index_dir), reader_model="cascade"))
    cascade = pipeline.answerer
    positions = chunk_positions(pipeline.index)
    totals = {name: [0.0, 0.0] for name in ("minilm", "mpnet", "cascade", "minilm reader alone", "mpnet reader alone")}

    def add(name: str, text: str, answers) -> None:
        totals[name][0] += token_f1(text, answers)
        totals[name][1] += exact_match(text, answers)

    started = time.time()
    for n, q in enumerate(questions, 1):
        doc_id = doc_ids[q.pid]
        passages = gold_passages(pipeline, q.question, doc_id, positions[doc_id])
        ranked = cascade.first.rules.rank(q.question, passages, pipeline.index)
        picks = {"minilm": cascade.first.decide_ranked(ranked, passages, pipeline.index),
                 "mpnet": cascade.second.decide_ranked(ranked, passages, pipeline.index)}
        picks["cascade"] = picks["minilm"] if picks["minilm"].answer.confidence >= cascade.below else picks["mpnet"]
        for name, answerer in (("minilm reader alone", cascade.first), ("mpnet reader alone", cascade.second)):
            output = answerer.reader.read(q.question, [p.chunk.text for p in passages])
            add(name, output.candidates[0].text if output.candidates else "", q.answers)
        for name, decision in picks.items():
            if decision.pick is not None:
                doc, start, end = decision.pick
                add(name, pipeline.index.document(doc).text[start:end], q.answers)
        if n % 100 == 0:
            print(f"{n}/{len(questions)} questions, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    for name, (f1, em) in totals.items():
        print(f"{name}: gold paragraph F1 {100 * f1 / len(questions):.2f} EM {100 * em / len(questions):.2f} "
              f"({len(questions)} answerable questions, answering everything)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
