"""What storing a chat turn costs: SQLite against PostgreSQL (the store replicas share).

Usage:
    python bench/bench_chat_store.py [--turns 200] [--url postgresql://...]

Plays ``--turns`` turns (20 per conversation: create, then get + append per turn, as
``POST /chat`` does) against each store and prints the median and p90 milliseconds per turn.
Without ``--url``, PostgreSQL is a throwaway server started from Debian's ``postgresql`` package
(as the tests do) on a Unix socket, committing with fsync as configured by default.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.chat_store import chat_store_at  # noqa: E402
from qa.conversation import Turn  # noqa: E402

TURN = Turn("Where will she speak next month?", "Where will Maria Lindqvist speak next month?", "Oslo", (), ())
ANSWER = {"answer": "Oslo", "found": True, "quote": "She will speak in Oslo next month.", "citations": []}


def per_turn_ms(location: str, turns: int) -> list[float]:
    store = chat_store_at(location)
    times, conversation = [], None
    for n in range(turns):
        started = time.perf_counter()
        if n % 20 == 0:
            conversation = store.create()
        store.get(conversation.id)
        store.append(conversation.id, TURN, ANSWER)
        times.append((time.perf_counter() - started) * 1000)
    store.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--url", default=None, help="an existing PostgreSQL database (default: a throwaway server)")
    args = parser.parse_args(argv)
    server = None
    if args.url is None:
        from tests.postgres_server import ThrowawayPostgres

        server = ThrowawayPostgres().start()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            runs = {"sqlite": per_turn_ms(str(Path(scratch) / "chats.sqlite3"), args.turns),
                    "postgresql": per_turn_ms(args.url or server.create_database(), args.turns)}
    finally:
        if server is not None:
            server.stop()
    print(f"{'store':<12} {'turns':>6} {'p50 ms':>8} {'p90 ms':>8}")
    for name, times in runs.items():
        p90 = statistics.quantiles(times, n=10)[-1]
        print(f"{name:<12} {len(times):>6} {statistics.median(times):>8.2f} {p90:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
