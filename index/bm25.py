"""The BM25 index's settings and tokeniser (the same for indexed passages and for questions)."""

from __future__ import annotations

import logging
from typing import Sequence

#: How the BM25 index is built and its text tokenised (each manifest records them).
BM25_SETTINGS = {"library": "bm25s", "method": "lucene", "k1": 1.5, "b": 0.75, "stopwords": "en", "stemmer": "english"}


def import_bm25s():
    """Import bm25s, undoing the DEBUG level it gives its own logger at import time (it then
    follows the application's logging like any library)."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


def bm25_tokenize(texts: Sequence[str], show_progress: bool = False):
    return _tokenize(list(texts), show_progress=show_progress)


def bm25_query_tokens(question: str) -> list[str]:
    return _tokenize([question], return_ids=False, show_progress=False)[0]


def _tokenize(texts: list[str], **options):
    """``bm25s.tokenize`` with the index's stop words and stemmer (passages and questions alike)."""
    bm25s = import_bm25s()
    import Stemmer

    return bm25s.tokenize(
        texts, stopwords=BM25_SETTINGS["stopwords"], stemmer=Stemmer.Stemmer(BM25_SETTINGS["stemmer"]), **options,
    )
