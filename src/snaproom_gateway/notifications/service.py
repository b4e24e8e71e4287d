"""In-app notifications: store (idempotent by event id), list, mark read, purge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.notifications.models import Notification
from snaproom_gateway.users import service as users_service


def as_dict(row: Notification) -> dict[str, Any]:
    def utc(value: datetime | None) -> str | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()

    return {"id": row.id, "kind": row.kind, "payload": row.payload,
            "created_at": utc(row.created_at), "read_at": utc(row.read_at),
            "read": row.read_at is not None}


async def create(session: AsyncSession, user_id: int, kind: str, payload: dict[str, Any],
                 event_id: str) -> Notification | None:
    """Add the user's notification for `event_id`; None when it exists or the user is gone."""
    if await session.scalar(select(Notification.id).where(Notification.event_id == event_id)):
        return None
    user = await users_service.get(session, user_id)
    if user is None or user.status != users_service.ACTIVE:
        return None
    row = Notification(user_id=user_id, kind=kind, payload=payload, event_id=event_id,
                       created_at=datetime.now(UTC))
    session.add(row)
    await session.flush()
    return row


async def page(session: AsyncSession, user_id: int, *, unread: bool, limit: int,
               before: int | None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    if before is not None:
        query = query.where(Notification.id < before)
    return list((await session.scalars(query.order_by(Notification.id.desc()).limit(limit)))
                .all())


async def mark_read(session: AsyncSession, user_id: int, notification_id: int
                    ) -> Notification | None:
    row = await session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        return None
    if row.read_at is None:
        row.read_at = datetime.now(UTC)
    return row


async def purge_user(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(Notification).where(Notification.user_id == user_id))
