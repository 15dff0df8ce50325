"""Citations: where a chosen span lies in its document, and the answer that quotes and cites it."""

from __future__ import annotations

from index.corpus import CorpusIndex
from qa.answerer.types import ScoredSpan
from qa.models import Answer, Citation, citation_url


def span_offsets(span: ScoredSpan) -> tuple[int, int]:
    """Document character offsets of a scored span."""
    doc = span.sentence.span.doc
    tokens = doc[span.candidate.start : span.candidate.end]
    return span.sentence.offset + tokens.start_char, span.sentence.offset + tokens.end_char


def build_answer(question: str, chosen: ScoredSpan, index: CorpusIndex, confidence: float) -> Answer:
    """The answer object for ``chosen``: its text, the quote around it (its sentence) and the citation."""
    sentence = chosen.sentence
    start, end = span_offsets(chosen)
    document = index.document(sentence.doc_id)
    quote_start, quote_end = min(sentence.start, start), max(sentence.end, end)
    text = document.text
    citation = Citation(
        doc_id=document.doc_id,
        title=document.title,
        start=start,
        end=end,
        quote_start=quote_start,
        quote_end=quote_end,
        url=citation_url(document.doc_id, start, end),
        page=document.page_at(start),
    )
    return Answer(
        question=question,
        answer=text[start:end],
        found=True,
        confidence=round(confidence, 4),
        quote=text[quote_start:quote_end],
        citations=[citation],
    )
