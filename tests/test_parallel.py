"""The analysis worker process: same index as analysing in-process, clear errors, no leftovers."""

import numpy as np
import pytest

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.chunking import ChunkerSettings
from index.documents import document_from_text
from index.load import load_index
from index.parallel import AnalysisWorker, AnalysisWorkerError
from index.prepare import prepare_documents
from index.process import analyse_and_embed, use_analysis_worker
from tests.conftest import HARBOUR, ORCHARD, CountingEmbedder


def _documents(count: int = 12):
    texts = [HARBOUR, ORCHARD, "Notes\n\n" + " ".join(f"Item {i} weighs {i * 3} grams." for i in range(200))]
    return [document_from_text(f"d{i:02d}.txt", texts[i % 3] + f"\nPage {i}.") for i in range(count)]


def _parse(analysis: bytes):
    """The tokens and sentence starts a DocBin holds (its bytes order strings by hash, which
    differs from process to process)."""
    from spacy.tokens import DocBin

    vocab = SpacyAnalyzer("blank").vocab
    return [[(t.text, t.is_sent_start, t.whitespace_) for t in doc] for doc in DocBin().from_bytes(analysis).get_docs(vocab)]


def test_worker_gives_what_the_process_would_in_order():
    documents = _documents()
    analyzer = SpacyAnalyzer("blank")
    expected = list(prepare_documents(documents, analyzer, ChunkerSettings()))
    with AnalysisWorker(documents, "blank", ChunkerSettings(), max_ahead_chars=1) as worker:
        got = list(worker)
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert mine.sentences == theirs.sentences
        assert mine.chunks == theirs.chunks
        assert _parse(mine.analysis) == _parse(theirs.analysis)
        assert dict(mine.terms) == dict(theirs.terms)
        assert np.array_equal(mine.block_offsets, theirs.block_offsets)


def test_index_built_with_the_worker_equals_the_one_built_without(tmp_path):
    documents = _documents()
    analyzer = SpacyAnalyzer("blank")
    entries = {}
    for setting in ("off", "on"):
        embedder = CountingEmbedder()
        entries[setting] = list(analyse_and_embed(documents, analyzer, embedder, ChunkerSettings(), True, False,
                                                   embed_batch=50, analysis_worker=setting))
    assert len(entries["on"]) == len(documents)
    for with_worker, without in zip(entries["on"], entries["off"]):
        assert np.array_equal(with_worker.chunks, without.chunks)
        assert np.array_equal(with_worker.sentences, without.sentences)
        assert np.allclose(with_worker.vectors, without.vectors)
        assert np.allclose(with_worker.sentence_vectors.astype(np.float32), without.sentence_vectors.astype(np.float32))
        assert _parse(with_worker.analysis) == _parse(without.analysis)
        assert with_worker.term_frequencies() == without.term_frequencies()

    build_index(documents, tmp_path / "ix", CountingEmbedder(), analyzer, analysis_worker="on")
    index = load_index(tmp_path / "ix")
    assert len(index.documents) == len(documents)
    for chunk in index.chunks:
        assert index.document(chunk.doc_id).text[chunk.start : chunk.end] == chunk.text


def test_a_failing_worker_raises_a_clear_error():
    with AnalysisWorker(_documents(2), "no_such_spacy_model", ChunkerSettings()) as worker:
        with pytest.raises(AnalysisWorkerError, match="document analysis failed: .*no_such_spacy_model"):
            list(worker)


def test_leaving_early_stops_the_worker():
    worker = AnalysisWorker(_documents(40), "blank", ChunkerSettings())
    with worker:
        next(iter(worker))
    assert not worker._process.is_alive()


def test_auto_uses_the_worker_only_for_enough_text(monkeypatch):
    analyzer = SpacyAnalyzer("blank")
    small, large = _documents(2), [document_from_text("big.txt", "Big\n\n" + "A sentence here. " * 20_000)]
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert not use_analysis_worker("auto", small, analyzer)
    assert use_analysis_worker("auto", large, analyzer)
    assert not use_analysis_worker("off", large, analyzer)
    assert use_analysis_worker("on", small, analyzer)
    assert not use_analysis_worker("on", small, object())  # not a spaCy pipeline it could load
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert not use_analysis_worker("auto", large, analyzer)


def test_without_a_worker_process_the_analysis_runs_in_process(monkeypatch, caplog):
    def refuse(self):
        raise OSError("no semaphores here")

    monkeypatch.setattr(AnalysisWorker, "__enter__", refuse)
    documents = _documents(3)
    entries = list(analyse_and_embed(documents, SpacyAnalyzer("blank"), CountingEmbedder(), ChunkerSettings(), True,
                                      False, analysis_worker="on"))
    assert len(entries) == len(documents) and all(e.consistent() for e in entries)
    assert "could not start the analysis process (no semaphores here)" in caplog.text
