"""Builds the process's TaggedCache from the settings and the Foundation's Redis clients."""

from __future__ import annotations

import logging

from snaproom_gateway.cache.memory import MemoryStore
from snaproom_gateway.cache.redis_store import Breaker, RedisStore
from snaproom_gateway.cache.sealing import build_sealer
from snaproom_gateway.cache.tagged import TaggedCache
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra.redis import RedisClients, subscriber_client

log = logging.getLogger(__name__)


def build_cache(settings: Settings, redis_clients: RedisClients | None,
                breaker: Breaker | None = None) -> TaggedCache:
    if settings.effective_cache_driver == "memory" or redis_clients is None:
        if settings.effective_cache_driver == "redis":
            log.warning("CACHE_DRIVER=redis but Redis is not configured: using the memory cache")
        return TaggedCache(local=MemoryStore(settings.cache.memory_max_entries))
    # Reads and writes go to the master: a replica may lag an invalidation, and the L1 would
    # then keep what it read until its TTL.
    store = RedisStore(redis_clients.master, op_timeout=settings.cache.redis_timeout,
                       cooldown=settings.cache.redis_cooldown,
                       max_in_flight=min(settings.cache.redis_max_in_flight,
                                         max(1, settings.redis.max_connections // 2)),
                       breaker=breaker, sealer=build_sealer(settings))
    local = (MemoryStore(settings.cache.l1_max_entries,
                         refresh_after=settings.cache.l1_refresh_after or None)
             if settings.cache.l1_enabled else None)
    return TaggedCache(local=local, redis=store,
                       subscriber_client=subscriber_client(settings) if local is not None else None,
                       l1_ttl=settings.cache.l1_ttl,
                       lock_ttl=settings.cache.lock_ttl, lock_wait=settings.cache.lock_wait)

