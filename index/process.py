"""Analysing and embedding documents into cache entries (:class:`~index.document_cache.CachedDocument`).

The analysis runs in this process or, while this one embeds, in a worker process
(:mod:`index.parallel`); a :class:`DocumentProcessor` (:class:`index.ray_index.RayProcessor`)
does both elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterable, Iterator, Protocol, Sequence

import numpy as np

from index.analysis import SpacyAnalyzer
from index.chunking import ChunkerSettings
from index.document_cache import CachedDocument
from index.documents import Document
from index.embedding import Embedder, embed_with_spans, unit_rows
from index.prepare import LARGE_DOCUMENT_CHARS, AnalysedDocument, PreparedDocument, passage_text, prepare_documents
from index.threads import ThreadBudget, ThreadsSetting, set_torch_threads, torch_threads

logger = logging.getLogger(__name__)

#: Chunks embedded per call while indexing, so memory does not grow with a document's size.
EMBED_BATCH_CHUNKS = 1024
#: With the analysis in a worker process, chunks embedded per call (small, so that embedding
#: starts as soon as the first documents are analysed).
WORKER_EMBED_BATCH_CHUNKS = 128
#: ``analysis_worker="auto"`` starts a worker process only for at least this much new text
#: (starting it and loading spaCy there takes a few seconds).
ANALYSIS_WORKER_MIN_CHARS = 200_000


def embed_chunks(embedder: Embedder, pending: Sequence[AnalysedDocument], embed_title: bool,
                 batch: int = EMBED_BATCH_CHUNKS, show_progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """Embed the chunks of ``pending`` documents, ``batch`` chunks per call, and give every
    sentence a vector read from the forward passes of the chunks that hold it.

    Only one batch of passage texts is alive at a time and the results go into preallocated
    arrays, so memory is the vectors plus one batch, however many chunks there are.

    Returns:
        ``(chunk vectors (total chunks, d) float32, per document its sentence vectors (n, d)
        float16)``: a sentence in two chunks (the overlap) gets the mean of its two readings; one
        that no chunk's forward pass reached (past the model's length limit) a row of zeros.
    """
    if batch < 1:
        raise ValueError("batch must be positive")
    dimension = embedder.dimension
    owners = [(k, c) for k, a in enumerate(pending) for c in a.chunks]
    vectors = np.empty((len(owners), dimension), dtype=np.float32)
    sums = [np.zeros((len(a.sentences), dimension), dtype=np.float16) for a in pending]
    for begin in range(0, len(owners), batch):
        group = owners[begin : begin + batch]
        texts, spans = [], []
        for k, chunk in group:
            document, sentences = pending[k].document, pending[k].sentences
            text = passage_text(document, chunk, embed_title)
            shift = len(text) - len(chunk.text)  # the title line in front
            texts.append(text)
            spans.append([(max(s, chunk.start) - chunk.start + shift, min(e, chunk.end) - chunk.start + shift)
                          for s, e in sentences[chunk.first_sentence : chunk.last_sentence + 1]])
        chunk_vectors, span_vectors = embed_with_spans(embedder, texts, spans, show_progress=show_progress)
        vectors[begin : begin + len(group)] = chunk_vectors
        row = 0
        for (k, chunk), text_spans in zip(group, spans):
            sums[k][chunk.first_sentence : chunk.first_sentence + len(text_spans)] += span_vectors[row : row + len(text_spans)]
            row += len(text_spans)
    for own in sums:  # normalise in place, a block of rows at a time (a huge document has many)
        for start in range(0, len(own), 65_536):
            own[start : start + 65_536] = unit_rows(own[start : start + 65_536].astype(np.float32))
    return vectors, sums


class DocumentProcessor(Protocol):
    """Analyses and embeds documents somewhere else than in this process (see :func:`index.build.build_index`)."""

    def __call__(self, documents: Sequence[Document], recipe: dict) -> Iterable[tuple[int, CachedDocument]]:
        """``(position in documents, its entry)`` for every document exactly once, in any order.

        Args:
            documents: the documents to analyse and embed.
            recipe: what the entries must be made with: ``model``, ``chunker``, ``analyzer``,
                ``embed_title``, ``large_document_chars`` (the cache's key).
        """


def use_analysis_worker(setting: str, documents: Sequence[Document], analyzer) -> bool:
    """Resolve ``auto``/``on``/``off`` for :class:`~index.parallel.AnalysisWorker`: ``auto`` uses it
    when the machine has a second core and there is enough text to pay for starting it."""
    if setting == "off" or not isinstance(analyzer, SpacyAnalyzer):
        return False
    if setting == "on":
        return True
    return (os.cpu_count() or 1) >= 2 and sum(len(d.text) for d in documents) >= ANALYSIS_WORKER_MIN_CHARS


def analyse_and_embed(
    documents: Sequence[Document], analyzer: SpacyAnalyzer, embedder: Embedder, settings: ChunkerSettings,
    embed_title: bool, show_progress: bool, *, large_document_chars: int | None = LARGE_DOCUMENT_CHARS,
    embed_batch: int = EMBED_BATCH_CHUNKS, analysis_worker: str = "auto", threads: ThreadsSetting = "auto",
) -> Iterator[CachedDocument]:
    """Analyse and embed documents, yielding one entry per document in order.

    Documents are analysed one at a time, in this process or (see :func:`use_analysis_worker`) in
    a worker process while this one embeds; their chunks are embedded together once about
    ``embed_batch`` are waiting (small documents share forward passes; with a worker, a smaller
    batch so that the encoder starts early), and a document with more chunks than that is
    embedded ``embed_batch`` at a time. Before each batch the encoder's threads are sized by
    :class:`~index.threads.ThreadBudget` (``threads``), and while the worker analyses, it
    leaves the worker a core.
    """
    pending: list[tuple[AnalysedDocument, PreparedDocument]] = []
    waiting = 0

    def flush() -> Iterator[CachedDocument]:
        vectors, sentence_vectors = embed_chunks(embedder, [a for a, _ in pending], embed_title,
                                                 embed_batch, show_progress)
        position = 0
        for (a, prepared), own_sentence_vectors in zip(pending, sentence_vectors):
            count = len(a.chunks)
            yield CachedDocument(
                sentences=np.asarray(a.sentences, dtype=np.int64).reshape(-1, 2),
                chunks=np.asarray(prepared.chunks, dtype=np.int64).reshape(-1, 4),
                vectors=vectors[position : position + count],
                sentence_vectors=own_sentence_vectors,
                block_offsets=prepared.block_offsets,
                analysis=prepared.analysis,
                terms="\n".join(t for t, _ in prepared.terms).encode("utf-8"),
                term_counts=np.asarray([c for _, c in prepared.terms], dtype=np.int32).reshape(-1),
            )
            position += count
        pending.clear()

    budget = ThreadBudget(threads)
    with contextlib.ExitStack() as stack:
        worker = None
        before = torch_threads()
        if before is not None:
            stack.callback(set_torch_threads, before)

        def fit_encoder() -> None:
            count = budget.decide()
            if worker is not None and worker.busy:
                count = min(count, max(1, budget.usable - 1))
            set_torch_threads(count)

        if use_analysis_worker(analysis_worker, documents, analyzer):
            from index.parallel import AnalysisWorker

            try:
                worker = stack.enter_context(AnalysisWorker(
                    documents, analyzer.model, settings, batch_size=analyzer.batch_size,
                    large_document_chars=large_document_chars,
                ))
            except OSError as exc:  # no process or shared semaphore here (e.g. a sandbox): analyse in-process
                logger.warning("could not start the analysis process (%s); analysing in this one", exc)
        if worker is not None:
            prepared_documents: Iterable[PreparedDocument] = worker
            threshold = min(embed_batch, WORKER_EMBED_BATCH_CHUNKS)
        else:
            prepared_documents = prepare_documents(documents, analyzer, settings,
                                                   large_document_chars=large_document_chars)
            threshold = embed_batch
        for document, prepared in zip(documents, prepared_documents):
            pending.append((prepared.analysed(document), prepared))
            waiting += len(prepared.chunks)
            if waiting >= threshold:
                fit_encoder()
                yield from flush()
                waiting = 0
        if pending:
            fit_encoder()
            yield from flush()
