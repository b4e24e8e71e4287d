"""The cache tags the connections domain's events make stale (included by the app into the
cache): both sides' connection lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snaproom_gateway.cache.invalidation import CacheTagRules, event_parties
from snaproom_gateway.connections.service import cache_tag


def _both_sides(user_id: Any, data: Mapping[str, Any]) -> list[str]:
    return [cache_tag(party) for party in event_parties(user_id, data) if party is not None]


connection_cache_tags = CacheTagRules("connection.*", {
    "connection.requested": _both_sides,
    "connection.accepted": _both_sides,
    "connection.rejected": _both_sides,
})
