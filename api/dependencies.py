"""What the routes share: the services loaded at start-up, injected with ``Depends``.

The heavy objects (index, models, spaCy, the conversation store) are created once in the
app's lifespan and kept on ``app.state``; routes receive them through the dependencies
below, which tests replace with ``app.dependency_overrides``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from qa.chat_store import ChatStore
from qa.config import Settings


@dataclass
class Services:
    """Everything a request needs, loaded once.

    Attributes:
        pipeline: the :class:`qa.pipeline.QAPipeline`.
        nlp: spaCy pipeline with parser and entities, for follow-up resolution.
        store: where conversations are kept.
        lock: serialises use of the models (spaCy and the answerer are not meant to be
            shared between threads; the machine has few cores anyway).
    """

    pipeline: object
    nlp: object
    store: ChatStore
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class AppState:
    """What the lifespan leaves on ``app.state.qa``: the services, or why they are missing."""

    settings: Settings
    services: Services | None = None
    error: str | None = None


def get_state(request: Request) -> AppState:
    return request.app.state.qa


def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


def get_services(state: Annotated[AppState, Depends(get_state)]) -> Services:
    """The loaded services; 503 while the index is not loaded (or failed to load)."""
    if state.services is None:
        detail = f"the index is not loaded: {state.error}" if state.error else "the index is still loading; retry shortly"
        raise HTTPException(status_code=503, detail=detail, headers={"Retry-After": "5"})
    return state.services


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]
