"""TaggedCache on real Redis through Sentinel: tags, TTL, single flight, pruning, L1, stats."""

from __future__ import annotations

import asyncio
import subprocess
import threading

import orjson
import pytest

from snaproom_gateway.cache.keys import INVALIDATION_CHANNEL, tag_set_key
from snaproom_gateway.cache.redis_store import INVALIDATE_CHUNK
from tests.support.cache_fixtures import wait_until

pytestmark = pytest.mark.integration


async def test_values_round_trip_through_redis(make_cache, uid):
    cache = await make_cache()
    await cache.set(f"thing:{uid}", b'{"a":1}', ttl=60, tags=[f"t:{uid}"])
    other = await make_cache(cache_l1_enabled=False)
    assert await other.get(f"thing:{uid}") == b'{"a":1}'
    assert await other.get(f"thing:{uid}:missing") is None
    # Stored sealed (AES-GCM, bound to the key name); opened, it is the tag header and the bytes.
    raw = await other.redis.client.get(f"snaproom:v1:thing:{uid}")
    assert b'{"a":1}' not in raw
    assert other.redis.sealer.open(raw, f"snaproom:v1:thing:{uid}") == \
        f"t:{uid}\n".encode() + b'{"a":1}'


async def test_invalidating_a_tag_removes_every_entry_and_the_tag_set(make_cache, uid):
    cache = await make_cache()
    client = cache.redis.client
    for i in range(50):
        await cache.set(f"item:{uid}:{i}", b"v", ttl=60, tags=[f"all:{uid}", f"one:{uid}:{i}"])
    await cache.set(f"other:{uid}", b"v", ttl=60, tags=[f"else:{uid}"])
    assert await client.zcard(tag_set_key(f"all:{uid}")) == 50

    assert await cache.invalidate_tags([f"all:{uid}"]) == 50
    assert await client.exists(*(f"snaproom:v1:item:{uid}:{i}" for i in range(50))) == 0
    assert await client.exists(tag_set_key(f"all:{uid}")) == 0
    assert await cache.get(f"other:{uid}") == b"v"
    # a stale member of another tag set points at nothing, and invalidating it is harmless
    assert await cache.invalidate_tags([f"one:{uid}:3"]) == 0


async def test_entries_expire_with_their_ttl(make_cache, uid):
    cache = await make_cache(cache_l1_enabled=False)
    await cache.set(f"short:{uid}", b"x", ttl=0.2, tags=[f"t:{uid}"])
    assert 0 < await cache.redis.client.pttl(f"snaproom:v1:short:{uid}") <= 200
    assert await cache.get(f"short:{uid}") == b"x"
    await asyncio.sleep(0.3)
    assert await cache.get(f"short:{uid}") is None


async def test_stale_tag_members_are_pruned(make_cache, uid):
    cache = await make_cache(cache_l1_enabled=False)
    client = cache.redis.client
    tag = f"t:{uid}"
    await cache.set(f"gone:{uid}", b"x", ttl=0.1, tags=[tag])
    await cache.set(f"gone2:{uid}", b"x", ttl=0.1, tags=[f"u:{uid}"])
    await asyncio.sleep(0.2)
    assert await client.zcard(tag_set_key(tag)) == 1  # expired key, member still listed
    # a write to the tag prunes the members whose expiry has passed
    await cache.set(f"kept:{uid}", b"y", ttl=60, tags=[tag])
    members = await client.zrange(tag_set_key(tag), 0, -1)
    assert members == [f"snaproom:v1:kept:{uid}".encode()]
    # the sweep (Laravel's cache:prune-stale-tags) handles sets nobody writes to any more
    assert await client.zcard(tag_set_key(f"u:{uid}")) == 1
    assert await cache.prune_stale() >= 1
    assert await client.exists(tag_set_key(f"u:{uid}")) == 0


async def test_tag_sets_expire_after_their_last_member(make_cache, uid):
    cache = await make_cache(cache_l1_enabled=False)
    await cache.set(f"k:{uid}", b"x", ttl=30, tags=[f"t:{uid}"])
    pttl = await cache.redis.client.pttl(tag_set_key(f"t:{uid}"))
    assert 30_000 < pttl <= 90_000


async def test_hundred_concurrent_misses_compute_once(make_cache, uid):
    cache = await make_cache()
    calls = 0

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return b"computed"

    results = await asyncio.gather(
        *(cache.get_or_set(f"hot:{uid}", load, ttl=60, tags=[f"t:{uid}"]) for _ in range(100)))
    assert results == [b"computed"] * 100
    assert calls == 1


async def test_concurrent_misses_on_two_instances_compute_once(make_cache, uid):
    first, second = await make_cache(), await make_cache()
    calls = 0

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return b"computed once"

    results = await asyncio.gather(
        *(cache.get_or_set(f"hot:{uid}", load, ttl=60) for cache in (first, second)
          for _ in range(50)))
    assert results == [b"computed once"] * 100
    assert (first.redis.last_error, second.redis.last_error) == (None, None)
    assert calls == 1
    assert (await first.stats())["lock_waits"] + (await second.stats())["lock_waits"] == 1


async def test_a_value_computed_before_an_invalidation_is_not_stored_after_it(make_cache, uid):
    cache, other = await make_cache(), await make_cache()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_load() -> bytes:
        started.set()
        await release.wait()
        return b"old"

    fill = asyncio.create_task(cache.get_or_set(f"u:{uid}", slow_load, ttl=60, tags=[f"t:{uid}"]))
    await started.wait()
    await other.invalidate_tags([f"t:{uid}"])  # another instance invalidates meanwhile
    release.set()
    assert await fill == b"old"
    assert await cache.redis.client.exists(f"snaproom:v1:u:{uid}") == 0
    assert await cache.get(f"u:{uid}") is None


async def test_l1_is_filled_on_redis_hits_and_dropped_by_invalidation_elsewhere(make_cache, uid):
    writer, reader = await make_cache(), await make_cache()
    key, tag = f"user:{uid}", f"user:{uid}"
    await writer.set(key, b"v1", ttl=60, tags=[tag])

    assert await reader.get(key) == b"v1"  # Redis hit, fills the reader's L1
    assert reader.peek_local(f"snaproom:v1:{key}") is not None
    l1_hits = reader.counters.l1_hits
    assert await reader.get(key) == b"v1"
    assert reader.counters.l1_hits == l1_hits + 1

    before = reader.counters.remote_invalidations
    await writer.invalidate_tags([tag])
    await wait_until(lambda: reader.counters.remote_invalidations > before)
    assert reader.peek_local(f"snaproom:v1:{key}") is None
    await writer.set(key, b"v2", ttl=60, tags=[tag])
    assert await reader.get(key) == b"v2"


def channel_reader(port: int, password: str) -> tuple[subprocess.Popen, list[dict]]:
    """redis-cli subscribed to the invalidation channel; returns it and the messages it prints,
    gathered by a thread, once it has confirmed the subscription."""
    cli = subprocess.Popen(["stdbuf", "-oL", "redis-cli", "-p", str(port), "-a", password,
                            "--no-auth-warning", "SUBSCRIBE", INVALIDATION_CHANNEL],
                           stdout=subprocess.PIPE, text=True)
    subscribed, messages = threading.Event(), []

    def read() -> None:
        for line in cli.stdout:
            if line.strip() == "1":
                subscribed.set()
            elif line.startswith("{"):
                messages.append(orjson.loads(line))

    threading.Thread(target=read, daemon=True).start()
    assert subscribed.wait(10), "redis-cli did not subscribe"
    return cli, messages


async def test_a_drop_of_many_tags_goes_in_chunks_to_redis_and_every_l1(
        make_cache, uid, stack, stack_env):
    # One script per INVALIDATE_CHUNK tags, so a large drop never holds Redis for long.
    writer, reader = await make_cache(), await make_cache()
    tags = [f"many:{uid}:{i}" for i in range(INVALIDATE_CHUNK * 3 + 5)]
    for tag in tags:
        await writer.set(tag, b"v", ttl=60, tags=[tag])
        assert await reader.get(tag) == b"v"  # a Redis hit: now in the reader's L1
    cli, messages = channel_reader(stack.redis_master_port(), stack_env["REDIS_PASSWORD"])
    try:
        assert await writer.invalidate_tags(tags) == len(tags)
        await wait_until(lambda: all(reader.peek_local(f"snaproom:v1:{t}") is None for t in tags))
        assert await writer.redis.client.exists(*(f"snaproom:v1:{t}" for t in tags)) == 0
        await wait_until(lambda: sum(len(m["tags"]) for m in messages) >= len(tags))
    finally:
        cli.terminate()
        cli.wait(5)
    assert len(messages) == 4 and all(len(m["tags"]) <= INVALIDATE_CHUNK for m in messages)
    assert sorted(t for m in messages for t in m["tags"]) == sorted(tags)


async def test_delete_drops_the_key_on_every_instance(make_cache, uid):
    writer, reader = await make_cache(), await make_cache()
    await writer.set(f"k:{uid}", b"v", ttl=60)
    assert await reader.get(f"k:{uid}") == b"v"
    before = reader.counters.remote_invalidations
    await writer.delete(f"k:{uid}")
    await wait_until(lambda: reader.counters.remote_invalidations > before)
    assert await reader.get(f"k:{uid}") is None


async def test_stats_report_redis_memory_and_keys(make_cache, uid):
    cache = await make_cache()
    await cache.cache_user(uid, {"id": uid})
    await cache.get_user(uid)
    stats = await cache.stats()
    assert stats["driver"] == "redis"
    assert stats["redis"]["status"] == "up"
    assert stats["redis"]["used_memory"] > 0
    assert stats["redis"]["keys"] >= 3  # the entry and its two tag sets
    assert stats["redis"]["invalidation_channel"]["live"] is True
    assert stats["l1"]["size"] >= 1
    assert stats["by_prefix"]["user"]["hits"] >= 1


async def test_a_fill_leaves_no_lock_behind_whether_it_succeeds_or_fails(make_cache, uid):
    cache = await make_cache()

    async def ok() -> bytes:
        return b"v"

    async def broken() -> bytes:
        raise RuntimeError("database down")

    assert await cache.get_or_set(f"ok:{uid}", ok, ttl=60, tags=[f"t:{uid}"]) == b"v"
    with pytest.raises(RuntimeError):
        await cache.get_or_set(f"bad:{uid}", broken, ttl=60)
    client = cache.redis.client
    assert await client.exists(f"snaproom:v1:lock:ok:{uid}", f"snaproom:v1:lock:bad:{uid}") == 0
    assert await client.exists(f"snaproom:v1:bad:{uid}") == 0


async def test_an_l1_entry_read_late_in_its_life_is_renewed_from_redis(make_cache, uid):
    # L1 TTL 1 s; a read after 0.5 s of it asks for a renewal (one MGET in the background).
    cache = await make_cache(cache_l1_ttl=1.0, cache_l1_refresh_after=0.5)
    key, tag = f"snaproom:v1:user:{uid}", f"user:{uid}"
    await cache.set(key, b"v1", ttl=60, tags=[tag])
    entry = cache.peek_local(key)
    assert entry is not None
    first_expiry = entry.expires_at
    await asyncio.sleep(0.6)
    assert cache.peek_local(key) is entry  # late read: renewal asked
    await wait_until(lambda: cache.counters.l1_refreshes >= 1, timeout=10)
    assert entry.expires_at > first_expiry
    await asyncio.sleep(0.6)  # past the first expiry: still held, same entry (same ETag)
    assert cache.peek_local(key) is entry


async def test_an_l1_entry_read_only_early_expires_and_an_invalidated_one_is_not_renewed(
        make_cache, uid):
    cache = await make_cache(cache_l1_ttl=1.0, cache_l1_refresh_after=0.5)
    other = await make_cache()
    quiet, hot = f"snaproom:v1:user:q{uid}", f"snaproom:v1:user:h{uid}"
    await cache.set(quiet, b"q", ttl=60, tags=[f"user:q{uid}"])
    await cache.set(hot, b"h", ttl=60, tags=[f"user:h{uid}"])
    assert cache.peek_local(quiet) is not None  # read early only: no renewal
    await asyncio.sleep(0.6)
    # Invalidated elsewhere between the late read and the renewal: the MGET finds nothing,
    # and the entry the pub/sub broadcast dropped is not put back.
    late = cache.peek_local(hot)
    assert late is not None
    before = cache.counters.remote_invalidations
    await other.invalidate_tags([f"user:h{uid}"])
    await wait_until(lambda: cache.counters.remote_invalidations > before)
    await asyncio.sleep(0.6)
    assert cache.counters.l1_refreshes == 0
    assert cache.peek_local(hot) is None
    assert cache.peek_local(quiet) is None  # expired from the L1 ...
    assert await cache.get(quiet) == b"q"  # ... and read through from Redis


async def test_a_rotated_key_still_reads_old_entries_and_a_dropped_one_refills(make_cache, uid):
    import base64
    import os

    old_key = base64.b64encode(os.urandom(32)).decode()
    new_key = base64.b64encode(os.urandom(32)).decode()
    before = await make_cache(cache_encryption_key=old_key, cache_l1_enabled=False)
    await before.set(f"rot:{uid}", b"secret-ish", ttl=60, tags=[f"rot:{uid}"])
    rotated = await make_cache(cache_encryption_key=new_key,
                               cache_encryption_key_previous=old_key, cache_l1_enabled=False)
    assert await rotated.get(f"rot:{uid}") == b"secret-ish"
    dropped = await make_cache(cache_encryption_key=new_key, cache_l1_enabled=False)
    assert await dropped.get(f"rot:{uid}") is None  # unreadable: a miss, never an error
    loads = []

    async def load() -> bytes:
        loads.append(1)
        return b"from-the-database"

    assert await dropped.get_or_set(f"rot:{uid}", load, ttl=60, tags=[f"rot:{uid}"]) == \
        b"from-the-database"
    assert loads == [1]
    assert await dropped.get(f"rot:{uid}") == b"from-the-database"  # stored under the new key
