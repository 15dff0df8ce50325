"""Why the models keep one thread: the reader's latency on a thread, with and without a second
OpenMP team in the process.

Usage:
    python bench/bench_threads.py [--pairs 3] [--reads 40] [--json out.json]

torch (and FAISS) give every thread that runs parallel work a team of OpenMP worker threads. When
a process holds more worker threads than it has cores, libgomp stops spinning between parallel
regions. Each pair of runs starts two fresh processes that load and warm the reader up, then time
``--reads`` reads of 3 passages on a new thread:

- ``two teams``: the loading thread is the main thread, which lives on (as a server's loading
  thread in a pool did);
- ``one team``: the loading thread ends before the reads start (as ``qa serve`` does now).

Fresh processes per run, pairs alternating, so that machine noise falls on both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSAGE = ("The harbour board met on Tuesday in the old customs house. Its chair, a retired pilot, "
           "said the new quay would open in the spring after two years of work. ") * 6


def child(mode: str, reads: int) -> float:
    """Median milliseconds per read in this process, loading as ``mode`` says."""
    sys.path.insert(0, str(ROOT))
    from index.embedding import use_bf16
    from qa.reader.reader import SpanReader

    reader = SpanReader(bf16=use_bf16("auto"))

    def load() -> None:
        reader.load()
        reader.read("What is this?", ["This is a warm-up passage."] * 3)

    if mode == "two-teams":
        load()
    else:
        loader = threading.Thread(target=load)
        loader.start()
        loader.join()
    timings: list[float] = []

    def work() -> None:
        for _ in range(reads):
            started = time.perf_counter()
            reader.read("When will the new quay open?", [PASSAGE] * 3)
            timings.append((time.perf_counter() - started) * 1000)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    return statistics.median(timings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--child", choices=["one-team", "two-teams"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.reads)))
        return 0
    results: dict[str, list[float]] = {"two-teams": [], "one-team": []}
    for _ in range(args.pairs):
        for mode in results:
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--reads", str(args.reads)],
                                 check=True, capture_output=True, text=True).stdout
            results[mode].append(float(out.strip().splitlines()[-1]))
    print(f"reader, 3 passages, median ms per read over {args.reads} reads, one fresh process per run")
    print(f"{'pair':<6}{'two teams':>12}{'one team':>12}{'ratio':>8}")
    for i, (two, one) in enumerate(zip(results["two-teams"], results["one-team"]), start=1):
        print(f"{i:<6}{two:>12.1f}{one:>12.1f}{two / one:>8.2f}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
