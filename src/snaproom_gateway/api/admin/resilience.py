"""`GET /api/admin/breakers`: every breaker's state, failure counts and last change.

Admins only (401 without a session, 403 without the admin role).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from snaproom_gateway.api.auth import require_admin
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.resilience.dependency import breakers
from snaproom_gateway.resilience.registry import BreakerRegistry

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)],
                   responses=error_responses(401, 403))


@router.get("/breakers", summary="Circuit breakers: state, failures, last change")
async def list_breakers(
    registry: Annotated[BreakerRegistry, Depends(breakers)],
) -> dict[str, Any]:
    return {"breakers": registry.snapshot()}
