"""Loading a corpus folder into documents with stable ids and content hashes.

Every file goes through one rule, whether it was found in a folder or named on the command line:
a format this project reads (see :mod:`index.extract`) becomes a document; any other file, and one
that cannot be read, is a :class:`SkippedFile` with its reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from index.extract import NO_TEXT, TOO_LARGE, UNREADABLE, ExtractionError, extractor_for

logger = logging.getLogger(__name__)

#: Files larger than this are refused; they would not fit the in-memory analysis.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Document:
    """A document of the corpus, as the plain text its file was extracted to.

    Attributes:
        doc_id: Stable id, the path relative to the corpus root with ``/`` separators.
        title: The document's own title (HTML ``<title>``, a DOCX title property, a first
            heading), else the first non-empty line of the text.
        text: The extracted text (offsets of answers and citations point into it).
        source: The path the document was read from.
        sha256: Hash of the file's raw bytes, to tell whether a document changed.
        format: The format it was read as (``text``, ``markdown``, ``html``, ``pdf``, ``docx``).
        pages: For paged formats (PDF), the offset in ``text`` where each page starts.
        extractor: The extractor and its version (a different one re-extracts the file).
    """

    doc_id: str
    title: str
    text: str
    source: str
    sha256: str
    format: str = "text"
    pages: tuple[int, ...] | None = None
    extractor: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> "Document":
        """Inverse of :func:`dataclasses.asdict` (as stored in an index's ``documents.jsonl``)."""
        values = dict(data)
        if values.get("pages") is not None:
            values["pages"] = tuple(values["pages"])
        return cls(**values)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that character ``offset`` is on (``None``: the document has no pages)."""
        return page_number(self.pages, offset) if self.pages else None


def page_number(pages: Sequence[int], offset: int) -> int:
    """The 1-based page that ``offset`` is on, given the offset where each page starts."""
    return max(1, bisect_right(pages, offset))


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, and why.

    Attributes:
        path: the file.
        reason: what is wrong, for a person (``"encrypted (it needs a password to open)"``).
        kind: the kind of problem, short (``"encrypted"``); see :mod:`index.extract`.
    """

    path: str
    reason: str
    kind: str = UNREADABLE


#: ``(sha256 of a file's bytes, extractor version) -> the document extracted from it before``.
ReuseLookup = Callable[[str, str], "Document | None"]


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


def read_document(path: Path, doc_id: str, reuse: ReuseLookup | None = None) -> Document:
    """Read one file as a document, extracting its text by its format.

    Args:
        path: the file.
        doc_id: its id.
        reuse: finds the document this file's bytes were extracted to before by the same
            extractor version (an unchanged file is not extracted again).

    Raises:
        ExtractionError: with the kind and a human reason when the file's type is not supported,
            it is too large, empty, encrypted, damaged, or holds no text.
        OSError: when the file cannot be read.
    """
    extractor = extractor_for(path.name)
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise ExtractionError(TOO_LARGE, f"too large ({size / (1024 * 1024):,.0f} MB; "
                                         f"the limit is {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB)")
    raw = path.read_bytes()
    if not raw.strip():
        raise ExtractionError(NO_TEXT, "empty file")
    sha256 = hashlib.sha256(raw).hexdigest()
    known = reuse(sha256, extractor.version) if reuse is not None else None
    if known is not None:
        return Document(doc_id, known.title, known.text, str(path), sha256, extractor.format, known.pages,
                        extractor.version)
    try:
        extracted = extractor.extract(raw)
    except ExtractionError:
        raise
    except Exception as exc:  # noqa: BLE001 - a library failing on a damaged file must not stop the others
        raise ExtractionError(UNREADABLE, f"unreadable ({type(exc).__name__}: {exc})") from None
    if extracted.encoding is not None:  # a guessed legacy encoding is worth a look when text reads oddly
        logger.log(logging.DEBUG if extracted.encoding.startswith("utf") else logging.INFO,
                   "%s: decoded as %s", path, extracted.encoding)
    return Document(
        doc_id=doc_id,
        title=extracted.title or first_line(extracted.text) or doc_id,
        text=extracted.text,
        source=str(path),
        sha256=sha256,
        format=extractor.format,
        pages=extracted.pages,
        extractor=extractor.version,
    )


def _walk(root: Path, skipped: list[SkippedFile]) -> Iterator[Path]:
    """Yield the files under ``root`` in sorted order (hidden ones left out), without following
    symlinked folders twice."""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            skipped.append(SkippedFile(dirpath, "symlink loop (folder already visited)", "symlink loop"))
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            yield Path(dirpath) / name


def load_corpus(
    paths: Iterable[str | os.PathLike], reuse: ReuseLookup | None = None,
) -> tuple[list[Document], list[SkippedFile]]:
    """Load every document file under the given folders (or single files), in every supported format.

    A named file follows the same rules as one found in a folder. A document's id is its path relative to the folder it was found under; when
    several roots are given, ids are prefixed by the root's name to stay unique.

    Args:
        paths: folders and files.
        reuse: see :func:`read_document`.

    Returns:
        The documents in a stable order, and the files that were skipped, each once, with a reason.

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
                skipped.append(SkippedFile(str(path), f"duplicate document id {doc_id!r}", "duplicate"))
                continue
            try:
                document = read_document(path, doc_id, reuse)
            except ExtractionError as exc:
                skipped.append(SkippedFile(str(path), str(exc), exc.kind))
                continue
            except OSError as exc:
                skipped.append(SkippedFile(str(path), exc.strerror or str(exc), UNREADABLE))
                continue
            ids.add(doc_id)
            documents.append(document)
    return documents, skipped
