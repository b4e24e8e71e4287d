"""`GET /api/admin/breakers`: every breaker's state, failure counts and last change.

Closed (404) unless ADMIN_API_ENABLED, until the auth domain puts admin authentication in front.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from snaproom_gateway.resilience.dependency import breakers
from snaproom_gateway.resilience.registry import BreakerRegistry


def admin_enabled(request: Request) -> None:
    if not request.app.state.settings.admin_api_enabled:
        raise HTTPException(status_code=404, detail="Not Found")


router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(admin_enabled)])


@router.get("/breakers", summary="Circuit breakers: state, failures, last change")
async def list_breakers(
    registry: Annotated[BreakerRegistry, Depends(breakers)],
) -> dict[str, Any]:
    return {"breakers": registry.snapshot()}
