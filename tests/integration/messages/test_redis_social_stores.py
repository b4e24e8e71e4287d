"""The Redis primitives of the social domains: the recent-messages set and presence keys."""

from __future__ import annotations

import uuid

import orjson
import pytest

from snaproom_gateway.infra import redis as redis_infra
from snaproom_gateway.messages.recent_store import RedisRecentMessages, recent_key
from snaproom_gateway.presence.store import RedisPresence

pytestmark = pytest.mark.integration


@pytest.fixture
async def clients(settings):
    clients = redis_infra.create_clients(settings)
    yield clients
    await redis_infra.close(clients)


def pair() -> tuple[int, int]:
    base = uuid.uuid4().int % 10**12 + 10**12
    return base + 1, base


def item(i: int) -> bytes:
    return orjson.dumps({"id": i, "text": f"m{i}"})


async def test_appends_alone_are_not_a_complete_page(clients):
    store = RedisRecentMessages(clients, ttl=60, timeout=2.0)
    a, b = pair()
    await store.append(a, b, 1, item(1))
    assert await store.read(a, b) is None
    await store.fill(b, a, [])
    assert await store.read(a, b) == [item(1)]


async def test_a_fill_racing_an_append_keeps_both_in_id_order_and_keeps_the_newest_50(clients):
    store = RedisRecentMessages(clients, ttl=60, timeout=2.0)
    a, b = pair()
    await store.append(a, b, 60, item(60))          # committed after the fill's query
    await store.fill(a, b, [(i, item(i)) for i in range(1, 60)])
    await store.append(b, a, 59, item(59))          # a duplicate: replaces, no second copy
    await store.append(a, b, 61, item(61))
    read = await store.read(b, a)
    assert [orjson.loads(m)["id"] for m in read] == list(range(12, 62))
    assert 0 < await clients.master.ttl(recent_key(a, b)) <= 60
    await store.drop(a, b)
    assert await store.read(a, b) is None


async def test_presence_keys_expire_and_last_seen_survives_leaving(clients):
    presence = RedisPresence(clients, timeout=2.0)
    user = uuid.uuid4().int % 10**12 + 10**13
    await presence.touch(user, 100)
    state = (await presence.states([user]))[user]
    assert state.online and state.last_seen
    await presence.leave(user)
    after = (await presence.states([user]))[user]
    assert not after.online and after.last_seen >= state.last_seen


async def test_sealed_members_hide_the_text_and_a_retired_key_makes_the_read_a_miss(clients):
    import os

    from snaproom_gateway.cache.sealing import Sealer

    old_key, new_key = os.urandom(32), os.urandom(32)
    store = RedisRecentMessages(clients, ttl=60, timeout=2.0, sealer=Sealer(old_key))
    a, b = pair()
    await store.fill(a, b, [(1, item(1)), (2, item(2))])
    raw = await clients.master.zrange(recent_key(a, b), 0, -1)
    assert len(raw) == 3 and not any(b'"m1"' in m or b'"m2"' in m for m in raw)
    assert await store.read(b, a) == [item(1), item(2)]
    # Rotated: the previous key still opens them.
    rotated = RedisRecentMessages(clients, ttl=60, timeout=2.0,
                                  sealer=Sealer(new_key, previous=old_key))
    assert await rotated.read(a, b) == [item(1), item(2)]
    # Old key dropped: a miss, and the fill that follows replaces each member by its id.
    dropped = RedisRecentMessages(clients, ttl=60, timeout=2.0, sealer=Sealer(new_key))
    assert await dropped.read(a, b) is None
    await dropped.fill(a, b, [(1, item(1)), (2, item(2))])
    assert await dropped.read(a, b) == [item(1), item(2)]
    assert len(await clients.master.zrange(recent_key(a, b), 0, -1)) == 3
    await store.drop(a, b)
