"""Approximate dense search against exact search on real MiniLM embeddings: recall@10, latency, build, memory.

Usage:
    python bench/make_corpus.py /tmp/corpus10k --target-chunks 10000
    python bench/bench_ann.py --corpus /tmp/corpus10k --passages 20000 [--queries 500] [--json out.json]

Passages are the chunks of the corpus (sentences from the fast rule-based splitter, so the spaCy
pipeline need not run over it; then our default chunker), embedded with the packaged MiniLM and
cached in ``--cache`` (``/tmp/qa-bench-ann``) part by part, so an interrupted run resumes. Two query
sets: ``--queries`` real SQuAD questions, and as many held-out passages (chunks after the first
``--passages``, which are not indexed). For each index size in ``--sizes`` (first N passages), the
exact ``IndexFlatIP`` top 10 is the truth for:

- ``IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT)`` with efConstruction ``--ef-construction`` and each
  efSearch of ``--ef-search`` (our index: M=32, efConstruction=80, efSearch=64 above 50,000 chunks);
- ``IndexIVFFlat`` with nlist = 4 * sqrt(N) and each nprobe of ``--nprobe``.

Recall@10 is |approximate top 10 & exact top 10| / 10, averaged over queries. Queries are searched
one at a time on one thread (``faiss.omp_set_num_threads(1)``), the way ``qa`` asks; build time
uses all threads. Memory is the size of the serialised index.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_latency import percentiles  # noqa: E402

DEFAULT_QUESTIONS = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "squad-train-sample" / "questions.jsonl"
EMBED_PART = 2000


def recall_at_k(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row of ``exact`` ids found in the same row of ``approximate`` (-1 = none)."""
    k = exact.shape[1]
    found = [len(set(a[a >= 0].tolist()) & set(e.tolist())) / k for a, e in zip(approximate, exact)]
    return float(np.mean(found))


def corpus_passages(corpus: str, limit: int) -> list[str]:
    """The first ``limit`` passage texts of ``corpus``, chunked as ``qa index`` would (fast sentence split)."""
    from index.analysis import SpacyAnalyzer
    from index.chunking import ChunkerSettings
    from index.documents import load_corpus
    from index.prepare import analyse_documents, passage_text

    documents, _ = load_corpus([corpus])
    passages: list[str] = []
    # large_document_chars=0 sends every document through the rule-based sentence splitter.
    for a in analyse_documents(documents, SpacyAnalyzer(), ChunkerSettings(), large_document_chars=0):
        passages.extend(passage_text(a.document, c, True) for c in a.chunks)
        if len(passages) >= limit:
            break
    return passages[:limit]


def embed_cached(texts: list[str], cache: Path, label: str, embedder) -> np.ndarray:
    """Embed ``texts`` in parts of :data:`EMBED_PART`, each saved under ``cache/label`` and reused if present."""
    folder = cache / label
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    started = time.perf_counter()
    for first in range(0, len(texts), EMBED_PART):
        # Named by content, so a later run with more or fewer texts reuses every part it shares.
        key = hashlib.sha256("\x00".join(texts[first : first + EMBED_PART]).encode()).hexdigest()[:16]
        path = folder / f"{first:08d}-{key}.npy"
        if path.exists():
            parts.append(np.load(path))
            continue
        vectors = embedder.embed(texts[first : first + EMBED_PART])
        np.save(path.with_suffix(".tmp.npy"), vectors)
        os.replace(path.with_suffix(".tmp.npy"), path)
        parts.append(vectors)
        done = first + len(vectors)
        print(f"  embedded {done}/{len(texts)} {label} ({done / (time.perf_counter() - started):.0f}/s since start)",
              flush=True)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def timed_search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, dict]:
    """Search queries one at a time; the ids and per-query latency percentiles in ms."""
    ids = np.empty((len(queries), k), dtype=np.int64)
    latencies = []
    for i, query in enumerate(queries):
        t0 = time.perf_counter()
        _, row = index.search(query.reshape(1, -1), k)
        latencies.append((time.perf_counter() - t0) * 1000)
        ids[i] = row[0]
    return ids, percentiles(latencies)


def index_bytes(index) -> int:
    import faiss

    return int(faiss.serialize_index(index).size)


def bench_size(vectors: np.ndarray, query_sets: dict[str, np.ndarray], args) -> dict:
    import faiss

    n, d = vectors.shape
    threads = faiss.omp_get_max_threads()
    rows = []

    def measure(name: str, index, build_s: float, settings: dict, set_param) -> None:
        for value in settings["values"]:
            set_param(value)
            row = {"index": name, settings["name"]: value, "build_s": build_s, "bytes": index_bytes(index)}
            faiss.omp_set_num_threads(1)
            for qname, queries in query_sets.items():
                found, latency = timed_search(index, queries, args.k)
                row[f"recall@{args.k}_{qname}"] = recall_at_k(found, truth[qname])
                row[f"latency_ms_{qname}"] = latency
            faiss.omp_set_num_threads(threads)
            rows.append(row)

    flat = faiss.IndexFlatIP(d)
    t0 = time.perf_counter()
    flat.add(vectors)
    flat_build = time.perf_counter() - t0
    truth = {}
    faiss.omp_set_num_threads(1)
    flat_row = {"index": "flat", "build_s": flat_build, "bytes": index_bytes(flat)}
    for qname, queries in query_sets.items():
        truth[qname], flat_row[f"latency_ms_{qname}"] = timed_search(flat, queries, args.k)
        flat_row[f"recall@{args.k}_{qname}"] = 1.0
    faiss.omp_set_num_threads(threads)
    rows.append(flat_row)

    hnsw = faiss.IndexHNSWFlat(d, args.M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = args.ef_construction
    t0 = time.perf_counter()
    hnsw.add(vectors)
    measure(f"hnsw M={args.M} efC={args.ef_construction}", hnsw, time.perf_counter() - t0,
            {"name": "efSearch", "values": args.ef_search}, lambda v: setattr(hnsw.hnsw, "efSearch", v))

    nlist = max(1, int(round(4 * math.sqrt(n))))
    quantizer = faiss.IndexFlatIP(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    ivf.train(vectors)
    ivf.add(vectors)
    measure(f"ivf nlist={nlist}", ivf, time.perf_counter() - t0,
            {"name": "nprobe", "values": args.nprobe}, lambda v: setattr(ivf, "nprobe", v))
    return {"vectors": n, "dimension": d, "build_threads": threads, "rows": rows,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def print_table(result: dict, k: int, query_names: list[str]) -> None:
    print(f"\n{result['vectors']} vectors, d={result['dimension']}, build on {result['build_threads']} threads, "
          f"search on 1; load average {result['load_average']}")
    header = f"{'index':<24}{'param':>12}{'build s':>9}{'MiB':>8}"
    for q in query_names:
        header += f"{'R@' + str(k) + ' ' + q:>16}{'p50 ms':>8}{'p90 ms':>8}"
    print(header)
    for row in result["rows"]:
        param = next((f"{p}={row[p]}" for p in ("efSearch", "nprobe") if p in row), "exact")
        line = f"{row['index']:<24}{param:>12}{row['build_s']:>9.2f}{row['bytes'] / 2**20:>8.1f}"
        for q in query_names:
            lat = row[f"latency_ms_{q}"]
            line += f"{row[f'recall@{k}_{q}']:>16.4f}{lat['p50']:>8.3f}{lat['p90']:>8.3f}"
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a corpus folder, e.g. from bench/make_corpus.py")
    parser.add_argument("--passages", type=int, default=20000, help="passages to embed and index")
    parser.add_argument("--sizes", type=int, nargs="*", default=None,
                        help="index sizes to test (first N passages); default: a quarter, a half, all")
    parser.add_argument("--queries", type=int, default=500, help="questions, and held-out passages, to query with")
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS), help="JSONL with a `question` field")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--M", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--cache", default="/tmp/qa-bench-ann")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    from index.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    cache = Path(args.cache)
    texts = corpus_passages(args.corpus, args.passages + args.queries)
    if len(texts) < args.passages + args.queries:
        parser.error(f"{args.corpus} holds only {len(texts)} passages; need --passages + --queries")
    vectors = embed_cached(texts[: args.passages], cache, "passages", embedder)
    held_out = embed_cached(texts[args.passages :], cache, "heldout", embedder)
    questions = [json.loads(line)["question"] for line in Path(args.questions).read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    random.Random(args.seed).shuffle(questions)
    question_vectors = embed_cached(questions[: args.queries], cache, "questions", embedder)
    query_sets = {"questions": question_vectors, "passages": held_out}

    sizes = args.sizes or sorted({args.passages // 4, args.passages // 2, args.passages})
    results = {"k": args.k, "queries": args.queries, "load_average_start": [round(x, 2) for x in os.getloadavg()],
               "sizes": []}
    for size in sizes:
        result = bench_size(vectors[:size], query_sets, args)
        results["sizes"].append(result)
        print_table(result, args.k, list(query_sets))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
