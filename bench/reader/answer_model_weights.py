"""Does the answer model decline real unanswerable questions better when they weigh more in its fit?

    python bench/reader/answer_model_weights.py WORK/dump.json [--real 1,3,6] [--synthetic-share 1.0,0.5]

Reads the candidates `qa train-ranker` dumped (WORK/dump.json), and for each variant refits the
ranker and answer model leaving one article out, as `qa train-ranker` does, with every real
(crowd-written) unanswerable question of the training folds repeated REAL times and a seeded
SHARE of the synthetic ones (asked without their paragraph, entity swapped) kept. It prints
the answerable F1 answering everything and at the threshold `qa train-ranker` would choose (the
best F1 declining >= 60 % of the real unanswerable questions), and the curve at 0.05 / 0.10 / 0.15.
"""
import argparse
import json
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def weighted(rows: list, real: int, synthetic_share: float) -> list:
    """``rows`` with each real unanswerable row ``real`` times and ``synthetic_share`` of the synthetic ones."""
    from qa.training.train_ranker import unanswerable_kind

    out = []
    for row in rows:
        if row["answers"]:
            out.append(row)
        elif unanswerable_kind(row) == "real":
            out.extend([row] * real)
        elif zlib.crc32(row["id"].encode()) % 1000 < synthetic_share * 1000:
            out.append(row)
    return out


def main(argv=None) -> int:
    import qa.training.train_ranker as tr

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--real", default="1,3,6", help="comma-separated repeats of the real unanswerable rows")
    ap.add_argument("--synthetic-share", default="1.0,0.5", help="comma-separated shares of synthetic rows kept")
    a = ap.parse_args(argv)
    rows = json.load(open(a.dump))
    variants = [(int(r), 1.0) for r in a.real.split(",")] + [(1, float(s)) for s in a.synthetic_share.split(",")
                                                             if float(s) != 1.0]
    print("real_repeats  synthetic_share  F1_all  threshold  F1_chosen  declined  drop   curve (threshold: F1, declined)")
    for real, share in variants:
        picks, _ = tr.cross_validate(rows, lambda train, real=real, share=share: tr.fit(weighted(train, real, share)))
        grid = [tr.score_picks(picks, t, 0.0) for t in tr.THRESHOLDS]
        chosen = tr.pick_operating_point(grid)
        everything = tr.score_picks(picks, 0.0, 0.0)
        curve = "  ".join(f"{c['threshold']:.2f}: {c['F1']}, {c['abstain_unanswerable']}%"
                          for c in grid if round(c["threshold"], 2) in (0.05, 0.1, 0.15))
        print(f"{real:<12}  {share:<15}  {everything['F1']:<6}  {chosen['threshold']:<9}  {chosen['F1']:<9}  "
              f"{chosen['abstain_unanswerable']:<8}  {round(everything['F1'] - chosen['F1'], 2):<5}  {curve}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
