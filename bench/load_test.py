"""Load test of `qa serve` on loopback: concurrent clients mixing /ask, /chat and /documents.

Usage:
    python bench/load_test.py [--clients 32] [--seconds 60] [--url http://127.0.0.1:PORT --pid PID]
                              [--neighbours 1] [--max-growth-mib 150] [--json out.json]

``--neighbours N`` runs N busy loops beside the server while the clients run (a shared machine).

Without ``--url`` it starts `qa serve` itself on 127.0.0.1 (a free port) over a small corpus
written to a temporary folder, and stops it at the end. It refuses any non-loopback URL.

Before the load, every question is asked once, one at a time, for reference answers. Then each
client loops until the time is up (or ``--max-requests``): /ask 40 %, /chat 40 % (its own
conversation, a new one every 5 turns), /documents 20 %. It checks:

- errors: any status other than 200 (except 503 "busy" with ``Retry-After``, counted apart: a
  request that waited in line until its time limit), or a failed connection;
- answers: every /ask answer equals the reference answer for that question (an answer must not
  depend on what runs at the same time);
- lost turns: after the run, every acknowledged chat turn is in its conversation's history,
  at the position the server gave, with the same message;
- memory: the server's RSS (psutil) before and after the run; growth above ``--max-growth-mib``
  fails the run.

Prints throughput, p50/p99 latency per route and overall, and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(ROOT))
from qa.evaluation import percentile  # noqa: E402
from tests.conftest import HARBOUR, ORCHARD  # noqa: E402  (the documents the tests use)

QUESTIONS = [
    "Who chairs the harbour board?",
    "When was Maria Lindqvist elected?",
    "How much would the ferry terminal cost?",
    "Where will Maria Lindqvist speak next month?",
    "Whom will she meet in Oslo?",
    "How many varieties of apples does the Appleby orchard grow?",
    "Who planted the oldest tree?",
    "When was the oldest tree planted?",
    "What damaged the blossoms in April?",
    "Who won the football match yesterday?",
]
FOLLOW_UPS = ["When was she elected?", "Where will she speak next month?", "Who planted it?", "What about Oslo?"]


def answer_key(body: dict) -> tuple:
    """What must not change between runs: the span, found, and where it comes from."""
    return (body["answer"], body["found"], tuple((c["doc_id"], c["start"], c["end"]) for c in body["citations"]))


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"ask": [], "chat": [], "documents": []})
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    acknowledged: list[tuple[str, int, str]] = field(default_factory=list)  # session, turn, message
    refused: int = 0  # 503 "busy" with Retry-After
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def reference_answers(client: httpx.Client, questions: list[str]) -> dict[str, tuple]:
    """Each question asked once, with nothing else running."""
    answers = {}
    for question in questions:
        response = client.post("/ask", json={"question": question})
        response.raise_for_status()
        answers[question] = answer_key(response.json())
    return answers


def run_client(base: str, headers: dict, seed: int, stop_at: float, budget: threading.Semaphore | None,
               reference: dict[str, tuple], doc_ids: list[str], results: Results) -> None:
    rng = random.Random(seed)
    session: str | None = None
    turns_in_session = 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while time.monotonic() < stop_at:
            if budget is not None and not budget.acquire(blocking=False):
                return
            roll = rng.random()
            started = time.perf_counter()
            try:
                if roll < 0.4:
                    kind = "ask"
                    question = rng.choice(QUESTIONS)
                    response = client.post("/ask", json={"question": question})
                    if response.status_code == 200 and answer_key(response.json()) != reference[question]:
                        with results.lock:
                            results.mismatches.append(f"{question!r}: {answer_key(response.json())} != {reference[question]}")
                elif roll < 0.8:
                    kind = "chat"
                    message = rng.choice(QUESTIONS if session is None else QUESTIONS + FOLLOW_UPS)
                    body = {"message": message} if session is None else {"message": message, "session_id": session}
                    response = client.post("/chat", json=body)
                    if response.status_code == 200:
                        data = response.json()
                        with results.lock:
                            results.acknowledged.append((data["session_id"], data["turn"], data["message"]))
                        session = data["session_id"]
                        turns_in_session += 1
                        if turns_in_session >= 5:
                            session, turns_in_session = None, 0
                else:
                    kind = "documents"
                    doc_id = rng.choice(doc_ids)
                    response = client.get(f"/documents/{quote(doc_id, safe='/')}")
            except httpx.HTTPError as exc:
                results.error(f"{type(exc).__name__}: {exc}")
                continue
            results.record(kind, time.perf_counter() - started)
            if response.status_code == 503 and "retry-after" in response.headers:
                with results.lock:
                    results.refused += 1  # busy past the time limit, and told when to come back
            elif response.status_code != 200:
                results.error(f"{kind} HTTP {response.status_code}: {response.text[:200]}")


def lost_turns(client: httpx.Client, acknowledged: list[tuple[str, int, str]]) -> list[str]:
    """Acknowledged turns missing from (or different in) their conversation's history."""
    lost = []
    by_session: dict[str, list[tuple[int, str]]] = {}
    for session, turn, message in acknowledged:
        by_session.setdefault(session, []).append((turn, message))
    for session, expected in by_session.items():
        response = client.get(f"/chat/{session}")
        if response.status_code != 200:
            lost.extend(f"{session}#{turn}: conversation answers {response.status_code}" for turn, _ in expected)
            continue
        stored = {t["turn"]: t["message"] for t in response.json()["turns"]}
        lost.extend(f"{session}#{turn}: {stored.get(turn)!r} != {message!r}"
                    for turn, message in expected if stored.get(turn) != message)
    return lost


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process(pid).memory_info().rss / 2**20


def run_load(base: str, *, clients: int = 32, seconds: float = 60.0, max_requests: int | None = None,
             api_key: str | None = None, server_pid: int | None = None, seed: int = 1, neighbours: float = 0) -> dict:
    """Drive the server at ``base`` and return the figures and the checks (see the module docstring);
    ``neighbours`` busy loops run beside it while the clients do."""
    host = urlparse(base).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        raise ValueError(f"refusing to load-test {base}: loopback addresses only")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        reference = reference_answers(client, QUESTIONS)
        rss_start = rss_mib(server_pid)
        results = Results()
        doc_ids = ["news/harbour.txt", "orchard.md"]
        budget = threading.Semaphore(max_requests) if max_requests else None
        started = time.monotonic()
        threads = [threading.Thread(target=run_client, args=(base, headers, seed + n, started + seconds, budget,
                                                               reference, doc_ids, results), daemon=True)
                   for n in range(clients)]
        with busy_neighbours(neighbours):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elapsed = time.monotonic() - started
        rss_end = rss_mib(server_pid)
        lost = lost_turns(client, results.acknowledged)
        # Afterwards, one at a time again: still the same answers.
        after = reference_answers(client, QUESTIONS)
    everything = [x for values in results.latencies.values() for x in values]
    return {
        "clients": clients, "seconds": round(elapsed, 1), "requests": len(everything),
        "throughput_rps": round(len(everything) / elapsed, 2),
        "latency_ms": {kind: {"count": len(v), "p50": round(percentile(v, 0.5) * 1000, 1),
                              "p99": round(percentile(v, 0.99) * 1000, 1)}
                       for kind, v in {**results.latencies, "all": everything}.items()},
        "neighbours": neighbours, "refused_busy": results.refused,
        "errors": results.errors, "answer_mismatches": results.mismatches,
        "sequential_answers_changed": [q for q in QUESTIONS if after[q] != reference[q]],
        "acknowledged_turns": len(results.acknowledged), "lost_turns": lost,
        "rss_start_mib": None if rss_start is None else round(rss_start, 1),
        "rss_end_mib": None if rss_end is None else round(rss_end, 1),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, env: dict | None = None, ready_within: float = 300.0,
                 index_dir: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start `qa serve` on 127.0.0.1 over the small corpus in ``folder`` (written if missing), or
    over ``index_dir`` when given; ``folder`` holds the log (and the corpus)."""
    corpus = folder / "corpus"
    if index_dir is None and not corpus.exists():
        (corpus / "news").mkdir(parents=True)
        (corpus / "news" / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
        (corpus / "orchard.md").write_text(ORCHARD, encoding="utf-8")
    port = free_port()
    qa = shutil.which("qa", path=os.path.dirname(sys.executable))
    command = [qa] if qa else [sys.executable, "-m", "api.cli"]
    environment = {k: v for k, v in os.environ.items() if k != "QA_INDEX_DIR"}
    environment.update(QA_CORPUS=str(corpus), TOKENIZERS_PARALLELISM="false", **(env or {}))
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    # without index_dir: the default index (.qa-index in folder), built from the corpus on first use
    where = [] if index_dir is None else ["--index-dir", str(index_dir)]
    log = open(folder / "server.log", "ab")
    process = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port), *where],
                               stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True,
                               cwd=folder)
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited with {process.returncode}:\n{(folder / 'server.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(process, signal.SIGKILL)
            raise RuntimeError(f"qa serve not ready within {ready_within:g} s")
        time.sleep(0.3)


#: A process busy for ``sys.argv[1]`` of every 100 ms, sleeping the rest.
PART_TIME_LOOP = ("import sys, time\nbusy = 0.1 * float(sys.argv[1])\nwhile True:\n"
                  "    end = time.perf_counter() + busy\n    while time.perf_counter() < end: pass\n"
                  "    time.sleep(0.1 - busy)")


@contextlib.contextmanager
def busy_neighbours(cores: float) -> Iterator[list[subprocess.Popen]]:
    """CPU-bound processes beside the server for the block, on no particular core: a Python busy
    loop per whole core of ``cores``, and one busy for the fraction left (0.3: 30 ms of every 100)."""
    whole = int(cores)
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(whole)]
    if cores - whole > 1e-6:
        loops.append(subprocess.Popen([sys.executable, "-c", PART_TIME_LOOP, str(cores - whole)]))
    try:
        yield loops
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def stop_server(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def print_report(report: dict, max_growth: float) -> None:
    print(f"{report['clients']} clients for {report['seconds']} s beside {report['neighbours']} busy "
          f"neighbour(s): {report['requests']} requests, {report['throughput_rps']} req/s")
    print(f"{'route':<12}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, row in report["latency_ms"].items():
        print(f"{kind:<12}{row['count']:>8}{row['p50']:>10}{row['p99']:>10}")
    print(f"refused busy (503 with Retry-After) {report['refused_busy']}, errors {len(report['errors'])}, answer mismatches {len(report['answer_mismatches'])}, "
          f"lost turns {len(report['lost_turns'])} of {report['acknowledged_turns']} acknowledged")
    if report["rss_start_mib"] is not None:
        print(f"server RSS {report['rss_start_mib']} MiB -> {report['rss_end_mib']} MiB "
              f"(growth {report['rss_end_mib'] - report['rss_start_mib']:+.1f} MiB, bound {max_growth:g} MiB)")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    for problem in (report["errors"] + report["answer_mismatches"] + report["lost_turns"])[:10]:
        print("  ", problem)


def failed(report: dict, max_growth: float) -> bool:
    growth = (report["rss_end_mib"] or 0) - (report["rss_start_mib"] or 0)
    return bool(report["errors"] or report["answer_mismatches"] or report["lost_turns"]
                or report["sequential_answers_changed"] or growth > max_growth)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=None, help="stop after this many requests in all")
    parser.add_argument("--url", default=None, help="a running server (loopback only); default: start one")
    parser.add_argument("--pid", type=int, default=None, help="the running server's pid, for its memory")
    parser.add_argument("--api-key", default=os.environ.get("QA_API_KEY"))
    parser.add_argument("--max-growth-mib", type=float, default=150.0, help="allowed RSS growth of the server")
    parser.add_argument("--neighbours", type=float, default=0,
                        help="cores of CPU-bound work (busy loops) running beside the server during the load")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    process = scratch = None
    base, pid = args.url, args.pid
    try:
        if base is None:
            scratch = Path(tempfile.mkdtemp(prefix="qa-load-"))
            process, base = start_server(scratch)
            pid = process.pid
        report = run_load(base, clients=args.clients, seconds=args.seconds, max_requests=args.max_requests,
                          api_key=args.api_key, server_pid=pid, neighbours=args.neighbours)
    finally:
        if process is not None:
            stop_server(process)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    report["load_average"] = os.getloadavg()
    print_report(report, args.max_growth_mib)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(report, indent=2))
    return 1 if failed(report, args.max_growth_mib) else 0


if __name__ == "__main__":
    raise SystemExit(main())
