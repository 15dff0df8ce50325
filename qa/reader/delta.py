"""A reader stored as its base model plus a low-rank delta (an adapter extracted after training).

A reader fine-tuned from a large base (MPNet: 110M parameters, 110 MB even in int8) is too big to
keep in the repository, but fine-tuning moves each weight matrix by a small, nearly low-rank
amount. So each matrix ``W`` of the tuned reader is kept as ``A @ B`` with ``W ~ W_base + A @ B``
(the rank-``r`` truncated SVD of ``W - W_base``, both factors int8 per row), every small tensor
(biases, LayerNorm, the span head) whole. Loading adds the delta to the base weights the installed
packages carry, after checking they are the very weights the delta was taken from (SHA-256).
"""
from __future__ import annotations

import os
from typing import Dict, Optional

import torch

from .bases import BaseModelUnavailable, weights_digest
from .int8 import dequantize_state_dict, quantize_state_dict

DELTA_FILE = "reader.delta.safetensors"
BASE_WEIGHTS = "model.safetensors"
_A, _B = ".delta_a", ".delta_b"
ENCODER_PREFIX = "encoder."  # SpanQAModel keeps the base model under .encoder


def base_state(model_dir: str) -> Dict[str, torch.Tensor]:
    """The base model's weights under the reader's names (``encoder.`` + the base's own)."""
    from safetensors.torch import load_file

    path = os.path.join(model_dir, BASE_WEIGHTS)
    if not os.path.isfile(path):
        raise BaseModelUnavailable(f"{model_dir} has no {BASE_WEIGHTS}: a delta needs its base model's weights")
    return {ENCODER_PREFIX + k: v for k, v in load_file(path).items()}


def low_rank(delta: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``A`` (rows x r) and ``B`` (r x columns) with ``A @ B`` the best rank-``r`` approximation of ``delta``."""
    u, s, vh = torch.linalg.svd(delta.float(), full_matrices=False)
    r = min(rank, len(s))
    return (u[:, :r] * s[:r]).contiguous(), vh[:r].contiguous()


def extract_delta(tuned: Dict[str, torch.Tensor], base: Dict[str, torch.Tensor], rank: int,
                  min_numel: int = 4096) -> Dict[str, torch.Tensor]:
    """The tuned weights as low-rank deltas to ``base`` (matrices of ``min_numel`` elements or
    more that the base has in the same shape) and whole tensors (everything else)."""
    if rank < 1:
        raise ValueError(f"rank must be positive, got {rank}")
    out: Dict[str, torch.Tensor] = {}
    for name, value in tuned.items():
        if name.endswith("position_ids"):
            continue
        b = base.get(name)
        if value.dim() == 2 and value.numel() >= min_numel and b is not None and b.shape == value.shape:
            out[name + _A], out[name + _B] = low_rank(value.float() - b.float(), rank)
        else:
            out[name] = value.detach().float()
    return out


def apply_delta(delta: Dict[str, torch.Tensor], base: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The reader's weights: each low-rank delta added to its base matrix, whole tensors as they are."""
    out: Dict[str, torch.Tensor] = {}
    for name, value in delta.items():
        if name.endswith(_B):
            continue
        if name.endswith(_A):
            target = name[: -len(_A)]
            if target not in base:
                raise BaseModelUnavailable(f"the reader's delta changes {target!r}, which the base model lacks")
            out[target] = base[target].float() + value.float() @ delta[target + _B].float()
        else:
            out[name] = value
    return out


def save_delta(tuned: Dict[str, torch.Tensor], out_dir: str, model_dir: str, base: str, rank: int,
               meta: Optional[Dict[str, str]] = None) -> str:
    """Write ``tuned`` (a reader's float state dict) as a delta to the base model in ``model_dir``."""
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    delta = extract_delta(tuned, base_state(model_dir), rank)
    md = {"format": "lowrank-delta-int8-per-row+fp16", "base": base, "rank": str(rank),
          "base_sha256": weights_digest(model_dir)}
    md.update(meta or {})
    path = os.path.join(out_dir, DELTA_FILE)
    save_file(quantize_state_dict(delta), path, metadata={k: str(v) for k, v in md.items()})
    return path


def load_delta(path: str, model_dir: str) -> Dict[str, torch.Tensor]:
    """A reader's float weights from its delta file and the base model in ``model_dir``.

    Raises:
        BaseModelUnavailable: the base's weights are not those the delta was taken from.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, framework="pt") as f:
        expected = (f.metadata() or {}).get("base_sha256")
    found = weights_digest(model_dir)
    if expected and found != expected:
        raise BaseModelUnavailable(f"the reader's delta was taken from base weights with SHA-256 {expected}, "
                                   f"but {model_dir} holds {found}: reinstall the base model's packages")
    return apply_delta(dequantize_state_dict(load_file(path)), base_state(model_dir))
