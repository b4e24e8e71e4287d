"""TaggedCache: the one cache API of the gateway.

Values are bytes (orjson-serialized by the caller or by the convenience methods), so a hit can
be written to an HTTP response as it is. Two tiers:

* `memory` driver: one in-process store (LRU-bounded, TTL, tags) is the whole cache.
* `redis` driver: Redis holds the entries and their tag sets; an in-process L1 (bounded, short
  TTL) in front of it is filled on Redis hits and kept coherent across instances by the
  invalidation channel (coherence.py). The L1 serves only while that channel is live.

Redis being down makes reads misses and writes no-ops (counted in stats), never errors;
`invalidate_tags` is the exception: it raises CacheUnavailable, so an event consumer retries
the invalidation instead of committing past it and leaving stale entries behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence, Sized
from typing import Any

import orjson
from redis import Redis as BlockingRedis

from snaproom_gateway.cache.coherence import InvalidationSubscriber
from snaproom_gateway.cache.entry import Entry
from snaproom_gateway.cache.keys import (
    api_key,
    check_tags,
    conversation_tag,
    full_key,
    key_prefix,
    recent_messages_key,
    user_key,
    user_tags,
)
from snaproom_gateway.cache.memory import MemoryStore
from snaproom_gateway.cache.redis_store import RedisStore, RedisUnavailable
from snaproom_gateway.cache.stats import CacheCounters

log = logging.getLogger(__name__)

USER_TTL = 1800.0            # 30 minutes
L1_REFRESH_GATHER = 0.02     # L1 renewals wait this long to share one MGET
L1_REFRESH_BATCH = 500       # keys per MGET
API_RESPONSE_TTL = 300.0
RECENT_MESSAGES_TTL = 3600.0


class CacheUnavailable(Exception):
    """An invalidation could not reach Redis; the caller should retry it."""


def _as_bytes(value: bytes | Mapping[str, Any] | Sequence[Any]) -> bytes:
    return value if isinstance(value, bytes) else orjson.dumps(value)


class TaggedCache:
    def __init__(self, *, local: MemoryStore | None, redis: RedisStore | None = None,
                 subscriber_client: BlockingRedis | None = None,
                 l1_ttl: float = 5.0, lock_ttl: float = 5.0, lock_wait: float = 2.0,
                 lock_poll: float = 0.02) -> None:
        """subscriber_client: the blocking client the invalidation subscriber reads the channel
        with (infra/redis.subscriber_client); with Redis and an L1, the L1 needs it to serve."""
        if local is None and redis is None:
            raise ValueError("a cache needs a local store, Redis, or both")
        self.local = local
        self.redis = redis
        self.driver = "redis" if redis is not None else "memory"
        self.l1_ttl = l1_ttl
        self.lock_ttl = lock_ttl
        self.lock_wait = lock_wait
        self.lock_poll = lock_poll
        self.counters = CacheCounters()
        self.subscriber_client = subscriber_client
        self.subscriber: InvalidationSubscriber | None = None
        # What the subscriber's thread received and the L1 has not applied yet (coherence.py).
        self._remote_inbox: Sized = ()
        # With Redis, the L1 serves only while the invalidation channel is live.
        self.l1_active = redis is None and local is not None
        # Bumped by every local drop of L1 entries: a Redis read that started before a drop
        # must not fill the L1 with what it read.
        self._l1_epoch = 0
        self._inflight: dict[str, asyncio.Task[bytes]] = {}
        self._maintenance: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, *, prune_interval: float = 300.0) -> None:
        if self.redis is not None:
            try:
                await self.redis.connect()
            except Exception as exc:  # Redis away at start-up: serve misses until it is back
                log.warning("cache: Redis not reachable at start (%r); reads are misses", exc)
        if self.redis is not None and self.local is not None and self.subscriber_client is not None:
            self.subscriber = InvalidationSubscriber(
                self.subscriber_client, instance_id=self.redis.instance_id,
                on_message=self._remote_invalidation, on_live=self._set_l1_active)
            self._remote_inbox = self.subscriber.inbox
            self.subscriber.start()
        self._maintenance = asyncio.create_task(self._prune_forever(prune_interval),
                                                name="cache-prune")

    async def close(self) -> None:
        for task in (self._maintenance, self._refresher):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.subscriber is not None:
            await self.subscriber.close()
        for task in list(self._inflight.values()):
            task.cancel()

    async def _prune_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.prune_stale()
            except Exception as exc:  # pruning is housekeeping: log and try next time
                log.warning("cache prune failed: %r", exc)

    def _set_l1_active(self, live: bool) -> None:
        if self.local is not None:
            self._l1_epoch += 1
            self.local.clear()
            self.counters.l1_resets += 1
        self.l1_active = live

    def _remote_invalidation(self, tags: list[str], keys: list[str]) -> None:
        self.counters.remote_invalidations += 1
        self._drop_local(tags, keys)

    def _drop_local(self, tags: Iterable[str], keys: Iterable[str] = ()) -> int:
        if self.local is None:
            return 0
        self._l1_epoch += 1
        removed = self.local.invalidate_tags(tags)
        for key in keys:
            removed += self.local.delete(key)
        return removed

    # --- reads ----------------------------------------------------------------------------

    def peek_local(self, key: str) -> Entry | None:
        """The L1 entry, if one may be served now: no await, for the HTTP fast path."""
        if self._remote_inbox:  # another instance's drop arrived: apply it before serving
            self.subscriber.drain()  # type: ignore[union-attr]
        if not self.l1_active:
            return None
        local = self.local
        entry = local.get(key)  # type: ignore[union-attr]
        if entry is not None:
            self.counters.hit(entry.prefix)
            self.counters.l1_hits += 1
            if local.due_refresh and self._refresher is None:  # type: ignore[union-attr]
                self._refresher = asyncio.get_running_loop().create_task(
                    self._refresh_due(), name="cache-l1-refresh")
        return entry

    async def _refresh_due(self) -> None:
        """Renew, from Redis in one MGET, the L1 entries read late in their life (MemoryStore
        refresh_after): a key read often never expires from the L1, so its reads never leave
        the process; one read rarely expires and is read through again. An entry invalidated
        meanwhile is not renewed (MemoryStore.renew)."""
        try:
            await asyncio.sleep(L1_REFRESH_GATHER)
            local = self.local
            while local is not None and local.due_refresh and self.l1_active:
                due, local.due_refresh = local.due_refresh, {}
                items = list(due.items())
                for start in range(0, len(items), L1_REFRESH_BATCH):
                    batch = items[start:start + L1_REFRESH_BATCH]
                    try:
                        found = await self.redis.get_many([key for key, _ in batch])  # type: ignore[union-attr]
                    except RedisUnavailable:
                        return  # they expire as usual and are read through
                    for (key, entry), item in zip(batch, found, strict=True):
                        if item is not None and local.renew(key, entry, item[0], self.l1_ttl):
                            self.counters.l1_refreshes += 1
        finally:
            self._refresher = None

    async def get_entry(self, key: str, *, count_miss: bool = True) -> Entry | None:
        """The entry from L1 or Redis. count_miss=False for a look-up whose miss the route
        behind it will count (the HTTP fast path), so one request is one miss."""
        key = full_key(key)
        entry = self.peek_local(key)
        if entry is not None:
            return entry
        if self.redis is None:
            if count_miss:
                self.counters.miss(key_prefix(key))
            return None
        epoch = self._l1_epoch
        try:
            found = await self.redis.get(key)
        except RedisUnavailable:
            found = None
        if found is None:
            if count_miss:
                self.counters.miss(key_prefix(key))
            return None
        value, tags = found
        prefix = key_prefix(key)
        self.counters.hit(prefix)
        self.counters.l2_hits += 1
        if self.l1_active and epoch == self._l1_epoch:
            return self.local.set(key, value, self.l1_ttl, tags, prefix)  # type: ignore[union-attr]
        return Entry(value, time.monotonic() + self.l1_ttl, tags, prefix)

    async def get(self, key: str) -> bytes | None:
        entry = await self.get_entry(key)
        return None if entry is None else entry.value

    # --- writes ---------------------------------------------------------------------------

    async def set(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        await self._store(full_key(key), value, ttl, check_tags(tags), None)

    async def _store(self, key: str, value: bytes, ttl: float, tags: tuple[str, ...],
                     generations: dict[str, int] | None, lock_token: str | None = None) -> bool:
        if not isinstance(value, bytes):
            raise TypeError("cache values are bytes; serialize with orjson first")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        prefix = key_prefix(key)
        if self.redis is None:
            stored = self.local.set(key, value, ttl, tags, prefix, generations)  # type: ignore[union-attr]
            stored_ok = stored is not None
        else:
            epoch = self._l1_epoch
            try:
                stored_ok = await self.redis.set(key, value, ttl, tags, generations, lock_token)
            except RedisUnavailable:
                return False
            if stored_ok and self.l1_active and epoch == self._l1_epoch:
                self.local.set(key, value, min(ttl, self.l1_ttl), tags, prefix)  # type: ignore[union-attr]
        if stored_ok:
            self.counters.sets += 1
        else:
            self.counters.sets_skipped += 1
        return stored_ok

    async def delete(self, key: str) -> None:
        key = full_key(key)
        self.counters.deletes += 1
        if self.redis is not None:
            try:
                await self.redis.delete(key)
            except RedisUnavailable:
                pass
        if self.local is not None:
            self._l1_epoch += 1
            self.local.delete(key)

    async def invalidate_tags(self, tags: Iterable[str]) -> int:
        """Remove every entry carrying any of the tags, here and on every instance; returns the
        number of entries removed. Raises CacheUnavailable when Redis could not be reached."""
        tags = check_tags(tags)
        if not tags:
            return 0
        self.counters.invalidations += 1
        self.counters.invalidated_tags += len(tags)
        if self.redis is None:
            removed = self.local.invalidate_tags(tags)  # type: ignore[union-attr]
        else:
            try:
                removed = await self.redis.invalidate_tags(tags)
            except RedisUnavailable as exc:
                self._drop_local(tags)
                raise CacheUnavailable(f"cache invalidation of {list(tags)} failed: {exc}") from exc
            self._drop_local(tags)
        self.counters.invalidated_keys += removed
        return removed

    async def prune_stale(self) -> int:
        """Drop expired entries and stale tag-set members; returns how many went."""
        removed = self.local.prune() if self.local is not None else 0
        if self.redis is not None:
            try:
                removed += await self.redis.prune_stale_tags()
            except RedisUnavailable:
                pass
        return removed

    # --- single flight --------------------------------------------------------------------

    async def get_or_set(self, key: str, factory: Callable[[], Awaitable[bytes]], *,
                         ttl: float, tags: Sequence[str] = ()) -> bytes:
        """The cached value, or factory()'s, stored. Concurrent look-ups of one key in this
        process share one Redis read and, on a miss, one computation; across instances a short
        Redis lock makes the others wait for the first one's value (and compute themselves if
        it does not come in time)."""
        key = full_key(key)
        entry = self.peek_local(key)
        if entry is not None:
            return entry.value
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fill(key, factory, ttl, check_tags(tags)))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        else:
            self.counters.single_flight_joined += 1
        # shield: a caller that goes away (client disconnect) does not cancel the others' fill
        return await asyncio.shield(task)

    async def _fill(self, key: str, factory: Callable[[], Awaitable[bytes]], ttl: float,
                    tags: tuple[str, ...]) -> bytes:
        prefix = key_prefix(key)
        if self.redis is None:
            self.counters.miss(prefix)
            generations = self.local.generations(tags)  # type: ignore[union-attr]
            value = await self._compute(factory)
            await self._store(key, value, ttl, tags, generations)
            return value
        token: str | None = uuid.uuid4().hex
        generations: dict[str, int] | None
        epoch = self._l1_epoch
        try:
            # One round trip: the value if Redis has it, else the lock and the generations.
            state, found, generations = await self.redis.begin_fill(key, tags, token,
                                                                    self.lock_ttl)
            if found is not None:
                value, stored_tags = found
                self.counters.hit(prefix)
                self.counters.l2_hits += 1
                if self.l1_active and epoch == self._l1_epoch:
                    self.local.set(key, value, self.l1_ttl, stored_tags, prefix)  # type: ignore[union-attr]
                return value
            self.counters.miss(prefix)
            if state == "busy":
                token = None
                # Another instance computes it: wait for its value, not the database.
                waited = await self._wait_for_other(key)
                if waited is not None:
                    return waited
        except RedisUnavailable:
            self.counters.miss(prefix)
            token, generations = None, None  # Redis is away: compute; nothing is stored
        try:
            value = await self._compute(factory)
        except BaseException:
            if token is not None:
                await self._release_quietly(key, token)
            raise
        if generations is not None:
            await self._store(key, value, ttl, tags, generations, lock_token=token)
        return value

    async def _release_quietly(self, key: str, token: str) -> None:
        try:
            await self.redis.release_lock(key, token)  # type: ignore[union-attr]
        except RedisUnavailable:
            pass  # it expires after lock_ttl

    async def _wait_for_other(self, key: str) -> bytes | None:
        self.counters.lock_waits += 1
        deadline = time.monotonic() + self.lock_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(self.lock_poll)
            # The lock first, then the value: the fill stores its value and releases its lock
            # in one script, so a lock seen free and then no value means it gave up. Read the
            # other way round, a store between the two reads looked like giving up, and this
            # instance computed the value a second time.
            held = await self.redis.lock_held(key)  # type: ignore[union-attr]
            found = await self.redis.get(key)  # type: ignore[union-attr]
            if found is not None:
                return found[0]
            if not held:
                return None  # the other gave up (or failed): compute ourselves
        return None

    async def _compute(self, factory: Callable[[], Awaitable[bytes]]) -> bytes:
        value = await factory()
        self.counters.computations += 1
        if not isinstance(value, bytes):
            raise TypeError("get_or_set factories return bytes; serialize with orjson first")
        return value

    # --- per-user and per-route conveniences ----------------------------------------------

    async def cache_user(self, user_id: int | str, data: Mapping[str, Any] | bytes,
                         ttl: float = USER_TTL) -> None:
        await self.set(user_key(user_id), _as_bytes(data), ttl=ttl, tags=user_tags(user_id))

    async def get_user(self, user_id: int | str) -> bytes | None:
        return await self.get(user_key(user_id))

    async def get_or_set_user(self, user_id: int | str,
                              factory: Callable[[], Awaitable[bytes]],
                              ttl: float = USER_TTL) -> bytes:
        """The cached user, or factory()'s value stored as cache_user would: concurrent misses
        (here and on other instances) run factory once."""
        return await self.get_or_set(user_key(user_id), factory, ttl=ttl, tags=user_tags(user_id))

    async def cache_api_response(self, path: str, params: Mapping[str, Any],
                                 response: bytes | Mapping[str, Any], ttl: float = API_RESPONSE_TTL,
                                 tags: Sequence[str] = ()) -> None:
        await self.set(api_key(path, params), _as_bytes(response), ttl=ttl, tags=tags)

    async def get_api_response(self, path: str, params: Mapping[str, Any]) -> bytes | None:
        return await self.get(api_key(path, params))

    async def cache_recent_messages(self, user_a: int | str, user_b: int | str,
                                    messages: Sequence[Any] | bytes,
                                    ttl: float = RECENT_MESSAGES_TTL) -> None:
        """The latest messages of a conversation."""
        await self.set(recent_messages_key(user_a, user_b), _as_bytes(messages), ttl=ttl,
                       tags=[conversation_tag(user_a, user_b)])

    async def get_recent_messages(self, user_a: int | str, user_b: int | str) -> bytes | None:
        return await self.get(recent_messages_key(user_a, user_b))

    # --- stats ------------------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        facts = self.counters.snapshot()
        facts["driver"] = self.driver
        if self.local is not None:
            facts["l1"] = {"size": len(self.local), "max_entries": self.local.max_entries,
                           "evictions": self.local.evictions, "active": self.l1_active,
                           "ttl": self.l1_ttl if self.redis is not None else None}
            facts["evictions"] = self.local.evictions
        if self.redis is not None:
            facts["redis"] = {"errors": self.redis.errors, "last_error": self.redis.last_error}
            try:
                facts["redis"].update(await self.redis.info())
                facts["redis"]["status"] = "up"
            except RedisUnavailable as exc:
                facts["redis"]["status"] = f"unavailable: {exc}"
            if self.subscriber is not None:
                facts["redis"]["invalidation_channel"] = {
                    "live": self.subscriber.live, "messages": self.subscriber.messages,
                    "reconnects": self.subscriber.reconnects}
        return facts
