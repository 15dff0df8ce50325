"""Loading the current index of an index folder, checked against its manifest."""

from __future__ import annotations

import json
import logging
import mmap
import os
from pathlib import Path
from typing import Callable

import numpy as np

from index.bm25 import import_bm25s
from index.corpus import ChunkTable, CorpusIndex, SentenceTable, TermStats
from index.dense import HNSW_DEFAULTS
from index.documents import Document
from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from index.manifest import (FORMAT_VERSION, MANIFEST_FILE, SENTENCE_VECTORS_FILE, Manifest, current_version,
                            file_digest, rebuild_hint)

logger = logging.getLogger(__name__)


def load_index(index_dir: str | os.PathLike, *, model: str | None = None, verify: bool = True) -> CorpusIndex:
    """Load the current index from ``index_dir``.

    Args:
        index_dir: the index folder.
        model: the embedding model the caller will query with; ``None`` accepts the index's own.
        verify: check every file against the digests in the manifest.

    Raises:
        IndexNotFound: there is no index there.
        IndexMismatch: the index was built with another model or format.
        IndexCorrupt: a file is missing, truncated, or changed since it was written.
    """
    bm25s = import_bm25s()
    import faiss

    index_dir = Path(index_dir)
    version = current_version(index_dir)
    if version is None:
        raise IndexNotFound(f"no index in {index_dir}; build one with `qa index PATH --index-dir {index_dir}`")
    folder = index_dir / version
    try:
        manifest = Manifest.from_dict(json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise IndexCorrupt(f"index {folder} has no manifest; {rebuild_hint(index_dir)}") from None
    except (ValueError, TypeError, IndexCorrupt) as exc:
        raise IndexCorrupt(f"the manifest of {folder} is unreadable ({exc}); {rebuild_hint(index_dir)}") from None
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(
            f"index {index_dir} has format version {manifest.format_version}, this program reads "
            f"version {FORMAT_VERSION}; {rebuild_hint(index_dir)}"
        )
    if model is not None and model != manifest.model:
        raise IndexMismatch(
            f"index {index_dir} was built with model {manifest.model!r}, not {model!r}; "
            f"rebuild it with `qa index PATH --index-dir {index_dir} --model {model}` "
            f"or query it without --model/QA_MODEL"
        )
    if verify:
        for name, digest in manifest.files.items():
            path = folder / name
            if not path.exists():
                raise IndexCorrupt(f"index file {path} is missing; {rebuild_hint(index_dir)}")
            if file_digest(path) != digest:
                raise IndexCorrupt(f"index file {path} does not match its manifest (truncated or edited); {rebuild_hint(index_dir)}")
    try:
        documents = []
        with open(folder / "documents.jsonl", encoding="utf-8") as handle:
            for line in handle:
                documents.append(Document.from_dict(json.loads(line)))
        chunk_rows = np.load(folder / "chunks.npy")
        sentence_rows = np.load(folder / "sentences.npy")
        block_rows = np.load(folder / "blocks.npy")
        dense = faiss.read_index(str(folder / "dense.faiss"))
        if manifest.dense_index.get("type") == "hnsw":
            dense.hnsw.efSearch = int(manifest.dense_index.get("efSearch", HNSW_DEFAULTS["efSearch"]))
        sparse = bm25s.BM25.load(str(folder / "bm25"), mmap=True)  # postings are read per query term
        analysis_offsets = np.load(folder / "analysis_offsets.npy")
        analysis = _map_file(folder / "analysis.bin")
        sentence_vectors = _map_vectors(folder / SENTENCE_VECTORS_FILE, manifest.dimension)
        term_data = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        terms = TermStats(int(term_data["num_sentences"]), dict(term_data["document_frequency"]))
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        raise IndexCorrupt(f"index {folder} could not be read ({exc}); {rebuild_hint(index_dir)}") from None
    if len(analysis_offsets) != len(documents) + 1 or int(analysis_offsets[-1]) != len(analysis):
        raise IndexCorrupt(f"index {folder}: the parse does not match the documents; {rebuild_hint(index_dir)}")
    if len(sentence_vectors) != len(sentence_rows):
        raise IndexCorrupt(f"index {folder}: the sentence vectors do not match the sentences; {rebuild_hint(index_dir)}")
    if dense.ntotal != len(chunk_rows) or dense.d != manifest.dimension:
        raise IndexCorrupt(f"index {folder}: dense index does not match the chunk table; {rebuild_hint(index_dir)}")
    return CorpusIndex(
        path=index_dir,
        manifest=manifest,
        documents=documents,
        chunks=ChunkTable(chunk_rows, documents),
        chunk_docs=chunk_rows[:, 0].copy(),
        sentences=SentenceTable(sentence_rows, documents),
        dense=dense,
        bm25=sparse,
        block_rows=block_rows,
        analysis=analysis,
        analysis_offsets=analysis_offsets,
        terms=terms,
        sentence_vectors=sentence_vectors,
    )


def stored_documents(index_dir: str | os.PathLike) -> Callable[[str, str], Document | None]:
    """A lookup of the documents the current index holds, by the hash of their file's bytes and
    the extractor version that read them: a rebuild reuses their extracted text instead of
    extracting an unchanged file again. Finds nothing when there is no readable index.

    Only where each document's line starts is kept; a document is read back when asked for, so
    the lookup does not hold a second copy of the corpus while the corpus is being read.
    """
    index_dir = Path(index_dir)
    version = current_version(index_dir)
    path = index_dir / version / "documents.jsonl" if version is not None else None
    lines: dict[tuple[str, str], int] = {}
    if path is not None:
        try:
            with open(path, "rb") as handle:
                position = 0
                for line in handle:
                    data = json.loads(line)
                    if data.get("extractor"):
                        lines[(data["sha256"], data["extractor"])] = position
                    position += len(line)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:  # damaged: extract all again
            logger.info("not reusing extracted text from %s (%s)", index_dir, exc)
            lines.clear()

    def lookup(sha256: str, extractor: str) -> Document | None:
        position = lines.get((sha256, extractor))
        if position is None:
            return None
        try:
            with open(path, "rb") as handle:
                handle.seek(position)
                document = Document.from_dict(json.loads(handle.readline()))
        except (OSError, ValueError, TypeError) as exc:  # replaced or damaged since: extract again
            logger.info("not reusing extracted text from %s (%s)", index_dir, exc)
            return None
        return document if (document.sha256, document.extractor) == (sha256, extractor) else None

    return lookup


def _map_vectors(path: Path, dimension: int) -> np.ndarray:
    """A raw float16 matrix of ``dimension`` columns, memory-mapped read-only."""
    size = path.stat().st_size
    if size % (2 * dimension):
        raise ValueError(f"{path.name} holds {size} bytes, not whole rows of {dimension} float16 values")
    if size == 0:
        return np.zeros((0, dimension), dtype=np.float16)
    return np.memmap(path, dtype=np.float16, mode="r", shape=(size // (2 * dimension), dimension))


def _map_file(path: Path) -> bytes | mmap.mmap:
    """The file's bytes, memory-mapped (read only) so that only the parts read are resident."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
