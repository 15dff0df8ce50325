"""Building, saving and loading the corpus index (FAISS + BM25 + analysis + manifest).

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

import bisect
import contextlib
import fcntl
import hashlib
import itertools
import json
import logging
import mmap
import os
import shutil
import threading
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from index.analysis import (SpacyAnalyzer, decode_blocks, sentence_offsets, sentence_spans, sentence_term_counts,
                            split_blocks)
from index.cache import LRUCache
from index.chunking import Chunk, ChunkerSettings, bound_sentences, chunk_sentences
from index.documents import Document
from index.embedding import Embedder, embed_with_spans, unit_rows
from index.errors import CorpusError, IndexCorrupt, IndexMismatch, IndexNotFound
from index.threads import ThreadBudget, ThreadsSetting, set_torch_threads, torch_threads

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
#: Raw float16 rows, one unit vector per row of ``sentences.npy`` (zeros: none stored).
SENTENCE_VECTORS_FILE = "sentence_vectors.f16"
_DATA_FILES = ("documents.jsonl", "chunks.npy", "sentences.npy", "dense.faiss", "analysis.bin", "analysis_offsets.npy",
               "terms.json", SENTENCE_VECTORS_FILE)
BM25_SETTINGS = {"library": "bm25s", "method": "lucene", "k1": 1.5, "b": 0.75, "stopwords": "en", "stemmer": "english"}


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


# --------------------------------------------------------------------------- analysis + chunks

_DOCBIN_ATTRS = ["ORTH", "TAG", "HEAD", "DEP", "ENT_IOB", "ENT_TYPE", "LEMMA", "POS", "SENT_START", "SPACY", "MORPH"]


#: Documents longer than this (characters) are split into sentences by the fast rule-based
#: splitter and their parse is not stored: the full pipeline would take hours and gigabytes
#: on a 50 MB file. ``QA_LARGE_DOCUMENT_CHARS`` overrides it.
LARGE_DOCUMENT_CHARS = 1_000_000
#: Chunks embedded per call while indexing, so memory does not grow with a document's size.
EMBED_BATCH_CHUNKS = 1024
#: With the analysis in a worker process, chunks embedded per call (small, so that embedding
#: starts as soon as the first documents are analysed).
WORKER_EMBED_BATCH_CHUNKS = 128
#: ``analysis_worker="auto"`` starts a worker process only for at least this much new text
#: (starting it and loading spaCy there takes a few seconds).
ANALYSIS_WORKER_MIN_CHARS = 200_000


@dataclass
class AnalysedDocument:
    """Sentences, chunks and parsed blocks of one document.

    ``blocks`` is empty for a large document (see :data:`LARGE_DOCUMENT_CHARS`): only its
    sentence offsets are known, and a reader parses its sentences on demand.
    """

    document: Document
    sentences: list[tuple[int, int]]
    chunks: list[Chunk]
    blocks: list[tuple[int, object]]  # (block start offset, spaCy Doc)

    @property
    def parsed(self) -> bool:
        return bool(self.blocks)


def analyse_documents(
    documents: Sequence[Document], analyzer: SpacyAnalyzer, settings: ChunkerSettings,
    *, large_document_chars: int | None = LARGE_DOCUMENT_CHARS,
) -> Iterator[AnalysedDocument]:
    """Split each document into sentences and chunks, keeping its parsed blocks.

    Args:
        documents: the documents.
        analyzer: the spaCy pipeline.
        settings: chunk bounds.
        large_document_chars: documents longer than this are split with the analyser's fast
            rule-based sentence splitter, block by block, and no parse is kept (``None``: never).
    """
    for document in documents:
        blocks = split_blocks(document.text)
        large = large_document_chars is not None and len(document.text) > large_document_chars
        # A generator: spaCy reads the blocks batch by batch, so only a batch of Docs is alive.
        texts = (document.text[b.start : b.end] for b in blocks)
        docs = analyzer.split_sentences(texts) if large else analyzer.pipe(texts)
        sentences: list[tuple[int, int]] = []
        parsed = []
        for block, doc in zip(blocks, docs):
            sentences.extend(sentence_offsets(doc, base=block.start))
            if not large:
                parsed.append((block.start, doc))
        sentences = bound_sentences(document.text, sentences, settings.max_words)
        chunks = chunk_sentences(document.doc_id, document.text, sentences, settings)
        yield AnalysedDocument(document, sentences, chunks, parsed)


def passage_text(document: Document, chunk: Chunk, embed_title: bool) -> str:
    """The text that is embedded and BM25-indexed for a chunk: its title, then the passage."""
    if embed_title and chunk.start > 0 and document.title and document.title not in chunk.text:
        return f"{document.title}\n{chunk.text}"
    return chunk.text


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
    """Analyses and embeds documents somewhere else than in this process (see ``build_index``)."""

    def __call__(self, documents: Sequence[Document], recipe: dict) -> Iterable[tuple[int, CachedDocument]]:
        """``(position in documents, its entry)`` for every document exactly once, in any order.

        Args:
            documents: the documents to analyse and embed.
            recipe: what the entries must be made with: ``model``, ``chunker``, ``analyzer``,
                ``embed_title``, ``large_document_chars`` (the cache's key).
        """


@dataclass
class PreparedDocument:
    """One document's analysis, ready to embed: what :func:`prepare_documents` makes, in this
    process or in an :class:`~index.parallel.AnalysisWorker` (it is plain data, cheap to pickle)."""

    sentences: list[tuple[int, int]]
    chunks: list[tuple[int, int, int, int]]  # start, end, first sentence, last sentence
    block_offsets: np.ndarray
    analysis: bytes  # DocBin of the blocks
    terms: list[tuple[str, int]]  # content term, in how many of its sentences it occurs
    text_chars: int

    def analysed(self, document: Document) -> AnalysedDocument:
        """The :class:`AnalysedDocument` (without its parse objects) for ``document``."""
        chunks = [Chunk(document.doc_id, s, e, document.text[s:e], f, l) for s, e, f, l in self.chunks]
        return AnalysedDocument(document, self.sentences, chunks, [])


def prepare_documents(
    documents: Iterable[Document], analyzer: SpacyAnalyzer, settings: ChunkerSettings,
    *, large_document_chars: int | None = LARGE_DOCUMENT_CHARS,
) -> Iterator[PreparedDocument]:
    """Analyse documents one at a time (see :func:`analyse_documents`) and keep their parse as
    DocBin bytes and their content-term counts."""
    from spacy.tokens import DocBin

    for a in analyse_documents(documents, analyzer, settings, large_document_chars=large_document_chars):
        doc_bin = DocBin(attrs=_DOCBIN_ATTRS)
        for _, doc in a.blocks:
            doc_bin.add(doc)
        counts = sentence_term_counts(sentence_spans(a.blocks, a.sentences)) if a.blocks else Counter()
        prepared = PreparedDocument(
            sentences=a.sentences,
            chunks=[(c.start, c.end, c.first_sentence, c.last_sentence) for c in a.chunks],
            block_offsets=np.asarray([offset for offset, _ in a.blocks], dtype=np.int64),
            analysis=doc_bin.to_bytes(),
            terms=[(t, c) for t, c in counts.items() if "\n" not in t],  # stored one per line
            text_chars=len(a.document.text),
        )
        del a, doc_bin  # the parse lives on as bytes: free the Docs and chunk texts before the caller runs
        yield prepared


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


# --------------------------------------------------------------------------- BM25


def import_bm25s():
    """Import bm25s, undoing the DEBUG level it gives its own logger at import time (it then
    follows the application's logging like any library)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


def bm25_tokenize(texts: Sequence[str], show_progress: bool = False):
    bm25s = import_bm25s()
    import Stemmer

    return bm25s.tokenize(
        list(texts), stopwords=BM25_SETTINGS["stopwords"], stemmer=Stemmer.Stemmer(BM25_SETTINGS["stemmer"]),
        show_progress=show_progress,
    )


def bm25_query_tokens(question: str) -> list[str]:
    bm25s = import_bm25s()
    import Stemmer

    tokens = bm25s.tokenize(
        [question], stopwords=BM25_SETTINGS["stopwords"], stemmer=Stemmer.Stemmer(BM25_SETTINGS["stemmer"]),
        return_ids=False, show_progress=False,
    )
    return tokens[0]


# --------------------------------------------------------------------------- dense index

#: Above this many chunks an approximate (HNSW) index replaces exact search. efSearch 128:
#: recall@10 against exact search was 0.976 on 20k real MiniLM passages with real questions
#: (64 gave 0.951 and falls as the index grows), at 0.17 ms per query (bench/bench_ann.py).
HNSW_THRESHOLD = 50_000
HNSW_DEFAULTS = {"type": "hnsw", "M": 32, "efConstruction": 80, "efSearch": 128}


def choose_dense_index(num_vectors: int, requested: str = "auto") -> dict:
    """Pick the FAISS index for ``num_vectors``: exact below :data:`HNSW_THRESHOLD`, HNSW above.

    Args:
        num_vectors: how many chunks are indexed.
        requested: ``"auto"``, ``"flat"`` or ``"hnsw"`` (``QA_DENSE_INDEX``).
    """
    if requested not in ("auto", "flat", "hnsw"):
        raise ValueError(f"unknown dense index type {requested!r}; use auto, flat or hnsw")
    kind = requested if requested != "auto" else ("hnsw" if num_vectors > HNSW_THRESHOLD else "flat")
    return dict(HNSW_DEFAULTS) if kind == "hnsw" else {"type": "flat"}


def make_dense_index(vectors: np.ndarray, spec: dict):
    """Build the inner-product FAISS index described by ``spec`` over unit ``vectors``."""
    import faiss

    dimension = vectors.shape[1]
    if spec["type"] == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, spec["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec["efConstruction"]
        index.hnsw.efSearch = spec["efSearch"]
    else:
        index = faiss.IndexFlatIP(dimension)
    index.add(vectors)
    return index


# --------------------------------------------------------------------------- build


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


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_digest(path: Path) -> str:
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
            rule-based splitter and not parsed (see :func:`analyse_documents`); ``None``: never.
        embed_batch: chunks embedded per call (bounds memory on a large document).
        analysis_worker: ``auto``/``on``/``off``: analyse documents in a worker process while
            this one embeds (see :func:`use_analysis_worker`).
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
            files={name: _file_digest(tmp / name) for name in (*_DATA_FILES, "blocks.npy")},
        )
        (tmp / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        _fsync_tree(tmp)

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


# --------------------------------------------------------------------------- load


def row_bounds(rows: np.ndarray, num_documents: int) -> np.ndarray:
    """For a table whose first column is the document index (ascending), where each document's
    rows begin: document ``i`` has ``rows[bounds[i]:bounds[i + 1]]``."""
    return np.searchsorted(rows[:, 0], np.arange(num_documents + 1)) if len(rows) else np.zeros(
        num_documents + 1, dtype=np.int64)


class ChunkTable(Sequence[Chunk]):
    """The chunks of an index, made when asked for from the chunk table (five integers per
    chunk) and the documents' text: a million chunks cost 40 MB, not a second copy of the corpus."""

    def __init__(self, rows: np.ndarray, documents: Sequence[Document]) -> None:
        self._rows = rows
        self._documents = documents

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, position):
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        doc_index, start, end, first, last = self._rows[position].tolist()
        document = self._documents[doc_index]
        return Chunk(document.doc_id, start, end, document.text[start:end], first, last)


class SentenceTable(Mapping[str, Sequence[tuple[int, int]]]):
    """``doc_id -> [(start, end), ...]`` of the sentences of each document (that has any), read
    from the sentence table when asked for; the last few documents asked for are kept."""

    def __init__(self, rows: np.ndarray, documents: Sequence[Document], keep: int = 64) -> None:
        self._rows = rows
        self._bounds = row_bounds(rows, len(documents))
        self._positions = {d.doc_id: i for i, d in enumerate(documents)
                           if self._bounds[i + 1] > self._bounds[i]}
        self._recent: LRUCache[str, list[tuple[int, int]]] = LRUCache(keep)
        self._lock = threading.Lock()

    def rows_of(self, doc_id: str) -> tuple[int, int] | None:
        """``(first, end)`` rows of a document's sentences in the table, or ``None``."""
        position = self._positions.get(doc_id)
        if position is None:
            return None
        return int(self._bounds[position]), int(self._bounds[position + 1])

    def __getitem__(self, doc_id: str) -> list[tuple[int, int]]:
        with self._lock:  # the document viewer reads this outside the models' lock
            cached = self._recent.get(doc_id)
            if cached is not None:
                return cached
            position = self._positions[doc_id]  # KeyError for a document without sentences
            rows = self._rows[self._bounds[position] : self._bounds[position + 1], 1:]
            found = [tuple(pair) for pair in rows.tolist()]
            self._recent[doc_id] = found
            return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


#: :meth:`CorpusIndex.phrase_occurs` reads at most this many chunks for one phrase.
PHRASE_SCAN_LIMIT = 20_000
#: ... and follows at most this many BM25 terms that begin with one of its words.
MAX_PREFIX_TERMS = 1_000


@dataclass(frozen=True)
class TermStats:
    """Sentence frequencies of the content terms of the parsed documents (counted at index time).

    Attributes:
        num_sentences: how many parsed sentences the corpus has.
        document_frequency: for each term (see :func:`index.analysis.term_of`), in how many
            sentences it occurs.
    """

    num_sentences: int
    document_frequency: dict[str, int]


@dataclass
class CorpusIndex:
    """A loaded index: documents, chunks, sentences, dense and sparse indexes, parse and term statistics.

    The parse of each document (``analysis``, one spaCy DocBin per document, memory-mapped) is
    decoded only when a question needs that document, so memory and start-up do not grow with
    the parse of the whole corpus.
    """

    path: Path
    manifest: Manifest
    documents: list[Document]
    chunks: Sequence[Chunk]
    chunk_docs: np.ndarray
    sentences: "SentenceTable"
    dense: object
    bm25: object
    block_rows: np.ndarray
    analysis: bytes | mmap.mmap
    analysis_offsets: np.ndarray
    terms: TermStats
    #: (sentences, dimension) float16, memory-mapped: row ``i`` belongs to row ``i`` of the sentence table
    sentence_vectors: np.ndarray
    _by_id: dict[str, Document] = field(init=False, repr=False)
    _positions: dict[str, int] = field(init=False, repr=False)
    _block_bounds: np.ndarray = field(init=False, repr=False)
    _vocab: list[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {d.doc_id: d for d in self.documents}
        self._positions = {d.doc_id: i for i, d in enumerate(self.documents)}
        self._block_bounds = row_bounds(self.block_rows, len(self.documents))

    def document(self, doc_id: str) -> Document | None:
        """The document with this id, or ``None``."""
        return self._by_id.get(doc_id)

    def stored_sentence_vectors(self, doc_id: str, positions: Sequence[int]) -> np.ndarray:
        """The stored vectors of sentences ``positions`` of a document, as float32 rows; a row of
        zeros where none is stored (past the model's length limit, or an unknown sentence)."""
        out = np.zeros((len(positions), self.sentence_vectors.shape[1]), dtype=np.float32)
        bounds = self.sentences.rows_of(doc_id)
        if bounds is None:
            return out
        begin, end = bounds
        for row, position in enumerate(positions):
            if 0 <= position < end - begin:
                out[row] = self.sentence_vectors[begin + position]
        return out

    def parsed_document(self, doc_id: str, vocab) -> list[tuple[int, object]] | None:
        """The parsed blocks ``(block start offset, spaCy Doc)`` of one document, decoded now;
        ``None`` for an unknown document or one whose parse is not stored (a large one)."""
        position = self._positions.get(doc_id)
        if position is None:
            return None
        start, end = int(self.analysis_offsets[position]), int(self.analysis_offsets[position + 1])
        if end <= start:
            return None
        offsets = self.block_rows[self._block_bounds[position] : self._block_bounds[position + 1], 1].tolist()
        docs = decode_blocks(bytes(self.analysis[start:end]), vocab)
        if len(docs) != len(offsets):
            raise IndexCorrupt(f"index {self.path}: the parse of {doc_id} does not match its blocks; "
                               f"{rebuild_hint(self.path)}")
        return list(zip(offsets, docs))

    def phrase_occurs(self, phrase: str) -> bool:
        """Whether ``phrase`` occurs in some chunk's text, ignoring case (a substring test).

        The BM25 postings narrow the test to the chunks that hold every word of the phrase (a
        word also matching the longer words it begins, as a substring would), so a question costs
        a few posting lists, not a scan of the corpus. A phrase with no indexable word (only stop
        words) is looked for in every chunk of a small index and assumed present in a large one.
        """
        phrase = phrase.lower().strip()
        if not phrase:
            return True
        candidates: np.ndarray | None = None
        for token in bm25_query_tokens(phrase):
            postings = self._postings(token)
            candidates = postings if candidates is None else np.intersect1d(candidates, postings, assume_unique=True)
            if len(candidates) == 0:
                return False
        if candidates is None:
            if len(self.chunks) > PHRASE_SCAN_LIMIT:
                return True
            candidates = np.arange(len(self.chunks))
        for position, chunk_id in enumerate(candidates.tolist()):
            if position >= PHRASE_SCAN_LIMIT:
                return True  # too common to rule out cheaply
            if phrase in self.chunks[chunk_id].text.lower():
                return True
        return False

    def _postings(self, token: str) -> np.ndarray:
        """Sorted ids of the chunks holding a BM25 term that begins with ``token``."""
        if self._vocab is None:
            self._vocab = sorted(self.bm25.vocab_dict)
        scores = self.bm25.scores
        first = bisect.bisect_left(self._vocab, token)
        parts = []
        for term in itertools.islice(self._vocab, first, first + MAX_PREFIX_TERMS):
            if not term.startswith(token):
                break
            column = self.bm25.vocab_dict[term]
            parts.append(scores["indices"][scores["indptr"][column] : scores["indptr"][column + 1]])
        if not parts:
            return np.zeros(0, dtype=np.int64)
        if len(parts) == 1:
            return np.asarray(parts[0], dtype=np.int64)  # one term's postings: sorted and distinct
        # The union of several terms' postings: marking a flag per chunk is linear, where sorting
        # the concatenation (np.unique) cost 6 ms per question on a million chunks.
        present = np.zeros(len(self.chunks), dtype=bool)
        for part in parts:
            present[part] = True
        return np.flatnonzero(present)


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
            if _file_digest(path) != digest:
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
