"""The per-document cache entries of a build (analysis and embeddings, stored by content hash)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from index.documents import Document


@dataclass
class CachedDocument:
    """Everything an index needs from one document, stored by content hash for reuse."""

    sentences: np.ndarray  # (n, 2) start, end
    chunks: np.ndarray  # (m, 4) start, end, first sentence, last sentence
    vectors: np.ndarray  # (m, dimension) float32
    sentence_vectors: np.ndarray  # (n, dimension) float16, read from the chunks' forward passes
    block_offsets: np.ndarray  # (b,)
    analysis: bytes  # DocBin of the blocks
    terms: bytes  # the content terms of its parsed sentences, UTF-8, one per line
    term_counts: np.ndarray  # (t,) int32: in how many of its sentences each occurs

    def consistent(self) -> bool:
        """Whether the arrays agree with each other (one vector per chunk and per sentence)."""
        dimension = self.vectors.shape[1] if self.vectors.ndim == 2 else -1
        return (len(self.vectors) == len(self.chunks)
                and self.sentence_vectors.shape == (len(self.sentences), dimension))

    def term_frequencies(self) -> dict[str, int]:
        """``term -> number of its sentences containing it``."""
        names = self.terms.decode("utf-8").split("\n") if self.terms else []
        return dict(zip(names, self.term_counts.tolist()))

    def write(self, handle: BinaryIO) -> None:
        """Save as an ``.npz`` archive (the cache's format; also how Ray workers hand entries back)."""
        np.savez(
            handle, sentences=self.sentences, chunks=self.chunks, vectors=self.vectors,
            sentence_vectors=self.sentence_vectors,
            block_offsets=self.block_offsets, analysis=np.frombuffer(self.analysis, dtype=np.uint8),
            term_text=np.frombuffer(self.terms, dtype=np.uint8), term_counts=self.term_counts,
        )

    @classmethod
    def read(cls, handle: BinaryIO) -> "CachedDocument":
        """Load what :meth:`write` saved.

        Raises:
            KeyError, ValueError, zipfile.BadZipFile: the archive lacks an array or is damaged.
        """
        with np.load(handle, allow_pickle=False) as data:
            return cls(
                sentences=data["sentences"], chunks=data["chunks"], vectors=data["vectors"],
                sentence_vectors=data["sentence_vectors"],
                block_offsets=data["block_offsets"], analysis=data["analysis"].tobytes(),
                terms=data["term_text"].tobytes(), term_counts=data["term_counts"],
            )


class DocumentCache:
    """Per-document analysis and embeddings, keyed by content hash and recipe.

    Lives in ``<index_dir>/cache/`` (outside the version folders) so that a rebuild of a
    changed folder only analyses and embeds new or changed documents.
    """

    def __init__(self, folder: Path, recipe: dict) -> None:
        self.folder = folder
        self.recipe_key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)

    def key(self, document: Document) -> str:
        # The extracted text and title, not the file's bytes: another extractor version may read
        # other text from the same file (and one that reads the same text reuses the entry).
        content = hashlib.sha256(f"{document.title}\0{document.text}".encode("utf-8", "surrogatepass"))
        return f"{content.hexdigest()}-{self.recipe_key}"

    #: The arrays of an entry (an entry lacking one is from an older layout: made again).
    FIELDS = ("sentences", "chunks", "vectors", "sentence_vectors", "block_offsets", "analysis", "term_text", "term_counts")

    def has(self, document: Document) -> bool:
        """Whether a readable entry is there (only the archive's directory is read, not its arrays)."""
        try:
            with np.load(self.folder / f"{self.key(document)}.npz", allow_pickle=False) as data:
                return set(self.FIELDS) <= set(data.files)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return False

    def get(self, document: Document) -> CachedDocument | None:
        try:
            with open(self.folder / f"{self.key(document)}.npz", "rb") as handle:
                return CachedDocument.read(handle)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # missing or damaged: recompute
            return None

    def put(self, document: Document, entry: CachedDocument) -> None:
        final = self.folder / f"{self.key(document)}.npz"
        tmp = self.folder / f".{final.name}.{uuid.uuid4().hex[:6]}.tmp"
        with open(tmp, "wb") as handle:
            entry.write(handle)
        os.replace(tmp, final)

    def prune(self, keep: set[str]) -> int:
        """Delete entries (and stray temporary files) whose key is not in ``keep``."""
        removed = 0
        for path in self.folder.iterdir():
            if path.name.endswith(".tmp") or (path.suffix == ".npz" and path.stem not in keep):
                path.unlink(missing_ok=True)
                removed += 1
        return removed
