"""Store a trained reader as a low-rank delta to its base model (:mod:`qa.reader.delta`), small
enough to keep in the repository where the whole weights are not (MPNet: 110 MB in int8).

    python -m qa.training.reader_delta DIR --out OUT [--rank 64]

``DIR`` is a finished ``qa train-reader --out`` folder (its int8 weights name the base): the delta
is taken from its float weights (``checkpoint.pt``) when it still has those of the finished run,
else from its int8 weights. Its ``recipe.json`` and ``ranker.json`` are copied beside the delta,
the recipe noting the rank.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Dict, Optional, Sequence

import torch

from qa.errors import QAError
from qa.reader.bases import base_dir
from qa.reader.delta import DELTA_FILE, save_delta
from qa.reader.int8 import dequantize_state_dict
from qa.reader.model import WEIGHTS_FILE, weights_base
from .checkpoint import CHECKPOINT_FILE, load_checkpoint


def tuned_state(folder: str) -> Dict[str, torch.Tensor]:
    """The reader's float weights: those of its checkpoint when it is the finished run's (a run
    started again in the folder may have left a part-way one), else its int8 file's."""
    checkpoint = os.path.join(folder, CHECKPOINT_FILE)
    if os.path.isfile(checkpoint):
        state = load_checkpoint(checkpoint, "cpu")
        if state["step"] >= state["total"]:
            return state["model"]
    from safetensors.torch import load_file

    return dequantize_state_dict(load_file(os.path.join(folder, WEIGHTS_FILE)))


def make_delta(folder: str, out: str, rank: int) -> str:
    base = weights_base(folder)
    path = save_delta(tuned_state(folder), out, base_dir(base), base, rank)
    recipe_path = os.path.join(folder, "recipe.json")
    if os.path.isfile(recipe_path):
        with open(recipe_path) as f:
            recipe = json.load(f)
        recipe["weights_file"] = DELTA_FILE
        recipe["weights_bytes"] = os.path.getsize(path)
        recipe["weights_format"] = (f"rank-{rank} delta to the base model's weights (truncated SVD of each matrix's "
                                    "change, both factors int8 per row) + fp16 small tensors; safetensors")
        with open(os.path.join(out, "recipe.json"), "w") as f:
            json.dump(recipe, f, indent=2)
    if os.path.isfile(os.path.join(folder, "ranker.json")):
        shutil.copy(os.path.join(folder, "ranker.json"), out)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qa.training.reader_delta", description=__doc__.split("\n\n")[0])
    ap.add_argument("reader", help="a trained reader's folder (qa train-reader --out)")
    ap.add_argument("--out", required=True, help="folder for the delta (and the recipe and ranker beside it)")
    ap.add_argument("--rank", type=int, default=64, help="rank of each matrix's delta (default: 64)")
    a = ap.parse_args(argv)
    problem = None
    if a.rank < 1:
        problem = "--rank must be positive"
    elif not os.path.isfile(os.path.join(a.reader, WEIGHTS_FILE)):
        problem = f"no reader weights in {a.reader} (a finished qa train-reader --out folder)"
    elif os.path.abspath(a.out) == os.path.abspath(a.reader):
        problem = "--out must be another folder than the reader's"
    if problem:
        print(f"reader_delta: {problem}", file=sys.stderr)
        return 2
    try:
        path = make_delta(a.reader, a.out, a.rank)
    except QAError as e:
        print(f"reader_delta: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
