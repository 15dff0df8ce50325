"""How the dense and BM25 rankings are fused: recall of the passages the answerer reads, per rule.

    python bench/retrieval_fusion.py dump Q.jsonl --index-dir IX --out F.json
    python bench/retrieval_fusion.py sweep --tune F.json [--check G.json ...]

``dump`` runs both searches of the product's retriever (50 candidates each, the default) for every
answerable question of a ``qa eval`` file, and records each candidate's dense and BM25 score and
rank (a candidate one search did not return gets its score in that search too, rank 0), and
whether its chunk holds a gold answer (``qa eval``'s retrieval test). ``sweep`` re-ranks the
candidates with each fusion rule and prints recall at 1, 3 and 5 passages (5 is what the answerer
is given); the rule to keep is chosen on ``--tune`` and read off on the ``--check`` sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEPTHS = (1, 3, 5)


def dump(questions: str, index_dir: str, out: str, candidates: int = 50) -> int:
    from index.bm25 import bm25_query_tokens
    from index.embedding import embed_query
    from qa.config import Settings
    from qa.evaluation import load_eval_file, normalize_answer
    from qa.pipeline import QAPipeline
    from qa.retrieval import bm25_scores, cosines, dense_search, sparse_search

    pipeline = QAPipeline(Settings(index_dir=Path(index_dir), reader=False))
    index = pipeline.index
    rows, started = [], time.time()
    items = [i for i in load_eval_file(questions) if i.conversation is None and i.answers]
    for item in items:
        text = pipeline.question(item.question).search_text
        query = embed_query(pipeline.embedder, text)
        dense = dense_search(index.dense, query, candidates)
        all_sparse = bm25_scores(index.bm25, bm25_query_tokens(text))
        sparse = sparse_search(index.bm25, (), candidates, all_sparse)
        d_rank = {i: r for r, (i, _) in enumerate(dense, 1)}
        s_rank = {i: r for r, (i, _) in enumerate(sparse, 1)}
        ids = list(dict.fromkeys([i for i, _ in dense] + [i for i, _ in sparse]))
        cosine = cosines(index.dense, query, ids)
        golds = [normalize_answer(g) for g in item.answers if normalize_answer(g)]
        cands = []
        for chunk_id in ids:
            chunk_text = normalize_answer(index.chunks[chunk_id].text)
            cands.append({"id": chunk_id,
                          "d": cosine[chunk_id], "dr": d_rank.get(chunk_id, 0),
                          "s": float(all_sparse[chunk_id]) if all_sparse is not None else 0.0,
                          "sr": s_rank.get(chunk_id, 0),
                          "gold": any(g in chunk_text for g in golds)})
        rows.append({"question": item.question, "cands": cands})
    Path(out).write_text(json.dumps(rows))
    print(f"{len(rows)} questions in {time.time() - started:.0f} s -> {out}")
    return 0


# --------------------------------------------------------------------------- fusion rules

def rrf(k: float, dense_weight: float = 1.0) -> Callable[[Sequence[Mapping]], list[float]]:
    """Reciprocal rank fusion; a candidate a search did not return gets nothing from it."""
    def score(cands):
        return [(dense_weight / (k + c["dr"]) if c["dr"] else 0.0) + (1 / (k + c["sr"]) if c["sr"] else 0.0)
                for c in cands]
    return score


def convex(alpha: float, norm: str) -> Callable[[Sequence[Mapping]], list[float]]:
    """``alpha`` times the dense score plus the rest times the BM25 score, normalised over the
    question's candidates: ``max`` is the product's rule (:func:`qa.retrieval.score_fusion`:
    cosines as they are, BM25 divided by the best), ``minmax`` maps both ranges to [0, 1]."""
    from qa.retrieval import score_fusion

    def minmax(values):
        v = np.asarray(values, dtype=np.float64)
        span = v.max() - v.min()
        return (v - v.min()) / span if span > 0 else np.zeros_like(v)

    def score(cands):
        if norm == "max":
            fused = dict(score_fusion({i: c["d"] for i, c in enumerate(cands)},
                                      {i: c["s"] for i, c in enumerate(cands)}, alpha))
            return [fused[i] for i in range(len(cands))]
        return list(alpha * minmax([c["d"] for c in cands]) + (1 - alpha) * minmax([c["s"] for c in cands]))
    return score


def recall(rows: Sequence[Mapping], rule) -> dict:
    hits = {n: 0 for n in DEPTHS}
    for row in rows:
        cands = row["cands"]
        if not cands:
            continue
        scores = rule(cands)
        order = sorted(range(len(cands)), key=lambda i: -scores[i])  # stable: dense order first
        for n in DEPTHS:
            hits[n] += any(cands[i]["gold"] for i in order[:n])
    return {n: 100 * hits[n] / max(len(rows), 1) for n in DEPTHS}


def rules() -> dict:
    out = {f"rrf k={k}": rrf(k) for k in (1, 5, 10, 20, 30, 60, 100)}
    out.update({f"rrf k=60 dense x{w}": rrf(60, w) for w in (0.5, 0.75, 1.5)})
    out.update({f"convex {norm} a={a}": convex(a, norm) for norm in ("max", "minmax")
                for a in (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)})
    return out


def sweep(tune: str, checks: Sequence[str]) -> int:
    sets = {"tune": json.loads(Path(tune).read_text())}
    sets.update({Path(c).stem: json.loads(Path(c).read_text()) for c in checks})
    print("rule".ljust(26) + "".join(f"{name} ({len(rows)}) R@1/3/5".rjust(34) for name, rows in sets.items()))
    for label, rule in rules().items():
        cells = []
        for rows in sets.values():
            r = recall(rows, rule)
            cells.append(" / ".join(f"{r[n]:5.1f}" for n in DEPTHS).rjust(34))
        print(label.ljust(26) + "".join(cells))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("questions")
    d.add_argument("--index-dir", required=True)
    d.add_argument("--out", required=True)
    s = sub.add_parser("sweep")
    s.add_argument("--tune", required=True)
    s.add_argument("--check", action="append", default=[])
    a = ap.parse_args(argv)
    if a.command == "dump":
        return dump(a.questions, a.index_dir, a.out)
    return sweep(a.tune, a.check)


if __name__ == "__main__":
    raise SystemExit(main())
