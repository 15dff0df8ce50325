"""The on-disk layout of an index folder: its versions, the ``CURRENT`` pointer, the manifest.

Layout of an index folder::

    .qa-index/
        CURRENT              name of the live version folder (replaced atomically)
        v-<timestamp>-<id>/  one complete index: manifest.json, documents.jsonl,
                             chunks.npy, sentences.npy, dense.faiss, bm25/,
                             analysis.bin + analysis_offsets.npy (one spaCy DocBin per
                             document, decoded only when a question needs it), terms.json
        .lock                held while a build writes

A build writes a new version into a temporary folder, renames it, and only then points
``CURRENT`` at it, so a build that is interrupted at any moment leaves the previous index
loadable. Leftovers of interrupted builds are removed by the next build.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from index.errors import CorpusError, IndexCorrupt

FORMAT_VERSION = 3
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
#: Raw float16 rows, one unit vector per row of ``sentences.npy`` (zeros: none stored).
SENTENCE_VECTORS_FILE = "sentence_vectors.f16"
DATA_FILES = ("documents.jsonl", "chunks.npy", "sentences.npy", "dense.faiss", "analysis.bin", "analysis_offsets.npy",
              "terms.json", SENTENCE_VECTORS_FILE)


@dataclass
class Manifest:
    """The recipe an index was built with; a query side rebuilds itself from it."""

    format_version: int
    model: str
    dimension: int
    normalized: bool
    chunker: dict
    analyzer: str
    bm25: dict
    embed_title: bool
    built_at: str
    dense_index: dict = field(default_factory=lambda: {"type": "flat"})
    documents: list[dict] = field(default_factory=list)
    num_chunks: int = 0
    files: dict = field(default_factory=dict)
    #: Documents longer than this were split with the fast sentence splitter and not parsed.
    large_document_chars: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        names = {f for f in cls.__dataclass_fields__}
        missing = names - set(data) - {"files", "documents", "num_chunks", "dense_index", "large_document_chars"}
        if missing:
            raise IndexCorrupt(f"manifest lacks {sorted(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})


def rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with `qa index PATH --index-dir {index_dir}`"


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the index folder while a build writes into it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CorpusError(f"another `qa index` is writing to {index_dir}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_stale_versions(index_dir: Path, keep: str | None) -> list[str]:
    """Delete version and temporary folders other than ``keep``; return their names."""
    removed = []
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name != keep and (entry.name.startswith("v-") or entry.name.startswith(".tmp-")):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def current_version(index_dir: Path) -> str | None:
    try:
        name = (index_dir / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return name or None
