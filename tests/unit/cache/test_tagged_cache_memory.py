"""TaggedCache on the memory driver: tags, TTL, single flight, LRU bound, fill races, stats."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from snaproom_gateway.cache import TaggedCache, api_key, user_key
from snaproom_gateway.cache.keys import InvalidTagError
from snaproom_gateway.cache.memory import MemoryStore


@pytest.fixture
def cache() -> TaggedCache:
    return TaggedCache(local=MemoryStore(max_entries=1000))


async def test_get_returns_the_bytes_that_were_set(cache):
    await cache.set("thing:1", b'{"a":1}', ttl=60)
    assert await cache.get("thing:1") == b'{"a":1}'
    assert await cache.get("thing:2") is None


async def test_keys_are_namespaced_and_versioned(cache):
    await cache.set("thing:1", b"x", ttl=60)
    assert await cache.get("snaproom:v1:thing:1") == b"x"
    assert user_key(7) == "snaproom:v1:user:7"
    assert api_key("/users", {"page": 2, "q": "a b"}) == "snaproom:v1:api:/users?page=2&q=a+b"
    assert api_key("/users", {"q": "a", "page": 2}) == api_key("/users", {"page": 2, "q": "a"})


async def test_entry_expires_after_its_ttl(cache):
    await cache.set("short", b"x", ttl=0.05)
    assert await cache.get("short") == b"x"
    await asyncio.sleep(0.08)
    assert await cache.get("short") is None


async def test_invalidating_a_tag_removes_every_entry_carrying_it(cache):
    await cache.set("a", b"1", ttl=60, tags=["t1", "t2"])
    await cache.set("b", b"2", ttl=60, tags=["t1"])
    await cache.set("c", b"3", ttl=60, tags=["t2"])
    await cache.set("d", b"4", ttl=60)
    assert await cache.invalidate_tags(["t1"]) == 2
    assert await cache.get("a") is None
    assert await cache.get("b") is None
    assert await cache.get("c") == b"3"
    assert await cache.get("d") == b"4"
    assert await cache.invalidate_tags(["t1"]) == 0


async def test_bad_tags_are_refused(cache):
    with pytest.raises(InvalidTagError):
        await cache.set("a", b"1", ttl=60, tags=["has space"])
    with pytest.raises(InvalidTagError):
        await cache.invalidate_tags(["new\nline"])


async def test_non_bytes_values_are_refused(cache):
    with pytest.raises(TypeError):
        await cache.set("a", {"x": 1}, ttl=60)  # type: ignore[arg-type]


async def test_hundred_concurrent_misses_compute_once(cache):
    calls = 0

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return b"computed"

    results = await asyncio.gather(
        *(cache.get_or_set("hot", load, ttl=60, tags=["hot"]) for _ in range(100)))
    assert results == [b"computed"] * 100
    assert calls == 1
    stats = await cache.stats()
    assert stats["computations"] == 1
    assert stats["single_flight_joined"] == 99


async def test_a_failing_factory_fails_every_waiter_and_caches_nothing(cache):
    async def broken() -> bytes:
        await asyncio.sleep(0.01)
        raise RuntimeError("database down")

    results = await asyncio.gather(*(cache.get_or_set("k", broken, ttl=60) for _ in range(5)),
                                   return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.get("k") is None


async def test_a_value_computed_before_an_invalidation_is_not_stored_after_it(cache):
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_load() -> bytes:
        started.set()
        await release.wait()
        return b"old"

    fill = asyncio.create_task(cache.get_or_set("user:1", slow_load, ttl=60, tags=["user:1"]))
    await started.wait()
    await cache.invalidate_tags(["user:1"])
    release.set()
    assert await fill == b"old"  # the caller still gets its answer...
    assert await cache.get("user:1") is None  # ...but it is not kept past the invalidation
    assert (await cache.stats())["sets_skipped_after_invalidation"] == 1


async def test_lru_bound_evicts_the_least_recently_used():
    cache = TaggedCache(local=MemoryStore(max_entries=100))
    for i in range(100):
        await cache.set(f"k:{i}", b"v", ttl=60, tags=["all"])
    assert await cache.get("k:0") == b"v"  # k:0 is now the most recently used
    await cache.set("k:100", b"v", ttl=60, tags=["all"])
    assert await cache.get("k:1") is None
    assert await cache.get("k:0") == b"v"
    stats = await cache.stats()
    assert stats["evictions"] == 1
    assert stats["l1"]["size"] == 100
    # the evicted key left the tag index too
    assert "snaproom:v1:k:1" not in cache.local.tag_members("all")


async def test_prune_removes_expired_entries_from_the_tag_index(cache):
    await cache.set("gone", b"x", ttl=0.02, tags=["t"])
    await cache.set("kept", b"y", ttl=60, tags=["t"])
    await asyncio.sleep(0.04)
    assert await cache.prune_stale() == 1
    assert cache.local.tag_members("t") == {"snaproom:v1:kept"}


async def test_convenience_methods_mirror_the_reference_service(cache):
    await cache.cache_user(5, {"id": 5, "name": "Ada"})
    assert orjson.loads(await cache.get_user(5)) == {"id": 5, "name": "Ada"}
    await cache.cache_api_response("/users", {"page": 1}, {"items": []}, tags=["users:list"])
    assert await cache.get_api_response("/users", {"page": 1}) == b'{"items":[]}'
    await cache.cache_recent_messages(9, 3, [{"text": "hi"}])
    assert await cache.get_recent_messages(3, 9) == b'[{"text":"hi"}]'

    assert await cache.invalidate_tags(["user:5"]) == 1
    assert await cache.get_user(5) is None
    await cache.invalidate_tags(["users:list", "conversation:3:9"])
    assert await cache.get_api_response("/users", {"page": 1}) is None
    assert await cache.get_recent_messages(9, 3) is None


async def test_cache_user_uses_the_thirty_minute_default(cache):
    await cache.cache_user(1, b"{}")
    entry = cache.local.get(user_key(1))
    assert 1790 < entry.expires_at - time.monotonic() <= 1800


async def test_stats_count_hits_and_misses_overall_and_per_prefix(cache):
    await cache.cache_user(1, b"{}")
    await cache.get_user(1)
    await cache.get_user(1)
    await cache.get_user(2)
    await cache.get_api_response("/x", {})
    stats = await cache.stats()
    assert (stats["hits"], stats["misses"]) == (2, 2)
    assert stats["hit_ratio"] == 0.5
    assert stats["by_prefix"]["user"] == {"hits": 2, "misses": 1, "hit_ratio": 0.6667}
    assert stats["by_prefix"]["api"] == {"hits": 0, "misses": 1, "hit_ratio": 0.0}
    assert stats["driver"] == "memory"


def test_the_l1_store_asks_once_for_renewal_of_an_entry_read_late_and_renews_only_it():
    store = MemoryStore(10, refresh_after=0.5)
    entry = store.set("k", b"v", 10.0, ("t",), "user")
    assert store.get("k") is entry and store.due_refresh == {}
    entry.refresh_at = time.monotonic()  # as if half its life had passed
    assert store.get("k") is entry and store.due_refresh == {"k": entry}
    store.due_refresh.clear()
    assert store.get("k") is entry and store.due_refresh == {}  # asked once
    old_expiry = entry.expires_at
    assert not store.renew("k", entry, b"other", 10.0)  # Redis holds another value
    assert store.renew("k", entry, b"v", 20.0) and entry.expires_at > old_expiry
    store.invalidate_tags(["t"])
    assert not store.renew("k", entry, b"v", 20.0)  # gone: an invalidation is not undone
    assert store.get("k") is None
