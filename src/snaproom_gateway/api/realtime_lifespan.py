"""The social domains' share of the lifespan: presence, recent messages, realtime fan-out.

Redis-backed when Redis is configured, in-process otherwise (the embedded mode).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from snaproom_gateway.cache.sealing import build_sealer
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.messages.recent_store import RecentMessages, create_recent_messages
from snaproom_gateway.presence.recheck import RECHECK, still_here
from snaproom_gateway.presence.store import PresenceStore, create_presence
from snaproom_gateway.realtime.bus import RealtimeBus, create_realtime_bus
from snaproom_gateway.realtime.hub import LocalHub
from snaproom_gateway.resilience.registry import BreakerRegistry


class RealtimeHost(Protocol):
    """What this part reads of the app's runtime (api/runtime.py), and the fields it sets.

    The pushes it receives are handled with the whole runtime (presence_sync reads the
    sessionmaker and the stores)."""

    presence: PresenceStore
    recent_messages: RecentMessages
    realtime_hub: LocalHub
    realtime_bus: RealtimeBus

    @property
    def settings(self) -> Settings: ...
    @property
    def redis(self) -> RedisClients | None: ...
    @property
    def breakers(self) -> BreakerRegistry: ...
    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def health_components(self) -> dict[str, Callable[[], dict[str, Any]]]: ...


async def on_push(runtime: RealtimeHost, user_ids: list[int], payload: dict[str, Any]) -> None:
    """A push from the bus: internal ones are handled here, the rest go to local sockets."""
    if payload.get("type") == RECHECK:
        await still_here(runtime, user_ids)
        return
    await runtime.realtime_hub.deliver(user_ids, payload)


async def start(runtime: RealtimeHost, stack: AsyncExitStack) -> None:
    settings = runtime.settings
    timeout = settings.realtime.redis_timeout
    breaker = runtime.breakers["redis"] if runtime.redis is not None else None
    runtime.presence = create_presence(runtime.redis, timeout, breaker)
    runtime.recent_messages = create_recent_messages(
        runtime.redis, settings.realtime.recent_messages_ttl, timeout,
        settings.realtime.recent_messages_limit,
        breaker, build_sealer(settings) if runtime.redis is not None else None)
    runtime.realtime_hub = LocalHub()
    # At most half the Redis pool for pushes: the rest stays for cache, presence and limits.
    pushes = min(settings.realtime.push_concurrency, max(1, settings.redis.max_connections // 2))
    runtime.realtime_bus = create_realtime_bus(runtime.redis, timeout, breaker, pushes)
    await runtime.realtime_bus.start(lambda user_ids, payload: on_push(runtime, user_ids, payload))
    stack.push_async_callback(runtime.realtime_bus.close)

    def health() -> dict[str, Any]:
        healthy = runtime.realtime_bus.healthy
        return {"status": "healthy" if healthy else "degraded",
                "backend": "redis" if runtime.redis is not None else "memory",
                "subscribed": healthy, "local_sockets": runtime.realtime_hub.count()}

    runtime.health_components["realtime"] = health
