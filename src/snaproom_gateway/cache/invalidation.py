"""Event-driven invalidation: domain events name the cache tags they make stale.

Writes in the domains never delete cache keys; they publish events (through the outbox). Each
domain exports the rules that turn its events into tags (`<domain>/cache_tags.py`); the app
includes them (api/subscriptions.py). Two readers use the included rules: the publisher marks the
tags on the writing session so they are dropped right after its commit (cache/stale.py), and the
handler below, run by a consumer on every instance (broadcast), invalidates them again as the
durable backstop. A failed invalidation raises, so the consumer retries instead of committing
past it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from snaproom_gateway.events.catalog import canonical_name
from snaproom_gateway.events.envelope import Envelope
from snaproom_gateway.events.subscribers import HandlerContext, Subscribers

# (the event's user id, its data) -> the tags it makes stale
TagRule = Callable[[Any, Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class CacheTagRules:
    """A domain's events and the tags each makes stale. `pattern` is what the cache's broadcast
    consumer subscribes to for them: the domain's whole family, so every instance's consumer
    takes the same events whichever of them change something cached."""

    pattern: str
    rules: Mapping[str, TagRule]


_rules: dict[str, TagRule] = {}

# Where the other party of an event between two users may be named in its data (the catalog's
# MessageSent/ConnectionChange carry from_user_id and to_user_id).
_PEER_FIELDS = ("to_user_id", "recipient_id", "receiver_id", "target_user_id", "peer_id")


def event_parties(user_id: Any, data: Mapping[str, Any]) -> tuple[Any, Any]:
    """The sender and the other party of an event between two users (None when not named)."""
    sender = data.get("from_user_id", user_id)
    peer = next((data[f] for f in _PEER_FIELDS if data.get(f) is not None), None)
    if peer is not None and str(peer) == str(sender) and user_id is not None:
        peer = user_id if str(user_id) != str(sender) else None
    return sender, peer


def tags_for_event(event_name: str, user_id: Any, data: Mapping[str, Any] | None) -> list[str]:
    """The cache tags an event makes stale ([] for events that change nothing cached)."""
    rule = _rules.get(canonical_name(event_name))
    if rule is None:
        return []
    return rule(user_id, data if isinstance(data, Mapping) else {})


async def invalidate_for_event(envelope: Envelope, ctx: HandlerContext) -> int:
    """The consumer handler: invalidate what the event names, on this instance's cache."""
    payload = envelope.data
    tags = tags_for_event(payload.event, payload.user_id, payload.data)
    if not tags or ctx.cache is None:
        return 0
    return await ctx.cache.invalidate_tags(tags)


def include_rules(*rule_sets: CacheTagRules) -> Subscribers:
    """Make `rule_sets` the tag rules, and return the cache's subscribers for their events.

    Broadcast: every instance consumes, so each drops its own L1 even when Redis pub/sub is down;
    the Redis-side invalidation is idempotent."""
    _rules.clear()
    subscribers = Subscribers()
    for rule_set in rule_sets:
        _rules.update(rule_set.rules)
        subscribers.subscriber(rule_set.pattern, group="cache", broadcast=True)(
            invalidate_for_event)
    return subscribers
