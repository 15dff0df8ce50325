"""Indexing throughput: `qa index` end to end against the raw encoder alone on the same chunks.

Usage:
    python bench/bench_index.py CORPUS_DIR [--json out.json]

Prints a table (seconds, chunks/s, ratio) and writes JSON. Both runs happen in this one
process, on the same chunks, so the ratio is meaningful on a noisy machine. The spaCy analysis
(sentences, parse, entities, chunking) is timed on its own too, and with it the ratio `qa index`
could reach if everything but the encoder and that analysis cost nothing, one after the other.
`qa index` is timed as it runs by default (`auto`: the analysis in a worker process, overlapped
with the encoder, once there is enough text) and, for comparison, with the analysis in the same
process (`--worker` picks).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.analysis import SpacyAnalyzer  # noqa: E402
from index.build import build_index  # noqa: E402
from index.chunking import ChunkerSettings  # noqa: E402
from index.documents import load_corpus  # noqa: E402
from index.embedding import SentenceTransformerEmbedder  # noqa: E402
from index.prepare import analyse_documents, passage_text  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--worker", default="auto,off",
                        help="analysis worker settings (auto/on/off) to time qa index with, comma-separated "
                             "(default: auto,off; auto is what qa index does, on forces the worker)")
    args = parser.parse_args(argv)

    documents, _ = load_corpus([args.corpus])
    analyzer = SpacyAnalyzer()
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    analyzer.nlp  # load before timing
    settings = ChunkerSettings()
    started = time.perf_counter()
    analysed = list(analyse_documents(documents, analyzer, settings))
    parse = time.perf_counter() - started
    passages = [passage_text(a.document, c, True) for a in analysed for c in a.chunks]
    embedder.embed(passages[:64])  # warm the kernels

    started = time.perf_counter()
    embedder.embed(passages)
    raw = time.perf_counter() - started

    builds = {}
    for setting in args.worker.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            build_index(documents, Path(scratch) / "ix", embedder, analyzer, settings, analysis_worker=setting)
            builds[setting] = time.perf_counter() - started

    n = len(passages)
    result = {
        "documents": len(documents), "chunks": n,
        "raw_encoder_s": raw, "analysis_s": parse, "raw_chunks_per_s": n / raw,
        "qa_index_s": {setting: seconds for setting, seconds in builds.items()},
        "index_chunks_per_s": {setting: n / seconds for setting, seconds in builds.items()},
        "ratio": {setting: raw / seconds for setting, seconds in builds.items()},
        "ratio_bound_by_sequential_analysis": raw / (raw + parse),
    }
    print(f"{'run':<26}{'seconds':>10}{'chunks/s':>10}{'ratio':>8}")
    print(f"{'raw encoder':<26}{raw:>10.1f}{n / raw:>10.1f}{1:>8.2f}")
    for setting, seconds in builds.items():
        label = f"qa index (worker {setting})"
        print(f"{label:<26}{seconds:>10.1f}{n / seconds:>10.1f}{raw / seconds:>8.2f}")
    print(f"{'spaCy analysis':<26}{parse:>10.1f}{n / parse:>10.1f}   (sentences, parse, entities, chunking; part of qa index)")
    print(f"ratio = raw encoder time / qa index time ({len(documents)} documents, {n} chunks)")
    print(f"the most it could be with the analysis run before the encoder, everything else free: {raw / (raw + parse):.2f}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
