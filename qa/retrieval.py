"""Hybrid retrieval: dense (FAISS) and sparse (BM25) searches fused by their scores."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np

from index.bm25 import bm25_query_tokens
from index.chunking import Chunk
from index.corpus import CorpusIndex
from index.embedding import Embedder, embed_query

RRF_K = 60
#: Share of the cosine in the fused score (BM25, divided by the question's best BM25 score, gets
#: the rest). Chosen on 1,000 held-out SQuAD questions by recall of the first 3 and 5 passages;
#: reciprocal rank fusion, which ignores how far ahead a search's best passage is, found fewer
#: (bench/README.md, "Fusing the two searches").
DENSE_WEIGHT = 0.75


@dataclass(frozen=True)
class RetrievedPassage:
    """A chunk found for a question, with how each retriever ranked it (ranks from 1, 0 = absent)."""

    chunk_index: int
    chunk: Chunk
    score: float
    dense_score: float
    sparse_score: float
    dense_rank: int
    sparse_rank: int


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked id lists: ``score(id) = sum 1 / (k + rank)`` over the lists that have it.

    Args:
        rankings: lists of ids, best first.
        k: damping constant (60 in Cormack et al., 2009).

    Returns:
        ``(id, score)`` pairs, best first; ties keep the order ids were first seen.
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def score_fusion(dense: Mapping[int, float], sparse: Mapping[int, float],
                 dense_weight: float = DENSE_WEIGHT) -> list[tuple[int, float]]:
    """Fuse two searches' scores of the same candidates: ``dense_weight * cosine + (1 -
    dense_weight) * bm25 / best bm25``.

    Args:
        dense: every candidate's cosine with the question (insertion order breaks ties).
        sparse: every candidate's BM25 score (missing: 0); scaled by the best of them, so a
            question's clearly best keyword match keeps its lead however few words it has.
        dense_weight: the cosine's share.

    Returns:
        ``(id, score)`` pairs, best first; ties keep the order of ``dense``.
    """
    best = max(sparse.values(), default=0.0)
    scale = (1.0 - dense_weight) / best if best > 0 else 0.0
    order = {item: i for i, item in enumerate(dense)}
    fused = {item: dense_weight * cosine + scale * sparse.get(item, 0.0) for item, cosine in dense.items()}
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))


@contextmanager
def one_openmp_thread() -> Iterator[None]:
    """Run FAISS on one OpenMP thread inside the block, and give the calling thread its thread
    count back afterwards.

    One question searches one vector, where FAISS's OpenMP threads only add overhead (200k x 384
    exact search: 16.3 ms on 1 thread, 29.8 ms on 2, on a 2-core machine). The setting is scoped
    because FAISS and torch share one OpenMP runtime: a lasting ``omp_set_num_threads(1)`` left
    the reader and the question encoder on one thread too (1.3-1.6x slower per question).
    """
    import faiss

    before = faiss.omp_get_max_threads()
    if before == 1:
        yield
        return
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def dense_search(index, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Inner-product search of one normalised query vector; ``(chunk id, cosine)`` best first."""
    k = min(k, index.ntotal)
    if k <= 0:
        return []
    with one_openmp_thread():
        scores, ids = index.search(query.reshape(1, -1).astype(np.float32), k)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def cosines(index, query: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
    """The query's cosine with the stored vectors of chunks ``ids`` (unit vectors, so the inner
    product); an index that cannot give its vectors back gives ``{}``."""
    if not ids:
        return {}
    try:
        vectors = np.stack([index.reconstruct(int(i)) for i in ids])
    except RuntimeError:
        return {}
    return {int(i): float(s) for i, s in zip(ids, vectors @ query.reshape(-1).astype(np.float32))}


def bm25_scores(bm25, tokens: Sequence[str]) -> np.ndarray | None:
    """Every chunk's BM25 score for the query tokens the index knows (``None``: it knows none)."""
    vocab = bm25.vocab_dict
    known = [t for t in tokens if t in vocab]
    if not known:
        return None
    return np.asarray(bm25.get_scores(known), dtype=np.float32)


def sparse_search(bm25, tokens: Sequence[str], k: int, scores: np.ndarray | None = None) -> list[tuple[int, float]]:
    """BM25 search over known query tokens; ``(chunk id, score)`` best first, zero scores dropped.

    bm25s scores every chunk (a sparse sum, fast); the best ``k`` are then picked among the
    chunks that score at all, with ``argpartition``, rather than with bm25s's own top-k
    selection, which costs far more than the scoring on large indexes (100k chunks: 1.3 ms
    instead of 15.9 ms per question, ``bench/bench_bm25_topk.py``). Ties are broken by chunk id,
    the one at the k-th place included, so results are stable. ``scores``: the chunks' scores
    when the caller has them (:func:`bm25_scores`).
    """
    if scores is None:
        scores = bm25_scores(bm25, tokens)
    if scores is None or k <= 0:
        return []
    top = np.flatnonzero(scores > 0)  # usually a small part of a large index
    if len(top) > k:
        kth = -np.partition(-scores[top], k - 1)[k - 1]
        top = top[scores[top] >= kth]  # everything tied with the k-th too, then cut by chunk id
    order = np.lexsort((top, -scores[top]))[:k]
    return [(int(top[i]), float(scores[top[i]])) for i in order]


class HybridRetriever:
    """Retrieves chunks of a :class:`CorpusIndex` for a question.

    Args:
        index: the loaded index.
        embedder: must be the model the index was built with.
        candidates: how many results each retriever contributes before fusion.
    """

    def __init__(self, index: CorpusIndex, embedder: Embedder, candidates: int = 50) -> None:
        if candidates < 1:
            raise ValueError("candidates must be positive")
        self.index = index
        self.embedder = embedder
        self.candidates = candidates

    def retrieve(self, question: str, top_k: int = 5) -> list[RetrievedPassage]:
        """Best ``top_k`` passages for ``question``, fused from dense and sparse search."""
        query = embed_query(self.embedder, question)
        dense = dense_search(self.index.dense, query, self.candidates)
        all_sparse = bm25_scores(self.index.bm25, bm25_query_tokens(question))
        sparse = sparse_search(self.index.bm25, (), self.candidates, all_sparse)
        dense_info = {i: (rank, s) for rank, (i, s) in enumerate(dense, start=1)}
        sparse_info = {i: (rank, s) for rank, (i, s) in enumerate(sparse, start=1)}
        # both scores of every candidate: a passage one search missed is scored by it all the same
        missing = [i for i, _ in sparse if i not in dense_info]
        found = cosines(self.index.dense, query, missing)
        if len(found) < len(missing):  # an index that keeps no vectors: rank fusion needs none
            fused = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in sparse]])
        else:
            candidate_cosines = {**dict(dense), **found}
            candidate_bm25 = {i: float(all_sparse[i]) for i in candidate_cosines} if all_sparse is not None else {}
            fused = score_fusion(candidate_cosines, candidate_bm25)
        results = []
        for chunk_id, score in fused[:top_k]:
            d_rank, d_score = dense_info.get(chunk_id, (0, 0.0))
            s_rank, s_score = sparse_info.get(chunk_id, (0, 0.0))
            results.append(
                RetrievedPassage(chunk_id, self.index.chunks[chunk_id], score, d_score, s_score, d_rank, s_rank)
            )
        return results
