"""The cache tags the messages domain's events make stale (included by the app into the cache)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from snaproom_gateway.cache.invalidation import CacheTagRules, event_parties
from snaproom_gateway.cache.keys import conversation_tag

log = logging.getLogger(__name__)


def _conversation(user_id: Any, data: Mapping[str, Any]) -> list[str]:
    sender, peer = event_parties(user_id, data)
    if sender is None or peer is None:
        log.warning("message.sent without both parties: no conversation to invalidate")
        return []
    return [conversation_tag(sender, peer)]


message_cache_tags = CacheTagRules("message.*", {"message.sent": _conversation})
