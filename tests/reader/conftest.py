"""Shared fixtures of the reader tests: the base model's tokenizer and a tiny random span model."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def tokenizer():
    transformers = pytest.importorskip("transformers")
    from qa.reader.model import base_model_dir

    try:
        return transformers.AutoTokenizer.from_pretrained(base_model_dir(), use_fast=True)
    except Exception as e:  # pragma: no cover
        pytest.skip(f"base tokenizer unavailable: {e}")


@pytest.fixture(scope="module")
def make_tiny_model(tokenizer):
    """Makes a one-layer, 32-wide BERT with the span head: random, deterministic for a seed."""
    import torch
    import transformers

    from qa.reader.model import SpanQAModel

    def make(seed: int = 0):
        torch.manual_seed(seed)
        cfg = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
        return SpanQAModel(transformers.BertModel(cfg, add_pooling_layer=False), 32)

    return make
