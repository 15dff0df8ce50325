"""Build a large index quickly by repeating the documents of a corpus that is already indexed.

Usage:
    qa index /tmp/corpus10k --index-dir /tmp/ix-10k                 # analysed and embedded once
    python bench/replicate_index.py /tmp/corpus10k --from-index /tmp/ix-10k --copies 10 --index-dir /tmp/ix-100k

Every document is added ``--copies`` times under the ids ``copy-<k>/<doc_id>``. The copies have
the same text, so the per-document cache of ``--from-index`` (parse, chunk vectors, term counts,
keyed by content hash) serves all of them and nothing is parsed or embedded again: what this
measures is everything that grows with the number of chunks (dense and BM25 indexes, chunk
and sentence tables, serve memory, retrieval latency), on real text and real embeddings, at a
fraction of the indexing time. What it does not give is a corpus with that many *different*
passages: the dense index holds each vector ``--copies`` times, so judge approximate-search
recall on ``bench/bench_ann.py``, not here.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def replicated(documents: list, copies: int) -> list:
    """``copies`` copies of each document, with ids ``copy-<k>/<doc_id>`` (the first keeps its id)."""
    out = []
    for k in range(copies):
        for document in documents:
            out.append(document if k == 0 else replace(document, doc_id=f"copy-{k}/{document.doc_id}"))
    return out


def main(argv: list[str] | None = None) -> int:
    from index.analysis import SpacyAnalyzer
    from index.build import build_index
    from index.chunking import ChunkerSettings
    from index.documents import load_corpus
    from index.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder
    from index.load import load_index
    from qa.config import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", help="the folder that --from-index was built from")
    parser.add_argument("--from-index", required=True, help="an index of the corpus (its cache/ is reused)")
    parser.add_argument("--copies", type=int, required=True)
    parser.add_argument("--index-dir", required=True, help="where to write the large index")
    args = parser.parse_args(argv)
    if args.copies < 1:
        parser.error("--copies must be at least 1")
    source = Path(args.from_index)
    if not (source / "cache").is_dir():
        parser.error(f"{source} has no cache/ folder: index the corpus there first with `qa index`")
    manifest = load_index(source, verify=False).manifest
    documents, _ = load_corpus([args.corpus])
    target = Path(args.index_dir)
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "cache").exists():
        shutil.copytree(source / "cache", target / "cache")
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings.model or DEFAULT_MODEL)  # named only: every vector is cached
    started = time.perf_counter()
    result = build_index(
        replicated(documents, args.copies), target, embedder,
        SpacyAnalyzer(manifest.analyzer), ChunkerSettings(**manifest.chunker), embed_title=manifest.embed_title,
        dense_index=settings.dense_index, large_document_chars=manifest.large_document_chars,
        on_step=lambda message: print(message, file=sys.stderr),
    )
    print(f"{result.num_chunks} chunks ({len(documents)} documents x {args.copies}) in "
          f"{time.perf_counter() - started:.1f} s -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
