"""Pushing to users' WebSockets on whichever instance holds them. Never fails the caller."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


async def push(state: Any, user_ids: list[int], payload: dict[str, Any]) -> bool:
    """Send `payload` ({"type": ...}) to every socket of `user_ids`. False when it could not
    be handed to the bus (Redis down): the data is in the database, the push is best effort."""
    bus = getattr(state, "realtime_bus", None)
    if bus is None or not user_ids:
        return False
    try:
        await bus.publish(sorted(set(user_ids)), payload)
    except Exception as exc:
        log.warning("realtime push %s to %s failed: %r", payload.get("type"), user_ids, exc)
        return False
    return True
