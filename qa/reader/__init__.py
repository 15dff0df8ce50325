"""Learned extractive answer-span reader (MiniLM + shared-normalisation span head).

Public API::

    from qa.reader import SpanReader, ReaderOutput, ReaderSpan
    reader = SpanReader()            # lazy; loads qa/reader/weights on first use
    out = reader.read(question, passages, passage_scores=None)
"""
from .reader import ReaderOutput, ReaderSpan, SpanReader, clean_span  # noqa: F401

__all__ = ["SpanReader", "ReaderOutput", "ReaderSpan", "clean_span"]
