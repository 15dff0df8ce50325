"""`qa index` on a folder with one generated large text file: wall time and peak memory.

Usage:
    python bench/bench_large_document.py [--mb 50] [--fake-embedder] [--json out.json] [--keep DIR]

Generates a file of English-like sentences and paragraphs (nothing is committed), runs
`qa index` on it in a subprocess with the real models, and prints the wall time, the peak
resident memory of that process (``getrusage`` of the child, i.e. what ``/usr/bin/time -v``
reports as "Maximum resident set size") and an RSS timeline sampled with psutil when it is
installed. Then `qa search` checks that the end of the file was indexed.

``--fake-embedder`` swaps MiniLM for a hashing embedder (one random unit vector per text, 384
dimensions, so the vectors and FAISS take the same memory): it measures everything but the encoder's own time,
which on a CPU dominates (chunks / the encoder's chunks per second) and does not change the
memory bound (one batch of chunks is encoded at a time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_VOCABULARY = (
    "harbour board ferry terminal council minister orchard apple frost blossom harvest river bridge railway "
    "station museum library school hospital market festival winter summer spring autumn village city port "
    "engineer teacher doctor farmer mayor captain merchant writer painter builder worker student visitor "
    "the a of in on to and with for from by at near after before during under over between about "
    "opened closed approved rejected discussed planned built repaired visited reported announced described "
    "new old large small northern southern eastern western public private local national annual early late"
).split()


def generate(path: Path, megabytes: float, seed: int = 7) -> int:
    """Write about ``megabytes`` MB of sentences grouped in paragraphs; return the byte size."""
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    written = 0
    n = 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("A Very Long Chronicle\n\n")
        while written < target:
            sentences = []
            for _ in range(rng.randint(3, 9)):
                n += 1
                words = rng.choices(_VOCABULARY, k=rng.randint(8, 24))
                words[0] = words[0].capitalize()
                sentences.append(" ".join(words) + f" in year {1000 + n % 1000}.")
            paragraph = " ".join(sentences) + "\n\n"
            handle.write(paragraph)
            written += len(paragraph)
        handle.write("The last sentence mentions the zanzibar lighthouse keeper Ottoline Quade.\n")
    return path.stat().st_size


_FAKE_EMBEDDER_MAIN = (
    "import sys; sys.path.insert(0, 'bench'); import qa.pipeline; from bench_large_document import HashEmbedder; "
    "qa.pipeline.SentenceTransformerEmbedder = HashEmbedder; from api.cli import main; main()"
)


class HashEmbedder:
    """A stand-in for MiniLM that costs nothing: a random unit vector seeded by the text's hash."""

    dimension = 384

    def __init__(self, name: str, **options) -> None:  # options (bf16, ...) mean nothing here
        self.name = name

    def embed(self, texts, *, show_progress: bool = False):
        import hashlib

        import numpy as np

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
            out[row] = np.random.default_rng(seed).standard_normal(self.dimension)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def run_index(corpus: Path, index_dir: Path, sample: float = 0.5, fake_embedder: bool = False) -> dict:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    entry = ["-c", _FAKE_EMBEDDER_MAIN] if fake_embedder else ["-m", "api.cli"]
    command = [sys.executable, *entry, "index", str(corpus), "--index-dir", str(index_dir)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timeline = []
    try:
        import psutil

        handle = psutil.Process(process.pid)
        while process.poll() is None:
            try:  # the process and its children (the analysis worker `qa index` may start)
                members = [handle, *handle.children(recursive=True)]
                total = 0
                for member in members:
                    with contextlib.suppress(psutil.Error):
                        total += member.memory_info().rss
                timeline.append((round(time.perf_counter() - started, 1), total // 2**20))
            except psutil.Error:
                break
            time.sleep(sample)
    except ImportError:
        pass
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux, the largest one process
    return {"exit": process.returncode, "seconds": round(seconds, 1), "peak_rss_mib": round(peak_kib / 1024),
            "stdout": stdout.strip(), "stderr": stderr.strip()[-2000:], "timeline_mib": timeline}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=50.0, help="size of the generated file in MB [50]")
    parser.add_argument("--json", dest="json_path", default=None)
    parser.add_argument("--keep", default=None, help="build in this folder and keep it")
    parser.add_argument("--fake-embedder", action="store_true", help="hashing embedder instead of MiniLM")
    args = parser.parse_args(argv)

    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qa-large-"))
    try:
        corpus = scratch / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        size = generate(corpus / "chronicle.txt", args.mb)
        (corpus / "small.txt").write_text("Small Note\n\nThe harbour board meets on Tuesdays.\n", encoding="utf-8")
        result = {"file_bytes": size, "fake_embedder": args.fake_embedder,
                  **run_index(corpus, scratch / "ix", fake_embedder=args.fake_embedder)}
        entry = ["-c", _FAKE_EMBEDDER_MAIN] if args.fake_embedder else ["-m", "api.cli"]
        search = subprocess.run([sys.executable, *entry, "search", "Ottoline Quade zanzibar lighthouse",
                                 "--index-dir", str(scratch / "ix"), "--top-k", "10", "--json"],
                                cwd=ROOT, capture_output=True, text=True)
        hits = json.loads(search.stdout) if search.returncode == 0 else []
        if search.returncode != 0:
            print(search.stderr[-2000:], file=sys.stderr)
        # Among the first ten: with --fake-embedder the dense half of the fusion ranks at random.
        result["end_of_file_found"] = any("Ottoline Quade" in hit["text"] for hit in hits)
        result["cpu_count"] = os.cpu_count()
        result["load_average"] = os.getloadavg()
        timeline = result["timeline_mib"]
        print(f"file            {size / 2**20:10.1f} MB  ({'fake' if args.fake_embedder else 'MiniLM'} embedder)")
        print(f"qa index exit   {result['exit']:10d}")
        print(f"wall time       {result['seconds']:10.1f} s")
        print(f"peak RSS        {result['peak_rss_mib']:10d} MiB  (the largest single process)")
        if timeline:
            print(f"RSS samples     {len(timeline):10d}  (max {max(m for _, m in timeline)} MiB, qa index and its children together)")
        print(f"end of file     {'found' if result['end_of_file_found'] else 'NOT FOUND':>10}")
        print(f"load average    {result['load_average'][0]:10.2f}  on {result['cpu_count']} CPUs")
        print(result["stdout"])
        if result["exit"] != 0:
            print(result["stderr"], file=sys.stderr)
        if args.json_path:
            Path(args.json_path).write_text(json.dumps(result, indent=2))
        return 0 if result["exit"] == 0 and result["end_of_file_found"] else 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
