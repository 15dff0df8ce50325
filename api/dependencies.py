"""What the routes share: the services loaded at start-up, injected with ``Depends``.

The heavy objects (index, models, spaCy, the conversation store) are created once in the
app's lifespan and kept on ``app.state``; routes receive them through the dependencies
below, which tests replace with ``app.dependency_overrides``.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Callable, Iterator, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qa.chat_store import ChatStore
from qa.config import Settings
from qa.conversation import ConversationEngine

if TYPE_CHECKING:  # loading them is the lifespan's job, not an import's
    from spacy.language import Language

    from qa.pipeline import QAPipeline


class ModelsBusy(HTTPException):
    """503: the models stayed busy with other requests until this request's time limit."""

    def __init__(self, waited: float) -> None:
        super().__init__(status_code=503, headers={"Retry-After": "5"}, detail=(
            f"the server is busy answering other questions (waited {waited:.1f} s); retry shortly"))


T = TypeVar("T")


class FifoLock:
    """A lock that goes to its waiters in the order they asked for it.

    ``threading.Lock`` hands itself to whichever waiter the OS wakes first: under more requests
    than the models can serve, a request could wait while later ones went ahead, and be refused
    as busy (503) although it came first. Here the oldest waiter is next, and a waiter that gives
    up (its time limit) leaves the line without holding anyone up.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._line: deque[threading.Condition] = deque()
        self._held = False

    def acquire(self, timeout: float = -1) -> bool:
        """Wait for the lock (``timeout`` seconds at most, ``-1``: without limit); whether it was got."""
        end = math.inf if timeout < 0 else time.monotonic() + timeout
        with self._mutex:
            if not self._held and not self._line:
                self._held = True
                return True
            turn = threading.Condition(self._mutex)
            self._line.append(turn)
            while self._held or self._line[0] is not turn:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    first = self._line[0] is turn
                    self._line.remove(turn)
                    if first and not self._held and self._line:
                        self._line[0].notify()
                    return False
                turn.wait(None if remaining == math.inf else remaining)
            self._line.popleft()
            self._held = True
            return True

    def release(self) -> None:
        with self._mutex:
            if not self._held:
                raise RuntimeError("release of an unheld FifoLock")
            self._held = False
            if self._line:
                self._line[0].notify()

    def waiting(self) -> int:
        """How many are waiting in line."""
        with self._mutex:
            return len(self._line)

    def __enter__(self) -> "FifoLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def model_thread() -> ThreadPoolExecutor:
    """The one thread that runs the models (the thread starts on the first task).

    torch and FAISS use an OpenMP runtime that gives every thread that runs parallel work a team
    of worker threads of its own, and once a process holds more of them than it has cores, the
    runtime stops spinning between parallel regions: every layer of every model then waits for
    its workers to wake up. Answering on FastAPI's request threads, after loading on another,
    put the server's time 22 ms above the in-process time (`bench/bench_latency.py --url`), and
    the reader alone is 1.08-1.34x slower with a second team (`bench/bench_threads.py`). One
    thread for all model work keeps one team.
    """
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-models")


@dataclass
class Services:
    """Everything a request needs, loaded once.

    Attributes:
        pipeline: the index, the retriever and the answerer.
        nlp: spaCy pipeline with parser and entities, for follow-up resolution.
        store: where conversations are kept.
        lock: serialises use of the models: spaCy, torch, faiss and bm25s objects are shared
            and not documented as thread-safe, the answerer keeps caches, and the machine has
            few cores, so one request at a time uses them, in the order they came
            (:class:`FifoLock`, :meth:`models`).
        worker: the thread every use of the models runs on (:func:`model_thread`, :meth:`run`).
        conversations: the follow-up resolver every chat route uses (made on first use).
    """

    pipeline: QAPipeline
    nlp: Language
    store: ChatStore
    lock: FifoLock = field(default_factory=FifoLock)
    worker: ThreadPoolExecutor = field(default_factory=model_thread, repr=False)

    @cached_property
    def conversations(self) -> ConversationEngine:
        return ConversationEngine(self.pipeline, self.nlp)

    def run(self, work: Callable[[], T], deadline: float = math.inf) -> T:
        """Run ``work`` (which uses the pipeline or ``nlp``) on the models' thread, holding the
        models (:meth:`models`), and return its result; its exceptions propagate.

        Raises:
            ModelsBusy: the models were not free before the deadline.
        """
        with self.models(deadline):
            return self.worker.submit(work).result()

    def close(self) -> None:
        """Stop the models' thread (after its current task) and close the store."""
        self.worker.shutdown(wait=True)
        self.store.close()

    @contextmanager
    def models(self, deadline: float = math.inf) -> Iterator[None]:
        """Hold the models for one request; every use of the pipeline or ``nlp`` goes through here.

        Args:
            deadline: ``time.monotonic()`` by which the request must be done.

        Raises:
            ModelsBusy: the models were not free before the deadline.
        """
        started = time.monotonic()
        # Give up a little before the deadline, so that a request that never got the models is
        # told "busy" (503) rather than cut off by the time limit (504).
        timeout = -1 if deadline == math.inf else max(0.0, (deadline - started) * 0.9)
        if not self.lock.acquire(timeout=timeout):
            raise ModelsBusy(time.monotonic() - started)
        try:
            yield
        finally:
            self.lock.release()


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


def get_deadline(request: Request) -> float:
    """When this request must be answered (``time.monotonic()``), set by the time-limit middleware."""
    return getattr(request.state, "deadline", math.inf)


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <QA_API_KEY>` (only when a key is set).")


def require_api_key(state: Annotated[AppState, Depends(get_state)],
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """401 unless ``Settings.api_key`` is unset or the request carries it as a bearer token."""
    key = state.settings.api_key
    if key is None:
        return
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(status_code=401, detail="missing API key: send the header 'Authorization: Bearer <key>'",
                            headers=challenge)
    # Constant-time comparison of the raw header bytes (Starlette decodes headers as latin-1)
    # with the key's UTF-8 bytes, so timing tells nothing and a non-ASCII key works too.
    if not hmac.compare_digest(credentials.credentials.encode("latin-1"), key.get_secret_value().encode("utf-8")):
        raise HTTPException(status_code=401, detail="invalid API key", headers=challenge)


def server_timing(**stages: float) -> str:
    """A ``Server-Timing`` header value from stage durations in seconds (the header counts in ms),
    e.g. ``wait;dur=0.1, retrieve;dur=12.3, answer;dur=70.2``: browsers' developer tools and
    load balancers show where a request's time went."""
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in stages.items())


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServicesDep = Annotated[Services, Depends(get_services)]
DeadlineDep = Annotated[float, Depends(get_deadline)]
