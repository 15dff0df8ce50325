"""GET /health: is the index loaded, and which one."""

from __future__ import annotations

from fastapi import APIRouter

from api.dependencies import ServicesDep
from api.schemas import ErrorOut, HealthOut
from qa.pipeline import answerer_name

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Index status",
            responses={503: {"model": ErrorOut, "description": "The index is not loaded (yet).",
                             "content": {"application/json": {"example": {
                                 "detail": "the index is still loading; retry shortly"}}}}})
def health(services: ServicesDep) -> HealthOut:
    """Documents, chunks, embedding model and build time of the loaded index, and what answers; 503 while it is not loaded."""
    manifest = services.pipeline.index.manifest
    return HealthOut(documents=len(manifest.documents), chunks=manifest.num_chunks,
                     model=manifest.model, built_at=str(manifest.built_at),
                     answerer=answerer_name(services.pipeline.answerer))
