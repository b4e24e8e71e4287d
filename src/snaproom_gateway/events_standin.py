"""Stand-in for `events.publisher` and `events.handlers.handles` until the events branch merges.

It writes the contract's envelope into the real outbox table (so a write and its event share a
transaction) and records handler registrations; nothing relays or consumes here. Remove with
events_bridge.py's fallback once the events package is merged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from snaproom_gateway import SERVICE_NAME, __version__
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.request_context import request_id

TOPIC_BY_PREFIX = {"user": "user-events", "audit": "audit-events", "profile": "analytics-events",
                   "message": "message-events", "connection": "connection-events",
                   "notification": "notification-events"}

registered_handlers: list[tuple[str, str, Callable[..., Any]]] = []


def handles(pattern: str, *, group: str, broadcast: bool = False
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        registered_handlers.append((pattern, group, function))
        return function

    return register


async def publish(session: AsyncSession, event: str, *, user_id: int | None, data: dict,
                  key: str | None = None) -> str:
    event_id = str(uuid7())
    envelope = {
        "id": event_id,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "service": SERVICE_NAME, "version": __version__,
        "data": {"event": event, "user_id": user_id, "data": data},
        "correlation_id": request_id.get(),
    }
    topic = TOPIC_BY_PREFIX.get(event.split(".", 1)[0], "system-events")
    session.add(OutboxEvent(event_id=event_id, topic=topic,
                            key=key or (str(user_id) if user_id is not None else None),
                            payload=orjson.dumps(envelope), attempts=0))
    return event_id


async def publish_user_event(session: AsyncSession, event: str, user_id: int, data: dict) -> str:
    return await publish(session, event, user_id=user_id, data=data)


async def publish_audit_event(session: AsyncSession, action: str, user_id: int | None,
                              context: dict) -> str:
    return await publish(session, f"audit.{action}", user_id=user_id,
                         data={"action": action, "context": context})
