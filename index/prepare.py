"""Document preparation: sentences, chunks, parse and content terms of each document.

What is made here is the same whether it runs in the building process or in the analysis
worker (:mod:`index.parallel`); :mod:`index.process` embeds it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from index.analysis import SpacyAnalyzer, sentence_offsets, sentence_spans, sentence_term_counts, split_blocks
from index.chunking import Chunk, ChunkerSettings, bound_sentences, chunk_sentences
from index.documents import Document

_DOCBIN_ATTRS = ["ORTH", "TAG", "HEAD", "DEP", "ENT_IOB", "ENT_TYPE", "LEMMA", "POS", "SENT_START", "SPACY", "MORPH"]


#: Documents longer than this (characters) are split into sentences by the fast rule-based
#: splitter and their parse is not stored: the full pipeline would take hours and gigabytes
#: on a 50 MB file. ``QA_LARGE_DOCUMENT_CHARS`` overrides it.
LARGE_DOCUMENT_CHARS = 1_000_000


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
