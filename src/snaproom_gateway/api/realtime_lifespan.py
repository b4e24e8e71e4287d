"""The social domains' share of the lifespan: presence, recent messages, realtime fan-out.

Redis-backed when Redis is configured, in-process otherwise (the embedded mode).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from snaproom_gateway.cache.sealing import build_sealer
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.messages.recent_store import create_recent_messages
from snaproom_gateway.presence.recheck import RECHECK, still_here
from snaproom_gateway.presence.store import create_presence
from snaproom_gateway.realtime.bus import create_realtime_bus
from snaproom_gateway.realtime.hub import LocalHub


async def on_push(state: Any, user_ids: list[int], payload: dict[str, Any]) -> None:
    """A push from the bus: internal ones are handled here, the rest go to local sockets."""
    if payload.get("type") == RECHECK:
        await still_here(state, user_ids)
        return
    await state.realtime_hub.deliver(user_ids, payload)


async def start(state: Any, settings: Settings, stack: AsyncExitStack) -> None:
    timeout = settings.realtime.redis_timeout
    breakers = getattr(state, "breakers", None)
    breaker = breakers["redis"] if breakers is not None and state.redis is not None else None
    state.presence = create_presence(state.redis, timeout, breaker)
    state.recent_messages = create_recent_messages(
        state.redis, settings.realtime.recent_messages_ttl, timeout,
        settings.realtime.recent_messages_limit,
        breaker, build_sealer(settings) if state.redis is not None else None)
    state.realtime_hub = LocalHub()
    # At most half the Redis pool for pushes: the rest stays for cache, presence and limits.
    pushes = min(settings.realtime.push_concurrency, max(1, settings.redis.max_connections // 2))
    state.realtime_bus = create_realtime_bus(state.redis, timeout, breaker, pushes)
    await state.realtime_bus.start(lambda user_ids, payload: on_push(state, user_ids, payload))
    stack.push_async_callback(state.realtime_bus.close)

    def health() -> dict[str, Any]:
        healthy = state.realtime_bus.healthy
        return {"status": "healthy" if healthy else "degraded",
                "backend": "redis" if state.redis is not None else "memory",
                "subscribed": healthy, "local_sockets": state.realtime_hub.count()}

    state.health_components["realtime"] = health
