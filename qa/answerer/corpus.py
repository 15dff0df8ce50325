"""Views of an index that the answerer reads: term statistics, the parsed sentences of each
document (decoded when first needed, in a bounded cache) and the sentence vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from index.analysis import SpacyAnalyzer, sentence_spans
from index.cache import LRUCache
from index.corpus import CorpusIndex
from index.embedding import Embedder, embed_query

#: Parsed documents kept decoded, in spaCy tokens (about 120 bytes each: 60 MB).
MAX_CACHED_TOKENS = 500_000
#: Sentence vectors kept for questions about the same passages (1.5 KB each with MiniLM).
MAX_CACHED_VECTORS = 50_000


@dataclass
class CorpusStats:
    """Term statistics of an index (counted from its parsed sentences at index time).

    Attributes:
        num_sentences: how many sentences the corpus has.
        document_frequency: for each term, in how many sentences it occurs.
        phrase_occurs: whether a lower-case phrase occurs anywhere in the corpus text
            (``None``: only single terms of ``document_frequency`` are known).
    """

    num_sentences: int
    document_frequency: Mapping[str, int]
    phrase_occurs: Callable[[str], bool] | None = None

    def idf(self, term: str) -> float:
        """Smoothed inverse sentence frequency; unseen terms get the highest value."""
        return math.log((self.num_sentences + 1) / (self.document_frequency.get(term, 0) + 0.5))

    def contains(self, phrase: str) -> bool:
        """Whether the phrase (or its single term) occurs anywhere in the corpus."""
        phrase = phrase.lower().strip()
        if not phrase:
            return True
        if phrase in self.document_frequency:
            return True
        return self.phrase_occurs is not None and self.phrase_occurs(phrase)



class DocumentSentences:
    """The ``(block offset, sentence Span)`` of each document, decoded from the index when a
    question first needs the document and kept in a bounded cache (least recently used first
    out, ``max_tokens`` spaCy tokens in all), so memory follows what is asked, not the size of
    the corpus.

    A document whose parse is not stored (a very large one) gets :class:`OnDemandSentences`.
    """

    def __init__(self, index: CorpusIndex, analyzer: SpacyAnalyzer, max_tokens: int = MAX_CACHED_TOKENS) -> None:
        self.index = index
        self.analyzer = analyzer
        self._docs: LRUCache[str, tuple[object, int]] = LRUCache(max_tokens, weight=lambda entry: entry[1])

    def get(self, doc_id: str, default=None):
        sentences = self.index.sentences.get(doc_id)
        if sentences is None:
            return default
        entry = self._docs.get(doc_id)
        if entry is not None:
            return entry[0]
        blocks = self.index.parsed_document(doc_id, self.analyzer.vocab)
        if blocks:
            spans, size = sentence_spans(blocks, sentences), sum(len(doc) for _, doc in blocks)
        else:
            spans, size = OnDemandSentences(self.index.document(doc_id).text, sentences, self.analyzer), 0
        self._docs[doc_id] = (spans, size)
        return spans

    def __getitem__(self, doc_id: str):
        spans = self.get(doc_id)
        if spans is None:
            raise KeyError(doc_id)
        return spans



class OnDemandSentences:
    """The sentences of a document whose parse was not stored (a very large one), parsed when
    first asked for and kept, so that only the retrieved part of it is ever parsed.

    Behaves like the list of ``(offset, Span)`` that :func:`sentence_spans` returns.
    """

    def __init__(self, text: str, sentences: Sequence[tuple[int, int]], nlp) -> None:
        self.text = text
        self.sentences = sentences
        self.nlp = nlp
        self.parsed: dict[int, tuple[int, object]] = {}

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, position: int) -> tuple[int, object]:
        if position < 0:
            position += len(self.sentences)
        if position not in self.parsed:
            start, end = self.sentences[position]
            doc = self.nlp(self.text[start:end])
            self.parsed[position] = (start, doc[:])
        return self.parsed[position]


@dataclass
class CorpusViews:
    """What the answerer keeps of one index between questions.

    Attributes:
        stats: term statistics for IDF.
        spans: ``doc_id -> [(block offset, sentence Span)]``.
        stored: the index's own sentence vectors: ``(doc_id, positions) -> rows`` (zeros where
            it has none).
        vectors: vectors of sentences embedded at question time (those the index holds none
            for), by ``(doc_id, sentence position)``.
    """

    stats: CorpusStats
    spans: DocumentSentences
    stored: Callable[[str, Sequence[int]], np.ndarray]
    vectors: LRUCache[tuple[str, int], np.ndarray] = field(default_factory=lambda: LRUCache(MAX_CACHED_VECTORS))

    @classmethod
    def of(cls, index: CorpusIndex, analyzer: SpacyAnalyzer) -> "CorpusViews":
        """Fresh views of ``index`` (its parses decoded with ``analyzer``'s vocabulary)."""
        stats = CorpusStats(index.terms.num_sentences, index.terms.document_frequency, index.phrase_occurs)
        return cls(stats, DocumentSentences(index, analyzer), index.stored_sentence_vectors)


def sentence_similarities(embedder: Embedder | None, views: CorpusViews, question: str,
                          keys: list[tuple[str, int]]) -> list[float]:
    """Cosine similarity of ``question`` to each sentence ``(doc_id, position)`` of ``keys``.

    Sentence vectors come from the index where it holds them, else from the cache of ``views``,
    else are embedded now (and cached). Without an embedder every similarity is 0.
    """
    if embedder is None or not keys:
        return [0.0] * len(keys)
    known: dict[tuple[str, int], np.ndarray] = {}
    by_document: dict[str, list[int]] = {}
    for doc_id, position in keys:
        by_document.setdefault(doc_id, []).append(position)
    for doc_id, positions in by_document.items():
        for position, vector in zip(positions, views.stored(doc_id, positions)):
            if vector.any():
                known[(doc_id, position)] = vector
    known.update({k: views.vectors[k] for k in keys if k not in known and k in views.vectors})
    missing = [k for k in keys if k not in known]
    if missing:
        vectors = embedder.embed([views.spans[d][i][1].text for d, i in missing])
        for key, vector in zip(missing, vectors):
            views.vectors[key] = known[key] = vector
    query = embed_query(embedder, question)
    return [float(np.dot(query, known[k])) for k in keys]
