"""Pushing to users' WebSockets on whichever instance holds them. Never fails the caller."""

from __future__ import annotations

import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)


class _Bus(Protocol):
    async def publish(self, user_ids: list[int], payload: dict[str, Any]) -> None: ...


class Pushing(Protocol):
    """What holds the realtime bus: the app's runtime, or an event handler's context (None in
    the CLI's consumers, which serve no sockets)."""

    @property
    def realtime_bus(self) -> _Bus | None: ...


async def push(via: Pushing, user_ids: list[int], payload: dict[str, Any]) -> bool:
    """Send `payload` ({"type": ...}) to every socket of `user_ids`. False when it could not
    be handed to the bus (Redis down): the data is in the database, the push is best effort."""
    bus = via.realtime_bus
    if bus is None or not user_ids:
        return False
    try:
        await bus.publish(sorted(set(user_ids)), payload)
    except Exception as exc:
        log.warning("realtime push %s to %s failed: %r", payload.get("type"), user_ids, exc)
        return False
    return True
