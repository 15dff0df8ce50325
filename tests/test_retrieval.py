import numpy as np
import pytest

from index.build import build_index
from index.load import load_index
from qa.retrieval import HybridRetriever, cosines, dense_search, reciprocal_rank_fusion, score_fusion


def test_rrf_matches_hand_computation():
    fused = reciprocal_rank_fusion([[3, 1, 2], [1, 4]], k=60)
    expected = {3: 1 / 61, 1: 1 / 62 + 1 / 61, 2: 1 / 63, 4: 1 / 62}
    assert [i for i, _ in fused] == [1, 3, 4, 2]
    for item, score in fused:
        assert score == pytest.approx(expected[item])


def test_rrf_ties_keep_first_seen_order():
    assert [i for i, _ in reciprocal_rank_fusion([[7], [8]])] == [7, 8]


def test_score_fusion_matches_hand_computation():
    fused = score_fusion({1: 0.5, 2: 0.4, 3: 0.1}, {1: 1.0, 3: 4.0}, dense_weight=0.75)
    expected = {1: 0.75 * 0.5 + 0.25 * 1.0 / 4.0, 2: 0.75 * 0.4, 3: 0.75 * 0.1 + 0.25}
    assert [i for i, _ in fused] == [1, 3, 2]
    for item, score in fused:
        assert score == pytest.approx(expected[item])


def test_score_fusion_keeps_a_clear_keyword_lead_that_rank_fusion_loses():
    # the passage BM25 puts far ahead is tenth by cosine; two middling passages outrank it by rank
    cosines_ = {i: 0.30 - 0.01 * i for i in range(10)} | {10: 0.20}
    bm25 = {10: 2.1, 1: 1.3, 2: 0.9, 3: 0.9}
    by_rank = reciprocal_rank_fusion([list(cosines_), sorted(bm25, key=lambda i: -bm25[i])])
    assert [i for i, _ in by_rank][0] != 10
    assert score_fusion(cosines_, bm25)[0][0] == 10


def test_score_fusion_without_keyword_scores_is_the_dense_order_and_ties_keep_it():
    assert [i for i, _ in score_fusion({4: 0.2, 9: 0.7, 1: 0.2}, {})] == [9, 4, 1]
    assert [i for i, _ in score_fusion({4: 0.2, 9: 0.7, 1: 0.2}, {4: 0.0})] == [9, 4, 1]


def test_cosines_reads_stored_vectors_and_gives_nothing_for_an_index_without_them():
    import faiss

    index = faiss.IndexFlatIP(3)
    index.add(np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]], dtype=np.float32))
    query = np.array([0.6, 0.8, 0], dtype=np.float32)
    assert cosines(index, query, [2, 0]) == {2: pytest.approx(1.0), 0: pytest.approx(0.6)}
    assert cosines(index, query, []) == {}
    from index.dense import HNSW_DEFAULTS, make_dense_index  # the approximate index of large corpora too

    hnsw = make_dense_index(np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]], dtype=np.float32), dict(HNSW_DEFAULTS))
    assert cosines(hnsw, query, [1]) == {1: pytest.approx(0.8)}

    class NoVectors:
        def reconstruct(self, i):
            raise RuntimeError("reconstruct not implemented for this type of index")

    assert cosines(NoVectors(), query, [1]) == {}


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


def test_an_index_that_keeps_no_vectors_is_fused_by_rank(tmp_path, small_docs, fake_embedder, blank_analyzer):
    build_index(small_docs, tmp_path / "ix", fake_embedder, blank_analyzer)
    index = load_index(tmp_path / "ix")
    question = "apple harbour"  # one candidate a search: each search finds a different chunk
    fused = HybridRetriever(index, fake_embedder, candidates=1).retrieve(question, top_k=2)
    assert {r.dense_rank for r in fused} == {0, 1} and {r.sparse_rank for r in fused} == {0, 1}
    assert all(r.score > 1 / 61 for r in fused)  # the BM25-only chunk's cosine was looked up

    class NoVectors:
        def __init__(self, inner):
            self.inner, self.ntotal = inner, inner.ntotal

        def search(self, query, k):
            return self.inner.search(query, k)

        def reconstruct(self, i):
            raise RuntimeError("reconstruct not implemented for this type of index")

    index.dense = NoVectors(index.dense)
    by_rank = HybridRetriever(index, fake_embedder, candidates=1).retrieve(question, top_k=2)
    assert [r.chunk_index for r in by_rank] == [fused[0].chunk_index, fused[1].chunk_index]
    assert [r.score for r in by_rank] == [pytest.approx(1 / 61)] * 2


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
