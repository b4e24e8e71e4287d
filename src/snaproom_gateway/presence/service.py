"""Presence: heartbeats, queries, and telling a user's connections when they come and go."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.connections import service as connections_service
from snaproom_gateway.presence.store import PresenceState, PresenceUnavailable
from snaproom_gateway.realtime import service as realtime

log = logging.getLogger(__name__)

__all__ = ["PresenceUnavailable", "announce", "as_json", "heartbeat", "is_online", "states"]


def as_json(presence: PresenceState) -> dict[str, Any]:
    seen = (datetime.fromtimestamp(presence.last_seen, UTC).isoformat()
            if presence.last_seen is not None else None)
    return {"online": presence.online, "last_seen": seen}


async def heartbeat(state: Any, user_id: int) -> tuple[PresenceState, bool]:
    """Mark the user online for PRESENCE_TTL seconds; also say whether they were offline."""
    before = (await state.presence.states([user_id]))[user_id]
    seen = await state.presence.touch(user_id, state.settings.realtime.presence_ttl)
    return PresenceState(True, seen), not before.online


async def leave(state: Any, user_id: int) -> None:
    await state.presence.leave(user_id)


async def states(state: Any, user_ids: list[int]) -> dict[int, PresenceState]:
    return await state.presence.states(user_ids)


async def is_online(state: Any, user_id: int) -> bool:
    """For decisions (notify an offline receiver?): an unanswerable store reads as offline."""
    try:
        return (await state.presence.states([user_id]))[user_id].online
    except PresenceUnavailable as exc:
        log.warning("presence of %s unknown, taken as offline: %s", user_id, exc)
        return False


async def announce(state: Any, session: AsyncSession, user_id: int,
                   presence: PresenceState) -> None:
    """Push {"type": "presence"} to the user's accepted connections."""
    peers = await connections_service.peer_ids(session, user_id)
    await realtime.push(state, peers, {"type": "presence", "user_id": user_id,
                                       **as_json(presence)})
