"""Fit the learned ranker and answer model (:mod:`qa.answerer.ranker`) on articles the reader never saw.

    qa train-ranker                              # the shipped recipe, into qa/reader/weights/ranker.json
    qa train-ranker --work /tmp/rk --limit 200   # a quick run

Steps:

1. The reader's held-out SQuAD articles (``recipe.json`` of the reader weights) become one
   corpus, indexed like any user folder, and every question about them is answered in open
   retrieval: search, the rules' candidates, the reader's candidates (``qa.answerer.extractive``). Each
   shortlisted candidate's features, its support check and its token F1 against the gold
   answers are kept (``dump.json`` in the work folder; reused when present).
2. Leave-one-article-out cross-validation: fit on four articles, predict the fifth. This gives
   the reported figures (EM/F1 of the picks, and the answer/abstain trade-off curve), all on
   articles neither the reader nor the ranker was fitted on. The abstention threshold is chosen
   on that curve.
3. The shipped models are fitted on all the articles, and saved with the recipe.

Deterministic: no sampling anywhere; the fit is L-BFGS from zero weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from qa.config import Settings
from qa.answerer.features import choice_probabilities
from qa.training.contrast import ENTITY_SUFFIX, QuestionParses
from qa.training.log import log
from qa.answerer.ranker import DEFAULT_RANKER_PATH, LearnedRanker, LinearModel, fit_conditional_logit, fit_logistic, softmax

THRESHOLDS = [round(x, 2) for x in np.arange(0.0, 1.0001, 0.01)]
SUPPORT_THRESHOLDS = [round(x, 2) for x in np.arange(0.0, 0.9001, 0.05)]
#: Share of unanswerable held-out questions (%) the chosen threshold must decline.
TARGET_ABSTENTION = 60.0
RANKER_L2 = 1.0
ANSWER_L2 = 1.0


# --------------------------------------------------------------------------- 1. dump


def _heldout_articles(reader_dir: Path) -> Optional[list[str]]:
    """The articles the reader was not trained on (its recipe's), or ``None``: the data's own split."""
    recipe = reader_dir / "recipe.json"
    if recipe.exists():
        return list(json.loads(recipe.read_text())["data"]["heldout_articles"])
    return None


def ranker_questions(heldout: Sequence, limit: Optional[int]) -> list:
    """The held-out questions the ranker is fitted on: all, or ``limit`` of them evenly spaced (so
    that every article is represented) and every crowd-written unanswerable one besides.

    The abstention threshold is chosen on the unanswerable ones, 2 % of the held-out split: the few
    dozen an even sample holds leave it to chance, one question moving the declined share by
    several points."""
    if not limit or limit >= len(heldout):
        return list(heldout)
    picked = {int(i * len(heldout) / limit) for i in range(limit)}
    return [q for i, q in enumerate(heldout) if i in picked or not q.answers]


def dump_candidates(data_dir: str, work: Path, reader_dir: Path, limit: Optional[int] = None) -> list[dict]:
    """Answer every held-out question in open retrieval and keep each candidate's features."""
    from qa.config import Settings
    from qa.evaluation import exact_match, token_f1
    from qa.pipeline import QAPipeline, index_corpus
    from qa.training.data import split_by_article
    from qa.training.squad import load_training_data, write_corpus

    paragraphs, questions, _, held = load_training_data(data_dir, _heldout_articles(reader_dir))
    corpus = work / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    doc_ids = write_corpus(paragraphs, held, str(corpus))
    # The answerer the product runs, with the reader being fitted for and no learned ranker.
    settings = Settings(index_dir=work / "index", reader_weights=str(reader_dir), ranker=False)
    index_corpus([corpus], settings, on_step=log)
    pipeline = QAPipeline(settings)
    pipeline.answerer.warm_up()
    chosen = ranker_questions(split_by_article(questions, paragraphs, held)[1], limit)
    log(f"{len(chosen)} questions ({sum(not q.answers for q in chosen)} unanswerable) on {len(held)} articles")
    parses = QuestionParses.build(pipeline.analyzer.nlp, (q for q in questions if q.pid >= 0
                                                          and paragraphs[q.pid].article in held), paragraphs)

    def candidates_of(question: str, passages, answers: list[str]) -> list[dict]:
        """The answerer's shortlist for ``question`` from ``passages`` (``None``: retrieved), labelled."""
        return [{"text": c.text, "f1": token_f1(c.text, answers) if answers else 0.0,
                 "em": exact_match(c.text, answers) if answers else 0.0, "x": c.features.tolist(),
                 "a": c.answer_features.tolist(), "ev": evidence_parts(c.evidence), "rule_score": c.rule_score,
                 "mixed": c.mixed, "span": list(c.span)}
                for c in pipeline.candidates(question, passages)[1]]

    rows, started = [], time.time()
    top_k = settings.top_k
    for n, q in enumerate(chosen, start=1):
        article = paragraphs[q.pid].article
        rows.append({"id": q.qid, "article": article, "answers": q.answers, "synthetic": False,
                     "candidates": candidates_of(q.question, None, q.answers)})
        if q.answers:
            # The same question with its paragraph gone from the corpus: the documents no longer
            # say, though retrieval still finds passages on the topic. Kept as an unanswerable
            # question unless an answer string survives in what is read.
            gold_doc = doc_ids[q.pid]
            others = [p for p in pipeline.search(q.question, top_k + 10) if p.chunk.doc_id != gold_doc][:top_k]
            if others and not any(a.lower() in p.chunk.text.lower() for a in q.answers for p in others):
                rows.append({"id": q.qid + "/without-paragraph", "article": article, "answers": [],
                             "synthetic": True, "candidates": candidates_of(q.question, others, [])})
            # The question changed to ask about another entity: the paragraph no longer answers it
            # (qa.training.contrast). Verb-swapped questions are left out: as answer-model data they
            # cost 1.2 F1 at 60 % declined in cross-validation (README).
            swapped = parses.entity_swap(q, paragraphs)
            if swapped is not None:
                rows.append({"id": q.qid + ENTITY_SUFFIX, "article": article, "answers": [], "synthetic": True,
                             "question": swapped, "candidates": candidates_of(swapped, None, [])})
        if n % 100 == 0:
            log(f"dumped {n}/{len(chosen)} ({(time.time() - started) / n * 1000:.0f} ms per question)")
    return rows


# --------------------------------------------------------------------------- 2. fit and cross-validate


def _column(name: str) -> int:
    from qa.answerer.features import ANSWER_FEATURES

    return ANSWER_FEATURES.index(name)


def ranking_groups(rows: Sequence[dict]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The ranker's training data: each answerable question's candidate features, and as its target
    the candidates that match the gold answer best, equally likely."""
    groups, targets = [], []
    for row in rows:
        cands = row["candidates"]
        if not row["answers"] or not cands:  # (synthetic unanswerable rows have no answers either)
            continue
        f1 = np.array([c["f1"] for c in cands])
        if f1.max() <= 0:
            continue  # no candidate overlaps the gold answer: nothing to learn about ranking
        best = (f1 >= f1.max() - 1e-9).astype(np.float64)
        groups.append(np.array([c["x"] for c in cands]))
        targets.append(best / best.sum())
    return groups, targets


def fit(rows: Sequence[dict], ranker_l2: float = RANKER_L2, answer_l2: float = ANSWER_L2) -> LearnedRanker:
    """Fit the ranker on the answerable questions and the answer model on all of them."""
    from qa.answerer.features import ANSWER_FEATURES, ANSWER_SIGNS, CANDIDATE_FEATURES, CANDIDATE_SIGNS

    groups, targets = ranking_groups(rows)
    ranker = fit_conditional_logit(groups, targets, CANDIDATE_FEATURES, l2=ranker_l2, signs=CANDIDATE_SIGNS)
    xs, ys = [], []
    for row in rows:
        pick = ranker_pick(ranker, row)
        if pick is None:
            continue
        xs.append(pick[1])
        ys.append(pick[0]["f1"] if row["answers"] else 0.0)
    answer = fit_logistic(np.array(xs), np.array(ys), ANSWER_FEATURES, l2=answer_l2, signs=ANSWER_SIGNS)
    return LearnedRanker(ranker, answer, 0.5)


def evidence_parts(evidence) -> dict:
    """What :func:`qa.answerer.calibrate_confidence` needs of a candidate's support check, so that
    its confidence can be recomputed once the ranker's agreement is known."""
    support = evidence.support
    return {"coverage": support.coverage, "absent": bool(support.absent_from_corpus),
            "entities_supported": support.entities_supported,
            "people_unsupported": support.names_unsupported_are_people, "focus_missing": support.focus_missing,
            "semantic": evidence.semantic, "fit": evidence.fit, "margin": evidence.margin}


def support_confidence(parts: dict, agreement: float) -> float:
    """The rules' confidence of a candidate, with the ranker's probability as its agreement."""
    from qa.answerer.support import Support, calibrate_confidence

    support = Support(parts["coverage"], (), ("?",) if parts["absent"] else (), parts["entities_supported"],
                      parts["people_unsupported"], parts["focus_missing"])
    return calibrate_confidence(support, parts["semantic"], parts["fit"], max(parts["margin"], agreement))


def ranker_pick(ranker: LinearModel, row: dict):
    """``(candidate, answer features)`` of the ranker's pick among a dumped question's candidates."""
    cands = row["candidates"]
    if not cands:
        return None
    probabilities = softmax(ranker.scores(np.array([c["x"] for c in cands])))
    best = int(np.argmax(probabilities))
    a = np.array(cands[best]["a"], dtype=np.float64)
    a[_column("p_chosen")], a[_column("p_margin")] = choice_probabilities(probabilities, best)
    a[_column("rule_confidence")] = support_confidence(cands[best]["ev"], float(probabilities[best]))
    return cands[best], a


def choose(model: LearnedRanker, row: dict):
    """``(candidate, learned confidence, support confidence)`` of the model's pick, or ``None``."""
    pick = ranker_pick(model.ranker, row)
    if pick is None:
        return None
    return pick[0], model.confidence(pick[1]), float(pick[1][_column("rule_confidence")])


def unanswerable_kind(row: dict) -> str:
    """``real`` (a crowd-written unanswerable question), ``without-paragraph`` (an answerable one
    asked with its paragraph removed) or ``entity-swapped`` (see :func:`qa.training.contrast.entity_swapped`)."""
    if not row.get("synthetic"):
        return "real"
    return "entity-swapped" if str(row.get("id", "")).endswith(ENTITY_SUFFIX) else "without-paragraph"


def score_picks(picks: Sequence[tuple], threshold: float, min_support: float) -> dict:
    """EM/F1 on answerable questions (abstaining scores 0), abstention accuracy on the real
    unanswerable questions and on each kind of synthetic one (:func:`unanswerable_kind`).

    ``picks`` holds ``(row, candidate or None, learned confidence, support confidence)``; a pick
    is answered when both reach their threshold."""
    em = f1 = answerable = answered_answerable = 0
    unanswerable = {kind: [0, 0] for kind in ("real", "without-paragraph", "entity-swapped")}  # [questions, abstained]
    for row, cand, confidence, support in picks:
        answered = cand is not None and confidence >= threshold and support >= min_support
        if row["answers"]:
            answerable += 1
            if answered:
                answered_answerable += 1
                em += cand["em"]
                f1 += cand["f1"]
        else:
            counts = unanswerable[unanswerable_kind(row)]
            counts[0] += 1
            counts[1] += not answered

    def declined(kind: str) -> float:
        questions, abstained = unanswerable[kind]
        return round(100 * abstained / max(questions, 1), 2)

    real = unanswerable["real"]
    return {"threshold": threshold, "min_support": min_support, "EM": round(100 * em / max(answerable, 1), 2),
            "F1": round(100 * f1 / max(answerable, 1), 2),
            "answered_answerable": round(answered_answerable / max(answerable, 1), 4),
            "abstain_unanswerable": declined("real"), "abstain_synthetic": declined("without-paragraph"),
            "abstain_swapped": declined("entity-swapped"),
            "overall": round(100 * (f1 + real[1]) / max(answerable + real[0], 1), 2)}


def pick_operating_point(grid: Sequence[dict], target_abstention: float = TARGET_ABSTENTION) -> dict:
    """Among the (threshold, min_support) pairs that decline at least ``target_abstention`` % of the
    unanswerable questions, the one with the best answerable F1 (ties: lower thresholds); without
    one, the pair with the best overall score."""
    reaching = [c for c in grid if c["abstain_unanswerable"] >= target_abstention]
    if reaching:
        return max(reaching, key=lambda c: (c["F1"], -c["threshold"], -c["min_support"]))
    return max(grid, key=lambda c: (c["overall"], -c["threshold"], -c["min_support"]))


def cross_validate(rows: Sequence[dict], fit_rows: Callable[[list], LearnedRanker] = fit) -> tuple[list, list[dict]]:
    """Leave-one-article-out predictions ``[(row, candidate, learned confidence, support confidence)]``,
    and per-fold EM/F1 of the picks (answering everything); ``fit_rows`` fits each fold's models
    (benchmarks pass variants of :func:`fit`)."""
    articles = sorted({r["article"] for r in rows})
    picks, folds = [], []
    for article in articles:
        train = [r for r in rows if r["article"] != article]
        test = [r for r in rows if r["article"] == article]
        model = fit_rows(train)
        fold = []
        for row in test:
            pick = choose(model, row)
            fold.append((row, *pick) if pick else (row, None, 0.0, 0.0))
        picks.extend(fold)
        everything = score_picks(fold, 0.0, 0.0)
        folds.append({"article": article, "questions": sum(1 for r in test if not r.get("synthetic")),
                      "EM": everything["EM"], "F1": everything["F1"]})
    return picks, folds


def baseline_picks(rows: Sequence[dict], key: str) -> list:
    """Picks of the hand-set answerers on the same candidates: ``key`` is "mixed" (the hybrid
    mixture) or "rule_score" (the rules); their support confidence as they computed it."""
    out = []
    for row in rows:
        cands = row["candidates"]
        if not cands:
            out.append((row, None, 0.0, 0.0))
            continue
        best = max(cands, key=lambda c: c[key])
        agreement = best["mixed"] if key == "mixed" else 0.0
        out.append((row, best, 1.0, support_confidence(best["ev"], agreement)))
    return out


def train_ranker(data_dir: str, work: Path, out: Path, reader_dir: Path, limit: Optional[int] = None,
                 refresh: bool = False) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    dump_path = work / "dump.json"
    started = time.time()
    if dump_path.exists() and not refresh:
        rows = json.loads(dump_path.read_text())
        log(f"reusing {dump_path} ({len(rows)} questions); --refresh to redo it")
    else:
        rows = dump_candidates(data_dir, work, reader_dir, limit)
        dump_path.write_text(json.dumps(rows))
    dump_seconds = time.time() - started

    from qa.answerer.support import DEFAULT_MIN_CONFIDENCE
    from qa.answerer.features import ANSWER_FEATURES, CANDIDATE_FEATURES

    picks, folds = cross_validate(rows)
    grid = [score_picks(picks, t, m) for m in SUPPORT_THRESHOLDS for t in THRESHOLDS]
    chosen = pick_operating_point(grid)
    curve = [c for c in grid if c["min_support"] == chosen["min_support"]]
    answer_all = score_picks(picks, 0.0, 0.0)
    before = {
        "rules": score_picks(baseline_picks(rows, "rule_score"), 0.0, DEFAULT_MIN_CONFIDENCE),
        "hybrid_mixture": score_picks(baseline_picks(rows, "mixed"), 0.0, DEFAULT_MIN_CONFIDENCE),
    }
    oracle = sum(max((c["f1"] for c in r["candidates"]), default=0.0) for r in rows if r["answers"])
    answerable = sum(1 for r in rows if r["answers"])
    synthetic = sum(1 for r in rows if r.get("synthetic"))
    final = fit(rows)
    recipe = {
        "data": {"data_dir": data_dir, "articles": sorted({r["article"] for r in rows}), "questions": len(rows) - synthetic,
                 "unanswerable": len(rows) - answerable - synthetic,
                 "synthetic_unanswerable": synthetic,
                 "entity_swapped": sum(1 for r in rows if unanswerable_kind(r) == "entity-swapped"),
                 "setting": "open retrieval over all paragraphs of these "
                 "articles (the reader's held-out articles), default top_k and reader_passages",
                 "top_k": Settings().top_k, "reader_passages": Settings().reader_passages},
        "features": {"candidate": list(CANDIDATE_FEATURES), "answer": list(ANSWER_FEATURES)},
        "fit": {"ranker": "conditional logit, L-BFGS, l2=%s" % RANKER_L2,
                "answer": "logistic regression on the pick's F1 (0 for unanswerable), l2=%s" % ANSWER_L2,
                "decision": "answer when the answer model's probability reaches `threshold` and the rules' "
                            "support confidence (with the ranker's probability as agreement) reaches `min_support`",
                "threshold_rule": f"the pair with the best answerable F1 among those declining >= {TARGET_ABSTENTION}% "
                                  "of the unanswerable questions, on the cross-validated predictions"},
        "cross_validation": {"scheme": "leave one article out", "folds": folds,
                             "curve_at_chosen_min_support": curve, "chosen": chosen, "no_abstention": answer_all},
        "before_same_candidates": before,
        "candidate_oracle_F1": round(100 * oracle / max(answerable, 1), 2),
        "dump_seconds": round(dump_seconds, 1),
    }
    model = LearnedRanker(final.ranker, final.answer, chosen["threshold"], chosen["min_support"], recipe)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    log(f"saved {out}")
    return recipe


def format_summary(recipe: dict) -> str:
    cv = recipe["cross_validation"]
    everything = cv["no_abstention"]
    lines = [f"candidate oracle F1 (best shortlisted span): {recipe['candidate_oracle_F1']}",
             f"answering everything: EM {everything['EM']} F1 {everything['F1']}",
             f"support check: min_support {cv['chosen']['min_support']}",
             "threshold  EM     F1     answered  abstained(unans)  abstained(no paragraph)  abstained(swapped)  overall"]
    for c in cv["curve_at_chosen_min_support"]:
        mark = "  <- chosen" if c["threshold"] == cv["chosen"]["threshold"] else ""
        if not mark and round(c["threshold"] * 100) % 5:
            continue  # the printed curve is every 0.05; recipe["cross_validation"]["curve"] has it all
        lines.append(f"{c['threshold']:<9}  {c['EM']:<5}  {c['F1']:<5}  {c['answered_answerable']:<8}  "
                     f"{c['abstain_unanswerable']:<16}  {c['abstain_synthetic']:<22}  "
                     f"{c['abstain_swapped']:<18}  {c['overall']}{mark}")
    for name, s in recipe["before_same_candidates"].items():
        lines.append(f"before ({name}): EM {s['EM']} F1 {s['F1']} abstained {s['abstain_unanswerable']}% "
                     f"(no paragraph {s['abstain_synthetic']}%, swapped {s['abstain_swapped']}%)")
    for f in cv["folds"]:
        lines.append(f"fold {f['article']}: {f['questions']} questions, EM {f['EM']} F1 {f['F1']} (answering everything)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from qa.reader.reader import DEFAULT_WEIGHTS_DIR
    from qa.training.train_reader import DEFAULT_DATA, input_problem

    parser = argparse.ArgumentParser(prog="qa train-ranker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="SQuAD training data: official JSON (a file or a folder with train-v1.1.json) or the old sample folder")
    parser.add_argument("--work", default=".qa-ranker-work", help="scratch folder (corpus, index, dump.json)")
    parser.add_argument("--out", default=str(DEFAULT_RANKER_PATH))
    parser.add_argument("--reader", default=DEFAULT_WEIGHTS_DIR, help="reader weights folder")
    parser.add_argument("--limit", type=int, help="N evenly spaced held-out questions and every unanswerable one "
                        "(default: all held-out questions)")
    parser.add_argument("--refresh", action="store_true", help="redo the dump even if the work folder has one")
    args = parser.parse_args(argv)
    problem = input_problem(args.data, None, "cpu")
    if problem:
        print(f"qa train-ranker: {problem}", file=sys.stderr)
        return 2
    recipe = train_ranker(args.data, Path(args.work), Path(args.out), Path(args.reader), args.limit, args.refresh)
    print(format_summary(recipe))
    return 0


if __name__ == "__main__":
    sys.exit(main())
