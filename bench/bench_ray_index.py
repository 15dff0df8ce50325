"""Indexing on Ray against local `qa index`: wall time of the same command each way, and whether
the indexes answer alike.

Usage:
    python bench/bench_ray_index.py CORPUS [CORPUS ...] [--workers 1,2] \\
        [--questions ../shared/eval/dev_questions.jsonl] [--json out.json]

Runs `qa index CORPUS...` once locally and once per `--workers` value with `--ray auto
--ray-workers N` (a local Ray instance with N CPUs, started and stopped by the command), each into
a fresh index folder, and times each command as a user would (start-up, model loading and the
Ray instance included). Then compares each Ray index with the local one: chunk table, sentence
table and BM25 files byte for byte, the largest difference between chunk vectors, and the
answers to every question of `--questions` (the full answer objects).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.load import load_index  # noqa: E402
from index.manifest import current_version  # noqa: E402

EXACT = ("chunks.npy", "sentences.npy", "documents.jsonl", "analysis.bin", "terms.json")


def timed_index(corpora: list[str], index_dir: Path, ray_workers: int | None) -> float:
    qa = shutil.which("qa", path=str(Path(sys.executable).parent)) or "qa"
    command = [qa, "index", *corpora, "--index-dir", str(index_dir)]
    if ray_workers is not None:
        command += ["--ray", "auto", "--ray-workers", str(ray_workers)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def same_files(a: Path, b: Path) -> bool:
    va, vb = a / current_version(a), b / current_version(b)
    names = [*EXACT, *(f"bm25/{p.name}" for p in (va / "bm25").iterdir())]
    return all((va / n).read_bytes() == (vb / n).read_bytes() for n in names)


def answers(index_dir: Path, questions: list[str]) -> list[dict]:
    from qa.config import Settings
    from qa.pipeline import QAPipeline

    pipeline = QAPipeline(Settings(index_dir=index_dir, query_encoder="torch"))
    return [pipeline.ask(q).to_dict() for q in questions]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", nargs="+")
    parser.add_argument("--workers", default="1,2", help="Ray worker counts to time, comma-separated")
    parser.add_argument("--questions", default=str(Path(__file__).resolve().parent.parent.parent / "shared/eval/dev_questions.jsonl"))
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)

    questions = [json.loads(line)["question"] for line in Path(args.questions).read_text().splitlines() if line.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as scratch:
        local = Path(scratch) / "local"
        seconds = timed_index(args.corpora, local, None)
        chunks = load_index(local).manifest.num_chunks
        local_answers = answers(local, questions)
        local_vectors = load_index(local).dense
        rows.append({"run": "qa index (local)", "seconds": seconds, "chunks": chunks})
        for workers in [int(w) for w in args.workers.split(",")]:
            index_dir = Path(scratch) / f"ray-{workers}"
            seconds = timed_index(args.corpora, index_dir, workers)
            dense = load_index(index_dir).dense
            difference = float(np.abs(dense.reconstruct_n(0, dense.ntotal)
                                      - local_vectors.reconstruct_n(0, local_vectors.ntotal)).max())
            same_answers = sum(a == b for a, b in zip(answers(index_dir, questions), local_answers))
            rows.append({"run": f"qa index --ray auto --ray-workers {workers}", "seconds": seconds, "chunks": chunks,
                         "same_files": same_files(local, index_dir), "max_vector_difference": difference,
                         "same_answers": f"{same_answers}/{len(questions)}"})
    print(f"{'run':<40} {'seconds':>8} {'chunks/s':>9}  same chunks+BM25  max |dv|  same answers")
    for row in rows:
        extra = (f"  {str(row['same_files']):<16}  {row['max_vector_difference']:.1e}  {row['same_answers']}"
                 if "same_files" in row else "")
        print(f"{row['run']:<40} {row['seconds']:>8.1f} {row['chunks'] / row['seconds']:>9.1f}{extra}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
