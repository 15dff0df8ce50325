"""The FastAPI application: lifespan (load once), error translation, routers and the web page."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.dependencies import AppState, Services, require_api_key
from api.limits import BodySizeLimit, TimeLimit
from api.routes import api_docs, ask, chat, documents, health, openai_compat, web
from api.schemas import ErrorOut
from qa.chat_store import open_chat_store
from qa.config import Settings
from qa.errors import (ChatStoreUnavailable, CorpusError, IndexCorrupt, IndexMismatch, IndexNotFound, InvalidQuestion,
                       QAError)

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"

ServicesLoader = Callable[[Settings], Services]
_LIMIT_RESPONSES = {
    401: {"model": ErrorOut, "description": "Missing or wrong API key (only when `QA_API_KEY` is set)."},
    413: {"model": ErrorOut, "description": "The request body is larger than `QA_MAX_BODY_BYTES`."},
    504: {"model": ErrorOut, "description": "Not answered within `QA_REQUEST_TIMEOUT_SECONDS`."},
}


async def in_own_thread(function: Callable[[Settings], Services], settings: Settings) -> Services:
    """``function(settings)`` on a thread of its own that ends with it.

    Loading warms the models up, which gives the loading thread an OpenMP team; a thread that
    lived on (asyncio's default pool) would keep that team beside the models' own thread and
    slow every answer (see :func:`api.dependencies.model_thread`).
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-loading")
    try:
        return await asyncio.get_running_loop().run_in_executor(executor, function, settings)
    finally:
        executor.shutdown(wait=False)  # the thread ends once the loading is done


def load_services(settings: Settings) -> Services:
    """Open the index (building it from ``settings.corpus`` first if there is none), the models and the store."""
    from qa.pipeline import QAPipeline

    pipeline = QAPipeline.open(settings, on_step=logger.info)
    services = Services(pipeline=pipeline, nlp=pipeline.analyzer.nlp, store=open_chat_store(settings))
    services.run(pipeline.warm_up)  # on the thread that will answer
    return services


def create_app(settings: Settings | None = None, *, loader: ServicesLoader = load_services) -> FastAPI:
    """Build the app.

    Args:
        settings: configuration (default: from the environment).
        loader: builds the services at start-up; tests pass one with fake models.
    """
    settings = settings or Settings()

    async def load(state: AppState) -> None:
        logger.info("loading the index from %s", settings.index_dir)
        try:
            services = await in_own_thread(loader, settings)
        except QAError as exc:
            # Keep serving: /health and every route that needs the index answer 503 with the reason.
            state.error = str(exc)
            logger.error("the index could not be loaded: %s", exc)
        except Exception as exc:  # a model that fails to load must not leave /health saying "loading"
            state.error = f"{type(exc).__name__}: {exc}"
            logger.exception("the services could not be loaded")
        else:
            state.services = services
            manifest = services.pipeline.index.manifest
            logger.info("ready: %d document(s), %d chunk(s), model %s",
                        len(manifest.documents), manifest.num_chunks, manifest.model)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = AppState(settings)
        app.state.qa = state
        loading = None
        if settings.load_in_background:
            # Answer at once: /health says 503 "still loading" until the index is ready.
            loading = asyncio.create_task(load(state))
        else:
            await load(state)
        try:
            yield
        finally:
            if loading is not None:
                await loading  # a thread cannot be cancelled; let it finish, then close what it opened
            if state.services is not None:
                state.services.close()

    app = FastAPI(
        title="qa-bot",
        summary="Answers questions from its documents with verbatim quotes and citations.",
        description=(
            "An extractive question-answering service. Every answer is a span copied from a document, "
            "with the sentence that supports it and citations whose `url` opens the document with the "
            "span highlighted. When the documents do not say, `found` is false and `answer` is null.\n\n"
            "`POST /chat` keeps conversations and resolves follow-ups (pronouns, \"What about X?\"); "
            "`POST /v1/chat/completions` speaks the OpenAI chat protocol."
        ),
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served offline by api.routes.api_docs
        redoc_url=None,  # ReDoc exists only as a CDN script
    )
    _add_error_handlers(app)
    # /health, the page shell (/, /static) and the API description (/docs, /openapi.json) hold no
    # data and must load in a browser before it knows the key; everything else needs the key.
    for module in (health, web):
        app.include_router(module.router)
    for module in (ask, chat, documents, openai_compat):
        app.include_router(module.router, dependencies=[Depends(require_api_key)], responses=_LIMIT_RESPONSES)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    api_docs.mount_docs(app)
    # Added innermost first: CORS wraps everything so that even 401/413/504 answers carry its headers.
    app.add_middleware(TimeLimit, seconds=settings.request_timeout_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidQuestion)
    async def invalid_question(request: Request, exc: InvalidQuestion) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(QAError)
    async def domain_error(request: Request, exc: QAError) -> JSONResponse:
        unavailable = (IndexNotFound, IndexCorrupt, IndexMismatch, CorpusError, ChatStoreUnavailable)
        status = 503 if isinstance(exc, unavailable) else 400
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own shape (a list of problems), minus the echoed input: a 2,000-character
        # message need not come back in full.
        errors = [{k: v for k, v in error.items() if k not in {"input", "url", "ctx"}} for error in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error; the server log has the details"})
