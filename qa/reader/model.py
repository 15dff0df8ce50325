"""The span-extraction model (a pretrained encoder of :mod:`qa.reader.bases` + a start/end head)
and its compact weight files: whole (int8 per channel, :mod:`qa.reader.int8`) or a delta to the
base model (:mod:`qa.reader.delta`)."""
from __future__ import annotations

import os
import re
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from .bases import MINILM, base_dir, base_of
from .delta import DELTA_FILE, load_delta
from .int8 import dequantize_state_dict, quantize_state_dict


def layers_problem(layers: Optional[int], available: int) -> Optional[str]:
    """Why a reader cannot keep ``layers`` of the base model's ``available`` layers, or ``None``."""
    if layers is not None and not 1 <= layers <= available:
        return f"layers must be between 1 and {available} (the base model's layers), got {layers}"
    return None


class SpanQAModel(nn.Module):
    """Encoder (BERT or MPNet) + linear start/end head. The first position ([CLS] / <s>)
    doubles as the no-answer option (null score = start[0] + end[0])."""

    def __init__(self, encoder: nn.Module, hidden_size: int):
        super().__init__()
        self.encoder = encoder
        self.qa_outputs = nn.Linear(hidden_size, 2)

    @classmethod
    def from_config_dir(cls, model_dir: Optional[str] = None, pretrained: bool = True,
                        layers: Optional[int] = None,
                        attention_dropout: Optional[float] = None) -> "SpanQAModel":
        """``layers``: the encoder's first N transformer layers (what a stored reader holds);
        ``None`` keeps them all. ``attention_dropout``: dropout on the attention probabilities
        while training (``None``: the base model's)."""
        from transformers import AutoConfig, AutoModel

        model_dir = model_dir or base_dir(MINILM)
        config = AutoConfig.from_pretrained(model_dir)
        if layers is not None:
            problem = layers_problem(layers, config.num_hidden_layers)
            if problem:
                raise ValueError(problem)
            config.num_hidden_layers = layers
        if attention_dropout is not None:
            config.attention_probs_dropout_prob = attention_dropout
        if pretrained:
            # from_pretrained with fewer layers in the config loads the first N and drops the rest
            enc = AutoModel.from_pretrained(model_dir, config=config, add_pooling_layer=False)
        else:
            enc = AutoModel.from_config(config, add_pooling_layer=False)
        m = cls(enc, config.hidden_size)
        nn.init.normal_(m.qa_outputs.weight, std=0.02)
        nn.init.zeros_(m.qa_outputs.bias)
        return m

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> Tuple[torch.Tensor, torch.Tensor]:
        # MPNet has no segment embeddings (its tokenizer gives no token_type_ids)
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        logits = self.qa_outputs(h)
        return logits[..., 0], logits[..., 1]


# --------------------------------------------------------------------------- compact weights

WEIGHTS_FILE = "reader.int8.safetensors"


def save_compact(model: SpanQAModel, out_dir: str, meta: Optional[Dict[str, str]] = None, base: str = MINILM) -> str:
    """Write the model's compact weights into ``out_dir``; the file names its ``base``."""
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    sd = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    path = os.path.join(out_dir, WEIGHTS_FILE)
    md = {"format": "int8-per-row+fp16", "base": base}
    md.update(meta or {})
    save_file(quantize_state_dict(sd), path, metadata={k: str(v) for k, v in md.items()})
    return path


_LAYER_KEY = re.compile(r"^encoder\.encoder\.layer\.(\d+)\.")


def encoder_layers(sd: Dict[str, torch.Tensor]) -> Optional[int]:
    """How many transformer layers a reader state dict holds (``None``: no layer keys)."""
    found = [int(m.group(1)) for m in map(_LAYER_KEY.match, sd) if m]
    return max(found) + 1 if found else None


def weights_file(path: str) -> str:
    """The weights file of a reader folder: its whole int8 weights, else a delta to its base
    (:mod:`qa.reader.delta`); a file path is returned as it is."""
    if not os.path.isdir(path):
        return path
    whole, delta = os.path.join(path, WEIGHTS_FILE), os.path.join(path, DELTA_FILE)
    return delta if not os.path.exists(whole) and os.path.exists(delta) else whole


def weights_base(path: str) -> str:
    """The base model a reader weights file (or its folder) was trained from."""
    from safetensors import safe_open

    with safe_open(weights_file(path), framework="pt") as f:
        return base_of(f.metadata())


def load_compact(path: str, model_dir: Optional[str] = None) -> SpanQAModel:
    """Load a reader's compact weights (whole, or a delta to its base); ``model_dir``: its base
    model's folder (default: the base the weights file names)."""
    from safetensors.torch import load_file

    path = weights_file(path)
    model_dir = model_dir or base_dir(weights_base(path))
    if os.path.basename(path) == DELTA_FILE:
        sd = load_delta(path, model_dir)
    else:
        sd = dequantize_state_dict(load_file(path))
    model = SpanQAModel.from_config_dir(model_dir, pretrained=False, layers=encoder_layers(sd))
    load_weights(model, sd)
    return model.eval()


def load_weights(model: SpanQAModel, sd: Dict[str, torch.Tensor]) -> None:
    """Give ``model`` the weights ``sd``, which must name every parameter it has and no other (the
    position-id buffers, which saved weights leave out, aside)."""
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"reader weights mismatch: missing={missing} unexpected={unexpected}")
