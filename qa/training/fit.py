"""The reader's training loop: one reader trained through its stages (epochs of examples) from
the base model, with checkpoints every few minutes and an exact resume (:mod:`qa.training.checkpoint`)."""
from __future__ import annotations

import math
import random
import time
from typing import List, Optional

import torch

from qa.reader.bases import MINILM, base_dir
from .checkpoint import Checkpointer
from .examples import build_epoch, make_batches
from .log import log
from .loss import batch_loss


def run_stage(model, opt, sched, tok, stage_q, stage: str, ep: int, paragraphs, hard, by_article, rng: random.Random,
              cfg: dict, device: str, bf16: bool, progress: dict, checkpointer: Optional["Checkpointer"] = None,
              start_batch: int = 0, run_loss: float = 0.0) -> None:
    """One epoch over ``stage_q`` (examples and batch order drawn from ``rng``); ``progress``
    carries the global step, the step total, the start time and the epoch times. With
    ``start_batch``, the epoch's first batches are drawn but not trained on (a resumed stage)."""
    te = time.time()
    stage_rng = rng.getstate()
    exs = build_epoch(stage_q, paragraphs, hard, by_article, rng, cfg)
    batches = make_batches(exs, cfg["batch_questions"], rng)

    def state(next_batch: int) -> dict:
        return {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "step": progress["step"], "total": progress["total"], "stage": ep, "next_batch": next_batch,
                "stage_rng": stage_rng, "torch_rng": torch.get_rng_state(), "run_loss": run_loss,
                "epoch_times": list(progress["epoch_times"]), "elapsed": time.time() - progress["t0"],
                "cfg": {k: v for k, v in cfg.items()}}

    for bi in range(start_batch, len(batches)):
        batch = batches[bi]
        loss, _ = batch_loss(model, batch, tok, cfg, device, bf16)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        progress["step"] += 1
        run_loss += float(loss.detach())
        step, total = progress["step"], progress["total"]
        if step % 20 == 0 or bi == len(batches) - 1:
            el = time.time() - progress["t0"]
            done = bi + 1 - start_batch
            rate = (time.time() - te) / done
            log(f"epoch {ep + 1} step {step}/{total} loss {run_loss / (bi + 1):.4f} lr {sched.get_last_lr()[0]:.2e} "
                f"{rate:.2f}s/step elapsed {el / 60:.1f}m eta {rate * (total - step) / 60:.1f}m")
        if checkpointer is not None and bi < len(batches) - 1 and checkpointer.due(step):
            checkpointer.save(state(bi + 1))
    progress["epoch_times"].append(time.time() - te)
    log(f"epoch {ep + 1} ({stage}) done in {progress['epoch_times'][-1] / 60:.1f} min")
    if checkpointer is not None:
        # the next stage starts from the generator's state after this one's draws
        saved = state(len(batches))
        saved.update(stage=ep + 1, next_batch=0, stage_rng=rng.getstate(), run_loss=0.0)
        checkpointer.save(saved)


def count_steps(stages, batch_questions: int) -> int:
    """Optimiser steps in one pass through ``stages`` ((questions, name) pairs)."""
    return sum(math.ceil(len(qs) / batch_questions) for qs, _ in stages)


def recipe_base(cfg: dict) -> str:
    """The base model of a recipe (MiniLM for checkpoints written before there was a choice)."""
    return cfg.get("base") or MINILM


def base_tokenizer(cfg: dict):
    """The tokenizer of the recipe's base model."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base_dir(recipe_base(cfg)), use_fast=True)


def new_model(cfg: dict, pretrained: bool):
    """The reader model the recipe ``cfg`` trains (its base model and attention dropout), from the
    base model's weights (``pretrained``) or to be given weights."""
    from qa.reader.model import SpanQAModel

    return SpanQAModel.from_config_dir(model_dir=base_dir(recipe_base(cfg)), pretrained=pretrained,
                                       attention_dropout=cfg["attention_dropout"])


def fit_one(seed: int, stages, tok, paragraphs, hard, by_article, cfg: dict, device: str, bf16: bool,
            epoch_times: List[float], t0: float, total: Optional[int] = None,
            checkpointer: Optional[Checkpointer] = None, resume: Optional[dict] = None,
            init_state: Optional[dict] = None):
    """Train one reader through ``stages`` with ``seed`` (head, dropout, examples and batch order);
    appends each stage's time to ``epoch_times``; ``total`` is the learning-rate schedule's step
    count (default: the stages' own). From the base model, or, with ``resume`` (a checkpoint of
    :class:`Checkpointer`), exactly where that training stopped; or from the weights ``init_state``
    (an earlier reader's) with a new optimiser and schedule. Returns (model, optimiser, schedule, step)."""
    torch.manual_seed(seed)
    if device.startswith("cuda"):
        torch.cuda.manual_seed_all(seed)
    # a resumed training gets its weights from the checkpoint, not the base model's
    model = new_model(cfg, pretrained=resume is None and init_state is None)
    if init_state is not None and resume is None:
        from qa.reader.model import load_weights

        load_weights(model, init_state)
    model = model.to(device)
    model.train()
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    params = [
        {"params": [p for n, p in model.named_parameters() if not any(x in n for x in no_decay)], "weight_decay": cfg["weight_decay"]},
        {"params": [p for n, p in model.named_parameters() if any(x in n for x in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(params, lr=cfg["lr"])
    total = total or count_steps(stages, cfg["batch_questions"])
    warm = max(1, int(cfg["warmup"] * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)) if s >= warm else (s + 1) / warm)
    step = 0
    rng = random.Random(seed)
    first_stage, start_batch, run_loss = 0, 0, 0.0
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["opt"])
        sched.load_state_dict(resume["sched"])
        step = int(resume["step"])
        first_stage, start_batch, run_loss = int(resume["stage"]), int(resume["next_batch"]), float(resume["run_loss"])
        rng.setstate(resume["stage_rng"])
        torch.set_rng_state(resume["torch_rng"])
        epoch_times.extend(resume["epoch_times"])
        log(f"resumed at step {step}/{total} (stage {int(resume['stage']) + 1}, batch {start_batch})")
    progress = {"step": step, "total": total, "t0": t0, "epoch_times": epoch_times}
    for ep, (stage_q, stage) in enumerate(stages):
        if ep < first_stage:
            continue
        run_stage(model, opt, sched, tok, stage_q, stage, ep, paragraphs, hard, by_article, rng, cfg, device, bf16,
                  progress, checkpointer, start_batch, run_loss)
        start_batch, run_loss = 0, 0.0
    return model, opt, sched, progress["step"]
