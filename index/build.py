"""Building a complete index of documents and making it the current version, atomically
(the folder layout: :mod:`index.manifest`)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from index.analysis import SpacyAnalyzer
from index.bm25 import BM25_SETTINGS, bm25_tokenize, import_bm25s
from index.chunking import Chunk, ChunkerSettings
from index.dense import choose_dense_index, make_dense_index
from index.document_cache import CachedDocument, DocumentCache
from index.documents import Document
from index.embedding import Embedder
from index.errors import CorpusError
from index.manifest import (CURRENT_FILE, DATA_FILES, FORMAT_VERSION, MANIFEST_FILE, SENTENCE_VECTORS_FILE, Manifest,
                            build_lock, current_version, file_digest, fsync_tree, remove_stale_versions)
from index.prepare import LARGE_DOCUMENT_CHARS, passage_text
from index.process import EMBED_BATCH_CHUNKS, DocumentProcessor, analyse_and_embed
from index.threads import ThreadsSetting

logger = logging.getLogger(__name__)


def build_index(
    documents: Sequence[Document],
    index_dir: str | os.PathLike,
    embedder: Embedder,
    analyzer: SpacyAnalyzer,
    chunker: ChunkerSettings = ChunkerSettings(),
    *,
    embed_title: bool = True,
    dense_index: str = "auto",
    show_progress: bool = False,
    on_step: Callable[[str], None] | None = None,
    large_document_chars: int | None = LARGE_DOCUMENT_CHARS,
    embed_batch: int = EMBED_BATCH_CHUNKS,
    analysis_worker: str = "auto",
    threads: ThreadsSetting = "auto",
    processor: DocumentProcessor | None = None,
) -> Manifest:
    """Build a complete index of ``documents`` and make it the current one, atomically.

    Args:
        large_document_chars: documents longer than this are split into sentences by the fast
            rule-based splitter and not parsed (see :func:`index.prepare.analyse_documents`); ``None``: never.
        embed_batch: chunks embedded per call (bounds memory on a large document).
        analysis_worker: ``auto``/``on``/``off``: analyse documents in a worker process while
            this one embeds (see :func:`index.process.use_analysis_worker`).
        threads: the encoder's threads, ``auto`` or a number (see :mod:`index.threads`).
        processor: analyses and embeds the new or changed documents elsewhere (a Ray cluster:
            :class:`index.ray_index.RayProcessor`); ``None``: in this process. Its entries go
            through the same cache and assembly, so the index is the same either way.

    Raises:
        CorpusError: when there is nothing to index or another build holds the lock.
    """
    bm25s = import_bm25s()
    import faiss

    if not documents:
        raise CorpusError("no documents to index")
    say = on_step or (lambda message: logger.info(message))
    index_dir = Path(index_dir)
    with build_lock(index_dir):
        removed = [n for n in remove_stale_versions(index_dir, keep=current_version(index_dir)) if n.startswith(".tmp-")]
        if removed:
            say(f"removed {len(removed)} unfinished build(s) left by an interrupted run")
        tmp = index_dir / f".tmp-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()

        recipe = {"model": embedder.name, "chunker": chunker.to_dict(), "analyzer": analyzer.model,
                  "embed_title": embed_title, "format": FORMAT_VERSION, "large_document_chars": large_document_chars}
        cache = DocumentCache(index_dir / "cache", recipe)
        missing = [i for i, d in enumerate(documents) if not cache.has(d)]
        say(f"analysing and embedding {len(missing)} new or changed document(s) with {embedder.name}; "
            f"reusing {len(documents) - len(missing)} unchanged")

        def analyse(selected: list[Document]) -> Iterator[CachedDocument]:
            return analyse_and_embed(selected, analyzer, embedder, chunker, embed_title, show_progress,
                                      large_document_chars=large_document_chars, embed_batch=embed_batch,
                                      analysis_worker=analysis_worker, threads=threads)

        # Entries go to the cache as they are made and are read back one at a time below, so a
        # build holds one document's parse at a time, not the whole corpus's.
        selected = [documents[i] for i in missing]
        made = processor(selected, recipe) if processor is not None else enumerate(analyse(selected))
        for k, entry in made:
            cache.put(selected[k], entry)
        large = [documents[i].doc_id for i in missing
                 if large_document_chars is not None and len(documents[i].text) > large_document_chars]
        if large:
            say(f"{len(large)} large document(s) split into sentences without a full parse: {', '.join(large[:5])}"
                + (" ..." if len(large) > 5 else ""))

        chunk_rows: list[np.ndarray] = []
        sentence_rows: list[np.ndarray] = []
        block_rows: list[np.ndarray] = []
        vector_parts: list[np.ndarray] = []
        analysis_offsets = np.zeros(len(documents) + 1, dtype=np.int64)
        document_frequency: Counter = Counter()
        num_sentences = 0
        with open(tmp / "analysis.bin", "wb") as analysis_file, open(tmp / SENTENCE_VECTORS_FILE, "wb") as sentence_file:
            for doc_index, document in enumerate(documents):
                entry = cache.get(document)
                if entry is None or not entry.consistent():  # damaged since it was checked: make it again
                    entry = next(analyse([document]))
                    cache.put(document, entry)
                n = len(entry.chunks)
                chunk_rows.append(np.column_stack([np.full(n, doc_index, dtype=np.int64), entry.chunks]))
                sentence_rows.append(np.column_stack([np.full(len(entry.sentences), doc_index, dtype=np.int64), entry.sentences]))
                block_rows.append(np.column_stack([np.full(len(entry.block_offsets), doc_index, dtype=np.int64), entry.block_offsets]))
                vector_parts.append(entry.vectors)
                sentence_file.write(np.ascontiguousarray(entry.sentence_vectors, dtype=np.float16).tobytes())
                analysis_offsets[doc_index + 1] = analysis_offsets[doc_index] + (len(entry.analysis) if len(entry.block_offsets) else 0)
                if len(entry.block_offsets):
                    analysis_file.write(entry.analysis)
                    num_sentences += len(entry.sentences)
                    document_frequency.update(entry.term_frequencies())
        chunks_table = np.concatenate(chunk_rows).reshape(-1, 5)
        if len(chunks_table) == 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CorpusError("the documents contain no text to index")
        vectors = np.ascontiguousarray(np.concatenate(vector_parts), dtype=np.float32)
        cache.prune({cache.key(d) for d in documents})

        dense_spec = choose_dense_index(len(vectors), dense_index)
        say(f"building the dense index ({dense_spec['type']}, {len(vectors)} vectors)")
        dense = make_dense_index(vectors, dense_spec)
        faiss.write_index(dense, str(tmp / "dense.faiss"))

        say("building the BM25 index")
        passages = [
            passage_text(documents[d], Chunk(documents[d].doc_id, s_, e_, documents[d].text[s_:e_], f_, l_), embed_title)
            for d, s_, e_, f_, l_ in chunks_table.tolist()
        ]
        retriever = bm25s.BM25(method=BM25_SETTINGS["method"], k1=BM25_SETTINGS["k1"], b=BM25_SETTINGS["b"])
        tokens = bm25_tokenize(passages)
        del passages  # a copy of the corpus text: free it before BM25 builds its matrices
        retriever.index(tokens, show_progress=False)
        del tokens
        retriever.save(str(tmp / "bm25"))

        np.save(tmp / "chunks.npy", chunks_table)
        np.save(tmp / "sentences.npy", np.concatenate(sentence_rows).reshape(-1, 3))
        np.save(tmp / "blocks.npy", np.concatenate(block_rows).reshape(-1, 2))
        np.save(tmp / "analysis_offsets.npy", analysis_offsets)
        (tmp / "terms.json").write_text(json.dumps({"num_sentences": num_sentences,
                                                    "document_frequency": dict(document_frequency)}), encoding="utf-8")
        with open(tmp / "documents.jsonl", "w", encoding="utf-8") as handle:
            for document in documents:
                handle.write(json.dumps(asdict(document), ensure_ascii=False) + "\n")

        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=embedder.name,
            dimension=int(vectors.shape[1]),
            normalized=True,
            chunker=chunker.to_dict(),
            analyzer=analyzer.model,
            bm25=dict(BM25_SETTINGS),
            embed_title=embed_title,
            dense_index=dense_spec,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            documents=[{"doc_id": d.doc_id, "sha256": d.sha256, "title": d.title, "format": d.format,
                        "extractor": d.extractor, "pages": len(d.pages) if d.pages else None} for d in documents],
            num_chunks=len(chunks_table),
            large_document_chars=large_document_chars,
            files={name: file_digest(tmp / name) for name in (*DATA_FILES, "blocks.npy")},
        )
        (tmp / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        fsync_tree(tmp)

        version = f"v-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        os.rename(tmp, index_dir / version)
        pointer = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:6]}"
        pointer.write_text(version + "\n")
        with open(pointer, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer, index_dir / CURRENT_FILE)
        fd = os.open(index_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        remove_stale_versions(index_dir, keep=version)
        say(f"index written to {index_dir} ({len(documents)} documents, {len(chunks_table)} chunks)")
        return manifest
