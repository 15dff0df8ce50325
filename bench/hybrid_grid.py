"""How the hybrid answerer's mixture settings were chosen: a grid over reader weight, rule
temperature and confidence threshold, on questions of one index.

Usage:
    # 1. dump every question's candidate spans with their rule score, reader probability and
    #    support confidence (slow: runs the full answerer once per question)
    python bench/hybrid_grid.py dump --index-dir IDX --questions Q.jsonl --out dump.json [--limit N]
    # 2. score the grid on one or more dumps (fast), e.g. tune on one half, report on the other
    python bench/hybrid_grid.py grid heldout=dump.json dev=dev.json [--split 80]

The grid prints, per (weight, temperature, threshold): answerable F1 / hit rate / correct
abstentions (%). The shipped values live in ``qa/answerer/extractive.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def dump(index_dir: str, questions: str, out: str, limit: int | None) -> None:
    from qa.answerer.extractive import ExtractiveAnswerer
    from qa.answerer.rules import RuleAnswerer
    from qa.config import Settings
    from qa.evaluation import is_hit, load_eval_file, token_f1
    from qa.pipeline import QAPipeline
    from qa.reader.reader import SpanReader

    pipeline = QAPipeline(Settings(index_dir=Path(index_dir), reader=False))
    rules = RuleAnswerer(pipeline.analyzer, pipeline.embedder, min_confidence=0.0)
    hybrid = ExtractiveAnswerer(rules, SpanReader().load())
    rows = []
    for item in load_eval_file(questions)[:limit]:
        passages = pipeline.search(item.question)
        ranking = rules.rank(item.question, passages, pipeline.index)
        pool, _ = hybrid.read_and_vote(ranking, passages, pipeline.index)
        keep = sorted(pool, key=lambda v: -v.span.score)[:15] + sorted(pool, key=lambda v: -v.reader_prob)[:10]
        seen, candidates = set(), []
        for voted in keep:
            if id(voted) in seen:
                continue
            seen.add(id(voted))
            confidence = rules.decide(ranking, voted.span, pipeline.index).confidence
            text = pipeline.index.document(voted.doc_id).text[voted.start : voted.end]
            candidates.append({"score": voted.span.score, "reader": voted.reader_prob, "conf": confidence,
                               "f1": token_f1(text, item.answers), "hit": is_hit(text, item.answers), "text": text})
        rows.append({"id": item.id, "golds": item.answers, "cands": candidates})
    Path(out).write_text(json.dumps(rows))
    print(f"dumped {len(rows)} questions to {out}")


def choose(candidates: list[dict], weight: float, temperature: float):
    """The candidate the mixture picks, and its mixed probability (as ``qa.answerer.extractive`` computes it)."""
    if not candidates:
        return None
    top = max(c["score"] for c in candidates)
    rule = [math.exp((c["score"] - top) / temperature) for c in candidates]
    total = sum(rule)
    return max(((c, (1 - weight) * r / total + weight * c["reader"]) for c, r in zip(candidates, rule)),
               key=lambda pair: pair[1])


def score(rows: list[dict], weight: float, temperature: float, threshold: float) -> tuple[float, float, float]:
    f1 = hit = answerable = unanswerable = abstained = 0
    for row in rows:
        picked = choose(row["cands"], weight, temperature)
        answered = picked is not None and picked[0]["conf"] >= threshold
        if row["golds"]:
            answerable += 1
            if answered:
                f1 += picked[0]["f1"]
                hit += picked[0]["hit"]
        else:
            unanswerable += 1
            abstained += not answered
    return 100 * f1 / max(answerable, 1), 100 * hit / max(answerable, 1), 100 * abstained / max(unanswerable, 1)


def grid(named: list[str], split: int | None) -> None:
    sets = {}
    for spec in named:
        name, path = spec.split("=", 1)
        rows = json.loads(Path(path).read_text())
        if split:
            sets[f"{name}[:{split}]"], sets[f"{name}[{split}:]"] = rows[:split], rows[split:]
        else:
            sets[name] = rows
    for weight in (0.0, 0.25, 0.5, 0.75, 1.0):
        for temperature in (0.1, 0.25, 0.5, 1.0):
            cells = []
            for threshold in (0.0, 0.2, 0.35, 0.5):
                parts = [f"{n} " + "/".join(f"{x:.0f}" for x in score(rows, weight, temperature, threshold))
                         for n, rows in sets.items()]
                cells.append(f"th{threshold}: " + ", ".join(parts))
            print(f"w{weight} T{temperature} | " + " | ".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--index-dir", required=True)
    d.add_argument("--questions", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--limit", type=int, default=None)
    g = sub.add_parser("grid")
    g.add_argument("dumps", nargs="+", help="name=dump.json")
    g.add_argument("--split", type=int, default=None, help="also report the first N and the rest separately")
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.index_dir, args.questions, args.out, args.limit)
    else:
        grid(args.dumps, args.split)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
