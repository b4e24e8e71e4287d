"""The Redis tier: values with their tags, tag sets, locks, invalidation broadcasts.

Layout (all keys under `snaproom:v1:`):

* `<key>`: the value, stored as one header line of its tags then the bytes, so a single GET
  brings back both (the L1 needs the tags to drop the entry when a tag is invalidated).
* `tag:<tag>`: a sorted set per tag: members are keys, scores their
  expiry in ms (server clock). Each write prunes members whose score has passed, and
  `prune_stale_tags()` sweeps every tag set.
* `taggen:<tag>`: a counter bumped by every invalidation. A fill reads it before computing and
  writes only if it has not moved, so a value read from the database before an invalidation is
  never stored after it.

Invalidation is one Lua script: delete every member key, delete the tag set, bump the counter
and PUBLISH the tags to the other instances, atomically. The scripts touch keys they do not
declare (the members), which Redis allows outside Cluster; this deployment is Sentinel.

With a Sealer (cache/sealing.py) the stored bytes (header and value) are AES-GCM sealed, bound
to their key: Redis holds no personal data in the clear. A value that does not open (plain, an
old key, tampered) reads as a miss.

Errors: every call is bounded by `op_timeout`; a connection-level failure sets a short cooldown
during which calls fail fast. Callers get `RedisUnavailable` and decide (reads become misses).
An optional breaker (anything with `async call(fn)`) replaces the cooldown when given.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError, MaxConnectionsError, ReadOnlyError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from snaproom_gateway.cache.keys import (
    INVALIDATION_CHANNEL,
    TAG_SET_PREFIX,
    lock_key,
    tag_generation_key,
    tag_set_key,
)
from snaproom_gateway.cache.sealing import Sealer

T = TypeVar("T")

# Connection-level failures: Redis is away (or failing over), so skip it for a moment.
_OUTAGE_ERRORS = (RedisConnectionError, ReadOnlyError, BusyLoadingError, OSError)
OUTAGE_AFTER_TIMEOUTS = 3
TAG_GENERATION_TTL_MS = 86_400_000  # a day: far longer than any fill takes
TAG_SET_GRACE_MS = 60_000           # a tag set outlives its latest member by this much
# Tags per invalidation script. A script holds Redis for its whole run (~14 µs a tag here): a
# batch of 425 views' tags in one script held it 5–12 ms, and every other client, the other
# instances' drops included, waited behind it. In chunks, they wait at most one chunk.
INVALIDATE_CHUNK = 32

SET_WITH_TAGS = """
local ntags = tonumber(ARGV[3])
local token = ARGV[6 + ntags]
if token ~= '' then  -- a single-flight fill also releases its lock (KEYS' last)
  if redis.call('GET', KEYS[#KEYS]) == token then redis.call('DEL', KEYS[#KEYS]) end
end
if ARGV[4] == '1' then
  for i = 1, ntags do
    local current = redis.call('GET', KEYS[1 + ntags + i]) or '0'
    if current ~= ARGV[4 + i] then return 0 end
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 1, ntags do
  local tagset = KEYS[1 + i]
  redis.call('ZREMRANGEBYSCORE', tagset, '-inf', now)
  redis.call('ZADD', tagset, now + ttl, KEYS[1])
  if redis.call('PTTL', tagset) < ttl + 1000 then
    redis.call('PEXPIRE', tagset, ttl + tonumber(ARGV[5 + ntags]))
  end
end
return 1
"""

INVALIDATE_TAGS = """
local n = #KEYS / 2
local removed = 0
for i = 1, n do
  local members = redis.call('ZRANGE', KEYS[i], 0, -1)
  -- unpack() is bounded by Lua's stack: delete in chunks
  for j = 1, #members, 500 do
    removed = removed + redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[n + i])
  redis.call('PEXPIRE', KEYS[n + i], ARGV[2])
end
redis.call('PUBLISH', ARGV[1], ARGV[3])
return removed
"""

PRUNE_TAG_SET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return removed
"""

# A fill's first step, in one round trip: the value if another fill just stored it; otherwise
# the lock (or who holds it) and the tags' generations as they are before computing.
BEGIN_FILL = """
local value = redis.call('GET', KEYS[1])
if value then return {1, value} end
local got = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
local generations = {}
for i = 3, #KEYS do generations[#generations + 1] = redis.call('GET', KEYS[i]) or '0' end
if got then return {2, generations} end
return {3, generations}
"""

RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisUnavailable(Exception):
    """Redis did not answer (down, failing over, timed out, or the breaker is open)."""


class _QueueFull(Exception):
    pass


class Breaker(Protocol):
    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any: ...


def encode_stored(value: bytes, tags: Sequence[str]) -> bytes:
    return " ".join(tags).encode() + b"\n" + value


def decode_stored(raw: bytes) -> tuple[bytes, tuple[str, ...]]:
    header, _, value = raw.partition(b"\n")
    return value, tuple(header.decode().split())


class RedisStore:
    def __init__(self, client: Redis, *, op_timeout: float, cooldown: float,
                 max_in_flight: int = 32, breaker: Breaker | None = None,
                 instance_id: str | None = None, sealer: Sealer | None = None) -> None:
        self.client = client
        self.sealer = sealer
        self.unreadable = 0  # values that did not open (counted as misses)
        # The Foundation's pool is not a blocking one: past max_connections redis-py raises
        # "Too many connections" instead of waiting. The cache queues here instead, within
        # op_timeout, and leaves the rest of the pool to the other users of the client.
        self.max_in_flight = max_in_flight
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._timeouts_in_a_row = 0
        self.op_timeout = op_timeout
        self.cooldown = cooldown
        self.breaker = breaker
        self.instance_id = instance_id or uuid.uuid4().hex
        self.errors = 0
        self.last_error: str | None = None
        self._down_until = 0.0
        self._set_with_tags = client.register_script(SET_WITH_TAGS)
        self._invalidate = client.register_script(INVALIDATE_TAGS)
        self._prune = client.register_script(PRUNE_TAG_SET)
        self._release = client.register_script(RELEASE_LOCK)
        self._begin_fill = client.register_script(BEGIN_FILL)

    async def _run(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self.breaker is not None:
            try:
                return await self.breaker.call(lambda: self._bounded(fn))
            except Exception as exc:
                self._failed(exc, outage=False)
                raise RedisUnavailable(self.last_error) from exc
        if time.monotonic() < self._down_until:
            raise RedisUnavailable(f"cooling down after: {self.last_error}")
        try:
            result = await self._bounded(fn)
        except (MaxConnectionsError, _QueueFull) as exc:  # busy, not down: no cooldown
            self._failed(exc, outage=False)
            raise RedisUnavailable(self.last_error) from exc
        except (RedisTimeoutError, TimeoutError) as exc:
            # One slow answer is not an outage; a few in a row (a blackholed server) are.
            self._timeouts_in_a_row += 1
            self._failed(exc, outage=self._timeouts_in_a_row >= OUTAGE_AFTER_TIMEOUTS)
            raise RedisUnavailable(self.last_error) from exc
        except _OUTAGE_ERRORS as exc:
            self._failed(exc, outage=True)
            raise RedisUnavailable(self.last_error) from exc
        except RedisError as exc:
            self._failed(exc, outage=False)
            raise RedisUnavailable(self.last_error) from exc
        self._timeouts_in_a_row = 0
        return result

    async def _bounded(self, fn: Callable[[], Awaitable[T]]) -> T:
        # One time bound for the wait for a slot and the call, but a timeout while still
        # queued is told apart: queueing under load is not a server that does not answer.
        acquired = False
        try:
            async with asyncio.timeout(self.op_timeout):
                await self._in_flight.acquire()
                acquired = True
                return await fn()
        except TimeoutError:
            if not acquired:
                raise _QueueFull(f"more than {self.max_in_flight} Redis calls in flight") from None
            raise
        finally:
            if acquired:
                self._in_flight.release()

    def _failed(self, exc: BaseException, *, outage: bool) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if outage:
            self._down_until = time.monotonic() + self.cooldown

    async def connect(self) -> None:
        """Open the first connection (Sentinel look-up, AUTH) before traffic arrives."""
        async with asyncio.timeout(max(self.op_timeout, 2.0)):
            await self.client.ping()

    # --- values -------------------------------------------------------------------------

    def _stored(self, key: str, value: bytes, tags: Sequence[str]) -> bytes:
        raw = encode_stored(value, tags)
        return raw if self.sealer is None else self.sealer.seal(raw, key)

    def _decoded(self, key: str, raw: bytes | None) -> tuple[bytes, tuple[str, ...]] | None:
        if raw is None:
            return None
        if self.sealer is not None:
            opened = self.sealer.open(raw, key)
            if opened is None:
                self.unreadable += 1
                return None
            raw = opened
        return decode_stored(raw)

    async def get(self, key: str) -> tuple[bytes, tuple[str, ...]] | None:
        raw = await self._run(lambda: self.client.get(key))
        return self._decoded(key, raw)

    async def get_many(self, keys: Sequence[str]) -> list[tuple[bytes, tuple[str, ...]] | None]:
        """get() of several keys in one round trip (MGET)."""
        raws = await self._run(lambda: self.client.mget(keys))
        return [self._decoded(key, raw) for key, raw in zip(keys, raws, strict=True)]

    async def set(self, key: str, value: bytes, ttl: float, tags: Sequence[str],
                  expect_generations: dict[str, int] | None = None,
                  lock_token: str | None = None) -> bool:
        """Store value with its tags; False when a tag was invalidated since expect_generations
        was read (the value is then not stored). With lock_token, also release that fill lock."""
        ttl_ms = max(int(ttl * 1000), 1)
        keys = [key, *(tag_set_key(t) for t in tags)]
        args: list[Any] = [self._stored(key, value, tags), ttl_ms, len(tags)]
        if expect_generations is not None:
            keys += [tag_generation_key(t) for t in tags]
            args += ["1", *(str(expect_generations.get(t, 0)) for t in tags)]
        else:
            args += ["0", *("" for _ in tags)]
        args.append(TAG_SET_GRACE_MS)
        args.append(lock_token or "")
        if lock_token:
            keys.append(lock_key(key))
        stored = await self._run(lambda: self._set_with_tags(keys=keys, args=args))
        return bool(stored)

    async def delete(self, key: str) -> bool:
        message = orjson.dumps({"origin": self.instance_id, "keys": [key]})

        async def delete_and_publish() -> Any:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.publish(INVALIDATION_CHANNEL, message)
                return await pipe.execute()

        deleted, _ = await self._run(delete_and_publish)
        return bool(deleted)

    # --- tags ---------------------------------------------------------------------------

    async def generations(self, tags: Sequence[str]) -> dict[str, int]:
        if not tags:
            return {}
        values = await self._run(lambda: self.client.mget([tag_generation_key(t) for t in tags]))
        return {tag: int(v or 0) for tag, v in zip(tags, values, strict=True)}

    async def invalidate_tags(self, tags: Sequence[str]) -> int:
        """Delete every entry carrying any of the tags and tell the other instances; returns
        how many keys were deleted."""
        removed = 0
        for start in range(0, len(tags), INVALIDATE_CHUNK):
            chunk = list(tags[start:start + INVALIDATE_CHUNK])
            keys = [*(tag_set_key(t) for t in chunk), *(tag_generation_key(t) for t in chunk)]
            message = orjson.dumps({"origin": self.instance_id, "tags": chunk})
            args = [INVALIDATION_CHANNEL, TAG_GENERATION_TTL_MS, message]
            removed += int(await self._run(lambda k=keys, a=args: self._invalidate(keys=k, args=a)))
        return removed

    async def tag_members(self, tag: str) -> list[str]:
        members = await self._run(lambda: self.client.zrange(tag_set_key(tag), 0, -1))
        return [m.decode() for m in members]

    async def prune_stale_tags(self, batch: int = 500) -> int:
        """Remove expired members from every tag set (SCAN, one small script per set)."""
        removed = 0
        cursor: int | str = 0
        while True:
            cursor, found = await self._run(
                lambda c=cursor: self.client.scan(c, match=TAG_SET_PREFIX + "*", count=batch,
                                                  _type="zset"))
            for name in found:
                removed += int(await self._run(lambda n=name: self._prune(keys=[n])))
            if int(cursor) == 0:
                return removed

    # --- single-flight locks ------------------------------------------------------------

    async def begin_fill(self, key: str, tags: Sequence[str], token: str, lock_ttl: float
                         ) -> tuple[str, tuple[bytes, tuple[str, ...]] | None, dict[str, int]]:
        """("hit", (value, tags), {}) | ("locked", None, generations) | ("busy", None,
        generations): busy means another fill holds the lock."""
        keys = [key, lock_key(key), *(tag_generation_key(t) for t in tags)]
        args = [token, max(int(lock_ttl * 1000), 1)]
        state, payload = await self._run(lambda: self._begin_fill(keys=keys, args=args))
        if state == 1:
            found = self._decoded(key, payload)
            if found is not None:
                return "hit", found, {}
            # Unreadable (sealed with a key this process lacks): drop it and fill as on a miss.
            await self._run(lambda: self.client.delete(key))
            state, payload = await self._run(lambda: self._begin_fill(keys=keys, args=args))
            if state == 1:
                found = self._decoded(key, payload)
                return ("hit", found, {}) if found is not None else ("busy", None, {})
        generations = {tag: int(v) for tag, v in zip(tags, payload, strict=True)}
        return ("locked" if state == 2 else "busy"), None, generations

    async def release_lock(self, key: str, token: str) -> None:
        await self._run(lambda: self._release(keys=[lock_key(key)], args=[token]))

    async def lock_held(self, key: str) -> bool:
        return bool(await self._run(lambda: self.client.exists(lock_key(key))))

    # --- facts --------------------------------------------------------------------------

    async def info(self) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.info("memory")
                pipe.dbsize()
                memory, keys = await pipe.execute()
            return {"used_memory": memory.get("used_memory"),
                    "used_memory_human": memory.get("used_memory_human"),
                    "maxmemory_policy": memory.get("maxmemory_policy"),
                    "keys": keys}
        return await self._run(read)
