"""The cascade's threshold (``QA_CASCADE_BELOW``), swept on both readers' picks of the same questions.

    python bench/reader/cascade_sweep.py dump Q.jsonl --index-dir IX --out PICKS.json
    python bench/reader/cascade_sweep.py sweep --tune TUNE.json --unanswerable UNANS.json [--check C.json ...]

``dump`` asks every question of a ``qa eval`` file once, ranks its passages with the rules once,
and records what each reader (MiniLM with its ranker, MPNet with its own) picks: the span, the
answer model's confidence, whether the answer would be given, and its F1 / EM against the golds,
also for a pick that is declined. ``sweep`` replays decisions on those records:

- MiniLM alone at other thresholds (the trade-off the cascade must beat, not just move along);
- ``plain``: under ``below`` MPNet's decision is taken as it is;
- ``agree`` (what `qa.answerer.cascade` does): the same, but what MiniLM declined MPNet answers
  only where their picks overlap.

``joint`` tries a learned decision in place of the agreement rule (it measured no gain, so the
product keeps the rule): for the questions sent to MPNet, a logistic model of MPNet's pick's F1
on both confidences (as logits), whether the picks overlap, and the overlap times each
confidence, fitted on the tuning questions; its threshold is chosen by the same abstention rule.

The threshold chosen is the project's abstention rule (as for the ranker's threshold): the best
answerable F1 on the tuning questions (to two decimals) among the values of ``below`` that decline
at least 60 % of the real unanswerable questions, ties to the lower value (fewer MPNet reads).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TARGET_DECLINED = 60.0
GRID = [round(0.05 * i, 2) for i in range(0, 13)]


def dump(questions: str, index_dir: str, out: str) -> int:
    from qa.config import Settings
    from qa.evaluation import exact_match, load_eval_file, normalize_answer, token_f1
    from qa.pipeline import QAPipeline

    pipeline = QAPipeline(Settings(index_dir=Path(index_dir), reader_model="cascade"))
    cascade = pipeline.answerer
    rows, started = [], time.time()
    items = [item for item in load_eval_file(questions) if item.conversation is None]
    for n, item in enumerate(items, 1):
        question = pipeline.question(item.question)
        passages = pipeline.search(question)
        ranked = cascade.first.rules.rank(question.text, passages, pipeline.index)
        golds = [normalize_answer(g) for g in item.answers]
        row = {"id": item.id, "golds": item.answers,  # and whether a retrieved passage holds one of them
               "retrieved_gold": any(g and g in normalize_answer(p.chunk.text) for g in golds for p in passages)}
        for name, answerer in (("fast", cascade.first), ("strong", cascade.second)):
            decision = answerer.decide_ranked(ranked, passages, pipeline.index)  # what the cascade reads
            if decision.pick is None:
                row[name] = None
                continue
            doc_id, start, end = decision.pick
            text = pipeline.index.document(doc_id).text[start:end]  # also the pick of a decline
            row[name] = {"doc": doc_id, "start": start, "end": end, "conf": decision.answer.confidence,
                         "accepted": decision.answer.found,
                         "f1": token_f1(text, item.answers), "em": exact_match(text, item.answers)}
        rows.append(row)
        if n % 100 == 0:
            print(f"{n}/{len(items)} questions, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    Path(out).write_text(json.dumps(rows))
    return 0


def overlaps(a: Optional[Mapping], b: Optional[Mapping]) -> bool:
    """The cascade's own test (``same_place``) on two recorded picks."""
    from qa.answerer.cascade import same_place

    def place(pick):
        return (pick["doc"], pick["start"], pick["end"]) if pick else None
    return same_place(place(a), place(b))


def minilm_alone(threshold: float) -> Callable[[Mapping], Optional[Mapping]]:
    """MiniLM's pick when its confidence reaches ``threshold`` (else declined)."""
    return lambda row: row["fast"] if row["fast"] and row["fast"]["conf"] >= threshold else None


def cascade(below: float, agree: bool) -> Callable[[Mapping], Optional[Mapping]]:
    """The pick a cascade gives (``None``: declined)."""
    def decide(row: Mapping) -> Optional[Mapping]:
        fast, strong = row["fast"], row["strong"]
        if fast is not None and fast["conf"] >= below:
            return fast if fast["accepted"] else None
        if strong is None or not strong["accepted"]:
            return None
        if agree and not (fast and fast["accepted"]) and not overlaps(fast, strong):
            return None
        return strong
    return decide


def measure(rows: Sequence[Mapping], policy: Callable[[Mapping], Optional[Mapping]]) -> dict:
    answerable = [r for r in rows if r["golds"]]
    unanswerable = [r for r in rows if not r["golds"]]
    picks = [policy(r) for r in answerable]
    n = max(len(answerable), 1)
    return {"F1": 100 * sum(p["f1"] for p in picks if p) / n, "EM": 100 * sum(p["em"] for p in picks if p) / n,
            "answerable_declined": sum(p is None for p in picks),
            "declined": 100 * sum(policy(r) is None for r in unanswerable) / max(len(unanswerable), 1)}


def choose(tune: Sequence[Mapping], unanswerable: Sequence[Mapping], agree: bool = True) -> Optional[float]:
    """The project's abstention rule over the grid of thresholds."""
    reaching = [(round(measure(tune, cascade(b, agree))["F1"], 2), -b) for b in GRID
                if measure(unanswerable, cascade(b, agree))["declined"] >= TARGET_DECLINED]
    return -max(reaching)[1] if reaching else None


JOINT_FEATURES = ("fast_logit", "strong_logit", "agree", "agree_strong_logit", "agree_fast_logit")


def joint_features(row: Mapping) -> list[float]:
    """The learned decision's inputs for a question MPNet read (see the module's docstring)."""
    import math

    def logit(p: float) -> float:
        p = min(max(p, 1e-4), 1 - 1e-4)
        return math.log(p / (1 - p))
    fast, strong = row["fast"], row["strong"]
    f, s, agree = logit(fast["conf"] if fast else 0.0), logit(strong["conf"]), float(overlaps(fast, strong))
    return [f, s, agree, agree * s, agree * f]


def joint(below: float, model, threshold: float) -> Callable[[Mapping], Optional[Mapping]]:
    """MiniLM's decision at or over ``below``; under it, MPNet's pick when ``model`` reaches ``threshold``."""
    import numpy as np

    from qa.answerer.ranker import sigmoid

    def decide(row: Mapping) -> Optional[Mapping]:
        fast, strong = row["fast"], row["strong"]
        if fast is not None and fast["conf"] >= below:
            return fast if fast["accepted"] else None
        if strong is None:
            return None
        return strong if float(sigmoid(model.scores(np.asarray([joint_features(row)]))[0])) >= threshold else None
    return decide


def sweep_joint(tune_path: str, unanswerable_path: str, checks: Sequence[str]) -> int:
    import numpy as np

    from qa.answerer.ranker import fit_logistic

    tune, unanswerable = json.loads(Path(tune_path).read_text()), json.loads(Path(unanswerable_path).read_text())
    others = [(Path(p).stem, json.loads(Path(p).read_text())) for p in checks]
    for below in (0.15, 0.20, 0.25, 0.30, 0.35):
        sent = [r for r in tune if r["golds"] and r["strong"] and (r["fast"] is None or r["fast"]["conf"] < below)]
        model = fit_logistic(np.asarray([joint_features(r) for r in sent]), np.asarray([r["strong"]["f1"] for r in sent]),
                             JOINT_FEATURES)
        reaching = [(round(measure(tune, joint(below, model, t))["F1"], 2), -t) for t in np.arange(0.0, 1.0, 0.01)
                    if measure(unanswerable, joint(below, model, t))["declined"] >= TARGET_DECLINED]
        if not reaching:
            print(f"joint below {below:.2f}: no threshold declines {TARGET_DECLINED:.0f} % of the unanswerable")
            continue
        threshold = -max(reaching)[1]
        policy = joint(below, model, threshold)
        out = (f"joint below {below:.2f} threshold {threshold:.2f}  tune F1 {measure(tune, policy)['F1']:5.1f}  "
               f"unanswerable declined {measure(unanswerable, policy)['declined']:5.1f} %")
        for name, rows in others:
            m = measure(rows, policy)
            out += f" | {name} F1 {m['F1']:5.1f} EM {m['EM']:5.1f}"
        print(out)
    return 0


def answering_everything(name: str, rows: Sequence[Mapping]) -> str:
    """Each reader's F1 / EM when every pick is given, also split by whether a retrieved passage
    holds a gold answer (dumps that record it)."""
    answerable = [r for r in rows if r["golds"]]

    def score(subset, reader: str, key: str = "f1") -> float:
        return 100 * sum((r[reader] or {}).get(key, 0.0) for r in subset) / max(len(subset), 1)
    out = f"{name}: answering everything " + ", ".join(
        f"{label} F1 {score(answerable, reader):.1f} EM {score(answerable, reader, 'em'):.1f}"
        for label, reader in (("MiniLM", "fast"), ("MPNet", "strong")))
    if answerable and "retrieved_gold" in answerable[0]:
        found = [r for r in answerable if r["retrieved_gold"]]
        missed = [r for r in answerable if not r["retrieved_gold"]]
        out += (f"; a passage holds the answer for {100 * len(found) / len(answerable):.1f} %: there F1 "
                f"{score(found, 'fast'):.1f} / {score(found, 'strong'):.1f}, elsewhere "
                f"{score(missed, 'fast'):.1f} / {score(missed, 'strong'):.1f}")
    return out


def sweep(tune_path: str, unanswerable_path: str, checks: Sequence[str]) -> int:
    tune, unanswerable = json.loads(Path(tune_path).read_text()), json.loads(Path(unanswerable_path).read_text())
    others = [(Path(p).stem, json.loads(Path(p).read_text())) for p in checks]

    def line(label: str, policy) -> str:
        t, u = measure(tune, policy), measure(unanswerable, policy)
        out = f"{label:<24} tune F1 {t['F1']:5.1f} EM {t['EM']:5.1f}  unanswerable declined {u['declined']:5.1f} %"
        for name, rows in others:
            m = measure(rows, policy)
            out += f" | {name} F1 {m['F1']:5.1f} declined {m['answerable_declined']}/{m['declined']:.0f}%"
        return out

    for name, rows in [("tune", tune), *others]:
        print(answering_everything(name, rows))
    for threshold in (0.04, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.20):
        print(line(f"minilm >= {threshold:.2f}", minilm_alone(threshold)))
    for agree in (False, True):
        for below in GRID:
            policy = cascade(below, agree)
            sent = 100 * sum(1 for r in tune if r["fast"] is None or r["fast"]["conf"] < below) / len(tune)
            print(line(f"{'agree' if agree else 'plain'} below {below:.2f}", policy) + f" | tune sent {sent:4.1f} %")
    print(f"chosen (agree): {choose(tune, unanswerable)}; (plain): {choose(tune, unanswerable, agree=False)}")
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
    s.add_argument("--unanswerable", required=True)
    s.add_argument("--check", action="append", default=[], help="another dump to report beside")
    s.add_argument("--joint", action="store_true", help="the learned decision instead of the rules' grid")
    a = ap.parse_args(argv)
    if a.command == "dump":
        return dump(a.questions, a.index_dir, a.out)
    return (sweep_joint if a.joint else sweep)(a.tune, a.unanswerable, a.check)


if __name__ == "__main__":
    raise SystemExit(main())
