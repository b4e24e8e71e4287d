"""Who is online: a TTL key per user in Redis (or a dict in the embedded mode).

A user is online while `presence:online:{id}` lives (a heartbeat or an open WebSocket renews it);
`presence:last_seen:{id}` keeps the last renewal for a month, so offline users show when they were
last around. Every call is time-bounded; an outage raises PresenceUnavailable (the route says 503).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.infra.redis_guard import guarded

PREFIX = "snaproom:v1:presence:"
LAST_SEEN_TTL = 30 * 24 * 3600


class PresenceUnavailable(Exception):
    """The presence store could not answer in time (Redis down or slow)."""


@dataclass(frozen=True)
class PresenceState:
    online: bool
    last_seen: float | None  # epoch seconds of the last heartbeat


class PresenceStore(Protocol):
    async def touch(self, user_id: int, ttl: int) -> float: ...
    async def leave(self, user_id: int) -> None: ...
    async def states(self, user_ids: list[int]) -> dict[int, PresenceState]: ...


class MemoryPresence:
    """The embedded mode's store: one process, so a dict of deadlines is the whole truth."""

    def __init__(self) -> None:
        self._online_until: dict[int, float] = {}
        self._last_seen: dict[int, float] = {}

    async def touch(self, user_id: int, ttl: int) -> float:
        now = time.time()
        self._online_until[user_id] = now + ttl
        self._last_seen[user_id] = now
        return now

    async def leave(self, user_id: int) -> None:
        self._online_until.pop(user_id, None)
        self._last_seen[user_id] = time.time()

    async def states(self, user_ids: list[int]) -> dict[int, PresenceState]:
        now = time.time()
        return {uid: PresenceState(self._online_until.get(uid, 0) > now, self._last_seen.get(uid))
                for uid in user_ids}


class RedisPresence:
    def __init__(self, clients: RedisClients, timeout: float, breaker: Any = None) -> None:
        self._redis = clients.master  # presence must not lag behind a heartbeat: no replica reads
        self._timeout = timeout
        self._breaker = breaker

    async def _bounded(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await guarded(self._breaker, call, self._timeout)
        except Exception as exc:
            raise PresenceUnavailable(f"presence store: {type(exc).__name__}: {exc}") from exc

    async def touch(self, user_id: int, ttl: int) -> float:
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(f"{PREFIX}online:{user_id}", repr(now), ex=ttl)
            pipe.set(f"{PREFIX}last_seen:{user_id}", repr(now), ex=LAST_SEEN_TTL)
            await self._bounded(pipe.execute)
        return now

    async def leave(self, user_id: int) -> None:
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(f"{PREFIX}online:{user_id}")
            pipe.set(f"{PREFIX}last_seen:{user_id}", repr(now), ex=LAST_SEEN_TTL)
            await self._bounded(pipe.execute)

    async def states(self, user_ids: list[int]) -> dict[int, PresenceState]:
        if not user_ids:
            return {}
        keys = [f"{PREFIX}online:{uid}" for uid in user_ids]
        keys += [f"{PREFIX}last_seen:{uid}" for uid in user_ids]
        values = await self._bounded(lambda: self._redis.mget(keys))
        online, seen = values[:len(user_ids)], values[len(user_ids):]
        return {uid: PresenceState(on is not None, float(last) if last is not None else None)
                for uid, on, last in zip(user_ids, online, seen, strict=True)}


def create_presence(clients: RedisClients | None, timeout: float, breaker: Any = None
                    ) -> PresenceStore:
    return RedisPresence(clients, timeout, breaker) if clients is not None else MemoryPresence()
