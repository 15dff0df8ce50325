"""Training that goes on from an earlier reader (``qa train-reader --init-from``).

A reader trained on N questions can be trained further on questions it has not seen, instead of
training a larger sample from the base model again: for MPNet on this 2-core CPU that saves the
hours the first N questions took. The new run starts from the earlier reader's weights with a new
optimiser and learning-rate schedule, and draws its ``--limit`` questions from those the earlier
runs left: every run's sample is recorded (``samples``: seed, limit and the size of the pool it
was drawn from), so the questions any run saw are derived again from the data, and a chain of
runs never reads a question twice.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch


class WarmStartError(ValueError):
    """The earlier reader cannot be trained further here (the reason is the message)."""


@dataclass(frozen=True)
class Sample:
    """One run's draw of training questions: ``limit`` of them (``None``: all) with ``seed``,
    from a pool of ``pool`` questions (what the runs before it left; ``None`` for a reader trained
    before runs recorded it, which drew from all the training questions)."""

    seed: int
    limit: Optional[int]
    pool: Optional[int]

    def to_list(self) -> list:
        return [self.seed, self.limit, self.pool]

    @classmethod
    def from_list(cls, item: Sequence) -> "Sample":
        seed, limit, pool = item
        return cls(int(seed), int(limit) if limit else None, None if pool is None else int(pool))


def draw(pool: list, limit: Optional[int], seed: int) -> list:
    """The questions a run with ``limit`` (``None``/0: all) and ``seed`` trains on, from ``pool``."""
    if not limit:
        return list(pool)
    return random.Random(seed).sample(pool, min(limit, len(pool)))


def remaining(train_q: list, earlier: Sequence[Sample]) -> list:
    """The training questions the ``earlier`` runs did not read, in their original order.

    Raises:
        WarmStartError: a run's recorded pool size differs from this data's (trained on other data).
    """
    pool = list(train_q)
    for n, sample in enumerate(earlier, start=1):
        if sample.pool is not None and len(pool) != sample.pool:
            raise WarmStartError(f"run {n} of the earlier reader drew its questions from {sample.pool} training "
                                 f"questions, this data has {len(pool)} there: it was trained on other data")
        taken = {q.qid for q in draw(pool, sample.limit, sample.seed)}
        pool = [q for q in pool if q.qid not in taken]
    return pool


@dataclass(frozen=True)
class EarlierReader:
    """What a run needs to know about the reader it goes on from; ``checkpoint_weights`` are a
    checkpoint's weights, read with the rest of it (``None`` for a reader folder)."""

    path: str
    base: str
    heldout: Optional[List[str]]
    samples: List[Sample]
    training_time_s: float
    checkpoint_weights: Optional[Dict[str, torch.Tensor]] = field(default=None, repr=False, compare=False)

    def describe(self) -> dict:
        return {"path": self.path, "base": self.base, "samples": [s.to_list() for s in self.samples],
                "training_time_s": round(self.training_time_s, 1)}

    def weights(self) -> Dict[str, torch.Tensor]:
        """The float32 weights training goes on from: a checkpoint's as trained, a reader folder's
        as the product loads them (dequantised int8, or the base plus its delta)."""
        if self.checkpoint_weights is not None:
            return self.checkpoint_weights
        from qa.reader.model import load_compact

        return {k: v.float() if v.is_floating_point() else v for k, v in load_compact(self.path).state_dict().items()}


def _samples_of(cfg_or_recipe: dict, own_seed, own_limit, own_pool) -> List[Sample]:
    before = [Sample.from_list(s) for s in cfg_or_recipe.get("samples_before") or []]
    if before and own_pool is None:
        raise WarmStartError("the earlier reader went on from another one but does not record its pool of questions")
    return before + [Sample(int(own_seed), int(own_limit) if own_limit else None,
                            None if own_pool is None else int(own_pool))]


def describe_checkpoint(path: str) -> EarlierReader:
    """An earlier reader from a training checkpoint (its float32 weights)."""
    from .checkpoint import load_checkpoint
    from .fit import recipe_base

    state = load_checkpoint(path, "cpu")
    cfg = state.get("cfg") or {}
    if state.get("next_batch", 0) != 0 or int(state.get("stage", 0)) < int(cfg.get("epochs", 1)):
        raise WarmStartError(f"{path} is the checkpoint of an unfinished training: finish it with --resume first")
    return EarlierReader(os.path.abspath(path), recipe_base(cfg), cfg.get("heldout"),
                         _samples_of(cfg, cfg.get("seed"), cfg.get("limit"), cfg.get("pool")),
                         float(state.get("elapsed", 0.0)), state["model"])


def describe_folder(path: str) -> EarlierReader:
    """An earlier reader from a reader folder (its weights, whole or a delta, and recipe.json)."""
    from qa.reader.model import weights_base

    rpath = os.path.join(path, "recipe.json")
    try:
        with open(rpath) as f:
            recipe = json.load(f)
        base = weights_base(path)
    except (OSError, ValueError) as exc:
        raise WarmStartError(f"{path} is not a reader folder with weights and recipe.json: {exc}") from exc
    hyper = recipe.get("hyperparameters") or {}
    total = float(recipe.get("training_time_total_s", recipe.get("training_time_s", 0.0)))
    return EarlierReader(os.path.abspath(path), base, (recipe.get("data") or {}).get("heldout_articles"),
                         _samples_of(hyper, recipe.get("seed"), recipe.get("limit"), hyper.get("pool")), total)


def describe(path: str) -> EarlierReader:
    """The earlier reader at ``path``: a training checkpoint file or a reader folder."""
    if os.path.isfile(path):
        return describe_checkpoint(path)
    if os.path.isdir(path):
        return describe_folder(path)
    raise WarmStartError(f"{path}: no such checkpoint file or reader folder")


def check_compatible(earlier: EarlierReader, base: Optional[str], heldout: Sequence[str]) -> None:
    """Refuse a base model or held-out split that differs from the earlier reader's."""
    if base is not None and base != earlier.base:
        raise WarmStartError(f"--base {base} differs from the earlier reader's base ({earlier.base})")
    if earlier.heldout is not None and sorted(earlier.heldout) != sorted(heldout):
        raise WarmStartError("the earlier reader was trained with another held-out split: going on from it would "
                             "train on questions it holds out, or hold out questions it trained on")
