"""The one publish path: validate against the catalog, write an outbox row in the caller's
transaction. The caller commits; the relay then sends the row to Kafka (or the in-process bus).

Kafka being down never fails a write: nothing here talks to Kafka.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.cache.invalidation import tags_for_event
from snaproom_gateway.cache.stale import mark_stale
from snaproom_gateway.events.catalog import (
    MAX_EVENT_BYTES,
    EventSchemaError,
    EventTooLargeError,
    canonical_name,
    spec_for,
    validate_data,
)
from snaproom_gateway.events.envelope import Envelope, EventBody
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.wakeup import PENDING_KEY
from snaproom_gateway.observability.request_context import request_id
from snaproom_gateway.observability.tracecontext import publish_header

__all__ = [
    "EventSchemaError",
    "EventTooLargeError",
    "publish",
    "publish_audit_event",
    "publish_notification_event",
    "publish_user_event",
]


def build_envelope(event: str, *, user_id: int | None, data: dict[str, Any]) -> Envelope:
    """The envelope of a catalogued event; raises EventSchemaError when it does not fit."""
    name = canonical_name(event)
    clean = validate_data(name, data)
    return Envelope(data=EventBody(event=name, user_id=user_id, data=clean),
                    correlation_id=request_id.get())


async def publish(session: AsyncSession, event: str, *, user_id: int | None, data: dict,
                  key: str | None = None) -> Envelope:
    """Add the event to the outbox in `session`'s transaction and return its envelope.

    Raises EventSchemaError at once for an unknown event or data that does not match its schema,
    EventTooLargeError for an envelope over MAX_EVENT_BYTES (Kafka would refuse it).
    The key orders events: one key's events are published, and land on a partition, in order.
    """
    envelope = build_envelope(event, user_id=user_id, data=data)
    if key is None and user_id is not None:
        key = str(user_id)
    elif key is None and isinstance(data.get("dependency"), str):
        key = data["dependency"]  # system.*: one dependency's opened/closed stay in order
    payload = envelope.to_bytes()
    if len(payload) > MAX_EVENT_BYTES:
        raise EventTooLargeError(f"{envelope.event}: envelope of {len(payload):,} bytes is over "
                                 f"the {MAX_EVENT_BYTES:,}-byte limit")
    session.add(OutboxEvent(event_id=envelope.id, topic=spec_for(envelope.event).topic, key=key,
                            payload=payload, attempts=0,
                            traceparent=publish_header(envelope.event),
                            correlation_id=envelope.correlation_id))
    # Wakes this process's relay after the commit; other instances' relays hear the NOTIFY
    # that the outbox's insert trigger sends (migration 0005).
    session.info[PENDING_KEY] = True
    # Read-your-writes: what the event makes stale is dropped right after the commit.
    mark_stale(session, tags_for_event(envelope.event, user_id, envelope.data.data))
    return envelope


async def publish_user_event(session: AsyncSession, event: str, user_id: int,
                             data: dict) -> Envelope:
    """KafkaService::publishUserEvent('user.created', $userId, $userData)."""
    name = canonical_name(event)
    if not name.startswith("user."):
        raise EventSchemaError(f"{name!r} is not a user event")
    return await publish(session, name, user_id=user_id, data=data)


async def publish_notification_event(session: AsyncSession, channel: str, user_id: int,
                                     data: dict) -> Envelope:
    """KafkaService::publishNotificationEvent('email', $userId, $emailData).

    `data` may carry `kind` (what the notification is about); the rest becomes the payload.
    """
    payload = dict(data)
    kind = str(payload.pop("kind", channel))
    if isinstance(payload.get("payload"), dict) and len(payload) == 1:
        payload = payload["payload"]
    return await publish(session, "notification.created", user_id=user_id,
                         data={"channel": channel, "kind": kind, "payload": payload})


async def publish_audit_event(session: AsyncSession, action: str, user_id: int | None,
                              context: dict) -> Envelope:
    """KafkaService::publishAuditEvent('user.login', $userId, $contextData) -> audit.user.login."""
    return await publish(session, f"audit.{action}", user_id=user_id,
                         data={"action": action, "context": context})
