"""The ONNX question encoders: what they support, their cache, and their vectors against the
model's own (the real MiniLM for the last)."""

from __future__ import annotations

import json
import subprocess
import typing

import numpy as np
import pytest

from index import onnx_query
from index.embedding import QUERY_ENCODERS, SentenceTransformerEmbedder, embed_query, packaged_model_path
from index.errors import EmbedderUnavailable
from index.onnx_query import OnnxQueryEncoder, OnnxUnavailable, model_layout
from qa.config import Settings
from tests.conftest import FakeEmbedder


def _st_folder(tmp_path, pooling: dict, modules=("Transformer", "Pooling", "Normalize")):
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize", "Dense": "2_Dense"}
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 8, **pooling}))
    (tmp_path / "modules.json").write_text(json.dumps(
        [{"idx": i, "name": str(i), "path": paths[m], "type": f"sentence_transformers.models.{m}"}
         for i, m in enumerate(modules)]))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    return tmp_path


def test_layout_of_a_mean_pooled_folder(tmp_path):
    folder = _st_folder(tmp_path, {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False})
    layout = model_layout(folder)
    assert layout == {"transformer_dir": folder, "max_length": 128, "normalize": True}


@pytest.mark.parametrize("pooling, modules, reason", [
    ({"pooling_mode_cls_token": True}, ("Transformer", "Pooling"), "only the mean"),
    ({"pooling_mode_mean_tokens": True}, ("Transformer", "Pooling", "Dense"), "only Transformer"),
])
def test_other_models_are_refused(tmp_path, pooling, modules, reason):
    with pytest.raises(OnnxUnavailable, match=reason):
        model_layout(_st_folder(tmp_path, pooling, modules))
    with pytest.raises(OnnxUnavailable, match="no modules.json"):
        model_layout(tmp_path / "1_Pooling")


def test_unknown_query_encoder_is_refused():
    with pytest.raises(ValueError, match="query_encoder must be one of"):
        SentenceTransformerEmbedder(query_encoder="fastest")


def test_the_setting_offers_exactly_the_embedders_question_encoders():
    # Settings spells them out as a Literal (for its validation message): keep the two lists one
    annotation = Settings.model_fields["query_encoder"].annotation
    assert typing.get_args(annotation) == QUERY_ENCODERS


def test_embedders_without_a_question_path_embed_the_text():
    fake = FakeEmbedder()
    np.testing.assert_allclose(embed_query(fake, "Who rowed?"), fake.embed(["Who rowed?"])[0])


@pytest.fixture(scope="module")
def model_dir():
    path = packaged_model_path()
    if path is None:  # pragma: no cover
        pytest.skip("the packaged MiniLM is not installed")
    pytest.importorskip("onnxruntime")
    return path


QUESTIONS = ["Who founded the rowing club?", "When did the storm destroy the boathouse?",
             "How many apple trees were planted along the river?"]


@pytest.mark.slow
def test_onnx_question_vectors_are_the_models_own(model_dir):
    torch_embedder = SentenceTransformerEmbedder(query_encoder="torch")
    fast = SentenceTransformerEmbedder(query_encoder="auto")
    fast.warm_up()
    assert fast.query_backend == "onnx" and onnx_query.cache_file(model_dir, "fp32").is_file()
    vectors = np.stack([fast.embed_query(q) for q in QUESTIONS])
    np.testing.assert_allclose(vectors, torch_embedder.embed(QUESTIONS), atol=2e-5)
    # questions alone never load the model itself (a server saves its memory); other texts do
    assert fast._model is None
    assert fast.dimension == 384 and fast._model is not None
    np.testing.assert_allclose(fast.embed(QUESTIONS), torch_embedder.embed(QUESTIONS), atol=1e-6)
    with pytest.raises(ValueError, match="precision must be one of"):
        OnnxQueryEncoder(model_dir, "int4")


@pytest.mark.slow
def test_int8_question_vectors_are_close_to_the_float32_ones_and_the_export_is_reused(model_dir, monkeypatch):
    torch_embedder = SentenceTransformerEmbedder(query_encoder="torch")
    fast = SentenceTransformerEmbedder(query_encoder="onnx-int8")
    assert fast.query_backend == "onnx-int8" and torch_embedder.query_backend == "torch"
    exported = onnx_query.cache_file(model_dir, "int8")
    assert exported.is_file()
    reference = torch_embedder.embed(QUESTIONS)
    vectors = np.stack([fast.embed_query(q) for q in QUESTIONS])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() > 0.98 and not np.allclose(vectors, reference, atol=1e-6)
    # everything but single questions (indexing included) stays on the float32 model
    np.testing.assert_allclose(fast.embed(QUESTIONS), reference, atol=1e-5)
    # cached per question; a second encoder reuses the export without exporting again
    assert fast.embed_query(QUESTIONS[0]) is not fast.embed_query(QUESTIONS[0])
    np.testing.assert_array_equal(fast.embed_query(QUESTIONS[0]), vectors[0])

    def no_export(*args, **kwargs):  # pragma: no cover - fails the test if called
        raise AssertionError("exported again")

    monkeypatch.setattr(subprocess, "run", no_export)
    again = OnnxQueryEncoder(model_dir, "int8")
    np.testing.assert_allclose(again.encode(QUESTIONS[1]), vectors[1], atol=1e-6)


@pytest.mark.slow
def test_an_encoder_that_cannot_serve_falls_back_or_says_why(model_dir, monkeypatch):
    def refuse(self):
        raise OnnxUnavailable("no luck here")

    monkeypatch.setattr(OnnxQueryEncoder, "load", refuse)
    auto = SentenceTransformerEmbedder(query_encoder="auto")
    auto.warm_up()
    assert auto.query_backend == "torch" and auto._model is not None  # the fallback is loaded up front
    np.testing.assert_allclose(auto.embed_query(QUESTIONS[0]), auto.embed([QUESTIONS[0]])[0])
    for explicit in ("onnx", "onnx-int8"):
        with pytest.raises(EmbedderUnavailable, match=f"the {explicit} question encoder cannot serve .*no luck here"):
            SentenceTransformerEmbedder(query_encoder=explicit).warm_up()
