"""Sentence-aware chunking that keeps exact character offsets into the document."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class ChunkerSettings:
    """How documents are cut into chunks; saved in the manifest.

    Attributes:
        max_words: upper bound of whitespace-separated words in a chunk (a proxy for model
            tokens: MiniLM reads 256 word pieces, about 1.3 per word).
        max_sentences: upper bound of sentences in a chunk.
        overlap_sentences: sentences repeated from the end of one chunk at the start of the next.
    """

    max_words: int = 120
    max_sentences: int = 5
    overlap_sentences: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``document.text[start:end] == text``.

    Attributes:
        doc_id: the document it comes from.
        start: character offset of the first character.
        end: character offset one past the last character.
        text: the passage itself.
        first_sentence: index (into the document's sentence list) of its first sentence.
        last_sentence: index of its last sentence (inclusive).
    """

    doc_id: str
    start: int
    end: int
    text: str
    first_sentence: int
    last_sentence: int


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def split_long_sentence(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into pieces of at most ``max_words`` words, at word boundaries."""
    words = list(_WORD.finditer(text, start, end))
    pieces = []
    for i in range(0, len(words), max_words):
        group = words[i : i + max_words]
        pieces.append((group[0].start(), group[-1].end()))
    return pieces


def bound_sentences(text: str, sentences: list[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    """Return ``sentences`` with any sentence longer than ``max_words`` split into pieces."""
    bounded: list[tuple[int, int]] = []
    for start, end in sentences:
        if count_words(text[start:end]) > max_words:
            bounded.extend(split_long_sentence(text, start, end, max_words))
        else:
            bounded.append((start, end))
    return bounded


def chunk_sentences(
    doc_id: str, text: str, sentences: list[tuple[int, int]], settings: ChunkerSettings
) -> list[Chunk]:
    """Group consecutive sentences into chunks.

    Args:
        doc_id: id of the document.
        text: the document text the sentence offsets point into.
        sentences: ``(start, end)`` of each sentence in document order, none longer than
            ``settings.max_words`` words (see :func:`bound_sentences`).
        settings: the bounds.

    Returns:
        Chunks in document order; consecutive chunks share ``overlap_sentences`` sentences
        (unless a single sentence fills a chunk).
    """
    words = [count_words(text[s:e]) for s, e in sentences]
    chunks: list[Chunk] = []
    first = 0
    n = len(sentences)
    while first < n:
        last = first
        total = words[first]
        while (
            last + 1 < n
            and last + 1 - first < settings.max_sentences
            and total + words[last + 1] <= settings.max_words
        ):
            last += 1
            total += words[last]
        start, end = sentences[first][0], sentences[last][1]
        chunks.append(Chunk(doc_id, start, end, text[start:end], first, last))
        if last + 1 >= n:
            break
        first = max(first + 1, last + 1 - settings.overlap_sentences)
    return chunks
