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

# Where the other party of a message or connection event may be named in its data (the
# catalog's MessageSent/ConnectionChange carry from_user_id and to_user_id).
_PEER_FIELDS = ("to_user_id", "recipient_id", "receiver_id", "target_user_id", "peer_id")


def _parties(user_id: Any, data: Mapping[str, Any]) -> tuple[Any, Any]:
    sender = data.get("from_user_id", user_id)
    peer = next((data[f] for f in _PEER_FIELDS if data.get(f) is not None), None)
    if peer is not None and str(peer) == str(sender) and user_id is not None:
        peer = user_id if str(user_id) != str(sender) else None
    return sender, peer


def tags_for_event(event_name: str, user_id: Any, data: Mapping[str, Any] | None) -> list[str]:
    """The cache tags an event makes stale ([] for events that change nothing cached)."""
    name = LEGACY_NAMES.get(event_name, event_name)
    data = data if isinstance(data, Mapping) else {}
    if name == "user.created":
        return ["users:list"]
    if name in USER_EVENTS:
        return [f"user:{user_id}", "users:list"] if user_id is not None else ["users:list"]
    if name in MESSAGE_EVENTS:
        sender, peer = _parties(user_id, data)
        if sender is None or peer is None:
            log.warning("%s without both parties: no conversation to invalidate", name)
            return []
        return [conversation_tag(sender, peer)]
    if name in CONNECTION_EVENTS:
        sender, peer = _parties(user_id, data)
        return [f"connections:{party}" for party in (sender, peer) if party is not None]
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
# the events branch). Broadcast: every instance consumes, so each drops its own L1 even when
# Redis pub/sub is down; the Redis-side invalidation is idempotent. The patterns take every
# event of the three topics; tags_for_event ignores those that change nothing cached.
try:
    from snaproom_gateway.events.handlers import handles
except ImportError:  # the backbone is not in this build yet
    handles = None

INVALIDATING_PATTERNS = ("user.*", "message.*", "connection.*")

if handles is not None:
    for _pattern in INVALIDATING_PATTERNS:
        handles(_pattern, group="cache", broadcast=True)(invalidate_for_event)
