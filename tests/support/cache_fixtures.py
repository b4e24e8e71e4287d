"""Cache fixtures on the real Redis (through Sentinel) of the harness stack: one cache per simulated
instance. Imported by the conftests of tests/integration/cache and tests/faults/cache."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from snaproom_gateway.cache import TaggedCache
from snaproom_gateway.cache.builder import build_cache
from snaproom_gateway.infra import redis as redis_infra

CacheFactory = Callable[..., Awaitable[TaggedCache]]


@pytest.fixture
async def make_cache(stack_settings) -> AsyncIterator[CacheFactory]:
    """Builds a started TaggedCache with its own Redis clients (as a separate instance would)."""
    made: list[tuple[TaggedCache, redis_infra.RedisClients]] = []

    async def make(**overrides) -> TaggedCache:
        settings = stack_settings.with_changes(**overrides)
        clients = redis_infra.create_clients(settings)
        cache = build_cache(settings, clients)
        await cache.start()
        if cache.subscriber is not None:
            assert await cache.subscriber.wait_live(10), "invalidation channel did not come up"
        made.append((cache, clients))
        return cache

    yield make
    for cache, clients in made:
        await cache.close()
        await redis_infra.close(clients)


@pytest.fixture
def uid() -> str:
    """A fresh id, so tests never see each other's keys and tags."""
    return uuid.uuid4().hex[:10]


async def wait_until(predicate, timeout: float = 10.0, step: float = 0.005) -> None:
    """Poll a condition of the mechanism (not a speed assertion: the bound only stops a hang)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(step)
