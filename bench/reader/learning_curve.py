"""How the reader's held-out F1 grows with the number of crowd-written training questions.

    python bench/reader/learning_curve.py --out /tmp/lc [--sizes 4000,11000,22000,44000,all] [--seeds 13,7]
        [--workers 4] [--device cuda] [-- EXTRA qa train-reader OPTIONS]

Each arm is one `qa train-reader --no-soup --seed S --limit N` run (the shipped recipe on a
seeded random N of the training articles' crowd-written questions, SQuAD 1.1 train less the 40
held-out articles: 79,145 questions), evaluated on the same 600 held-out questions. Arms run
`--workers` at a time, the CPU threads split between them. On the 2-core CPU an arm takes about
an hour per 20,000 questions an epoch; on a GPU a few minutes.
Prints a table (F1 / EM with the gold paragraph, with 2 distractors, over BM25's top 3),
the mean gain per doubling of the questions, and writes `OUT/learning_curve.json`.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SETTINGS = ("gold", "gold+distractors", "bm25_top3")


def last_json(text: str) -> dict:
    """The JSON object `qa train-reader` prints last (its log lines come before it)."""
    i = text.rfind("\n{")
    return json.loads(text[i:] if i >= 0 else text)


def run_arm(size: str, seed: int, out: str, device: str, eval_limit: int, threads: int, extra: list) -> dict:
    tag = f"r-{seed}-{size}"
    cmd = [sys.executable, "-m", "qa.training.train_reader", "--no-soup", "--seed", str(seed), "--out",
           os.path.join(out, tag), "--eval-limit", str(eval_limit), "--threads", str(threads), "--device", device]
    if size != "all":
        cmd += ["--limit", size]
    started = time.time()
    log_path = os.path.join(out, tag + ".log")
    # The log is written as the arm runs, so its progress lines (with the ETA) can be followed.
    with open(log_path, "w") as fh:
        code = subprocess.run(cmd + extra, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, text=True).returncode
    with open(log_path) as fh:
        text = fh.read()
    row = {"size": size, "seed": seed, "minutes": round((time.time() - started) / 60, 1)}
    if code != 0:
        return dict(row, error=text.strip().splitlines()[-1:])
    metrics = last_json(text)
    row["questions"] = int(text.split("train questions=")[1].split()[0])
    for k in SETTINGS:
        row[k] = {"F1": metrics[k]["F1"], "EM": metrics[k]["EM"]}
    return row


def doubling_gains(means: list) -> list:
    """(from, to, F1 gain of the gold setting) between consecutive sizes, per doubling."""
    out = []
    for (n0, f0), (n1, f1) in zip(means, means[1:]):
        out.append((n0, n1, round((f1 - f0) / math.log2(n1 / n0), 2)))
    return out


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="4000,11000,22000,44000,all", help="question counts, 'all' for every one")
    ap.add_argument("--seeds", default="13")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--eval-limit", type=int, default=600)
    a = ap.parse_args(argv)
    sizes = [s.strip() for s in a.sizes.split(",") if s.strip()]
    bad = [s for s in sizes if s != "all" and not (s.isdigit() and int(s) > 0)]
    if bad or a.workers < 1:
        print(f"learning_curve: --sizes takes positive counts or 'all' (got {bad}); --workers >= 1", file=sys.stderr)
        return 2
    seeds = [int(s) for s in a.seeds.split(",")]
    os.makedirs(a.out, exist_ok=True)
    arms = [(size, seed) for size in sizes for seed in seeds]
    threads = max(1, (os.cpu_count() or 1) // a.workers)
    with ThreadPoolExecutor(a.workers) as pool:
        rows = list(pool.map(lambda arm: run_arm(*arm, a.out, a.device, a.eval_limit, threads, extra), arms))

    print(f"{'questions':>9} {'seed':>5} " + " ".join(f"{k + ' F1/EM':>24}" for k in SETTINGS) + "  minutes")
    for r in rows:
        if "error" in r:
            print(f"{r['size']:>9} {r['seed']:>5}  failed: {r['error']}")
            continue
        cells = " ".join(f"{r[k]['F1']:>15.1f} / {r[k]['EM']:5.1f}" for k in SETTINGS)
        print(f"{r['size']:>9} {r['seed']:>5} {cells}  {r['minutes']:7.1f}")
    ok = [r for r in rows if "error" not in r]
    by_count: dict = {}
    for r in ok:
        by_count.setdefault(r["questions"], []).append(r["gold"]["F1"])
    means = sorted((n, statistics.mean(f1s)) for n, f1s in by_count.items())
    gains = doubling_gains(means)
    for n0, n1, g in gains:
        print(f"gold-paragraph F1 per doubling, {n0} -> {n1} questions: {g:+.2f}")
    with open(os.path.join(a.out, "learning_curve.json"), "w") as fh:
        json.dump({"arms": rows, "mean_gold_f1": means, "gold_f1_per_doubling": gains,
                   "extra_options": extra, "device": a.device}, fh, indent=1)
    return 0 if len(ok) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
