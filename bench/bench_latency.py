"""Question latency, in-process and (optionally) over HTTP, with the models loaded.

Usage:
    python bench/bench_latency.py --index-dir .qa-index --questions ../shared/eval/dev_questions.jsonl
    python bench/bench_latency.py --index-dir IDX --questions Q.jsonl --url http://127.0.0.1:8000 [--api-key K]

Each question is asked ``--rounds`` times after one warm-up pass; prints p50/p90/p99 per stage
(retrieval, answerer, total) and writes JSON with ``--json``. The warm-up pass leaves the
answerer's caches (decoded documents, sentence vectors) holding every passage the questions
read, which is what a small corpus looks like after a few questions. ``--fresh`` measures what a
large corpus looks like instead: one unrelated question loads the models, then every question is
asked once, reading passages no earlier question read (``--rounds`` is ignored).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentiles(values: list[float]) -> dict[str, float]:
    from qa.evaluation import percentile

    return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9), "p99": percentile(values, 0.99),
            "mean": statistics.fmean(values), "n": len(values)}


def load_questions(path: str) -> list[str]:
    from qa.evaluation import load_eval_file

    return [item.question for item in load_eval_file(path)]


def bench_in_process(index_dir: str, questions: list[str], rounds: int, fresh: bool = False) -> dict:
    from qa.config import Settings
    from qa.pipeline import QAPipeline, clean_question

    pipeline = QAPipeline(Settings(index_dir=Path(index_dir)))
    for question in (["What is this about?"] if fresh else questions):  # load models, fill caches
        pipeline.ask(question)
    if fresh:
        rounds = 1
    retrieval, answering, total = [], [], []
    for _ in range(rounds):
        for question in questions:
            getattr(pipeline.embedder, "_queries", {}).clear()  # time every question as a new one
            t0 = time.perf_counter()
            cleaned = clean_question(question, pipeline.settings.max_question_chars)
            passages = pipeline.retriever.retrieve(cleaned, pipeline.settings.top_k)
            t1 = time.perf_counter()
            pipeline.answerer.answer(cleaned, passages, pipeline.index)
            t2 = time.perf_counter()
            retrieval.append((t1 - t0) * 1000)
            answering.append((t2 - t1) * 1000)
            total.append((t2 - t0) * 1000)
    return {"chunks": len(pipeline.index.chunks), "retrieval_ms": percentiles(retrieval),
            "answerer_ms": percentiles(answering), "total_ms": percentiles(total)}


def bench_http(url: str, questions: list[str], rounds: int, api_key: str | None, fresh: bool = False) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for question in (["What is this about?"] if fresh else questions):
            client.post("/ask", json={"question": question}).raise_for_status()
        if fresh:
            rounds = 1
        latencies = []
        for _ in range(rounds):
            for question in questions:
                t0 = time.perf_counter()
                client.post("/ask", json={"question": question}).raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)
    return {"http_ms": percentiles(latencies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", default=".qa-index")
    parser.add_argument("--questions", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N questions")
    parser.add_argument("--url", default=None, help="also time POST /ask on this running `qa serve`")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--fresh", action="store_true", help="every question once, none seen before (see above)")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)[: args.limit]
    rounds = 1 if args.fresh else args.rounds
    result = {"questions": len(questions), "rounds": rounds, "fresh": args.fresh}
    result["in_process"] = bench_in_process(args.index_dir, questions, rounds, args.fresh)
    if args.url:
        result["http"] = bench_http(args.url, questions, rounds, args.api_key, args.fresh)

    print(f"{len(questions)} questions x {rounds} rounds{' (fresh)' if args.fresh else ''}, "
          f"{result['in_process']['chunks']} chunks")
    print(f"{'stage':<22}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}")
    rows = [("retrieval", result["in_process"]["retrieval_ms"]), ("answerer", result["in_process"]["answerer_ms"]),
            ("in-process total", result["in_process"]["total_ms"])]
    if args.url:
        rows.append(("HTTP POST /ask", result["http"]["http_ms"]))
    for name, p in rows:
        print(f"{name:<22}{p['p50']:>9.1f}{p['p90']:>9.1f}{p['p99']:>9.1f}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
