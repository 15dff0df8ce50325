"""Compact storage of a reader's weights: int8 per output channel for large matrices, fp16 for the rest."""
from __future__ import annotations

from typing import Dict

import torch


def quantize_state_dict(sd: Dict[str, torch.Tensor], min_numel: int = 4096) -> Dict[str, torch.Tensor]:
    """2-D float weights -> int8 per-row (per output channel) symmetric
    quantisation: ``<name>.q8`` (int8) + ``<name>.scale`` (fp32, one per row).
    Everything else (biases, LayerNorm, small tensors) -> fp16."""
    out: Dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        v = v.detach().cpu()
        if not torch.is_floating_point(v):
            out[k] = v.contiguous()
        elif v.dim() == 2 and v.numel() >= min_numel:
            w = v.float()
            scale = w.abs().amax(dim=1).clamp(min=1e-12) / 127.0
            q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
            out[k + ".q8"] = q.contiguous()
            out[k + ".scale"] = scale.contiguous()
        else:
            out[k] = v.to(torch.float16).contiguous()
    return out


def dequantize_state_dict(qsd: Dict[str, torch.Tensor], dtype=torch.float32) -> Dict[str, torch.Tensor]:
    out: Dict[str, torch.Tensor] = {}
    for k, v in qsd.items():
        if k.endswith(".q8"):
            name = k[: -len(".q8")]
            scale = qsd[name + ".scale"].float()
            out[name] = (v.float() * scale[:, None]).to(dtype)
        elif k.endswith(".scale") and (k[: -len(".scale")] + ".q8") in qsd:
            continue
        elif torch.is_floating_point(v):
            out[k] = v.to(dtype)
        else:
            out[k] = v
    return out
