"""Rule- and feature-based extractive answerer.

The answerer works on the sentences of the retrieved chunks, parsed once at index time:

1. :func:`score_sentences` ranks sentences by IDF-weighted term overlap with the question,
   embedding similarity and retrieval rank.
2. :func:`generate_candidates` proposes spans of a sentence: named entities, noun phrases,
   prepositional phrases, clauses, adjectives, quoted words, titles and appositives.
3. :func:`score_candidate` scores a span for a question: answer-type match, syntactic
   closeness to the words the question shares with the sentence, length.
4. :func:`check_support` decides whether the chosen sentence (and its neighbours) really
   supports an answer, and :func:`calibrate_confidence` turns the evidence into [0, 1].

Each step is a pure function of plain data and spaCy objects so that a learned reader can
reuse candidate generation or the support check and be combined with these scores.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import replace, dataclass, field
from functools import lru_cache
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np

from index.analysis import SpacyAnalyzer, sentence_spans
from index.cache import LRUCache
from index.embedding import Embedder, embed_query
from index.store import CorpusIndex
from qa.errors import InvalidQuestion
from qa.models import Answer, Citation, citation_url
from qa.question import (
    DATE,
    DESCRIPTION,
    LOCATION,
    MANNER,
    NUMBER,
    ORGANIZATION,
    PERSON,
    POSSESSOR,
    REASON,
    STRICT_TYPES,
    THING,
    QuestionAnalysis,
    analyze_question,
    is_content,
    is_person_noun,
    term_of,
)
from qa.retrieval import RetrievedPassage

DEFAULT_MIN_CONFIDENCE = 0.35
#: Sentences of the retrieved chunks whose candidates are considered.
MAX_SENTENCES = 6
MAX_CANDIDATE_TOKENS = 25
#: At most this many sentences are embedded per question (the rest are cached from earlier ones).
MAX_EMBEDDED_SENTENCES = 12
_QUOTE = re.compile(r"[\"“”]([^\"“”]{1,80})[\"“”]|'([^']{3,60})'")
_REASON_MARKERS = {"because", "since", "as", "so", "due", "in order", "for"}
_NEIGHBOUR_WEIGHT = 0.6
#: Parsed documents kept decoded, in spaCy tokens (about 120 bytes each: 60 MB).
MAX_CACHED_TOKENS = 500_000
#: Sentence vectors kept for questions about the same passages (1.5 KB each with MiniLM).
MAX_CACHED_VECTORS = 50_000


# --------------------------------------------------------------------------- corpus statistics


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


@dataclass
class _IndexCache:
    stats: CorpusStats
    spans: DocumentSentences  # doc_id -> [(block offset, sentence Span)]
    # The index's own sentence vectors: (doc_id, positions) -> rows (zeros where it has none).
    stored: Callable[[str, Sequence[int]], np.ndarray]
    # Vectors of sentences embedded at question time (those the index holds none for), by
    # (doc_id, sentence position).
    vectors: LRUCache[tuple[str, int], np.ndarray] = field(default_factory=lambda: LRUCache(MAX_CACHED_VECTORS))


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


# --------------------------------------------------------------------------- sentence selection


@dataclass(frozen=True)
class ScoredSentence:
    """A sentence of a retrieved chunk and how well it matches the question.

    Attributes:
        doc_id: document id.
        index: position in the document's sentence list.
        start: character offset of the sentence in the document.
        end: end offset.
        offset: character offset of the parsed block the span belongs to.
        span: the parsed sentence (spaCy ``Span``).
        lexical: IDF-weighted fraction of question terms found in the sentence.
        semantic: cosine similarity of question and sentence embeddings (0 without embedder).
        rank: best retrieval rank of a chunk containing the sentence (1 = first).
        score: combined score.
    """

    doc_id: str
    index: int
    start: int
    end: int
    offset: int
    span: object
    lexical: float
    semantic: float
    rank: int
    score: float


_DERIVING_SUFFIXES = ("s", "es", "n", "an", "ian", "ese", "ish", "i", "d", "ed", "ing", "al")


def terms_match(a: str, b: str) -> bool:
    """Whether two terms are the same word, allowing derived forms ("korea" / "korean")."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 4 and long_.startswith(short) and long_[len(short):] in _DERIVING_SUFFIXES


def _question_forms(question: QuestionAnalysis) -> tuple[tuple[str, str], ...]:
    words = question.content_words or question.content_lemmas
    return tuple(zip(question.content_lemmas, words))


@lru_cache(maxsize=1 << 16)
def _matched_lemmas(forms: tuple[tuple[str, str], ...], term: str, lower: str) -> frozenset[str]:
    """The lemmas of ``forms`` (question lemma, surface word) that a token with normalised
    ``term`` and lower-case text ``lower`` matches; memoised, since the same few hundred words
    are compared with the same question many times while one question is answered."""
    return frozenset(lemma for lemma, word in forms
                     if terms_match(lemma, term) or terms_match(word, lower) or terms_match(lemma, lower))


def _token_matched_lemmas(token, forms: tuple[tuple[str, str], ...]) -> frozenset[str]:
    return _matched_lemmas(forms, term_of(token), token.lower_)


def matched_terms(question: QuestionAnalysis, tokens) -> set[str]:
    """The question's content lemmas that some token of ``tokens`` matches."""
    forms = _question_forms(question)
    found: set[str] = set()
    for token in tokens:
        if is_content(token):
            found |= _token_matched_lemmas(token, forms)
    return found


def is_anchor(token, question: QuestionAnalysis) -> bool:
    """Whether a sentence token matches one of the question's content words."""
    return is_content(token) and bool(_token_matched_lemmas(token, _question_forms(question)))


def lexical_overlap(question: QuestionAnalysis, tokens, stats: CorpusStats) -> float:
    """IDF-weighted fraction of the question's content terms that occur among ``tokens``."""
    total = sum(stats.idf(t) for t in question.content_lemmas)
    if total <= 0:
        return 0.0
    return sum(stats.idf(t) for t in matched_terms(question, tokens)) / total


def combine_sentence_score(lexical: float, semantic: float, rank: int) -> float:
    """Score of a sentence from its lexical overlap, embedding similarity and retrieval rank."""
    return 0.55 * lexical + 0.45 * max(semantic, 0.0) + 0.05 / rank


def score_sentences(
    question: QuestionAnalysis,
    sentences: Sequence[tuple[str, int, int, int, int, object, int]],
    similarities: Sequence[float],
    stats: CorpusStats,
) -> list[ScoredSentence]:
    """Rank candidate sentences for a question.

    Args:
        question: the analysed question.
        sentences: ``(doc_id, index, start, end, block offset, span, retrieval rank)`` per sentence.
        similarities: embedding similarity of each sentence to the question (same order).
        stats: corpus statistics for IDF.

    Returns:
        Scored sentences, best first.
    """
    scored = []
    for (doc_id, i, start, end, offset, span, rank), semantic in zip(sentences, similarities):
        lexical = lexical_overlap(question, span, stats)
        scored.append(
            ScoredSentence(doc_id, i, start, end, offset, span, lexical, float(semantic), rank,
                           combine_sentence_score(lexical, float(semantic), rank))
        )
    return sorted(scored, key=lambda s: (-s.score, s.rank, s.doc_id, s.index))


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class CandidateSpan:
    """A span of a parsed sentence that might answer the question.

    Attributes:
        start: index of the first token in the block ``Doc``.
        end: index one past the last token.
        kind: how it was found: "entity", "noun", "prep", "clause", "adjective", "quote",
            "title", "appos", "predicate".
        head: index of its syntactic head token.
    """

    start: int
    end: int
    kind: str
    head: int


def _trim(doc, start: int, end: int) -> tuple[int, int]:
    """Drop punctuation, spaces and leading conjunctions/wh-words at the edges of a token range."""
    while start < end and (doc[start].is_punct or doc[start].is_space or doc[start].dep_ in {"cc", "punct"}):
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space or doc[end - 1].dep_ == "cc"):
        end -= 1
    return start, end


def core_subtree(token, lo: int, hi: int) -> tuple[int, int]:
    """Token range of ``token``'s subtree without coordinated conjuncts and relative clauses,
    clipped to ``[lo, hi)``."""
    start, end = token.left_edge.i, token.right_edge.i + 1
    for child in token.rights:
        if child.dep_ in {"cc", "conj", "relcl", "punct"} and child.i > token.i:
            if child.dep_ == "punct" and child.text not in {",", ";", "—", "–", "("}:
                continue
            end = min(end, child.left_edge.i)
    start, end = max(start, lo), min(end, hi)
    return _trim(token.doc, start, end)


def _name_tokens(span, target: str) -> list[tuple[int, int]]:
    """Token ranges of ``span`` whose text is the target name or ends a longer mention of it."""
    words = target.lower().split()
    last = words[-1]
    found = []
    for token in span:
        if token.lower_ == last or (len(words) == 1 and token.lower_.removesuffix("'s") == last):
            begin = token.i - len(words) + 1
            if begin >= span.start and [t.lower_ for t in token.doc[begin : token.i + 1]] == words:
                found.append((begin, token.i + 1))
            elif token.ent_type_ == "PERSON" or token.pos_ == "PROPN":
                # A surname alone refers to the same person ("Lindqvist said ...").
                left = token.i
                while left - 1 >= span.start and token.doc[left - 1].pos_ == "PROPN" and token.doc[left - 1].ent_iob_ == "I" :
                    left -= 1
                found.append((left, token.i + 1))
    return found


def description_candidates(span, target: str) -> list[CandidateSpan]:
    """Titles, appositives and predicates that describe ``target`` in a sentence.

    "press secretary Jane Roe" → "press secretary"; "Jane Roe, the mayor of X," → "the mayor of X";
    "Jane Roe is a painter" → "a painter"; "Jane Roe chairs the board" → "chairs the board".
    """
    doc = span.doc
    out: list[CandidateSpan] = []
    for begin, stop in _name_tokens(span, target):
        name_head = doc[stop - 1]
        # Title words right before the name in the same noun phrase.
        left = begin
        while left - 1 >= span.start and doc[left - 1].dep_ in {"compound", "amod", "nmod", "poss", "case", "det"} \
                and doc[left - 1].head.i in range(left - 1, stop) and not doc[left - 1].is_punct:
            left -= 1
        while left < begin and doc[left].dep_ in {"det"}:
            left += 1
        if left < begin and any(t.pos_ in {"NOUN", "PROPN", "ADJ"} for t in doc[left:begin]):
            out.append(CandidateSpan(left, begin, "title", begin - 1))
        # "X, the mayor of Y," and "the mayor of Y, X": appositions.
        for child in name_head.children:
            if child.dep_ == "appos" and child.i >= stop:
                s, e = core_subtree(child, span.start, span.end)
                if e > s:
                    out.append(CandidateSpan(s, e, "appos", child.i))
        if name_head.dep_ == "appos" and name_head.head.i < begin:
            governor = name_head.head
            s, e = governor.left_edge.i, begin
            s, e = _trim(doc, max(s, span.start), e)
            if e > s:
                out.append(CandidateSpan(s, e, "appos", governor.i))
        # "X is a painter" / "X chairs the board".
        if name_head.dep_ in {"nsubj", "nsubjpass"}:
            verb = name_head.head
            if verb.lemma_ == "be":
                for child in verb.rights:
                    if child.dep_ in {"attr", "acomp"}:
                        s, e = core_subtree(child, span.start, span.end)
                        if e > s:
                            out.append(CandidateSpan(s, e, "appos", child.i))
            elif verb.pos_ == "VERB":
                ends = [core_subtree(c, span.start, span.end)[1] for c in verb.rights if c.dep_ in {"dobj", "attr", "prep", "xcomp"}]
                if ends:
                    out.append(CandidateSpan(verb.i, max(ends), "predicate", verb.i))
    return out


def _noun_chunks(span) -> list[tuple[int, int, int]]:
    """``(start, end, root)`` token positions of the noun chunks of a sentence, kept on its Doc:
    the same sentences come back question after question, and spaCy finds them anew each time."""
    kept = span.doc.user_data.setdefault("qa_noun_chunks", {})
    key = (span.start, span.end)
    if key not in kept:
        kept[key] = [(chunk.start, chunk.end, chunk.root.i) for chunk in span.noun_chunks]
    return kept[key]


def generate_candidates(span, question: QuestionAnalysis) -> list[CandidateSpan]:
    """Propose answer spans inside a parsed sentence.

    Args:
        span: the sentence (a spaCy ``Span`` of a block ``Doc``).
        question: the analysed question (decides which special kinds are proposed).

    Returns:
        Unique candidate spans, at most ``MAX_CANDIDATE_TOKENS`` tokens long.
    """
    doc = span.doc
    lo, hi = span.start, span.end
    found: dict[tuple[int, int], CandidateSpan] = {}

    def add(start: int, end: int, kind: str, head: int) -> None:
        start, end = _trim(doc, max(start, lo), min(end, hi))
        if end <= start:
            return
        # Never cut a name in half: grow the span to whole entities at both edges.
        while start > lo and doc[start].ent_iob_ == "I":
            start -= 1
        while end < hi and doc[end].ent_iob_ == "I":
            end += 1
        if end - start > MAX_CANDIDATE_TOKENS:
            return
        if (start, end) not in found:
            found[(start, end)] = CandidateSpan(start, end, kind, head)

    for ent in span.ents:
        add(ent.start, ent.end, "entity", ent.root.i)
    for start, end, root in _noun_chunks(span):
        add(start, end, "noun", root)
    for token in span:
        if token.pos_ in {"NOUN", "PROPN", "NUM"}:
            s, e = core_subtree(token, lo, hi)
            add(s, e, "noun", token.i)
        elif token.dep_ == "prep" or (token.dep_ == "agent"):
            s, e = core_subtree(token, lo, hi)
            add(s, e, "prep", token.i)
        elif token.dep_ in {"advcl", "xcomp", "ccomp", "acl", "pcomp", "relcl"} and token.pos_ in {"VERB", "AUX"}:
            s, e = core_subtree(token, lo, hi)
            add(s, e, "clause", token.i)
            # The clause without its subordinating conjunction ("that ...").
            marks = [c for c in token.lefts if c.dep_ == "mark" and c.i == s]
            if marks:
                add(s + 1, e, "clause", token.i)
        elif token.pos_ == "ADJ" or token.dep_ in {"acomp", "oprd"}:
            add(token.i, token.i + 1, "adjective", token.i)
    text = span.text
    for match in _QUOTE.finditer(text):
        group = 1 if match.group(1) is not None else 2
        quote = doc.char_span(span.start_char + match.start(group), span.start_char + match.end(group),
                              alignment_mode="contract")
        if quote is not None and len(quote):
            add(quote.start, quote.end, "quote", quote.root.i)
    if question.target:
        for candidate in description_candidates(span, question.target):
            found[(candidate.start, candidate.end)] = candidate
    return list(found.values())


# --------------------------------------------------------------------------- span scoring


def tree_distance(a, b, limit: int = 8) -> int:
    """Number of dependency edges between two tokens of the same sentence (``limit`` if farther)."""
    # spaCy makes a new Token object on each access: compare positions, never identity.
    ancestors_a = {a.i: 0}
    node, d = a, 0
    while node.head.i != node.i and d < limit:
        node, d = node.head, d + 1
        ancestors_a[node.i] = d
    node, d = b, 0
    while True:
        if node.i in ancestors_a:
            return min(limit, d + ancestors_a[node.i])
        if node.head.i == node.i or d >= limit:
            return limit
        node, d = node.head, d + 1


_ROLE_DEPS = {
    "nsubj": {"nsubj", "agent"},
    "nsubjpass": {"nsubjpass", "nsubj", "dobj"},
    "dobj": {"dobj", "attr", "xcomp", "ccomp", "oprd", "nsubjpass", "acomp", "dative", "pobj"},
    "attr": {"attr", "nsubj", "dobj", "acomp", "xcomp", "ccomp", "advcl"},
    "pobj": {"pobj", "dative", "acl", "ccomp", "dobj"},
    "poss": {"poss", "compound", "amod", "pobj"},
    "det": {"dobj", "nsubj", "attr", "pobj"},
    "advmod": {"prep", "npadvmod", "advmod", "advcl", "agent"},
}


def role_score(question: QuestionAnalysis, candidate: CandidateSpan, tokens, anchors) -> float:
    """Bonus for a span that fills, next to the question's matched words, the role of the wh-phrase.

    The span's governor (the verb or noun it depends on, looking through a preposition) must be
    a matched word or have a matched dependent, and the span's relation must fit the wh-phrase's
    role: subject for "who did", object or complement for "what did", adverbial for "where/when".
    """
    if not anchors or question.wh_role is None:
        return 0.0
    doc = tokens.doc
    head = doc[candidate.head]
    dep = head.dep_
    governor = head.head
    if dep == "appos":
        # "An aide, Jane Roe, said ...": the name takes the role of the noun it renames.
        dep, governor = governor.dep_, governor.head
    if candidate.kind == "prep":
        dep = "prep"
    elif dep == "pobj" and governor.dep_ in {"prep", "agent"}:
        dep = "agent" if governor.dep_ == "agent" or governor.lower_ == "by" else "pobj"
        if question.wh_role == "advmod" and governor.dep_ == "prep":
            dep = "prep"  # "in March" answers "when" as well as "March" does
        governor = governor.head
    anchor_ids = {a.i for a in anchors}
    attached = governor.i in anchor_ids or any(c.i in anchor_ids for c in governor.children)
    if not attached:
        return 0.0
    wanted = _ROLE_DEPS.get(question.wh_role, set())
    if dep not in wanted:
        return 0.0
    on_focus = question.focus_verb is not None and governor.i in anchor_ids and \
        terms_match(term_of(governor), question.focus_verb)
    if not on_focus:
        return 0.3
    # An adverbial of the question's own verb is what "where/when/how did X <verb>" asks for.
    return 0.85 if question.wh_role == "advmod" else 0.6


#: Nouns that measure a length of time.
_TIME_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year", "decade", "century"})


def is_duration_modifier(tokens) -> bool:
    """Whether a span is a length of time that describes a thing ("four-year" of "a four-year
    war", "10-day" of "the 10-day festival"): an attribute, not a point in time."""
    root = tokens.root
    return (root.lemma_.lower() in _TIME_UNITS and root.dep_ in {"compound", "amod", "nmod"}
            and not tokens.start <= root.head.i < tokens.end and root.head.pos_ in {"NOUN", "PROPN"}
            and any(child.dep_ == "nummod" or child.like_num for child in root.children))


def type_score(question: QuestionAnalysis, tokens, candidate: CandidateSpan) -> float:
    """How well a span fits the expected answer type, in [0, 1]."""
    kind = candidate.kind
    head = tokens.doc[candidate.head]
    n = len(tokens)
    ents = [t.ent_type_ for t in tokens if t.ent_type_]
    share = (sum(1 for label in ents if label in question.labels) / n) if question.labels else 0.0
    kind_t = question.answer_type
    if kind_t == DESCRIPTION:
        return {"title": 1.0, "appos": 1.0, "predicate": 0.7}.get(kind, 0.0)
    if kind_t == PERSON:
        persons = sum(1 for label in ents if label == "PERSON") / n
        if persons >= 0.5:
            return 0.7 + 0.3 * persons
        if share >= 0.5:
            return 0.6
        if head.pos_ == "PROPN":
            return 0.5
        if head.pos_ == "NOUN" and is_person_noun(head.lemma_.lower()):
            return 0.35
        if head.pos_ == "PRON" and head.lower_ in {"they", "he", "she", "them", "him", "her"}:
            return 0.2
        return 0.3 if kind in {"noun", "entity"} else 0.0
    if kind_t in STRICT_TYPES:
        if kind_t == DATE and is_duration_modifier(tokens):
            return 0.0  # "four-year" of "a four-year war" says how long, never when
        if kind_t == NUMBER and head.pos_ == "NOUN" and any(t.like_num and t.head.i == head.i for t in tokens) \
                and share > 0:
            return 1.0  # the amount with its unit: "40 million euros"
        if share >= 0.5:
            return 0.7 + 0.3 * share
        if share > 0:
            return 0.5 + 0.2 * share
        if kind_t == NUMBER and any(t.like_num for t in tokens):
            return 0.6
        return 0.0
    if kind_t == LOCATION:
        places = sum(1 for label in ents if label in {"GPE", "LOC", "FAC"}) / n
        if places > 0:
            base = 0.6 + 0.4 * places
            return base if kind != "prep" else min(1.0, base + 0.05)
        if share > 0:
            return 0.45
        if kind == "prep" and head.lower_ in {"in", "at", "on", "near", "from", "to", "inside", "outside"}:
            return 0.45
        return 0.1 if kind == "noun" else 0.0
    if kind_t == ORGANIZATION:
        if share > 0:
            return 0.6 + 0.4 * share
        return 0.3 if head.pos_ == "PROPN" else (0.15 if kind == "noun" else 0.0)
    if kind_t == POSSESSOR:
        if question.head_noun and any(t.dep_ == "poss" and term_of(t.head) == question.head_noun for t in tokens):
            return 1.0  # "whose position" → "our position"
        if any(t.dep_ == "poss" for t in tokens):
            return 0.6
        if share > 0:
            return 0.6
        return 0.2 if kind == "noun" else 0.0
    if kind_t == REASON:
        first = tokens[0].lower_
        if kind in {"clause", "prep"} and (first in _REASON_MARKERS or first == "to" or
                                            (first == "so" and n > 1)):
            return 1.0
        return 0.3 if kind == "clause" else 0.0
    if kind_t == MANNER:
        if question.wants_wording:
            return {"quote": 1.0, "adjective": 0.85, "noun": 0.2}.get(kind, 0.05)
        if kind == "prep" and tokens[0].lower_ in {"by", "with", "through", "via"}:
            return 0.9
        return {"adjective": 0.6, "quote": 0.5, "clause": 0.4}.get(kind, 0.05)
    # THING
    if question.wants_wording:
        return {"quote": 1.0, "adjective": 0.8}.get(kind, 0.2)
    if kind in {"noun", "entity"}:
        # Dates and amounts answer "when" and "how many", rarely "what".
        if ents and all(label in {"DATE", "TIME", "CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY"} for label in ents):
            return 0.2
        if head.dep_ == "compound":
            return 0.3  # a modifier cut from its noun phrase
        return 0.55
    if kind == "quote":
        return 0.5
    if kind == "clause":
        return 0.4
    if kind == "adjective":
        return 0.15
    return 0.1


def question_overlap(question: QuestionAnalysis, tokens) -> float:
    """Fraction of a span's content words that already appear in the question."""
    words = [t for t in tokens if is_content(t)]
    if not words:
        return 1.0 if all(t.is_punct or t.is_stop for t in tokens) else 0.0
    forms = _question_forms(question) + tuple((t, t) for t in question.proper_terms)
    hits = 0
    for token in words:
        if question.head_noun and term_of(token) == question.head_noun:
            continue
        if _token_matched_lemmas(token, forms):
            hits += 1
    return hits / len(words)


def length_prior(question: QuestionAnalysis, n_tokens: int, kind: str = "noun") -> float:
    """Penalty (≤ 0) for spans longer than what the answer type usually needs."""
    ideal = {REASON: 12, MANNER: 6, THING: 6, DESCRIPTION: 8}.get(question.answer_type, 4)
    if kind == "clause" and question.answer_type in {THING, REASON, MANNER}:
        ideal = 16
    if question.wants_wording:
        ideal = 3
    return -0.035 * max(0, n_tokens - ideal) - 0.006 * n_tokens


def sentence_anchors(question: QuestionAnalysis, span) -> list:
    """Tokens of a sentence that match the question's content words."""
    return [t for t in span if is_anchor(t, question)]


class CandidateParts(NamedTuple):
    """The terms of a candidate's rule score besides its type fit (features for a learned ranker)."""

    proximity: float  # closeness in the parse tree to the question's words in the sentence
    role: float  # syntactic role bonus for the answer type
    head_match: float  # the span's head is the question's head noun ("which city" / "the city of X")
    overlap: float  # fraction of the span's content words that the question already has
    length: float  # length prior (≤ 0)


def score_candidate(
    question: QuestionAnalysis, candidate: CandidateSpan, sentence: ScoredSentence, anchors: Sequence[object]
) -> tuple[float, float, CandidateParts | None]:
    """Score a candidate span.

    Args:
        question: the analysed question.
        candidate: a span of ``sentence``.
        sentence: the scored sentence it comes from.
        anchors: the sentence's tokens that match question words (:func:`sentence_anchors`).

    Returns:
        ``(score, type score, parts)``; the score is ``-inf`` (and the parts ``None``) for spans
        that only repeat the question.
    """
    doc = sentence.span.doc
    tokens = doc[candidate.start : candidate.end]
    overlap = question_overlap(question, tokens)
    if overlap >= 0.5 and question.answer_type != DESCRIPTION:
        return -math.inf, 0.0, None
    if question.head_noun and all(term_of(t) == question.head_noun for t in tokens if is_content(t)) \
            and not any(t.dep_ == "poss" for t in tokens):
        return -math.inf, 0.0, None  # "which provisions" is not answered by "provisions"
    head = doc[candidate.head]
    if candidate.kind in {"noun", "prep", "clause", "adjective"} and head.dep_ == "compound" and head.head.pos_ == "PROPN" \
            and not candidate.start <= head.head.i < candidate.end:
        return -math.inf, 0.0, None  # a title or first word cut from a name ("Mr." of "Mr. Smith")
    fit = type_score(question, tokens, candidate)
    anchors = [t for t in anchors if not (candidate.start <= t.i < candidate.end)]
    proximity = 0.0
    if anchors:
        distances = sorted(tree_distance(head, a) for a in anchors)
        proximity = sum(1.0 / (1 + d) for d in distances[:3]) / 3
    role = role_score(question, candidate, tokens, anchors)
    head_match = 0.0
    if question.head_noun and (term_of(head) == question.head_noun or term_of(head.head) == question.head_noun
                               and head.dep_ in {"compound", "amod", "nmod", "appos"}):
        head_match = 0.6
        if question.answer_type == PERSON and not any(t.ent_type_ == "PERSON" for t in tokens):
            head_match = 0.0  # "which adviser" asks for the adviser's name
    length = length_prior(question, len(tokens), candidate.kind)
    score = 1.1 * fit + 0.9 * proximity + role + head_match - 0.6 * overlap + length
    return score, fit, CandidateParts(proximity, role, head_match, overlap, length)


# --------------------------------------------------------------------------- support and confidence


@dataclass(frozen=True)
class Support:
    """How well the chosen sentence and its neighbours support the question.

    Attributes:
        coverage: IDF-weighted fraction of the question's terms found (neighbours count less).
        missing: question terms found neither in the sentence nor in its neighbours.
        absent_from_corpus: question names or entities that occur nowhere in the corpus.
        entities_supported: whether every question entity appears in the sentence or a neighbour.
        names_unsupported_are_people: whether an unsupported entity is a person's name.
        focus_missing: the question's main verb is found neither in the sentence nor its neighbours.
    """

    coverage: float
    missing: tuple[str, ...]
    absent_from_corpus: tuple[str, ...]
    entities_supported: bool
    names_unsupported_are_people: bool = False
    focus_missing: bool = False


def check_support(
    question: QuestionAnalysis, sentence, neighbours: Sequence[object], stats: CorpusStats
) -> Support:
    """Check that a sentence (with its neighbours) supports the question's terms and entities.

    Args:
        question: the analysed question.
        sentence: the parsed answer sentence.
        neighbours: parsed sentences right before and after it.
        stats: corpus statistics.
    """
    terms = list(question.content_lemmas)
    in_sentence = matched_terms(question, sentence)
    near = set()
    for other in neighbours:
        near |= matched_terms(question, other)
    total = sum(stats.idf(t) for t in terms)
    got = sum(stats.idf(t) * (1.0 if t in in_sentence else _NEIGHBOUR_WEIGHT) for t in in_sentence | near)
    coverage = got / total if total > 0 else 0.0
    missing = tuple(t for t in terms if t not in in_sentence and t not in near)
    names = list(question.entities) + [t for t in question.proper_terms
                                       if not any(t in e.lower() for e in question.entities)]
    absent = tuple(n for n in names if not stats.contains(n) and not stats.contains(n.removesuffix("'s")))
    window_text = " ".join([sentence.text] + [s.text for s in neighbours]).lower()
    def supported(name: str) -> bool:
        name = name.lower().removesuffix("'s")
        return name in window_text or any(terms_match(w, t) for w in name.split() for t in window_text.split())

    unsupported = [n for n in names if not supported(n)]
    people = {e.lower() for e in question.people}
    focus_missing = question.focus_verb is not None and not question.wants_wording and question.focus_verb in missing
    return Support(coverage, missing, absent, not unsupported,
                   any(n.lower() in people for n in unsupported), focus_missing)


def calibrate_confidence(support: Support, semantic: float, fit: float, margin: float) -> float:
    """Map the evidence for an answer to a confidence in [0, 1].

    Lexical coverage and embedding similarity are alternative routes to support: a paraphrase
    shares few words with its sentence but is close to it in embedding space.

    Args:
        support: the support check of the answer sentence.
        semantic: embedding similarity of the answer sentence to the question.
        fit: type score of the chosen span.
        margin: score gap to the best different answer of another sentence (≥ 0).
    """
    if support.absent_from_corpus or fit <= 0.0:
        return 0.0
    paraphrase = min(1.0, max(0.0, (semantic - 0.3) / 0.4))
    evidence = 0.5 * max(support.coverage, paraphrase) + 0.25 * max(semantic, 0.0) + 0.25 * fit \
        + 0.1 * min(margin, 1.0)
    if not support.entities_supported:
        evidence -= 0.25 if support.names_unsupported_are_people else 0.1
    if support.focus_missing and semantic < 0.5:
        # The question's own verb is nowhere near, and the sentence is not a close paraphrase.
        evidence -= 0.3
    if semantic < 0.25:
        evidence -= 0.15
    # A logistic squash centred where answers start to be right more often than not.
    return float(1.0 / (1.0 + math.exp(-8.0 * (evidence - 0.55))))


@dataclass(frozen=True)
class Evidence:
    """The support check of one candidate answer.

    Attributes:
        support: which question terms and names its sentence and neighbours hold.
        semantic: embedding similarity of its sentence to the question.
        fit: its answer-type score (0 for a strict type it does not fit).
        margin: score gap to the best rival answer, or the reader's agreement if larger.
        confidence: the hand-calibrated confidence (:func:`calibrate_confidence`).
    """

    support: Support
    semantic: float
    fit: float
    margin: float
    confidence: float


# --------------------------------------------------------------------------- the component


@dataclass(frozen=True)
class ScoredSpan:
    """A candidate with its score and the sentence it comes from."""

    candidate: CandidateSpan
    sentence: ScoredSentence
    score: float
    fit: float
    parts: CandidateParts | None = None


@dataclass
class Ranking:
    """What the rules found for a question: its analysis, candidate spans and sentences, best first."""

    analysis: QuestionAnalysis
    spans: list[ScoredSpan]
    sentences: list[ScoredSentence]
    cache: _IndexCache | None


#: English month names and their usual abbreviations.
_MONTHS = frozenset(m.lower() for m in (*calendar.month_name[1:], *calendar.month_abbr[1:]))
_YEAR = re.compile(r"\d{4}")


def _is_date_part(token, part: str) -> bool:
    """Whether ``token`` is a ``part`` ("year": 2013, "month": April) of a date."""
    text = token.text.rstrip(".").lower()
    return bool(_YEAR.fullmatch(text)) if part == "year" else text in _MONTHS


def narrow_to_date_part(chosen: ScoredSpan, head_noun: str | None) -> ScoredSpan:
    """For "What year ...?" or "Which month ...?", the year or month alone of a date answer.

    A span inside one date or time entity ("April 2013") that holds exactly one token of the
    asked part is narrowed to that token ("2013"); anything else is left as it is.
    """
    if head_noun not in ("year", "month"):
        return chosen
    doc = chosen.sentence.span.doc
    start, end = chosen.candidate.start, chosen.candidate.end
    inside = [e for e in doc.ents if e.label_ in ("DATE", "TIME") and e.start <= start and end <= e.end]
    if not inside or end - start < 2:
        return chosen
    parts = [t.i for t in doc[start:end] if _is_date_part(t, head_noun)]
    if len(parts) != 1:
        return chosen
    return replace(chosen, candidate=replace(chosen.candidate, start=parts[0], end=parts[0] + 1, head=parts[0]))


_STRAIGHT_QUOTES = frozenset({'"'})
_BRACKETS = (("(", ")"), ("[", "]"), ("\u201c", "\u201d"), ("\u2018", "\u2019"))


def balance_brackets(chosen: ScoredSpan) -> ScoredSpan:
    """Give an answer both halves of a quote or bracket it holds one half of (`good" bacteria`
    becomes `"good" bacteria`, `(ASM` becomes `(ASM)`), looking no further than its sentence; a
    half with no partner there is dropped when it sits at the answer's edge."""
    doc = chosen.sentence.span.doc
    low, high = chosen.sentence.span.start, chosen.sentence.span.end
    start, end = chosen.candidate.start, chosen.candidate.end
    quotes = [i for i in range(start, end) if doc[i].text in _STRAIGHT_QUOTES]
    if len(quotes) % 2:
        if end < high and doc[end].text in _STRAIGHT_QUOTES:
            end += 1
        elif start > low and doc[start - 1].text in _STRAIGHT_QUOTES:
            start -= 1
        elif quotes[-1] == end - 1:
            end -= 1
        elif quotes[0] == start:
            start += 1
    for opening, closing in _BRACKETS:
        depth = sum((t.text == opening) - (t.text == closing) for t in doc[start:end])
        if depth > 0:
            after = next((i for i in range(end, high) if doc[i].text == closing), None)
            if after is not None:
                end = after + 1
            elif doc[start].text == opening:
                start += 1
        elif depth < 0:
            before = next((i for i in range(start - 1, low - 1, -1) if doc[i].text == opening), None)
            if before is not None:
                start = before
            elif doc[end - 1].text == closing:
                end -= 1
    if end <= start or (start, end) == (chosen.candidate.start, chosen.candidate.end):
        return chosen
    head = chosen.candidate.head if start <= chosen.candidate.head < end else doc[start:end].root.i
    return replace(chosen, candidate=replace(chosen.candidate, start=start, end=end, head=head))


def tidy_span(chosen: ScoredSpan, analysis: QuestionAnalysis | None, *, before: ScoredSpan | None = None) -> ScoredSpan:
    """The final touches of an answer span: the asked part of a date (:func:`narrow_to_date_part`),
    then whole quotes and brackets (:func:`balance_brackets`).

    Given the question's ``analysis``, a span that ends up other than it was proposed (``before``,
    when ``chosen`` was already widened from it) gets the type fit of what it has become.
    """
    before = before or chosen
    chosen = balance_brackets(narrow_to_date_part(chosen, analysis.head_noun if analysis is not None else None))
    if analysis is not None and chosen.candidate != before.candidate:
        tokens = chosen.sentence.span.doc[chosen.candidate.start : chosen.candidate.end]
        chosen = replace(chosen, fit=type_score(analysis, tokens, chosen.candidate))
    return chosen


class RuleAnswerer:
    """Extracts a short verbatim answer from retrieved passages, or abstains.

    Args:
        analyzer: the spaCy analyser the index was built with (parses the question; its
            vocabulary decodes the parsed passages).
        embedder: sentence embedder for question–sentence similarity; ``None`` uses lexical
            evidence only.
        min_confidence: answers below this confidence are reported as not found.
        max_sentences: how many of the best sentences are searched for candidates.
    """

    def __init__(
        self,
        analyzer: SpacyAnalyzer,
        embedder: Embedder | None = None,
        *,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        max_sentences: int = MAX_SENTENCES,
    ) -> None:
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be in [0, 1]")
        if max_sentences < 1:
            raise ValueError("max_sentences must be positive")
        self.analyzer = analyzer
        self.embedder = embedder
        self.min_confidence = min_confidence
        self.max_sentences = max_sentences
        self._caches: dict[int, tuple[CorpusIndex, _IndexCache]] = {}

    # -- caches ---------------------------------------------------------------------------

    def _cache(self, index: CorpusIndex) -> _IndexCache:
        entry = self._caches.get(id(index))
        if entry is not None and entry[0] is index:
            return entry[1]
        stats = CorpusStats(index.terms.num_sentences, index.terms.document_frequency, index.phrase_occurs)
        cache = _IndexCache(stats, DocumentSentences(index, self.analyzer), index.stored_sentence_vectors)
        self._caches = {id(index): (index, cache)}  # one index at a time is plenty
        return cache

    def _similarities(self, cache: _IndexCache, question: str, keys: list[tuple[str, int]]) -> list[float]:
        if self.embedder is None or not keys:
            return [0.0] * len(keys)
        known: dict[tuple[str, int], np.ndarray] = {}
        by_document: dict[str, list[int]] = {}
        for doc_id, position in keys:
            by_document.setdefault(doc_id, []).append(position)
        for doc_id, positions in by_document.items():
            for position, vector in zip(positions, cache.stored(doc_id, positions)):
                if vector.any():
                    known[(doc_id, position)] = vector
        known.update({k: cache.vectors[k] for k in keys if k not in known and k in cache.vectors})
        missing = [k for k in keys if k not in known]
        if missing:
            vectors = self.embedder.embed([cache.spans[d][i][1].text for d, i in missing])
            for key, vector in zip(missing, vectors):
                cache.vectors[key] = known[key] = vector
        query = embed_query(self.embedder, question)
        return [float(np.dot(query, known[k])) for k in keys]

    def warm_up(self) -> None:
        """Load the spaCy model now (sentence vectors come with the index: nothing to embed)."""
        _ = self.analyzer.nlp

    # -- answering ------------------------------------------------------------------------

    def answer(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> Answer:
        """Answer ``question`` from ``passages`` of ``index``.

        Raises:
            InvalidQuestion: the question has no words.
        """
        ranking = self.rank(question, passages, index)
        if not ranking.spans:
            return Answer.not_found(ranking.analysis.text)
        return self.decide(ranking, tidy_span(ranking.spans[0], ranking.analysis), index)

    def rank(self, question: str, passages: list[RetrievedPassage], index: CorpusIndex) -> "Ranking":
        """Score the sentences of ``passages`` and the candidate spans of the best ones.

        Raises:
            InvalidQuestion: the question has no words.
        """
        if not question or not any(ch.isalnum() for ch in question):
            raise InvalidQuestion("the question is empty")
        analysis = analyze_question(self.analyzer(question.strip()))
        if not passages:
            return Ranking(analysis, [], [], None)
        cache = self._cache(index)
        rows = []
        seen = set()
        for rank, passage in enumerate(passages, start=1):
            chunk = passage.chunk
            doc_spans = cache.spans.get(chunk.doc_id, [])
            sentences = index.sentences.get(chunk.doc_id, [])
            for i in range(chunk.first_sentence, min(chunk.last_sentence + 1, len(doc_spans))):
                if (chunk.doc_id, i) in seen:
                    continue
                seen.add((chunk.doc_id, i))
                offset, span = doc_spans[i]
                start, end = sentences[i]
                rows.append((chunk.doc_id, i, start, end, offset, span, rank))
        if not rows:
            return Ranking(analysis, [], [], cache)
        if len(rows) > MAX_EMBEDDED_SENTENCES:
            # Embedding is the costly step: keep the sentences with the most lexical evidence.
            lexical = {id(r): lexical_overlap(analysis, r[5], cache.stats) + 0.2 / r[6] for r in rows}
            rows = sorted(rows, key=lambda r: -lexical[id(r)])[:MAX_EMBEDDED_SENTENCES]
        similarities = self._similarities(cache, analysis.text, [(r[0], r[1]) for r in rows])
        scored_sentences = score_sentences(analysis, rows, similarities, cache.stats)

        best: list[ScoredSpan] = []
        for sentence in scored_sentences[: self.max_sentences]:
            anchors = sentence_anchors(analysis, sentence.span)
            for candidate in generate_candidates(sentence.span, analysis):
                score, fit, parts = score_candidate(analysis, candidate, sentence, anchors)
                if score == -math.inf:
                    continue
                best.append(ScoredSpan(candidate, sentence, score + 1.6 * sentence.score, fit, parts))
        best.sort(key=lambda s: -s.score)
        return Ranking(analysis, best, scored_sentences, cache)

    def evidence(self, ranking: "Ranking", chosen: ScoredSpan, *, agreement: float = 0.0) -> "Evidence":
        """Support check of ``chosen``: what its sentence and neighbours say for the question.

        Args:
            ranking: what :meth:`rank` returned for the question.
            chosen: the span to answer with (the best of the ranking, or one a reader picked).
            agreement: in [0, 1], how strongly an independent reader backs the same span; it
                stands in for the score margin over rival answers.
        """
        analysis, best, cache = ranking.analysis, ranking.spans, ranking.cache
        chosen_text = chosen.sentence.span.doc[chosen.candidate.start : chosen.candidate.end].text.lower()
        rival = next((s for s in best if s is not chosen and (s.sentence.index != chosen.sentence.index
                                                              or s.sentence.doc_id != chosen.sentence.doc_id)
                      and s.sentence.span.doc[s.candidate.start : s.candidate.end].text.lower() not in chosen_text
                      and chosen_text not in s.sentence.span.doc[s.candidate.start : s.candidate.end].text.lower()),
                     None)
        margin = chosen.score - rival.score if rival is not None else 1.0
        margin = max(margin, agreement)

        sentence = chosen.sentence
        doc_spans = cache.spans[sentence.doc_id]
        neighbours = [doc_spans[j][1] for j in (sentence.index - 1, sentence.index + 1) if 0 <= j < len(doc_spans)]
        support = check_support(analysis, sentence.span, neighbours, cache.stats)
        fit = chosen.fit
        if analysis.answer_type in STRICT_TYPES and fit < 0.5:
            fit = 0.0
        # Without an embedder, lexical overlap stands in for similarity.
        semantic = sentence.semantic if self.embedder is not None else sentence.lexical
        return Evidence(support, semantic, fit, margin, calibrate_confidence(support, semantic, fit, margin))

    def decide(self, ranking: "Ranking", chosen: ScoredSpan, index: CorpusIndex, *, agreement: float = 0.0) -> Answer:
        """Check the support of ``chosen`` and turn it into an answer, or abstain.

        Args:
            ranking: what :meth:`rank` returned for the question.
            chosen: the span to answer with (the best of the ranking, or one a reader picked).
            index: the index the passages come from.
            agreement: see :meth:`evidence`.
        """
        confidence = self.evidence(ranking, chosen, agreement=agreement).confidence
        if confidence < self.min_confidence:
            return Answer.not_found(ranking.analysis.text, confidence)
        return self.build_answer(ranking.analysis.text, chosen, index, confidence)

    @staticmethod
    def expand_to_entities(chosen: ScoredSpan, analysis: QuestionAnalysis | None = None) -> ScoredSpan:
        """Widen a span that cuts through a named entity so that it covers the whole entity.

        An answer is never half a name or half a date ("month" of "earlier this month"), unless
        the question asks for that part of a date. The result gets the final touches of
        :func:`tidy_span` (given ``analysis``, the question's).
        """
        doc = chosen.sentence.span.doc
        start, end = chosen.candidate.start, chosen.candidate.end
        for entity in doc.ents:
            if entity.start < end and start < entity.end and (entity.start < start or entity.end > end):
                start, end = min(start, entity.start), max(end, entity.end)
        widened = chosen
        if (start, end) != (chosen.candidate.start, chosen.candidate.end):
            widened = replace(chosen, candidate=replace(chosen.candidate, start=start, end=end))
        return tidy_span(widened, analysis, before=chosen)

    def sentence_at(self, ranking: "Ranking", index: CorpusIndex, doc_id: str, position: int, rank: int) -> ScoredSentence:
        """The scored sentence ``position`` of ``doc_id``, scoring it now if :meth:`rank` did not."""
        for sentence in ranking.sentences:
            if sentence.doc_id == doc_id and sentence.index == position:
                return sentence
        cache = ranking.cache
        offset, span = cache.spans[doc_id][position]
        start, end = index.sentences[doc_id][position]
        similarity = self._similarities(cache, ranking.analysis.text, [(doc_id, position)])
        scored = score_sentences(ranking.analysis, [(doc_id, position, start, end, offset, span, rank)], similarity, cache.stats)[0]
        ranking.sentences.append(scored)
        return scored

    def score_span(self, ranking: "Ranking", sentence: ScoredSentence, char_start: int, char_end: int) -> ScoredSpan | None:
        """Score an arbitrary span of a sentence (given in document offsets) with the rule features.

        Returns ``None`` when the offsets do not fall on tokens of the sentence, or the span only
        repeats the question.
        """
        doc = sentence.span.doc
        span = doc.char_span(char_start - sentence.offset, char_end - sentence.offset, alignment_mode="expand")
        if span is None or len(span) == 0:
            return None
        root = span.root
        candidate = CandidateSpan(span.start, span.end, "reader", root.i)
        score, fit, parts = score_candidate(ranking.analysis, candidate, sentence,
                                            sentence_anchors(ranking.analysis, sentence.span))
        if score == -math.inf:
            return None
        return ScoredSpan(candidate, sentence, score + 1.6 * sentence.score, fit, parts)

    @staticmethod
    def build_answer(question: str, chosen: ScoredSpan, index: CorpusIndex, confidence: float) -> Answer:
        """The answer object for ``chosen``: its text, the quote around it and the citation."""
        sentence = chosen.sentence
        doc = sentence.span.doc
        tokens = doc[chosen.candidate.start : chosen.candidate.end]
        start = sentence.offset + tokens.start_char
        end = sentence.offset + tokens.end_char
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
