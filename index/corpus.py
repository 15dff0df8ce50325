"""A loaded index (:class:`CorpusIndex`) and the tables it reads its chunks and sentences from."""

from __future__ import annotations

import bisect
import itertools
import mmap
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from index.analysis import decode_blocks
from index.bm25 import bm25_query_tokens
from index.cache import LRUCache
from index.chunking import Chunk
from index.documents import Document
from index.errors import IndexCorrupt
from index.manifest import Manifest, rebuild_hint


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
        candidates = self._chunks_with_words(phrase)
        if candidates is None or next(self._scan(phrase, candidates), None) is not None:
            return True
        return len(candidates) > PHRASE_SCAN_LIMIT  # too common to rule out cheaply

    def phrase_places(self, phrase: str, limit: int = 3) -> list[tuple[str, int, int]]:
        """``(doc_id, start, end)`` of the first ``limit`` occurrences of ``phrase`` (ignoring case),
        in index order, one per chunk, looked for as :meth:`phrase_occurs` looks: in the chunks that
        hold all its words, at most ``PHRASE_SCAN_LIMIT`` of them (a phrase of stop words only: in
        every chunk of a small index, nowhere in a large one)."""
        phrase = phrase.lower().strip()
        candidates = self._chunks_with_words(phrase) if phrase else None
        if candidates is None:
            return []
        hits = itertools.islice(self._scan(phrase, candidates), limit)
        return [(chunk.doc_id, chunk.start + at, chunk.start + at + len(phrase)) for chunk, at in hits]

    def _scan(self, phrase: str, candidates: np.ndarray) -> Iterator[tuple[Chunk, int]]:
        """``(chunk, offset in it)`` of the first occurrence of the lowercased ``phrase`` in each of
        the first ``PHRASE_SCAN_LIMIT`` candidate chunks that hold it."""
        for chunk_id in candidates[:PHRASE_SCAN_LIMIT].tolist():
            chunk = self.chunks[chunk_id]
            at = chunk.text.lower().find(phrase)
            if at >= 0:
                yield chunk, at

    def _chunks_with_words(self, phrase: str) -> np.ndarray | None:
        """Sorted ids of the chunks that hold every indexable word of ``phrase`` (lowercased);
        every chunk of a small index for a phrase without one, ``None`` in a large index."""
        candidates: np.ndarray | None = None
        for token in bm25_query_tokens(phrase):
            postings = self._postings(token)
            candidates = postings if candidates is None else np.intersect1d(candidates, postings, assume_unique=True)
            if len(candidates) == 0:
                return candidates
        if candidates is None and len(self.chunks) <= PHRASE_SCAN_LIMIT:
            candidates = np.arange(len(self.chunks))
        return candidates

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
