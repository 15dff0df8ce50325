"""Sentence vectors read from the chunks' forward passes, stored with the index."""

from __future__ import annotations

import numpy as np
import pytest

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.documents import document_from_text
from index.embedding import SentenceTransformerEmbedder, embed_with_spans, unit_rows
from index.load import load_index
from tests.conftest import HARBOUR, ORCHARD, FakeEmbedder


def test_unit_rows_keeps_zero_rows():
    rows = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


def test_any_embedder_gets_span_vectors_from_the_span_text():
    embedder = FakeEmbedder()
    texts = ["Title\nThe ferry left at dawn. Its captain was Berg.", "Short one."]
    first, second = texts[0].index("The"), texts[0].index("Its")
    spans = [[(first, second - 1), (second, len(texts[0]))], [(0, 10)]]
    vectors, span_vectors = embed_with_spans(embedder, texts, spans)
    np.testing.assert_allclose(vectors, embedder.embed(texts))
    np.testing.assert_allclose(span_vectors, embedder.embed(["The ferry left at dawn.", "Its captain was Berg.", "Short one."]))


def test_index_stores_one_vector_per_sentence_at_its_offsets(tmp_path):
    embedder = FakeEmbedder()
    documents = [document_from_text("harbour.txt", HARBOUR), document_from_text("orchard.md", ORCHARD)]
    build_index(documents, tmp_path / "ix", embedder, SpacyAnalyzer("blank"))
    index = load_index(tmp_path / "ix")
    for document in documents:
        sentences = index.sentences[document.doc_id]
        stored = index.stored_sentence_vectors(document.doc_id, list(range(len(sentences))))
        # the fake embedder has no forward pass to read from: each sentence's own text is embedded,
        # so the stored vector says which text the offsets picked out (title lines included)
        expected = embedder.embed([document.text[start:end] for start, end in sentences])
        np.testing.assert_allclose(stored, expected, atol=1e-3)
    assert not index.stored_sentence_vectors("harbour.txt", [999]).any()
    assert not index.stored_sentence_vectors("missing.txt", [0]).any()


@pytest.fixture(scope="module")
def minilm():
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    return embedder


def test_minilm_reads_sentences_out_of_the_passage_pass(minilm):
    passage = ("Harbour News\nMaria Lindqvist chairs the harbour board of Eastport. "
               "The ferry terminal will cost 40 million euros.")
    first = (passage.index("Maria"), passage.index("Eastport.") + len("Eastport."))
    second = (passage.index("The ferry"), len(passage))
    vectors, span_vectors = minilm.embed_with_spans([passage, "Apples grow here."], [[first, second], []])
    np.testing.assert_allclose(vectors, minilm.embed([passage, "Apples grow here."]), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(span_vectors, axis=1), 1.0, atol=1e-5)
    alone = minilm.embed([passage[slice(*first)], passage[slice(*second)]])
    similarity = span_vectors @ alone.T
    # each sentence read in context is closest to the same sentence read alone
    assert similarity[0, 0] > similarity[0, 1] and similarity[1, 1] > similarity[1, 0]
    assert similarity[0, 0] > 0.7 and similarity[1, 1] > 0.7


def test_minilm_gives_zeros_past_its_length_limit(minilm):
    passage = " ".join(["word"] * 400) + " The last sentence is cut off."
    tail = (passage.index("The last"), len(passage))
    _, span_vectors = minilm.embed_with_spans([passage], [[(0, 9), tail]])
    assert span_vectors[0].any() and not span_vectors[1].any()


def test_linear_weights_kept_in_bf16_give_what_autocast_gives():
    import torch

    from index.embedding import store_linear_in_bf16

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.GELU(), torch.nn.LayerNorm(32), torch.nn.Linear(32, 4))
    x = torch.randn(5, 16)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        before = model(x).float()
        store_linear_in_bf16(model)
        after = model(x).float()
    assert model[0].weight.dtype == torch.bfloat16 and model[3].bias.dtype == torch.bfloat16
    assert model[2].weight.dtype == torch.float32  # only the matrix multiplies change storage
    assert torch.equal(before, after)
