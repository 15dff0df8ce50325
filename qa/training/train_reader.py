"""Train / evaluate the span reader on SQuAD (official JSON; held-out split: qa.training.squad).

    qa train-reader [--data ../shared/data/squad-train] [--out qa/reader/weights] [--device cuda]
    qa train-reader --resume                       # go on from the last checkpoint
    qa train-reader --eval-only --out qa/reader/weights

Shared normalisation: every training question is read together with
``n_distractors`` other paragraphs of the same article (half BM25-hard, half
random; passages randomly cropped to a few sentences like retrieval chunks),
and the start/end softmaxes run over all passage tokens of all its windows plus
one no-answer option (the mean [CLS] logit), so scores are comparable across
passages and no-answer is calibrated against them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from index.embedding import use_bf16

from . import data as D
from . import squad as SQ
from .checkpoint import CHECKPOINT_FILE, Checkpointer, load_checkpoint, started_at
from .examples import hard_distractors
from .fit import base_tokenizer, count_steps, fit_one, new_model, recipe_base
from .heldout_eval import EVAL_SEED, evaluate_reader
from .log import log
from .soup import average_states, member_worker_count, train_members
from .warm_start import Sample, WarmStartError, check_compatible, describe, draw, remaining
from qa.reader.bases import DESCRIPTIONS, MINILM
from qa.reader.reader import DEFAULT_WEIGHTS_DIR, SpanReader

# The SQuAD sample lives in the shared folder beside the checkout (../shared/eval/...).
DEFAULT_DATA = os.environ.get(
    "QA_READER_DATA",
    os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                 "shared", "data", "squad-train"),
)
DEFAULT_OUT = DEFAULT_WEIGHTS_DIR

DEFAULTS = dict(
    # the pretrained encoder (qa.reader.bases): "minilm" or "mpnet"
    base=MINILM,
    epochs=1, batch_questions=8, lr=1e-4, warmup=0.1, weight_decay=0.01,
    n_distractors=1.5, hard_distractor_prob=0.5, crop_prob=0.85, crop_words=(40, 90),
    neg_passage_prob=0.0,  # >0: drop the gold passage (distractors only, target no-answer) with this prob
    max_seq_len=192, doc_stride=64, max_answer_tokens=30, seed=13,
    # synthetic questions (qa.training.synthetic, generated with `synthetic_seed`) per training
    # paragraph, read for `synthetic_epochs` epochs before the crowd-written ones; 0 = none
    synthetic_per_paragraph=0, synthetic_epochs=1, synthetic_seed=13,
    # dropout on the attention probabilities (None: the base model's 0.1). Off: on a CPU its
    # random numbers are a large share of a training step, and the reader without it is no worse
    attention_dropout=0.0,
    # a "model soup": the recipe trained once per seed, weights averaged (None or `--no-soup`: one
    # run with `seed`); two members trained at once fit this project's 2-core CPU hour (README)
    soup_seeds=(),
    # training questions drawn (seeded) from the 79,145 of the training articles: about three
    # hours an epoch on a 2-core CPU (`--limit 0`: all of them)
    limit=44000,
    # soup members trained at once in this many worker processes (the threads split between them;
    # None: as many as the CPU threads allow on a CPU, one at a time on a GPU)
    member_workers=None,
    # distillation (qa.training.distill): a folder of a teacher's span logits, and the share of
    # each question's loss that goes to matching them (at this softmax temperature)
    teacher_logits=None, distill_alpha=0.5, distill_temperature=2.0,
)

HELDOUT = list(D.DEFAULT_HELDOUT)


# --------------------------------------------------------------------------- data prep

def prepare(data_dir: str, heldout: Optional[Sequence[str]]):
    """Paragraphs, questions, data statistics, training and held-out questions, and the held-out
    articles (``heldout``, or the data's fixed split: :mod:`qa.training.squad`). ``data_dir`` is
    official SQuAD JSON (a file, or the folder of SQuAD 1.1 train and the 2.0 sample) or the old
    sample's folder, whose questions are aligned to their paragraphs first."""
    paragraphs, questions, stats, heldout = SQ.load_training_data(data_dir, heldout)
    train_q, test_q = D.split_by_article(questions, paragraphs, heldout)
    train_q = [q for q in train_q if (not q.answers) or q.answer_start >= 0]
    return paragraphs, questions, stats, train_q, test_q, heldout


def synthetic_questions(paragraphs: Sequence[D.Paragraph], heldout: Sequence[str], cfg: dict,
                        path: Optional[str] = None) -> List[D.Question]:
    """The first ``synthetic_per_paragraph`` synthetic questions of each training paragraph
    (never a held-out article's), read from ``path`` or generated with spaCy."""
    n = int(cfg.get("synthetic_per_paragraph") or 0)
    if n <= 0:
        return []
    from . import synthetic as S

    held = set(heldout)
    train_paras = [p for p in paragraphs if p.article not in held]
    items = S.read_jsonl(path) if path else S.generate(train_paras, S.load_nlp(), n, int(cfg["synthetic_seed"]))
    keep = {(p.article, p.name) for p in train_paras}
    items = [s for s in items if (s.article, s.name) in keep and s.number < n]
    return S.to_questions(items, paragraphs)


# --------------------------------------------------------------------------- train

def train_reader(data_dir: str = DEFAULT_DATA, out_dir: str = DEFAULT_OUT, seed: int = DEFAULTS["seed"], epochs: int = DEFAULTS["epochs"],
                 device: str = "cpu", heldout: Optional[Sequence[str]] = None, limit: Optional[int] = None,
                 evaluate: bool = True, eval_limit: Optional[int] = None, synthetic_file: Optional[str] = None,
                 bf16: str = "auto", checkpoint: Optional[str] = None, checkpoint_minutes: float = 10.0,
                 checkpoint_every_steps: Optional[int] = None, resume: bool = False, init_from: Optional[str] = None,
                 **overrides) -> dict:
    """Train the reader and save its compact weights and recipe in ``out_dir``. ``bf16``
    (``auto``/``on``/``off``) is for CPU training: ``auto`` uses bfloat16 autocast where the CPU
    multiplies bf16 natively (CUDA training always does). A single reader (not a soup) writes a
    checkpoint to ``checkpoint`` every ``checkpoint_minutes`` (or ``checkpoint_every_steps``);
    ``resume`` goes on from it exactly, with the recipe it was started with. ``init_from`` (a
    training checkpoint or a reader folder) starts from that reader's weights instead of the base
    model's, and trains on questions it has not read (:mod:`qa.training.warm_start`)."""
    cfg = dict(DEFAULTS)
    cfg.update(epochs=epochs, seed=seed)
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    resumed = None
    if resume:
        if not checkpoint or not os.path.isfile(checkpoint):
            raise TrainingInputError(f"--resume: no checkpoint at {checkpoint}")
        resumed = load_checkpoint(checkpoint, device)
        cfg = dict(resumed["cfg"])
        seed, epochs = int(cfg["seed"]), int(cfg["epochs"])
        heldout = cfg.get("heldout")
        limit = cfg.get("limit")
    cfg["limit"] = limit
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if device.startswith("cuda"):
        torch.cuda.manual_seed_all(seed)
    t0 = started_at(resumed)
    paragraphs, questions, align_stats, train_q, test_q, heldout = prepare(data_dir, heldout)
    cfg["heldout"] = heldout
    log(f"alignment: {json.dumps(align_stats)}")
    init_state = None
    if init_from and resumed is None:
        if cfg["soup_seeds"]:
            raise TrainingInputError("--init-from trains one reader: leave out --soup-seeds")
        earlier = describe(init_from)
        check_compatible(earlier, overrides.get("base"), heldout)
        cfg.update(base=earlier.base, samples_before=[s.to_list() for s in earlier.samples],
                   init_from=earlier.describe())
        init_state = earlier.weights()
        log(f"going on from {earlier.path} ({earlier.base}, {len(earlier.samples)} run(s) before)")
    pool = remaining(train_q, [Sample.from_list(s) for s in cfg.get("samples_before") or []])
    if not pool:
        raise TrainingInputError("the earlier reader has read every training question")
    cfg["pool"] = len(pool)
    train_q = draw(pool, limit, seed)
    by_article: Dict[str, List[int]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article, []).append(p.pid)
    syn_q = synthetic_questions(paragraphs, heldout, cfg, synthetic_file)
    if syn_q:
        log(f"synthetic questions: {len(syn_q)} ({cfg['synthetic_per_paragraph']} per paragraph at most)")
    crowd_q = list(train_q)
    hard = hard_distractors(crowd_q + syn_q, paragraphs, by_article)
    from qa.reader.model import save_compact

    tok = base_tokenizer(cfg)
    # The synthetic epochs come first: (questions, epochs) per stage.
    stages = ([(syn_q, "synthetic")] * int(cfg["synthetic_epochs"]) if syn_q else []) + [(crowd_q, "crowd")] * cfg["epochs"]
    total = count_steps(stages, cfg["batch_questions"])
    bf16 = device.startswith("cuda") or use_bf16(bf16)
    log(f"bf16 autocast: {bf16}")
    log(f"train questions={len(train_q)} heldout questions={len(test_q)} steps={total} device={device} threads={torch.get_num_threads()}")
    members = list(cfg["soup_seeds"] or [seed])
    epoch_times: List[float] = []
    member_times: Optional[List[float]] = None
    member_epoch_times = None
    workers = 1
    if len(members) == 1:
        checkpointer = Checkpointer(checkpoint, checkpoint_minutes, checkpoint_every_steps) if checkpoint else None
        model, _, _, _ = fit_one(seed, stages, tok, paragraphs, hard, by_article, cfg, device, bf16, epoch_times, t0,
                                 checkpointer=checkpointer, resume=resumed, init_state=init_state)
    else:
        import tempfile

        workers = member_worker_count(cfg["member_workers"], len(members), device)
        with tempfile.TemporaryDirectory(prefix="soup-", dir=out_dir if os.path.isdir(out_dir) else None) as work:
            states, member_epoch_times, member_times = train_members(
                members, stages, tok, paragraphs, hard, by_article, cfg, device, bf16, t0, total, work, workers)
            if workers == 1:
                epoch_times.extend(t for ts in member_epoch_times for t in ts)
        # A uniform "model soup" (Wortsman et al., 2022): the same recipe trained once per seed,
        # then its weights averaged; it costs nothing at question time (measured: README).
        model = new_model(cfg, pretrained=False)
        model.load_state_dict(average_states(states))
        model.to(device)
    train_time = time.time() - t0
    model.eval()
    wpath = save_compact(model, out_dir, {"seed": ",".join(map(str, members))}, base=recipe_base(cfg))
    size = os.path.getsize(wpath)
    recipe = {
        "model": f"{DESCRIPTIONS[recipe_base(cfg)]} + linear start/end head, no-answer at the first token",
        "weights_file": os.path.basename(wpath),
        "weights_bytes": size,
        "weights_format": "int8 symmetric per-output-row for 2-D weights (>=4096 elems) + fp32 row scales; fp16 rest; safetensors",
        "objective": "shared normalisation: start/end softmax over all passage tokens of gold + distractor passages (all windows) + no-answer (mean [CLS] logit); marginal likelihood over gold positions",
        "data": {
            "data_dir": data_dir,
            "articles": sorted(by_article),
            "heldout_articles": heldout,
            "train_articles": sorted(a for a in by_article if a not in heldout),
            "paragraphs": len(paragraphs),
            "questions": len(questions),
            "train_questions": len(train_q),
            "train_unanswerable": sum(1 for q in train_q if not q.answers),
            "synthetic_questions": len(syn_q),
            "synthetic_source": (os.path.basename(synthetic_file) if synthetic_file else
                                 "qa.training.synthetic.generate over the training articles") if syn_q else None,
            "heldout_questions": len(test_q),
            "heldout_unanswerable": sum(1 for q in test_q if not q.answers),
            "alignment": align_stats,
        },
        "hyperparameters": {k: v for k, v in cfg.items() if k != "heldout"},
        "seed": seed,
        "device": device,
        "torch_threads": torch.get_num_threads(),
        "bf16_autocast": bf16,
        "training_time_s": round(train_time, 1),
        # with --init-from: this run's time and the earlier runs' together
        "training_time_total_s": round(train_time + float((cfg.get("init_from") or {}).get("training_time_s", 0.0)), 1),
        "epoch_times_s": [round(t, 1) for t in epoch_times],
        "member_times_s": [round(t, 1) for t in member_times] if member_times else None,
        "member_workers_used": workers if len(members) > 1 else None,
        "member_epoch_times_s": [[round(t, 1) for t in ts] for ts in member_epoch_times] if member_epoch_times else None,
        "limit": limit,
    }
    _write_recipe(out_dir, recipe)
    log(f"saved {wpath} ({size / 1e6:.1f} MB) train time {train_time / 60:.1f} min")
    if evaluate:
        reader = SpanReader(out_dir, device=device, dynamic_int8=False).load()
        metrics = evaluate_reader(reader, paragraphs, test_q, limit=eval_limit)
        recipe["metrics_heldout"] = metrics
        _write_recipe(out_dir, recipe)
    return recipe


class TrainingInputError(ValueError):
    """Training cannot start on these inputs (the reason is the message)."""


def _write_recipe(out_dir: str, recipe: dict) -> None:
    with open(os.path.join(out_dir, "recipe.json"), "w") as f:
        json.dump(recipe, f, indent=2)


# --------------------------------------------------------------------------- eval

# --eval-only stays with the trainer: it reads the trainer's recipe.json and data prep (prepare),
# and qa.training.heldout_eval, which this module imports, does not import the trainer back.
def eval_only(data_dir: str, out_dir: str, device: str = "cpu", limit: Optional[int] = None, seed: int = EVAL_SEED,
              dynamic_int8: bool = False) -> dict:
    rpath = os.path.join(out_dir, "recipe.json")
    recipe = json.load(open(rpath)) if os.path.exists(rpath) else {}
    heldout = recipe.get("data", {}).get("heldout_articles")
    paragraphs, questions, stats, train_q, test_q, heldout = prepare(data_dir, heldout)
    reader = SpanReader(out_dir, device=device, dynamic_int8=dynamic_int8 and device == "cpu").load()
    m = evaluate_reader(reader, paragraphs, test_q, limit=limit, seed=seed)
    m["dynamic_int8"] = dynamic_int8 and device == "cpu"
    return m


def _seed_list(text: str) -> List[int]:
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integer seeds, got {text!r}") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"a soup needs at least two different seeds, got {text!r}")
    return seeds


def soup_option_problem(soup_seeds: Optional[Sequence[int]], no_soup: bool,
                        member_workers: Optional[int]) -> Optional[str]:
    """Why the soup options (``None``: not given; ``soup_seeds`` as given) cannot be used together,
    or ``None``."""
    if no_soup and soup_seeds:
        return "--no-soup and --soup-seeds contradict each other: give one"
    soup_seeds = () if no_soup else soup_seeds or DEFAULTS["soup_seeds"]
    if member_workers is not None and not soup_seeds:
        return "--member-workers is for a soup: give --soup-seeds (and not --no-soup)"
    if member_workers is not None and member_workers < 1:
        return f"--member-workers must be at least 1, got {member_workers}"
    return None


def distill_problem(folder: Optional[str], alpha: Optional[float], temperature: Optional[float]) -> Optional[str]:
    """Why the distillation options cannot be used, or ``None``."""
    from .distill import shard_paths

    if folder is not None and not shard_paths(folder):
        return f"--teacher-logits: no teacher logits in {folder} (make them with python -m qa.training.teacher_logits)"
    if alpha is not None and not 0 <= alpha <= 1:
        return f"--distill-alpha must be between 0 and 1, got {alpha}"
    if temperature is not None and temperature <= 0:
        return f"--distill-temperature must be positive, got {temperature}"
    return None


def input_problem(data_dir: str, synthetic_file: Optional[str], device: str) -> Optional[str]:
    """Why the trainer cannot start on these inputs, or None: checked before anything loads."""
    sample = os.path.isfile(os.path.join(data_dir, "questions.jsonl")) and os.path.isdir(os.path.join(data_dir, "corpus"))
    if not sample and not SQ.is_squad_json(data_dir):
        return (f"no SQuAD data at {data_dir} (official SQuAD JSON, a folder with {SQ.V11_FILE}, or the old sample's "
                f"folder with questions.jsonl and corpus/; set --data or QA_READER_DATA)")
    if synthetic_file:
        from . import synthetic as S

        try:
            S.read_jsonl(synthetic_file)
        except OSError as e:
            return f"cannot read --synthetic-file {synthetic_file}: {e.strerror or e}"
        except (ValueError, TypeError) as e:
            return (f"--synthetic-file {synthetic_file} is not a file of synthetic questions "
                    f"(python -m qa.training.synthetic writes one): {e}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        return f"--device {device}: no CUDA device here (use --device cpu)"
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="qa train-reader", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                    help="seed of the reader (a soup's members take --soup-seeds instead)")
    ap.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    ap.add_argument("--base", choices=sorted(DESCRIPTIONS),
                    help="pretrained encoder (default: %s; with --init-from: the earlier reader's): " % DEFAULTS["base"]
                    + "; ".join(f"{k}: {v}" for k, v in sorted(DESCRIPTIONS.items())))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--batch-questions", type=int)
    ap.add_argument("--n-distractors", type=float)
    ap.add_argument("--max-seq-len", type=int)
    ap.add_argument("--attention-dropout", type=float, help="dropout on the attention probabilities (default: the base model's)")
    ap.add_argument("--soup-seeds", type=_seed_list,
                    help="comma-separated seeds: train the recipe once per seed and average the weights (a model soup)")
    ap.add_argument("--no-soup", action="store_true", help="train one reader with --seed instead of a soup")
    ap.add_argument("--member-workers", type=int,
                    help="train the soup members N at a time in worker processes (the threads split between them)")
    ap.add_argument("--teacher-logits", help="distil from a teacher's span logits in this folder "
                                              "(python -m qa.training.teacher_logits makes them)")
    ap.add_argument("--distill-alpha", type=float, help="share of the loss on the teacher's logits (default: %s)"
                    % DEFAULTS["distill_alpha"])
    ap.add_argument("--distill-temperature", type=float, help="softmax temperature of distillation (default: %s)"
                    % DEFAULTS["distill_temperature"])
    ap.add_argument("--neg-passage-prob", type=float)
    ap.add_argument("--crop-prob", type=float, help="probability of cropping a passage to a few sentences")
    ap.add_argument("--synthetic-per-paragraph", type=int,
                    help="synthetic questions per training paragraph read before the crowd-written ones")
    ap.add_argument("--synthetic-epochs", type=int)
    ap.add_argument("--synthetic-file", help="pre-generated synthetic questions (python -m qa.training.synthetic)")
    ap.add_argument("--limit", type=int,
                    help="train on a seeded random N of the training questions (default: %d; 0: all)" % DEFAULTS["limit"])
    ap.add_argument("--checkpoint", help=f"where a single reader's training checkpoint goes (default: OUT/{CHECKPOINT_FILE})")
    ap.add_argument("--checkpoint-minutes", type=float, default=10.0,
                    help="minutes between checkpoints (default: 10); one is also written after each epoch")
    ap.add_argument("--resume", action="store_true",
                    help="go on exactly from --checkpoint, with the recipe it was started with (other options ignored)")
    ap.add_argument("--init-from", help="start from this reader's weights (a training checkpoint, or a reader folder) "
                                         "and train on --limit questions it has not read")
    ap.add_argument("--eval-limit", type=int)
    ap.add_argument("--no-eval", action="store_true")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--dynamic-int8", action="store_true",
                    help="eval with torch dynamic int8 Linear layers (faster on CPU, ~5-8 EM lower)")
    ap.add_argument("--write-recipe", action="store_true", help="--eval-only: store metrics in recipe.json")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads for this process")
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="CPU training under bfloat16 autocast (auto: where the CPU has native bf16; CUDA always)")
    a = ap.parse_args(argv)
    problem = input_problem(a.data, a.synthetic_file, a.device)
    for name, value in (("--attention-dropout", a.attention_dropout),):
        if not problem and value is not None and not 0 <= value < 1:
            problem = f"{name} must be at least 0 and below 1, got {value}"
    problem = problem or distill_problem(a.teacher_logits, a.distill_alpha, a.distill_temperature)
    problem = problem or soup_option_problem(a.soup_seeds, a.no_soup, a.member_workers)
    if problem:
        print(f"qa train-reader: {problem}", file=sys.stderr)
        return 2
    if a.threads:
        torch.set_num_threads(a.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if a.eval_only:
        m = eval_only(a.data, a.out, a.device, a.eval_limit, EVAL_SEED, a.dynamic_int8)
        if a.write_recipe:
            rpath = os.path.join(a.out, "recipe.json")
            recipe = json.load(open(rpath))
            key = "metrics_heldout_dynamic_int8" if a.dynamic_int8 else "metrics_heldout"
            if key in recipe and recipe[key].get("eval_questions") != m.get("eval_questions"):
                recipe[key + "_previous"] = recipe[key]
            recipe[key] = m
            _write_recipe(a.out, recipe)
        print(json.dumps(m, indent=1))
        return 0
    checkpoint = a.checkpoint or os.path.join(a.out, CHECKPOINT_FILE)
    try:
        r = _train_from_args(a, checkpoint)
    except (TrainingInputError, WarmStartError) as e:
        print(f"qa train-reader: {e}", file=sys.stderr)
        return 2
    summ = {k: {kk: vv for kk, vv in v.items() if kk != "threshold_sweep"} if isinstance(v, dict) else v
            for k, v in r.get("metrics_heldout", {}).items()}
    print(json.dumps(summ, indent=1))
    return 0


def _train_from_args(a, checkpoint: str) -> dict:
    limit = DEFAULTS["limit"] if a.limit is None else (a.limit or None)
    return train_reader(a.data, a.out, seed=a.seed, epochs=a.epochs, device=a.device, limit=limit,
                        evaluate=not a.no_eval, eval_limit=a.eval_limit, lr=a.lr, batch_questions=a.batch_questions,
                        n_distractors=a.n_distractors, max_seq_len=a.max_seq_len,
                        soup_seeds=() if a.no_soup else a.soup_seeds, attention_dropout=a.attention_dropout,
                        member_workers=a.member_workers, neg_passage_prob=a.neg_passage_prob, crop_prob=a.crop_prob,
                        synthetic_per_paragraph=a.synthetic_per_paragraph, synthetic_epochs=a.synthetic_epochs,
                        synthetic_file=a.synthetic_file, bf16=a.bf16, checkpoint=checkpoint,
                        checkpoint_minutes=a.checkpoint_minutes, resume=a.resume, base=a.base, init_from=a.init_from,
                        teacher_logits=a.teacher_logits and os.path.abspath(a.teacher_logits),
                        distill_alpha=a.distill_alpha, distill_temperature=a.distill_temperature)


if __name__ == "__main__":
    sys.exit(main())
