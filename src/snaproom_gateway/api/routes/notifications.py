"""/api/notifications: the signed-in user's in-app notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from snaproom_gateway.api.auth import CurrentUser
from snaproom_gateway.api.deps import SessionDep
from snaproom_gateway.api.error_responses import error_responses
from snaproom_gateway.api.ratelimit import rate_limit
from snaproom_gateway.core.constants import MAX_ID
from snaproom_gateway.notifications import service
from snaproom_gateway.notifications.schemas import NotificationOut, NotificationPage

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage, summary="Your notifications, newest first",
            responses=error_responses(401))
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread: Annotated[bool, Query(description="Only the unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
) -> NotificationPage:
    rows = await service.page(session, user.id, unread=unread, limit=limit, before=before)
    items = [NotificationOut.model_validate(service.as_dict(r)) for r in rows]
    return NotificationPage(items=items,
                            next_before=items[-1].id if len(items) == limit else None)


@router.post("/{notification_id}/read", response_model=NotificationOut,
             summary="Mark one of your notifications read (idempotent)",
             responses=error_responses(401, 404, 429),
             dependencies=[Depends(rate_limit("writes", key="user"))])
async def mark_read(notification_id: Annotated[int, Path(gt=0, le=MAX_ID)], user: CurrentUser,
                    session: SessionDep) -> NotificationOut:
    row = await service.mark_read(session, user.id, notification_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Notification not found")
    await session.commit()
    return NotificationOut.model_validate(service.as_dict(row))
