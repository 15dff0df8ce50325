"""Write the reader's held-out SQuAD articles as a corpus folder and a questions file for `qa eval`.

Usage:
    python bench/make_squad_heldout.py OUT_DIR [--limit 300] [--seed 1]
    qa eval OUT_DIR/questions.jsonl --corpus OUT_DIR/corpus            # hybrid (default)
    QA_READER=0 qa eval OUT_DIR/questions.jsonl --corpus OUT_DIR/corpus  # rules only

Only the articles the reader never trained on (the fixed split of ``qa.training.squad``, or the
articles a reader's recipe names with ``--reader``) are used, and all of their paragraphs form one
corpus, so retrieval has to find the paragraph. ``--limit 0`` keeps every held-out question.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    from qa.training.data import split_by_article
    from qa.training.squad import load_training_data, write_corpus
    from qa.training.train_reader import DEFAULT_DATA

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reader", help="a reader weights folder: its recipe's held-out articles")
    args = parser.parse_args(argv)

    heldout = None
    if args.reader:
        heldout = json.loads((Path(args.reader) / "recipe.json").read_text())["data"]["heldout_articles"]
    paragraphs, questions, _, held = load_training_data(args.data, heldout)
    held = set(held)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    (out / "corpus").mkdir(parents=True)
    write_corpus(paragraphs, held, str(out / "corpus"))
    chosen = split_by_article(questions, paragraphs, held)[1]
    random.Random(args.seed).shuffle(chosen)
    if args.limit:
        chosen = chosen[: args.limit]
    with open(out / "questions.jsonl", "w", encoding="utf-8") as handle:
        for q in chosen:
            handle.write(json.dumps({"id": q.qid, "question": q.question, "answers": q.answers}) + "\n")
    print(f"{len(chosen)} questions ({sum(not q.answers for q in chosen)} unanswerable) over "
          f"{len(list((out / 'corpus').rglob('*.txt')))} paragraphs of {len(held)} held-out articles in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
