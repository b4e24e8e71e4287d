"""The cache through a Sentinel failover: misses (never errors) while the master is gone, then
it works on the new master, its invalidation channel and L1 included."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.cache_fixtures import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def test_cache_keeps_working_after_a_sentinel_failover(stack, make_cache, uid):
    cache = await make_cache()
    other = await make_cache()
    await cache.set(f"before:{uid}", b"v", ttl=600, tags=[f"t:{uid}"])
    assert await cache.get(f"before:{uid}") == b"v"

    old_port = stack.redis_master_port()
    old_node = stack.redis_node_for_port(old_port)
    await asyncio.to_thread(stack.kill, old_node)
    try:
        errors: list[BaseException] = []
        calls = 0
        new_port = old_port
        deadline = time.monotonic() + 60
        recovered = False
        while time.monotonic() < deadline:
            calls += 1
            key = f"during:{uid}:{calls}"
            try:
                await cache.get(f"before:{uid}")
                await cache.set(key, b"w", ttl=600, tags=[f"t:{uid}"])

                async def load() -> bytes:
                    return b"loaded"

                assert await cache.get_or_set(f"gos:{uid}:{calls}", load, ttl=600) == b"loaded"
                if await cache.get(key) == b"w":
                    new_port = await asyncio.to_thread(stack.redis_master_port)
                    if new_port != old_port:
                        recovered = True
                        break
            except Exception as exc:  # the property under test: nothing surfaces
                errors.append(exc)
            await asyncio.sleep(0.05)
        assert errors == []
        assert recovered, "the cache did not write to a new master within 60 s"
        assert cache.redis.errors > 0  # the outage was seen, and absorbed as misses

        # after the failover: values, tags and the invalidation channel all work again
        await cache.set(f"after:{uid}", b"x", ttl=600, tags=[f"t:{uid}"])
        assert await other.get(f"after:{uid}") == b"x"
        assert await cache.subscriber.wait_live(30) and await other.subscriber.wait_live(30)
        # the subscribers saw their connection drop (and cleared their L1 meanwhile)
        assert other.subscriber.reconnects > 0 and other.counters.l1_resets >= 2
        assert await other.get(f"after:{uid}") == b"x"  # now from other's L1
        assert other.peek_local(f"snaproom:v1:after:{uid}") is not None
        before = other.counters.remote_invalidations
        assert await cache.invalidate_tags([f"t:{uid}"]) >= 2
        await wait_until(lambda: other.counters.remote_invalidations > before)
        assert await other.get(f"after:{uid}") is None
    finally:
        await asyncio.to_thread(stack.start, old_node)  # rejoins as a replica
