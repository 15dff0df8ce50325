"""Question latency, in-process and (optionally) over HTTP, with the models loaded.

Usage:
    python bench/bench_latency.py --index-dir .qa-index --questions ../shared/eval/dev_questions.jsonl
    python bench/bench_latency.py --index-dir IDX --questions Q.jsonl --url http://127.0.0.1:8000 [--api-key K]

Each question is asked ``--rounds`` times after one warm-up pass; prints p50/p90/p99 per stage
(retrieval, answerer, total) and writes JSON with ``--json``. With ``--url`` each question is
asked in-process and then over HTTP, in turn, so both see the same machine load. The warm-up pass leaves the
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


class InProcess:
    """The pipeline in this process, asked the way ``pipeline.ask`` does, stage by stage."""

    def __init__(self, index_dir: str) -> None:
        from qa.config import Settings
        from qa.pipeline import QAPipeline

        self.pipeline = QAPipeline(Settings(index_dir=Path(index_dir)))
        self.retrieval: list[float] = []
        self.answering: list[float] = []
        self.total: list[float] = []

    def ask(self, question: str, record: bool = True) -> None:
        pipeline = self.pipeline
        forget = getattr(pipeline.embedder, "forget_queries", None)
        if forget:
            forget()  # time every question as a new one
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        pipeline.run(question, timings=timings)
        total = time.perf_counter() - t0
        if record:
            self.retrieval.append(timings["retrieve"] * 1000)
            self.answering.append(timings["answer"] * 1000)
            self.total.append(total * 1000)

    def result(self) -> dict:
        return {"chunks": len(self.pipeline.index.chunks), "retrieval_ms": percentiles(self.retrieval),
                "answerer_ms": percentiles(self.answering), "total_ms": percentiles(self.total)}


class OverHttp:
    """``POST /ask`` on a running ``qa serve``."""

    def __init__(self, url: str, api_key: str | None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=url, headers=headers, timeout=30)
        self.latencies: list[float] = []
        self.server: list[float] = []

    def ask(self, question: str, record: bool = True) -> None:
        t0 = time.perf_counter()
        response = self.client.post("/ask", json={"question": question})
        response.raise_for_status()
        if record:
            self.latencies.append((time.perf_counter() - t0) * 1000)
            self.server.append(server_time(response.headers.get("server-timing", "")))

    def result(self) -> dict:
        return {"http_ms": percentiles(self.latencies), "server_ms": percentiles(self.server)}


def server_time(header: str) -> float:
    """Milliseconds the server says it spent (the sum of a ``Server-Timing`` header's durations)."""
    total = 0.0
    for entry in header.split(","):
        for part in entry.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name == "dur":
                total += float(value)
    return total


def run(targets: list, questions: list[str], rounds: int, fresh: bool = False) -> None:
    """Warm every target up, then ask each question of each target in turn.

    Alternating question by question puts the in-process and HTTP figures under the same
    machine load: on a shared 2-core machine the same code measures p50s 20 % apart a minute
    apart, which timing one target after the other would take for a difference between them.
    """
    for target in targets:
        for question in (["What is this about?"] if fresh else questions):  # load models, fill caches
            target.ask(question, record=False)
    for _ in range(1 if fresh else rounds):
        for question in questions:
            for target in targets:
                target.ask(question)


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
    local = InProcess(args.index_dir)
    remote = OverHttp(args.url, args.api_key) if args.url else None
    run([local] + ([remote] if remote else []), questions, rounds, args.fresh)
    result["in_process"] = local.result()
    if remote:
        result["http"] = remote.result()

    print(f"{len(questions)} questions x {rounds} rounds{' (fresh)' if args.fresh else ''}, "
          f"{result['in_process']['chunks']} chunks")
    print(f"{'stage':<22}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}")
    rows = [("retrieval", result["in_process"]["retrieval_ms"]), ("answerer", result["in_process"]["answerer_ms"]),
            ("in-process total", result["in_process"]["total_ms"])]
    if args.url:
        rows.append(("server (Server-Timing)", result["http"]["server_ms"]))
        rows.append(("HTTP POST /ask", result["http"]["http_ms"]))
    for name, p in rows:
        print(f"{name:<22}{p['p50']:>9.1f}{p['p90']:>9.1f}{p['p99']:>9.1f}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
