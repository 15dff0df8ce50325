"""Indexing on a Ray cluster (two local workers) gives the index a local build gives: the same
chunks, sentences, parse, BM25 and manifest, vectors equal within float rounding, the same
answers; a worker killed mid-batch loses and duplicates nothing; a rebuild sends only what changed."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import faiss
import numpy as np
import pytest

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.documents import document_from_text
from index.manifest import MANIFEST_FILE, SENTENCE_VECTORS_FILE, current_version
from index.ray_index import RayProcessor, documents_per_batch
from tests.conftest import HARBOUR, ORCHARD, FakeEmbedder, missing_engine

ROOT = Path(__file__).resolve().parent.parent

LIGHTHOUSE = """Lighthouse Log

The Skerry lighthouse was automated in 1987. Its keeper, Ingrid Holm, moved to Tromsø that winter.
The lamp can be seen 22 nautical miles away on a clear night.
"""
FERRY = """Ferry Timetable

The first ferry to Nordholm leaves at 06:40. On Sundays it leaves at 08:15 instead.
Tickets cost 12 euros; children under seven travel free.
"""
#: Files whose bytes must be identical between the two builds (the vectors are compared apart).
EXACT_FILES = ("documents.jsonl", "chunks.npy", "sentences.npy", "blocks.npy", "analysis.bin",
               "analysis_offsets.npy", "terms.json")


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance with two worker CPUs for the module; the workers import this checkout."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        missing_engine("Ray is not installed (pip install 'ray[data]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}})
    yield ray
    ray.shutdown()


def _version(index_dir: Path) -> Path:
    return index_dir / current_version(index_dir)


def assert_same_index(local: Path, clustered: Path, vector_tolerance: float) -> None:
    a, b = _version(local), _version(clustered)
    for name in EXACT_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    bm25 = sorted(p.name for p in (a / "bm25").iterdir())
    assert bm25 == sorted(p.name for p in (b / "bm25").iterdir())
    for name in bm25:
        assert (a / "bm25" / name).read_bytes() == (b / "bm25" / name).read_bytes(), name
    dense_a, dense_b = (faiss.read_index(str(f / "dense.faiss")) for f in (a, b))
    vectors_a, vectors_b = (d.reconstruct_n(0, d.ntotal) for d in (dense_a, dense_b))
    assert vectors_a.shape == vectors_b.shape
    np.testing.assert_allclose(vectors_a, vectors_b, rtol=0, atol=vector_tolerance)
    sentences_a, sentences_b = (np.fromfile(f / SENTENCE_VECTORS_FILE, dtype=np.float16) for f in (a, b))
    # float16 rows: their rounding step near 1 is 1e-3.
    np.testing.assert_allclose(sentences_a, sentences_b, rtol=0, atol=max(vector_tolerance, 1e-3) if vector_tolerance else 0)
    manifest_a, manifest_b = (json.loads((f / MANIFEST_FILE).read_text()) for f in (a, b))
    for manifest in (manifest_a, manifest_b):
        del manifest["built_at"]
        if vector_tolerance:
            del manifest["files"]["dense.faiss"], manifest["files"][SENTENCE_VECTORS_FILE]
    assert manifest_a == manifest_b


def test_batches_hold_about_an_encoder_batch_and_every_worker_gets_several():
    documents = [document_from_text(f"d{i}.txt", "word " * 1400) for i in range(100)]  # 7,000 characters each
    assert documents_per_batch(documents, 256, workers=2) == 13  # 13 x 10 chunks of 700 characters
    assert documents_per_batch(documents, 1024, workers=2) == 13  # 100 / (2 workers x 4 batches)
    assert documents_per_batch(documents, 1024, workers=50) == 1


@pytest.mark.slow
def test_a_ray_build_answers_exactly_like_a_local_build(ray_cluster, tmp_path):
    from index.embedding import SentenceTransformerEmbedder
    from qa.config import Settings
    from qa.pipeline import QAPipeline

    documents = [document_from_text(name, text) for name, text in
                 (("harbour.txt", HARBOUR), ("orchard.md", ORCHARD), ("lighthouse.txt", LIGHTHOUSE),
                  ("ferry.md", FERRY))]
    embedder, analyzer = SentenceTransformerEmbedder(), SpacyAnalyzer()
    build_index(documents, tmp_path / "local", embedder, analyzer, analysis_worker="off")
    steps = []
    build_index(documents, tmp_path / "ray", embedder, analyzer,
                processor=RayProcessor(workers=2, embed_batch=4, on_step=steps.append))
    assert steps[0] == "ray: 4 document(s) in batches of 1 on 2 worker(s) of 1 CPU(s)"
    assert steps[-1] == "ray: 4/4 document(s) analysed and embedded"
    assert_same_index(tmp_path / "local", tmp_path / "ray", vector_tolerance=1e-5)

    questions = ["Who chairs the harbour board?", "When was the Skerry lighthouse automated?",
                 "How much does a ferry ticket cost?", "Who planted the oldest tree?", "What is the capital of Peru?"]
    answers = {}
    for name in ("local", "ray"):
        pipeline = QAPipeline(Settings(index_dir=tmp_path / name, query_encoder="torch"),
                              embedder=embedder, analyzer=analyzer)
        answers[name] = [pipeline.ask(q).to_dict() for q in questions]
    assert answers["ray"] == answers["local"]
    assert answers["local"][1]["found"] is True and answers["local"][-1]["found"] is False


class DyingEmbedder(FakeEmbedder):
    """A fake encoder whose process exits in the first batch any worker embeds (once per run:
    the first to create ``marker`` dies)."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def embed(self, texts, *, show_progress=False):
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return super().embed(texts)
        os._exit(1)  # a worker lost mid-batch, as on a node that goes away


def dying_models(marker: str, recipe: dict):
    return SpacyAnalyzer("blank"), DyingEmbedder(marker)


class RecordingProcessor:
    """Wraps a processor and keeps the ids of the documents it was given."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.given: list[str] = []

    def __call__(self, documents, recipe):
        self.given.extend(d.doc_id for d in documents)
        return self.inner(documents, recipe)


def test_a_worker_killed_mid_batch_loses_nothing_and_a_rebuild_sends_only_changes(ray_cluster, tmp_path):
    documents = [document_from_text(f"notes/{i}.txt", f"Note {i}\n\nComet {i} was seen in {1900 + i}. "
                                                      f"It returns every {10 + i} years.") for i in range(12)]
    marker = tmp_path / "died"
    processor = RecordingProcessor(RayProcessor(workers=2, models=functools.partial(dying_models, str(marker))))
    build_index(documents, tmp_path / "ray", FakeEmbedder(), SpacyAnalyzer("blank"), processor=processor)
    assert marker.exists()  # a worker did die
    build_index(documents, tmp_path / "local", FakeEmbedder(), SpacyAnalyzer("blank"), analysis_worker="off")
    assert_same_index(tmp_path / "local", tmp_path / "ray", vector_tolerance=0)

    documents[3] = document_from_text("notes/3.txt", "Note 3\n\nComet 3 was seen again in 2024.")
    processor.given.clear()
    build_index(documents, tmp_path / "ray", FakeEmbedder(), SpacyAnalyzer("blank"), processor=processor)
    assert processor.given == ["notes/3.txt"]
    build_index(documents, tmp_path / "local", FakeEmbedder(), SpacyAnalyzer("blank"), analysis_worker="off")
    assert_same_index(tmp_path / "local", tmp_path / "ray", vector_tolerance=0)


def models_missing_on_the_node(recipe: dict):
    raise OSError(f"[E050] Can't find model '{recipe['analyzer']}'")


def test_a_worker_that_cannot_load_its_models_fails_the_build_with_the_reason(ray_cluster, tmp_path):
    from index.errors import ClusterError

    documents = [document_from_text("a.txt", HARBOUR), document_from_text("b.txt", ORCHARD)]
    with pytest.raises(ClusterError, match=r"^indexing on the Ray cluster failed: .*Can't find model 'blank'"):
        build_index(documents, tmp_path / "ix", FakeEmbedder(), SpacyAnalyzer("blank"),
                    processor=RayProcessor(workers=1, models=models_missing_on_the_node))
    assert current_version(tmp_path / "ix") is None
