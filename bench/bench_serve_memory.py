"""Memory of `qa serve` per index size: resident and peak memory after start-up and after questions.

Usage:
    qa index /tmp/corpus10k --index-dir /tmp/ix-10k       # e.g. a corpus from bench/make_corpus.py
    python bench/bench_serve_memory.py /tmp/ix-seeds /tmp/ix-10k [--questions Q.jsonl] [--asks 5] [--json out.json]

For each index folder: starts ``qa serve`` on 127.0.0.1 (a free port) as a subprocess, waits for
``/health`` to answer 200 (at most ``--ready-within`` seconds), reads the server's RSS and peak RSS
(``VmHWM``), asks ``--asks`` questions with ``POST /ask``, reads both again, and stops the server.
Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_test import free_port, rss_mib, stop_server  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ["Who chairs the harbour board?", "When was the city founded?", "What is the capital of Montana?",
                     "How many people live there?", "Who wrote the first report?"]


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident set (``VmHWM``) in MiB, where ``/proc`` has it."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def index_chunks(index_dir: Path) -> int | None:
    try:
        version = (index_dir / "CURRENT").read_text().strip()
        return json.loads((index_dir / version / "manifest.json").read_text())["num_chunks"]
    except (OSError, ValueError, KeyError):
        return None


def measure_server(index_dir: Path, questions: list[str], ready_within: float, log_dir: Path) -> dict:
    """Start `qa serve` over ``index_dir``, measure memory before and after ``questions``, stop it."""
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = log_dir / f"serve-{port}.log"
    environment = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--index-dir", str(index_dir)],
                                   stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True, cwd=ROOT)
    started = time.monotonic()
    try:
        # Like load_test.start_server, which builds its own corpus; here the index is given.
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"qa serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > ready_within:
                raise RuntimeError(f"qa serve not ready within {ready_within:g} s")
            time.sleep(0.3)
        ready_s = time.monotonic() - started
        result = {"index_dir": str(index_dir), "chunks": index_chunks(index_dir), "ready_s": round(ready_s, 1),
                  "rss_ready_mib": rss_mib(process.pid), "peak_ready_mib": peak_rss_mib(process.pid)}
        latencies = []
        with httpx.Client(base_url=base, timeout=120) as client:
            for question in questions:
                t0 = time.perf_counter()
                client.post("/ask", json={"question": question}).raise_for_status()
                latencies.append(round((time.perf_counter() - t0) * 1000, 1))
        result.update({"asks": len(questions), "ask_ms": latencies, "rss_after_mib": rss_mib(process.pid),
                       "peak_after_mib": peak_rss_mib(process.pid),
                       "load_average": [round(x, 2) for x in os.getloadavg()]})
        return result
    finally:
        stop_server(process, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index_dirs", nargs="+")
    parser.add_argument("--questions", default=None, help="JSONL with a `question` field (default: five fixed ones)")
    parser.add_argument("--asks", type=int, default=5)
    parser.add_argument("--ready-within", type=float, default=600.0)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    if args.questions:
        lines = Path(args.questions).read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.asks]
    else:
        questions = DEFAULT_QUESTIONS[: args.asks]
    results = []
    print(f"{'index':<34}{'chunks':>9}{'ready s':>9}{'RSS MiB':>9}{'peak':>9}{'RSS after':>11}{'peak after':>11}"
          f"{'ask p50 ms':>12}")
    with tempfile.TemporaryDirectory() as logs:
        for index_dir in args.index_dirs:
            r = measure_server(Path(index_dir), questions, args.ready_within, Path(logs))
            results.append(r)
            print(f"{index_dir:<34}{r['chunks'] or 0:>9}{r['ready_s']:>9.1f}{r['rss_ready_mib']:>9.0f}"
                  f"{r['peak_ready_mib'] or 0:>9.0f}{r['rss_after_mib']:>11.0f}{r['peak_after_mib'] or 0:>11.0f}"
                  f"{statistics.median(r['ask_ms']) if r['ask_ms'] else 0:>12.1f}   load {r['load_average']}", flush=True)
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
