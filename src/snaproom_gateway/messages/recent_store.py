"""The last messages of each conversation: one Redis sorted set per unordered pair of users.

Key `snaproom:v1:conversation:{min}:{max}:recent`, members the serialized messages, score the
message id. A sorted set rather than LPUSH+LTRIM because appends after concurrent commits, and a
fill from the database racing an append, land in id order whatever order they arrive in: each
write is one Lua script (replace the member of that id, add, keep the newest LIMIT, renew the TTL).
A marker member (score +inf) says "filled from the database": without it the set may hold only
the few messages appended since it expired, and a read treats it as a miss.

With a Sealer each member is AES-GCM sealed, bound to the set's key; the id stays readable as the
score (the scripts order and replace by it). A member that does not open makes the read a miss,
and the fill that follows replaces it (same id).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from snaproom_gateway.cache.sealing import Sealer
from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.infra.redis_guard import guarded

LIMIT = 50
FILLED = b"~filled"  # never a message: those are JSON objects

# KEYS[1] the set; ARGV: limit, ttl, mark_filled(0|1), then (id, member) pairs.
_WRITE = """
local key, limit, ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 4, #ARGV, 2 do
  redis.call('ZREMRANGEBYSCORE', key, ARGV[i], ARGV[i])
  redis.call('ZADD', key, ARGV[i], ARGV[i + 1])
end
if ARGV[3] == '1' then redis.call('ZADD', key, 'inf', '~filled') end
local size = redis.call('ZCARD', key)
local filled = redis.call('ZSCORE', key, '~filled') and 1 or 0
if size - filled > limit then redis.call('ZREMRANGEBYRANK', key, 0, size - filled - limit - 1) end
redis.call('EXPIRE', key, ttl)
return size
"""


def pair(user_a: int, user_b: int) -> tuple[int, int]:
    return (user_a, user_b) if user_a <= user_b else (user_b, user_a)


def recent_key(user_a: int, user_b: int) -> str:
    low, high = pair(user_a, user_b)
    return f"snaproom:v1:conversation:{low}:{high}:recent"


class RecentMessagesUnavailable(Exception):
    pass


class RecentMessages(Protocol):
    async def append(self, user_a: int, user_b: int, message_id: int, item: bytes) -> None: ...
    async def fill(self, user_a: int, user_b: int, items: list[tuple[int, bytes]]) -> None: ...
    async def read(self, user_a: int, user_b: int) -> list[bytes] | None: ...
    async def drop(self, user_a: int, user_b: int) -> None: ...


class MemoryRecentMessages:
    """The embedded mode's store, with the same semantics (ordered by id, marker, TTL)."""

    def __init__(self, ttl: int, limit: int = LIMIT) -> None:
        self._ttl, self._limit = ttl, limit
        self._sets: dict[tuple[int, int], tuple[dict[int, bytes], bool, float]] = {}

    def _live(self, key: tuple[int, int]) -> tuple[dict[int, bytes], bool]:
        entry = self._sets.get(key)
        if entry is None or entry[2] < time.monotonic():
            return {}, False
        return entry[0], entry[1]

    def _write(self, user_a: int, user_b: int, items: list[tuple[int, bytes]], filled: bool
               ) -> None:
        key = pair(user_a, user_b)
        members, was_filled = self._live(key)
        members = dict(members)
        members.update(items)
        keep = dict(sorted(members.items())[-self._limit:])
        self._sets[key] = (keep, was_filled or filled, time.monotonic() + self._ttl)

    async def append(self, user_a: int, user_b: int, message_id: int, item: bytes) -> None:
        self._write(user_a, user_b, [(message_id, item)], False)

    async def fill(self, user_a: int, user_b: int, items: list[tuple[int, bytes]]) -> None:
        self._write(user_a, user_b, items, True)

    async def read(self, user_a: int, user_b: int) -> list[bytes] | None:
        members, filled = self._live(pair(user_a, user_b))
        return [members[k] for k in sorted(members)] if filled else None

    async def drop(self, user_a: int, user_b: int) -> None:
        self._sets.pop(pair(user_a, user_b), None)


class RedisRecentMessages:
    def __init__(self, clients: RedisClients, ttl: int, timeout: float, limit: int = LIMIT,
                 breaker: Any = None, sealer: Sealer | None = None) -> None:
        self._redis = clients.master  # read-your-writes: the sender reads right after sending
        self._sealer = sealer
        self._ttl, self._timeout, self._limit = ttl, timeout, limit
        self._breaker = breaker
        self._script = self._redis.register_script(_WRITE)

    async def _bounded(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await guarded(self._breaker, call, self._timeout)
        except Exception as exc:
            raise RecentMessagesUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def _write(self, user_a: int, user_b: int, items: list[tuple[int, bytes]],
                     filled: bool) -> None:
        key = recent_key(user_a, user_b)
        args: list[Any] = [self._limit, self._ttl, "1" if filled else "0"]
        for message_id, item in items:
            args += [message_id, item if self._sealer is None else self._sealer.seal(item, key)]
        await self._bounded(lambda: self._script(keys=[key], args=args))

    async def append(self, user_a: int, user_b: int, message_id: int, item: bytes) -> None:
        await self._write(user_a, user_b, [(message_id, item)], False)

    async def fill(self, user_a: int, user_b: int, items: list[tuple[int, bytes]]) -> None:
        await self._write(user_a, user_b, items, True)

    async def read(self, user_a: int, user_b: int) -> list[bytes] | None:
        key = recent_key(user_a, user_b)
        members = await self._bounded(lambda: self._redis.zrange(key, 0, -1))
        if not members or members[-1] != FILLED:
            return None
        if self._sealer is None:
            return list(members[:-1])
        opened = [self._sealer.open(member, key) for member in members[:-1]]
        return None if None in opened else opened  # type: ignore[return-value]

    async def drop(self, user_a: int, user_b: int) -> None:
        await self._bounded(lambda: self._redis.delete(recent_key(user_a, user_b)))


def create_recent_messages(clients: RedisClients | None, ttl: int, timeout: float,
                           limit: int = LIMIT, breaker: Any = None,
                           sealer: Sealer | None = None) -> RecentMessages:
    if clients is None:
        return MemoryRecentMessages(ttl, limit)
    return RedisRecentMessages(clients, ttl, timeout, limit, breaker, sealer)
