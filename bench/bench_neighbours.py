"""`POST /ask` beside busy neighbours: the same questions on an idle machine, beside one CPU-bound
process and beside two, for each thread setting, all in one run.

Usage:
    python bench/bench_neighbours.py --index-dir .qa-index --questions ../shared/eval/dev_questions.jsonl
        [--per-phase 80] [--settings 2,auto] [--phases 0,1,2] [--json out.json]

One `qa serve` per ``--settings`` value (``QA_THREADS``; ``2`` on a 2-core machine is what the
server did before ``auto``; more variables after a ``+``, as in ``2+OMP_WAIT_POLICY=PASSIVE``)
is started over the index, and each question is asked once of each
to warm their caches. Then, per phase, ``N`` busy loops start (Python ``while True: pass``, on no
particular core) and the phase's questions are asked in blocks of ``--block``, the servers taking
turns block by block (ABBA), with ``--gap`` seconds of quiet between blocks: ``auto`` measures the
last second's load, and would count the other server's answers as a busy neighbour otherwise.

Prints p50/p90 of the client's time per phase and setting, and each p50's ratio to the same
setting's idle p50. Note the machine's own load (printed) beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_latency import load_questions, percentiles  # noqa: E402
from load_test import busy_neighbours, start_server, stop_server  # noqa: E402


def ask_block(client: httpx.Client, questions: list[str]) -> list[float]:
    """Milliseconds per question, asked one after the other."""
    times = []
    for question in questions:
        started = time.perf_counter()
        client.post("/ask", json={"question": question}).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return times


def run_phase(clients: dict[str, httpx.Client], questions: list[str], block: int, gap: float) -> dict[str, list[float]]:
    """Every question of the phase asked of every server, block by block, servers alternating ABBA."""
    times: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    for number, begin in enumerate(range(0, len(questions), block)):
        order = names if number % 2 == 0 else names[::-1]
        for name in order:
            time.sleep(gap)
            times[name] += ask_block(clients[name], questions[begin : begin + block])
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", default=".qa-index")
    parser.add_argument("--questions", required=True)
    parser.add_argument("--per-phase", type=int, default=80, help="questions timed per phase and setting")
    parser.add_argument("--settings", default="2,auto", help="QA_THREADS of each server, comma-separated")
    parser.add_argument("--phases", default="0,1,2",
                        help="busy neighbours in each phase, comma-separated (0.3: one busy 30 ms of every 100)")
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--gap", type=float, default=1.5, help="seconds of quiet before each block")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after starting the neighbours")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    pool = load_questions(args.questions)
    questions = [pool[i % len(pool)] for i in range(args.per_phase)]
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    phases = [float(p) for p in args.phases.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="qa-neighbours-"))
    servers: dict[str, object] = {}
    clients: dict[str, httpx.Client] = {}
    result: dict = {"questions": len(questions), "settings": settings, "cpus": os.cpu_count(),
                    "load_average_start": [round(x, 2) for x in os.getloadavg()], "phases": {}}
    try:
        for setting in settings:
            folder = scratch / f"server-{len(servers)}"
            folder.mkdir()
            threads, *extra = setting.split("+")
            env = {"QA_THREADS": threads, "QA_CHAT_DB": str(folder / "chats.sqlite3"),
                   **dict(item.split("=", 1) for item in extra)}
            process, base = start_server(folder, index_dir=Path(args.index_dir).resolve(), env=env)
            servers[setting] = process
            clients[setting] = httpx.Client(base_url=base, timeout=120)
        for client in clients.values():
            ask_block(client, pool)  # load the models, fill the caches
        for count in phases:
            with busy_neighbours(count):
                time.sleep(args.settle)
                times = run_phase(clients, questions, args.block, args.gap)
            result["phases"][f"{count:g}"] = {name: percentiles(values) for name, values in times.items()}
            time.sleep(args.settle)
    finally:
        for client in clients.values():
            client.close()
        for process in servers.values():
            stop_server(process, signal.SIGTERM)
        shutil.rmtree(scratch, ignore_errors=True)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]

    print(f"{len(questions)} questions per phase and setting, {os.cpu_count()} CPUs, load average at start "
          f"{' '.join(map(str, result['load_average_start']))}, at end {' '.join(map(str, result['load_average_end']))}")
    width = max(12, *(len(s) + 2 for s in settings))
    print(f"{'busy neighbours':<17}{'QA_THREADS':<{width}}{'p50 ms':>9}{'p90 ms':>9}{'p50 / idle':>12}")
    idle = result["phases"][f"{phases[0]:g}"]
    for count in phases:
        for name, p in result["phases"][f"{count:g}"].items():
            ratio = p["p50"] / idle[name]["p50"]
            p["ratio_to_idle_p50"] = round(ratio, 3)
            print(f"{count:<17g}{name:<{width}}{p['p50']:>9.1f}{p['p90']:>9.1f}{ratio:>12.2f}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
