"""Fixtures of the reader tests that train or load an MPNet-shaped reader."""

from __future__ import annotations

import copy

import pytest


@pytest.fixture(scope="module")
def tiny_mpnet_dir(tmp_path_factory, tokenizer):
    """A tiny MPNet base model folder (config and random weights), as the split packages unpack to."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny-mpnet")
    torch.manual_seed(1)
    config = transformers.MPNetConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=514)
    transformers.MPNetModel(config, add_pooling_layer=False).save_pretrained(folder, safe_serialization=True)
    return str(folder)


@pytest.fixture(scope="module")
def untyped_tokenizer(tokenizer):
    """The MiniLM tokenizer giving no token_type_ids, as MPNet's does."""
    untyped = copy.deepcopy(tokenizer)
    untyped.model_input_names = ["input_ids", "attention_mask"]
    return untyped
