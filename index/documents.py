"""Loading a corpus folder into documents with stable ids and content hashes."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

logger = logging.getLogger(__name__)

DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown")
#: Files larger than this are refused; they would not fit the in-memory analysis.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    """A text document of the corpus.

    Attributes:
        doc_id: Stable id, the path relative to the corpus root with ``/`` separators.
        title: The first non-empty line of the text.
        text: The full text, exactly as decoded (offsets point into it).
        source: The path the document was read from.
        sha256: Hash of the raw bytes, to tell whether a document changed.
    """

    doc_id: str
    title: str
    text: str
    source: str
    sha256: str


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, and why."""

    path: str
    reason: str


def document_from_text(doc_id: str, text: str, source: str = "") -> Document:
    """Build a document from text already in memory (used by tests and the API)."""
    return Document(
        doc_id=doc_id,
        title=first_line(text) or doc_id,
        text=text,
        source=source or doc_id,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def first_line(text: str) -> str:
    """Return the first non-empty line of ``text``, stripped (``""`` if none)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def read_document(path: Path, doc_id: str) -> Document:
    """Read one file as a document.

    Raises:
        ValueError: with a human reason when the file is empty, binary, not UTF-8 or too large.
        OSError: when the file cannot be read.
    """
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB")
    raw = path.read_bytes()
    if not raw.strip():
        raise ValueError("empty file")
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ValueError("only whitespace")
    return Document(
        doc_id=doc_id,
        title=first_line(text),
        text=text,
        source=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _walk(root: Path, skipped: list[SkippedFile]) -> Iterator[Path]:
    """Yield document files under ``root`` in sorted order, without following symlinked folders twice."""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            skipped.append(SkippedFile(dirpath, "symlink loop (folder already visited)"))
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if name.lower().endswith(DOCUMENT_SUFFIXES):
                yield Path(dirpath) / name


def load_corpus(paths: Iterable[str | os.PathLike]) -> tuple[list[Document], list[SkippedFile]]:
    """Load every ``.txt``/``.md`` file under the given folders (or single files).

    A document's id is its path relative to the folder it was found under; when
    several roots are given, ids are prefixed by the root's name to stay unique.

    Returns:
        The documents in a stable order, and the files that were skipped with a reason.

    Raises:
        CorpusError: when a path does not exist.
    """
    from index.errors import CorpusError

    roots = [Path(p) for p in paths]
    documents: list[Document] = []
    skipped: list[SkippedFile] = []
    ids: set[str] = set()
    for root in roots:
        if not root.exists():
            raise CorpusError(f"corpus path does not exist: {root}")
        prefix = f"{root.resolve().name}/" if len(roots) > 1 else ""
        if root.is_file():
            files: Iterable[Path] = [root]
            base = root.parent
        else:
            files = _walk(root, skipped)
            base = root
        for path in files:
            doc_id = prefix + path.relative_to(base).as_posix()
            if doc_id in ids:
                skipped.append(SkippedFile(str(path), f"duplicate document id {doc_id!r}"))
                continue
            try:
                document = read_document(path, doc_id)
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                skipped.append(SkippedFile(str(path), reason))
                logger.warning("skipped %s: %s", path, reason)
                continue
            ids.add(doc_id)
            documents.append(document)
    return documents, skipped
