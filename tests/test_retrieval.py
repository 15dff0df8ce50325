import numpy as np
import pytest

from index.build import build_index
from index.load import load_index
from qa.retrieval import HybridRetriever, dense_search, reciprocal_rank_fusion


def test_rrf_matches_hand_computation():
    fused = reciprocal_rank_fusion([[3, 1, 2], [1, 4]], k=60)
    expected = {3: 1 / 61, 1: 1 / 62 + 1 / 61, 2: 1 / 63, 4: 1 / 62}
    assert [i for i, _ in fused] == [1, 3, 4, 2]
    for item, score in fused:
        assert score == pytest.approx(expected[item])


def test_rrf_ties_keep_first_seen_order():
    assert [i for i, _ in reciprocal_rank_fusion([[7], [8]])] == [7, 8]


def test_dense_search_matches_brute_force():
    import faiss

    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [0.8, 0.6, 0]], dtype=np.float32)
    index = faiss.IndexFlatIP(3)
    index.add(vectors)
    query = np.array([0.28, 0.96, 0], dtype=np.float32)
    brute = sorted(range(4), key=lambda i: -float(vectors[i] @ query))
    assert [i for i, _ in dense_search(index, query, 3)] == brute[:3]
    assert len(dense_search(index, query, 10)) == 4


def test_hybrid_retrieval_finds_the_right_document(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    retriever = HybridRetriever(load_index(tmp_path / "ix"), fake_embedder)
    results = retriever.retrieve("When was the oldest apple tree planted?", top_k=2)
    assert results[0].chunk.doc_id == "orchard.md"
    assert results[0].dense_rank >= 1 and results[0].sparse_rank >= 1
    assert len(results) <= 2
    assert results == sorted(results, key=lambda r: -r.score)


def test_question_with_unknown_words_only_uses_dense(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    results = HybridRetriever(load_index(tmp_path / "ix"), fake_embedder).retrieve("zyzzyva quokka", top_k=3)
    assert all(r.sparse_rank == 0 for r in results)


def test_sparse_search_matches_bm25s_ranking():
    from index.bm25 import bm25_query_tokens, bm25_tokenize, import_bm25s
    from qa.retrieval import sparse_search

    bm25s = import_bm25s()
    texts = ["the harbour board met", "a board of apples", "harbour lights and harbour walls", "nothing here",
             "the board of the harbour chairs"]
    index = bm25s.BM25()
    index.index(bm25_tokenize(texts), show_progress=False)
    tokens = bm25_query_tokens("harbour board")
    ids, scores = index.retrieve([tokens], k=4, show_progress=False)
    ours = sparse_search(index, tokens, 4)
    assert [round(s, 5) for _, s in ours] == [round(float(s), 5) for s in scores[0] if s > 0]
    assert {i for i, _ in ours} == {int(i) for i, s in zip(ids[0], scores[0]) if s > 0}
    assert 3 not in {i for i, _ in ours}  # no shared word: not returned
    assert sparse_search(index, ["zyzzyva"], 4) == []
    assert len(sparse_search(index, tokens, 100)) == 4


class CountingModel:
    """Stands in for a SentenceTransformer: deterministic unit vectors, counts encoded texts."""

    def __init__(self):
        self.encoded = []

    def encode(self, texts, **kwargs):
        self.encoded.extend(texts)
        vectors = np.array([[len(t), t.count("a") + 1.0, 1.0] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_question_is_encoded_once_and_the_cache_is_bounded():
    from index.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("unused")
    embedder._model = model = CountingModel()
    first = embedder.embed(["Who chairs the board?"])
    again = embedder.embed(["Who chairs the board?"])
    assert model.encoded == ["Who chairs the board?"]
    np.testing.assert_array_equal(first, again)
    again[0, 0] = 42.0                       # callers get copies, not the cached vector
    assert embedder.embed(["Who chairs the board?"])[0, 0] != 42.0
    embedder.embed(["a", "b"])               # batches are not cached
    embedder.embed(["a", "b"])
    assert model.encoded.count("a") == 2
    for i in range(embedder.QUERY_CACHE_SIZE + 5):
        embedder.embed([f"question {i}"])
    assert len(embedder._queries) == embedder.QUERY_CACHE_SIZE
    embedder.embed(["Who chairs the board?"])  # evicted long ago: encoded again
    assert model.encoded.count("Who chairs the board?") == 2


def test_sparse_search_breaks_ties_at_the_cut_by_chunk_id():
    from qa.retrieval import sparse_search

    class Scores:
        vocab_dict = {"harbour": 0}

        def get_scores(self, tokens):
            return np.array([0.0, 2.0, 1.0, 2.0, 1.0, 1.0, 0.0, 3.0], dtype=np.float32)

    assert sparse_search(Scores(), ["harbour"], 3) == [(7, 3.0), (1, 2.0), (3, 2.0)]
    assert sparse_search(Scores(), ["harbour"], 4) == [(7, 3.0), (1, 2.0), (3, 2.0), (2, 1.0)]
    assert [i for i, _ in sparse_search(Scores(), ["harbour"], 10)] == [7, 1, 3, 2, 4, 5]


def test_dense_search_runs_faiss_on_one_thread_and_gives_the_caller_its_threads_back():
    faiss = pytest.importorskip("faiss")
    inner = faiss.IndexFlatIP(4)
    inner.add(np.eye(4, dtype=np.float32))
    seen = []

    class Recording:
        ntotal = inner.ntotal

        def search(self, query, k):
            seen.append(faiss.omp_get_max_threads())
            return inner.search(query, k)

    before = faiss.omp_get_max_threads()
    try:
        faiss.omp_set_num_threads(2)
        hits = dense_search(Recording(), np.eye(4, dtype=np.float32)[2], 2)
        after = faiss.omp_get_max_threads()
    finally:
        faiss.omp_set_num_threads(before)
    assert hits[0] == (2, pytest.approx(1.0))
    assert seen == [1]
    assert after == 2  # torch shares this OpenMP setting: the reader must keep both cores
