"""/api/admin/audit: the trail, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from snaproom_gateway.api.auth import AdminUser, require_admin
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.audit import service
from snaproom_gateway.audit.schemas import AuditEntryOut
from snaproom_gateway.core.constants import MAX_ID
from snaproom_gateway.users import events

router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)],
                   responses=error_responses(401, 403))



@router.get("/audit", response_model=list[AuditEntryOut], summary="Search the audit trail")
async def audit_trail(
    admin: AdminUser,
    session: SessionDep,
    user_id: Annotated[int | None, Query(gt=0, le=MAX_ID, description="Who acted")] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_.]+$",
                                        description="login, logout, login_failed, ...")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(gt=0, le=MAX_ID,
                                           description="Page back from this entry id")] = None,
) -> list[AuditEntryOut]:
    entries = await service.search(session, user_id=user_id, action=action, limit=limit,
                                   before_id=before_id)
    # Reading the trail is itself an admin action worth a line in it.
    await events.audit(session, "admin_audit_viewed", admin.id,
                       filters={"user_id": user_id, "action": action, "limit": limit,
                                "before_id": before_id})
    await session.commit()
    return [AuditEntryOut.model_validate(entry) for entry in entries]
