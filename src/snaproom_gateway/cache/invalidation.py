"""Event-driven invalidation: domain events name the cache tags they make stale.

Writes in the domains never delete cache keys; they publish events (through the outbox), and
the handler below, run by a consumer on every instance (broadcast), invalidates the tags. A
failed invalidation raises, so the consumer retries instead of committing past it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from snaproom_gateway.cache.keys import conversation_tag

log = logging.getLogger(__name__)

# DevConnect's event names, mapped onto the dotted names (DESIGN.md).
LEGACY_NAMES = {
    "USER_SIGNUP": "user.created",
    "USER_UPDATED": "user.updated",
    "PROFILE_UPDATED": "user.updated",
    "USER_DELETED": "user.deleted",
    "MESSAGE_SENT": "message.sent",
    "MESSAGE_DELETED": "message.deleted",
    "CONNECTION_REQUEST": "connection.requested",
    "CONNECTION_ACCEPTED": "connection.accepted",
    "CONNECTION_REJECTED": "connection.rejected",
}

USER_EVENTS = ("user.created", "user.updated", "user.profile_updated", "profile.updated",
               "user.deleted", "user.deletion_started", "user.restored", "user.role_changed",
               "user.status_changed")
MESSAGE_EVENTS = ("message.sent", "message.edited", "message.deleted", "message.read")
CONNECTION_EVENTS = ("connection.requested", "connection.accepted", "connection.rejected",
                     "connection.removed", "connection.blocked")
INVALIDATING_EVENTS = USER_EVENTS + MESSAGE_EVENTS + CONNECTION_EVENTS + tuple(LEGACY_NAMES)

# Where the other party of a message or connection event may be named in its data.
_PEER_FIELDS = ("recipient_id", "receiver_id", "to_user_id", "target_user_id", "peer_id",
                "other_user_id", "addressee_id")


def _peer(data: Mapping[str, Any] | None) -> Any:
    for field in _PEER_FIELDS:
        if data and data.get(field) is not None:
            return data[field]
    return None


def tags_for_event(event_name: str, user_id: Any, data: Mapping[str, Any] | None) -> list[str]:
    """The cache tags an event makes stale ([] for events that change nothing cached)."""
    name = LEGACY_NAMES.get(event_name, event_name)
    data = data if isinstance(data, Mapping) else {}
    if name == "user.created":
        return ["users:list"]
    if name in USER_EVENTS:
        return [f"user:{user_id}", "users:list"] if user_id is not None else ["users:list"]
    if name in MESSAGE_EVENTS:
        peer = _peer(data)
        if user_id is None or peer is None:
            log.warning("%s without both parties: no conversation to invalidate", name)
            return []
        return [conversation_tag(user_id, peer)]
    if name in CONNECTION_EVENTS:
        peer = _peer(data)
        tags = [f"connections:{user_id}"] if user_id is not None else []
        if peer is not None:
            tags.append(f"connections:{peer}")
        return tags
    return []


async def invalidate_for_event(envelope: Any, ctx: Any) -> int:
    """The consumer handler: invalidate what the event names, on this instance's cache."""
    payload = envelope.data
    tags = tags_for_event(payload.event, payload.user_id, payload.data)
    cache = getattr(ctx.state, "cache", None)
    if not tags or cache is None:
        return 0
    return await cache.invalidate_tags(tags)


# Registration with the event backbone's handler registry (events/handlers.py, merged from
# the events branch). Every instance consumes (broadcast) so each can act even before Redis
# pub/sub delivers; Redis-side invalidation is idempotent.
try:
    from snaproom_gateway.events.handlers import handles
except ImportError:  # the backbone is not in this build yet
    handles = None

if handles is not None:
    for _event_name in INVALIDATING_EVENTS:
        handles(_event_name, group="cache", broadcast=True)(invalidate_for_event)
