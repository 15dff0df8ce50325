"""The FastAPI application: lifespan (load once), error translation, routers and the web page."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.dependencies import AppState, Services
from api.routes import ask, chat, documents, health, openai_compat, web
from index.errors import CorpusError, IndexCorrupt, IndexMismatch, IndexNotFound, QAError
from qa.chat_store import ChatStore, default_chat_db
from qa.config import Settings
from qa.errors import InvalidQuestion

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"

ServicesLoader = Callable[[Settings], Services]


def load_services(settings: Settings) -> Services:
    """Open the index (building it from ``settings.corpus`` first if there is none), the models and the store."""
    from qa.pipeline import QAPipeline

    pipeline = QAPipeline.open(settings, on_step=logger.info)
    pipeline.warm_up()
    store = ChatStore(settings.chat_db or default_chat_db(settings.index_dir), settings.chat_ttl_seconds)
    return Services(pipeline=pipeline, nlp=pipeline.analyzer.nlp, store=store)


def create_app(settings: Settings | None = None, *, loader: ServicesLoader = load_services) -> FastAPI:
    """Build the app.

    Args:
        settings: configuration (default: from the environment).
        loader: builds the services at start-up; tests pass one with fake models.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = AppState(settings)
        app.state.qa = state
        logger.info("loading the index from %s", settings.index_dir)
        try:
            state.services = await asyncio.to_thread(loader, settings)
        except QAError as exc:
            # Keep serving: /health and every route that needs the index answer 503 with the reason.
            state.error = str(exc)
            logger.error("the index could not be loaded: %s", exc)
        else:
            manifest = state.services.pipeline.index.manifest
            logger.info("ready: %d document(s), %d chunk(s), model %s",
                        len(manifest.documents), manifest.num_chunks, manifest.model)
        try:
            yield
        finally:
            if state.services is not None:
                state.services.store.close()

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
    )
    _add_error_handlers(app)
    for module in (health, ask, chat, documents, openai_compat, web):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidQuestion)
    async def invalid_question(request: Request, exc: InvalidQuestion) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(QAError)
    async def domain_error(request: Request, exc: QAError) -> JSONResponse:
        status = 503 if isinstance(exc, (IndexNotFound, IndexCorrupt, IndexMismatch, CorpusError)) else 400
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
