"""The audit trail: append and query (never update or delete)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.audit.models import AuditEntry


async def append(session: AsyncSession, *, event_id: str, action: str, user_id: int | None,
                 context: dict[str, Any], correlation_id: str | None,
                 occurred_at: datetime) -> bool:
    """Add one entry; False when this event id is already in the trail (a redelivery)."""
    if await session.scalar(select(AuditEntry.id).where(AuditEntry.event_id == event_id)):
        return False
    session.add(AuditEntry(event_id=event_id, action=action[:64], user_id=user_id,
                           context=context, correlation_id=correlation_id,
                           occurred_at=occurred_at))
    return True


async def search(session: AsyncSession, *, user_id: int | None, action: str | None,
                 limit: int, before_id: int | None = None) -> list[AuditEntry]:
    """Newest first; `before_id` pages further back."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list((await session.scalars(query)).all())
