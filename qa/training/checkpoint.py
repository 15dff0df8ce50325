"""Checkpoints of a reader's training, to go on exactly where it stopped (``qa train-reader --resume``)."""
from __future__ import annotations

import os
import time
from typing import Optional

import torch

from .log import log

CHECKPOINT_FILE = "checkpoint.pt"  # in the training's --out folder unless --checkpoint says otherwise


class Checkpointer:
    """Writes what :func:`~qa.training.train_reader.fit_one` needs to go on exactly where it
    stopped (``--resume``): the weights, optimiser, schedule, the stage and batch reached, the
    example generator's state at the stage's start (the stage's examples and batch order are drawn
    again from it) and torch's random state (dropout). Written atomically every ``minutes`` and at
    the end of each stage."""

    def __init__(self, path: Optional[str], minutes: float = 10.0, every_steps: Optional[int] = None):
        self.path, self.seconds, self.every_steps = path, 60.0 * minutes, every_steps
        self.last = time.time()

    def due(self, step: int) -> bool:
        if not self.path:
            return False
        if self.every_steps:
            return step % self.every_steps == 0
        return time.time() - self.last >= self.seconds

    def save(self, state: dict) -> None:
        if not self.path:
            return
        # The output folder is made when the weights are written, after the first checkpoints.
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = self.path + ".tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.path)
        self.last = time.time()
        log(f"checkpoint: step {state['step']} -> {self.path}")


def load_checkpoint(path: str, device: str) -> dict:
    """A checkpoint written by :class:`Checkpointer` (torch and Python random states included)."""
    return torch.load(path, map_location=device, weights_only=False)


def started_at(resumed: dict | None) -> float:
    """When a training started (``time.time()``), counting the time of the runs before a stop that
    ``resumed`` (a checkpoint, or ``None``) goes on from: its checkpoints and recipe then give the
    whole training's time, not the last run's."""
    return time.time() - float((resumed or {}).get("elapsed", 0.0))
