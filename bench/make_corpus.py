"""Write a large, realistic corpus: SQuAD sample paragraphs repeated with their entities swapped.

Usage:
    python bench/make_corpus.py OUT_DIR --target-chunks 10000      # about 10k chunks (default chunker)
    python bench/make_corpus.py OUT_DIR --documents 2500 [--paragraphs-per-doc 4] [--seed 1]
    qa index OUT_DIR --index-dir /tmp/ix-10k

Each document is a run of ``--paragraphs-per-doc`` consecutive paragraphs of one article of
``../shared/eval/squad-train-sample/corpus``. Entities that spaCy finds (people, places, dates,
numbers, organisations, ...) are replaced by others of the same label drawn from the whole
sample, the same replacement for the same entity within a document, so no two documents are
alike but each reads like Wikipedia prose. Documents are written ``1000`` to a folder
(``OUT_DIR/0000/000000.txt``); the first line is a title. Output is deterministic for a seed.

``--target-chunks`` chunks a sample of the generated documents with the real analyser and
``index.chunking.ChunkerSettings()`` to measure chunks per document, then writes enough
documents for the target; the measure is printed and kept in ``OUT_DIR/corpus.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "squad-train-sample" / "corpus"
#: Entity labels whose mentions are swapped; others (WORK_OF_ART, LAW, ...) read oddly when swapped.
SWAP_LABELS = ("PERSON", "GPE", "LOC", "ORG", "NORP", "DATE", "CARDINAL", "FAC", "EVENT", "ORDINAL", "PERCENT",
               "MONEY", "QUANTITY", "TIME")
DOCUMENTS_PER_FOLDER = 1000


@dataclass(frozen=True)
class Paragraph:
    """A source paragraph and its entity mentions ``(start, end, label)``."""

    article: str
    title: str
    text: str
    entities: tuple[tuple[int, int, str], ...]


def read_paragraphs(source: Path) -> list[tuple[str, str, str]]:
    """``(article, title, paragraph)`` for every file of a SQuAD-sample corpus, in a stable order."""
    out = []
    for path in sorted(source.rglob("*.txt"), key=lambda p: (p.parent.name, int(p.stem) if p.stem.isdigit() else p.stem)):
        title, _, body = path.read_text(encoding="utf-8").partition("\n")
        if body.strip():
            out.append((path.parent.name, title.strip(), body.strip()))
    return out


def find_entities(paragraphs: list[tuple[str, str, str]], spacy_model: str) -> list[Paragraph]:
    """Run spaCy's entity recogniser over the paragraphs."""
    import spacy

    nlp = spacy.load(spacy_model, disable=["parser", "lemmatizer"])
    out = []
    for (article, title, text), doc in zip(paragraphs, nlp.pipe((p[2] for p in paragraphs), batch_size=64)):
        entities = tuple((e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in SWAP_LABELS)
        out.append(Paragraph(article, title, text, entities))
    return out


def entity_pools(paragraphs: list[Paragraph]) -> dict[str, list[str]]:
    """Distinct mention texts per label, sorted so the pools do not depend on hash order."""
    pools: dict[str, set[str]] = {}
    for p in paragraphs:
        for start, end, label in p.entities:
            pools.setdefault(label, set()).add(p.text[start:end])
    return {label: sorted(texts) for label, texts in pools.items()}


def swap_entities(paragraph: Paragraph, pools: dict[str, list[str]], rng: random.Random,
                  chosen: dict[tuple[str, str], str]) -> str:
    """``paragraph.text`` with each entity replaced by a pool entry of its label.

    Args:
        paragraph: the source paragraph.
        pools: mention texts per label.
        rng: draws the replacements.
        chosen: ``(label, mention) -> replacement`` for the current document; updated, so a
            mention repeated in a document keeps one replacement.
    """
    parts = []
    position = 0
    for start, end, label in paragraph.entities:
        mention = paragraph.text[start:end]
        key = (label, mention)
        if key not in chosen:
            chosen[key] = rng.choice(pools[label])
        parts.append(paragraph.text[position:start])
        parts.append(chosen[key])
        position = end
    parts.append(paragraph.text[position:])
    return "".join(parts)


def make_document(number: int, paragraphs: list[Paragraph], articles: dict[str, list[int]],
                  pools: dict[str, list[str]], per_doc: int, seed: int) -> tuple[str, str]:
    """The ``number``-th document: ``(relative path, text)``; depends only on its arguments."""
    rng = random.Random(f"{seed}-{number}")
    names = sorted(articles)
    members = articles[names[rng.randrange(len(names))]]
    count = min(per_doc, len(members))
    first = rng.randrange(len(members) - count + 1)
    chosen: dict[tuple[str, str], str] = {}
    body = [swap_entities(paragraphs[i], pools, rng, chosen) for i in members[first : first + count]]
    title = f"{paragraphs[members[0]].title} ({number})"
    path = f"{number // DOCUMENTS_PER_FOLDER:04d}/{number:06d}.txt"
    return path, title + "\n\n" + "\n\n".join(body) + "\n"


def chunks_per_document(texts: list[str], spacy_model: str) -> float:
    """Mean number of chunks the default chunker makes of these document texts."""
    from index.analysis import SpacyAnalyzer
    from index.chunking import ChunkerSettings
    from index.documents import document_from_text
    from index.prepare import analyse_documents

    documents = [document_from_text(f"sample/{i}.txt", text) for i, text in enumerate(texts)]
    analysed = analyse_documents(documents, SpacyAnalyzer(spacy_model), ChunkerSettings())
    counts = [len(a.chunks) for a in analysed]
    return sum(counts) / len(counts)


def main(argv: list[str] | None = None) -> int:
    from index.analysis import DEFAULT_SPACY_MODEL

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--documents", type=int, help="how many documents to write")
    size.add_argument("--target-chunks", type=int, help="write about this many chunks (measured on a sample)")
    parser.add_argument("--paragraphs-per-doc", type=int, default=4)
    parser.add_argument("--source", default=str(DEFAULT_SOURCE), help="a SQuAD-sample corpus folder")
    parser.add_argument("--sample", type=int, default=200, help="documents chunked to measure chunks per document")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spacy-model", default=DEFAULT_SPACY_MODEL)
    args = parser.parse_args(argv)
    if args.paragraphs_per_doc < 1:
        parser.error("--paragraphs-per-doc must be positive")

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        parser.error(f"{out} exists and is not empty")
    started = time.perf_counter()
    paragraphs = find_entities(read_paragraphs(Path(args.source)), args.spacy_model)
    pools = entity_pools(paragraphs)
    articles: dict[str, list[int]] = {}
    for i, p in enumerate(paragraphs):
        articles.setdefault(p.article, []).append(i)
    print(f"{len(paragraphs)} paragraphs of {len(articles)} articles; {sum(len(p.entities) for p in paragraphs)} "
          f"entity mentions, pools: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(pools.items())))

    def generate(number: int) -> tuple[str, str]:
        return make_document(number, paragraphs, articles, pools, args.paragraphs_per_doc, args.seed)

    sample = [generate(i)[1] for i in range(args.sample)]
    per_doc = chunks_per_document(sample, args.spacy_model) if args.sample > 0 else None
    if args.target_chunks is not None:
        if not per_doc:
            parser.error("--target-chunks needs --sample > 0")
        count = math.ceil(args.target_chunks / per_doc)
    else:
        count = args.documents
    words = 0
    out.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        path, text = generate(number)
        target = out / path
        target.parent.mkdir(exist_ok=True)
        target.write_text(text, encoding="utf-8")
        words += len(text.split())
    info = {"documents": count, "paragraphs_per_doc": args.paragraphs_per_doc, "seed": args.seed,
            "words": words, "chunks_per_document_sample": per_doc, "sample_documents": args.sample,
            "expected_chunks": round(per_doc * count) if per_doc else None, "source": args.source,
            "seconds": round(time.perf_counter() - started, 1)}
    (out / "corpus.json").write_text(json.dumps(info, indent=2))
    print(f"wrote {count} documents ({words} words) to {out} in {info['seconds']} s; "
          f"{per_doc:.2f} chunks per document on a sample of {args.sample} -> about {info['expected_chunks']} chunks"
          if per_doc else f"wrote {count} documents to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
