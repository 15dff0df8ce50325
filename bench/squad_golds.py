"""Shared by the benches that read SQuAD's training golds in their paragraphs (content_clauses.py,
dimension_conflicts.py): the command line, the answerable training questions (the held-out
articles left out) and their paragraphs parsed once each."""

from __future__ import annotations

import argparse


def gold_span(doc, question):
    """A question's first gold answer as a span of its parsed paragraph ``doc`` (``None`` when the
    characters do not align to tokens)."""
    start = question.answer_start
    return doc.char_span(start, start + len(question.answers[0]), alignment_mode="expand")


def training_golds(argv: list[str] | None, description: str, examples_help: str):
    """``(args, nlp, questions, paragraph_doc)``: the parsed ``--data``/``--examples`` options, the
    spaCy pipeline, the answerable training questions, and a function giving a question's
    paragraph parsed (once per paragraph)."""
    from index.analysis import SpacyAnalyzer
    from qa.training.data import split_by_article
    from qa.training.squad import load_training_data
    from qa.training.train_reader import DEFAULT_DATA

    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA, help="SQuAD 1.1 train folder")
    parser.add_argument("--examples", type=int, default=5, help=examples_help)
    args = parser.parse_args(argv)
    paragraphs, questions, _, heldout = load_training_data(args.data)
    train, _ = split_by_article(questions, paragraphs, heldout)
    train = [q for q in train if q.answers and q.answer_start >= 0]
    nlp = SpacyAnalyzer().nlp
    parsed: dict[int, object] = {}

    def paragraph_doc(question):
        if question.pid not in parsed:
            parsed[question.pid] = nlp(paragraphs[question.pid].text)
        return parsed[question.pid]

    return args, nlp, train, paragraph_doc
