"""/api/admin/cache: stats and manual invalidation (off until admin auth lands: 404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, StringConstraints

from snaproom_gateway.api.auth import require_admin
from snaproom_gateway.api.deps import CacheDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.cache.tagged import CacheUnavailable

router = APIRouter(prefix="/api/admin/cache", tags=["admin", "cache"],
                   dependencies=[Depends(require_admin)], responses=error_responses(401, 403))

Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-{}/@=]{1,200}$")]


class InvalidateRequest(BaseModel):
    tags: list[Tag] = Field(min_length=1, max_length=1000)


class InvalidateResult(BaseModel):
    tags: list[str]
    invalidated: int


@router.get("/stats")
async def cache_stats(cache: CacheDep) -> dict[str, Any]:
    return await cache.stats()


@router.post("/invalidate")
async def invalidate(body: InvalidateRequest, cache: CacheDep) -> InvalidateResult:
    try:
        removed = await cache.invalidate_tags(body.tags)
    except CacheUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from None
    return InvalidateResult(tags=body.tags, invalidated=removed)
