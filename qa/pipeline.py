"""The question-answering pipeline: index → hybrid retrieval → extractive answerer."""

from __future__ import annotations

import logging
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from index.analysis import SpacyAnalyzer
from index.build import build_index
from index.chunking import ChunkerSettings
from index.corpus import CorpusIndex
from index.documents import Document, SkippedFile, load_corpus
from index.embedding import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder, use_bf16
from index.errors import CorpusError, IndexNotFound
from index.extract import supported_suffixes
from index.load import load_index, stored_documents
from index.manifest import Manifest, current_version
from index.process import DocumentProcessor
from index.threads import ThreadBudget
from qa.answerer.types import Answerer
from qa.config import Settings
from qa.errors import InvalidQuestion
from qa.models import Answer
from qa.retrieval import HybridRetriever, RetrievedPassage

if TYPE_CHECKING:  # imported where used below, as before; here for the annotation only
    from qa.answerer.extractive import ExtractiveAnswerer

logger = logging.getLogger(__name__)


def clean_question(question: str, max_chars: int) -> str:
    """Validate a question and normalise its whitespace and control characters.

    Raises:
        InvalidQuestion: empty, too long, or without a single letter or digit.
    """
    if not isinstance(question, str):
        raise InvalidQuestion("the question must be text")
    if len(question) > max_chars:
        raise InvalidQuestion(f"the question is too long ({len(question)} characters; the limit is {max_chars})")
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in question)
    text = " ".join(text.split())
    if not text:
        raise InvalidQuestion("the question is empty")
    if not any(ch.isalnum() for ch in text):
        raise InvalidQuestion("the question has no words in it")
    return text


@dataclass(frozen=True)
class Question:
    """A question that passed :func:`clean_question`.

    Attributes:
        text: what the answerer answers.
        search_text: what retrieval searches for: the same text, or for a follow-up in a
            conversation, its words with those of the turns it refers to.
    """

    text: str
    search_text: str


@dataclass(frozen=True)
class Answered:
    """An answer, and the passages it was chosen from (best first)."""

    answer: Answer
    passages: list[RetrievedPassage]


#: The summary of an indexing run names at most this many skipped files.
SUMMARY_SKIPPED_NAMES = 5


@dataclass
class IndexReport:
    """What an indexing run did.

    Attributes:
        manifest: the index's recipe.
        skipped: the files not indexed, with their reasons.
        seconds: the whole run.
        types: how many documents of each file type (``{".pdf": 1}``), most first.
    """

    manifest: Manifest
    skipped: list[SkippedFile]
    seconds: float
    types: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """``indexed 3 documents (2 .txt, 1 .pdf); skipped 1: notes.pages (unsupported type)``."""
        count = sum(self.types.values()) or len(self.manifest.documents)
        by_type = ", ".join(f"{n} {suffix}" for suffix, n in self.types.items())
        line = f"indexed {count} document{'s' if count != 1 else ''}" + (f" ({by_type})" if by_type else "")
        if not self.skipped:
            return line + "; skipped 0"
        names = ", ".join(f"{Path(s.path).name} ({s.kind})" for s in self.skipped[:SUMMARY_SKIPPED_NAMES])
        more = len(self.skipped) - SUMMARY_SKIPPED_NAMES
        return f"{line}; skipped {len(self.skipped)}: {names}" + (f" and {more} more" if more > 0 else "")


def count_types(documents: Sequence[Document]) -> dict[str, int]:
    """How many documents of each file type (lower-case suffix), most first, then by name."""
    counts: dict[str, int] = {}
    for document in documents:
        suffix = Path(document.source).suffix.lower() or document.format
        counts[suffix] = counts.get(suffix, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def index_corpus(
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    analyzer: SpacyAnalyzer | None = None,
    show_progress: bool = False,
    on_step: Callable[[str], None] | None = None,
    processor: DocumentProcessor | None = None,
) -> IndexReport:
    """Load the documents under ``paths`` and build the index at ``settings.index_dir``
    (analysing and embedding new documents with ``processor``, e.g. on a Ray cluster, when given).

    Raises:
        CorpusError: a path is missing, or no document could be read.
    """
    started = time.perf_counter()
    documents, skipped = load_corpus(paths, reuse=stored_documents(settings.index_dir))
    say = on_step or logger.warning
    for item in skipped:
        say(f"skipped {item.path}: {item.reason}")
    if on_step:
        on_step(f"read {len(documents)} document(s) in {time.perf_counter() - started:.1f}s")
    if not documents:
        raise CorpusError(f"nothing to index in {', '.join(str(p) for p in paths)}: no readable document "
                          f"(supported: {', '.join(supported_suffixes())})")
    embedder = embedder or SentenceTransformerEmbedder(settings.model or DEFAULT_MODEL)
    analyzer = analyzer or SpacyAnalyzer(settings.spacy_model)
    manifest = build_index(
        documents, settings.index_dir, embedder, analyzer, ChunkerSettings(),
        dense_index=settings.dense_index, large_document_chars=settings.large_document_chars,
        embed_batch=settings.embed_batch_chunks, analysis_worker=settings.analysis_worker, threads=settings.threads,
        show_progress=show_progress, on_step=on_step, processor=processor,
    )
    return IndexReport(manifest, skipped, time.perf_counter() - started, count_types(documents))


def _reader_answerer(rules, folder: Path, settings: Settings, ranker_weights: Path | None) -> ExtractiveAnswerer:
    """The extractive answerer of the reader in ``folder`` with its ranker: ``ranker_weights``, else
    the folder's own ``ranker.json`` (a ranker is fitted to one reader's scores), else the shipped one."""
    from qa.answerer.extractive import ExtractiveAnswerer
    from qa.reader.reader import SpanReader

    reader = None
    if any(folder.glob("*.safetensors")):
        reader = SpanReader(str(folder), dynamic_int8=settings.reader_int8, bf16=use_bf16(settings.reader_bf16))
    else:
        logger.warning("no reader weights in %s: answering with the rules only", folder)
    ranker = None
    if reader is not None and settings.ranker:
        from qa.answerer.features import ANSWER_FEATURES, CANDIDATE_FEATURES
        from qa.answerer.ranker import DEFAULT_RANKER_PATH, LearnedRanker, RankerFormatError

        own = folder / DEFAULT_RANKER_PATH.name
        path = Path(ranker_weights or (own if own.is_file() else DEFAULT_RANKER_PATH))
        try:
            ranker = LearnedRanker.load(path, candidate_features=CANDIDATE_FEATURES, answer_features=ANSWER_FEATURES)
        except RankerFormatError as exc:
            if ranker_weights is not None:
                raise  # asked for by name: say so rather than answer differently
            logger.warning("%s: using the hand-set mixture instead", exc)
    return ExtractiveAnswerer(rules, reader, ranker=ranker, reader_passages=settings.reader_passages)


def reader_model(settings: Settings) -> str:
    """The reader set-up ``settings`` ask for, ``auto`` resolved: the cascade where the larger
    reader's base is installed, else MiniLM alone; a reader folder named by ``reader_weights``
    answers alone."""
    if settings.reader_model != "auto":
        return settings.reader_model
    from qa.reader.bases import MPNET, installed

    return "cascade" if settings.reader_weights is None and installed(MPNET) else "minilm"


def answerer_name(answerer: Answerer) -> str:
    """What answers, in a word for operators: ``cascade``, a shipped reader's name (``minilm``,
    ``mpnet``), the folder of other reader weights, ``rules``, or the class of an injected answerer;
    a cascade whose second reader could not load says so."""
    if hasattr(answerer, "second_unavailable"):
        if answerer.second_unavailable is None:
            return "cascade"
        return f"{answerer_name(answerer.first)} (the cascade's second reader could not load)"
    if not hasattr(answerer, "reader"):
        return type(answerer).__name__
    if answerer.reader is None:
        return "rules"
    from qa.reader.reader import SHIPPED_READERS

    path = str(Path(answerer.reader.weights_path))
    return next((name for name, folder in SHIPPED_READERS.items() if str(Path(folder)) == path), path)


def default_answerer(analyzer: SpacyAnalyzer, embedder: Embedder, settings: Settings | None = None) -> Answerer:
    """The answerer used when none is injected: the rules, joined by the learned reader when its
    weights are there (and ``settings.reader`` is on); in a cascade, the larger reader reads
    what MiniLM is unsure of (:class:`~qa.answerer.cascade.CascadeAnswerer`)."""
    from qa.answerer.extractive import ExtractiveAnswerer
    from qa.answerer.rules import RuleAnswerer

    settings = settings or Settings()
    rules = RuleAnswerer(analyzer, embedder)
    if not settings.reader:
        return ExtractiveAnswerer(rules, None, reader_passages=settings.reader_passages)
    from qa.reader.reader import SHIPPED_READERS

    model = reader_model(settings)
    folder = Path(settings.reader_weights or SHIPPED_READERS["mpnet" if model == "mpnet" else "minilm"])
    first = _reader_answerer(rules, folder, settings, settings.ranker_weights)
    if model != "cascade" or first.ranker is None:
        return first
    from qa.answerer.cascade import CascadeAnswerer

    second = _reader_answerer(rules, Path(SHIPPED_READERS["mpnet"]), settings, None)
    if second.ranker is None:
        return first
    return CascadeAnswerer(first, second, settings.cascade_below)


def index_problem(settings: Settings) -> str | None:
    """Why the index folder asked for cannot be answered from (it holds no index), or ``None``;
    only the default index is built from the default corpus on first use."""
    if settings.uses_default_index or current_version(settings.index_dir) is not None:
        return None
    return f"no index in {settings.index_dir}; build one with `qa index PATH --index-dir {settings.index_dir}`"


class QAPipeline:
    """Loads the index once and answers questions against it.

    Args:
        settings: configuration.
        embedder, analyzer, answerer: injectable components (tests pass fakes); by default
            built from the settings and the index manifest.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        index: CorpusIndex | None = None,
        embedder: Embedder | None = None,
        analyzer: SpacyAnalyzer | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.index = index or load_index(self.settings.index_dir, model=self.settings.model)
        self.embedder = embedder or SentenceTransformerEmbedder(self.index.manifest.model,
                                                                bf16=use_bf16(self.settings.embedder_bf16),
                                                                query_encoder=self.settings.query_encoder)
        self.analyzer = analyzer or SpacyAnalyzer(self.index.manifest.analyzer)
        self.retriever = HybridRetriever(self.index, self.embedder, candidates=self.settings.candidates)
        self.answerer = answerer or default_answerer(self.analyzer, self.embedder, self.settings)
        self.threads = ThreadBudget(self.settings.threads)

    @classmethod
    def open(
        cls, settings: Settings, *, on_step: Callable[[str], None] | None = None, **components
    ) -> "QAPipeline":
        """Load the index. Only the default index (no index folder asked for) is built from
        ``settings.corpus`` when there is none; an index folder asked for must exist, so that a
        typing error does not build the demo corpus somewhere and answer from it.

        Raises:
            IndexNotFound: an index folder was asked for and holds no index.
        """
        try:
            return cls(settings, **components)
        except IndexNotFound:
            if not settings.uses_default_index:
                raise
            say = on_step or logger.info
            say(f"no index at {settings.index_dir}: building one from {settings.corpus} first")
            index_corpus(
                [settings.corpus], settings, on_step=say,
                embedder=components.get("embedder"), analyzer=components.get("analyzer"),
            )
            return cls(settings, **components)

    def warm_up(self) -> None:
        """Load every model now, so the first question is as fast as the others."""
        warm = getattr(self.answerer, "warm_up", None)
        if warm is not None:
            warm()
        self.ask("warm up")

    def question(self, text: str | Question) -> Question:
        """``text`` validated and normalised (a :class:`Question` is taken as it is).

        Raises:
            InvalidQuestion: empty, too long, or without a single letter or digit.
        """
        if isinstance(text, Question):
            return text
        cleaned = clean_question(text, self.settings.max_question_chars)
        return Question(cleaned, cleaned)

    def search(self, question: str | Question, top_k: int | None = None) -> list[RetrievedPassage]:
        """Retrieve passages for a question (every question's first step: the models' threads are
        sized for it here, on the thread that runs them)."""
        self.threads.fit()
        return self.retriever.retrieve(self.question(question).search_text, top_k or self.settings.top_k)

    def run(self, question: str | Question, top_k: int | None = None, *,
            timings: dict[str, float] | None = None) -> Answered:
        """Retrieve, then answer: what every way of asking (``/ask``, the chat routes, ``qa ask``,
        ``qa chat``, ``qa eval``) goes through.

        Args:
            timings: when given, receives the seconds spent on ``retrieve`` and ``answer``.

        Raises:
            InvalidQuestion: the question cannot be asked (see :meth:`question`).
        """
        question = self.question(question)
        started = time.perf_counter()
        passages = self.search(question, top_k)
        retrieved = time.perf_counter()
        answer = self.answerer.answer(question.text, passages, self.index)
        if timings is not None:
            timings["retrieve"] = retrieved - started
            timings["answer"] = time.perf_counter() - retrieved
        return Answered(answer, passages)

    def ask(self, question: str | Question, top_k: int | None = None, *,
            timings: dict[str, float] | None = None) -> Answer:
        """Answer a question from the documents (``found=False`` when they do not say); see :meth:`run`."""
        return self.run(question, top_k, timings=timings).answer

    def candidates(self, question: str | Question, passages: list[RetrievedPassage] | None = None):
        """The passages (retrieved when not given) and the candidates the answerer's learned
        ranker would choose from, with their features (what ranker training records).

        Returns:
            ``(passages, list of qa.answerer.extractive.RankerCandidate)``.
        """
        question = self.question(question)
        passages = self.search(question) if passages is None else passages
        return passages, self.answerer.candidates(question.text, passages, self.index)
