"""Read-your-writes across two instances on the real stack (PostgreSQL, Redis with Sentinels):
a write drops what it made stale in its own request, so the next read on either instance, by
anyone, sees it; a logout reaches the other instance through the invalidation channel.

Both instances are served by uvicorn with the gateway's HTTP protocol (its fast path answers
signed-in and anonymous reads from the L1). Kafka is left out on purpose: the consumers'
invalidation is only the backstop, and these reads must not wait for it.
"""

from __future__ import annotations

import time
import uuid
from contextlib import AsyncExitStack

import httpx
import pytest

from snaproom_gateway.auth.sessions import session_key
from snaproom_gateway.auth.tokens import token_hash
from snaproom_gateway.cache.keys import full_key
from tests.support.apps import served
from tests.support.cache_fixtures import wait_until
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"snaproom_session={token}"}


async def two_instances(stack: AsyncExitStack, settings):
    instances = []
    for _ in range(2):
        app, base = await stack.enter_async_context(served(settings))
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=10))
        assert await app.app.state.runtime.cache.subscriber.wait_live(10)
        instances.append((app, client))
    return instances


async def test_writes_on_one_instance_are_read_at_once_on_both(stack_settings):
    settings = stack_settings.with_changes(**{"kafka_brokers": [], "rate_limit_enabled": False})
    async with AsyncExitStack() as stack:
        (app_a, a), (app_b, b) = await two_instances(stack, settings)
        name = uuid.uuid4().hex[:10]
        owner, owner_token = await signup(a, f"o{name}")
        reader, reader_token = await signup(b, f"r{name}")
        profile = f"/api/users/{owner['id']}"
        readers = [(client, headers) for client in (a, b)
                   for headers in ({}, bearer(reader_token), cookie(owner_token))]
        stale = reads = 0
        for n in range(10):
            for client, headers in readers:
                # Until the L1 answers: the consumers' late copy of the last invalidation (the
                # backstop) may drop a first refill.
                for _ in range(50):
                    cached = await client.get(profile, headers=headers)
                    if cached.headers.get("x-cache") == "l1":
                        break
                assert cached.headers.get("x-cache") == "l1"
            writer = (a, b)[n % 2]
            changed = await writer.patch("/api/users/me", json={"display_name": f"v{n}"},
                                         headers=bearer(owner_token))
            assert changed.status_code == 200, changed.text
            for client, headers in readers:
                answer = await client.get(profile, headers=headers)
                stale += answer.json()["display_name"] != f"v{n}"
                reads += 1
            for client in (a, b):
                me = await client.get("/api/auth/me", headers=bearer(owner_token))
                stale += me.json()["display_name"] != f"v{n}"
                reads += 1
        assert reads == 80 and stale == 0

        # The users list: a signup on A is counted by B's next read of its cached page.
        page = {"page": 1, "size": 1}
        first = (await b.get("/api/users", params=page)).json()["total"]
        for _ in range(50):
            listed = await b.get("/api/users", params=page)
            if listed.headers.get("x-cache") in ("l1", "HIT"):  # the protocol's or the route's
                break
        assert listed.headers.get("x-cache") in ("l1", "HIT")
        assert listed.json()["total"] == first
        await signup(a, f"n{name}")
        assert (await b.get("/api/users", params=page)).json()["total"] == first + 1

        # Connections: a request made on A is in B's next read of the addressee's requests.
        listed = await b.get("/api/connections/requests", headers=bearer(owner_token))
        assert listed.status_code == 200 and listed.json()["items"] == []
        asked = await a.post("/api/connections", json={"to_user_id": owner["id"]},
                             headers=bearer(reader_token))
        assert asked.status_code == 201, asked.text
        listed = await b.get("/api/connections/requests", headers=bearer(owner_token))
        assert [item["id"] for item in listed.json()["items"]] == [asked.json()["id"]]
        accepted = await b.post(f"/api/connections/{asked.json()['id']}/accept",
                                headers=bearer(owner_token))
        assert accepted.status_code == 200
        mine = await a.get("/api/connections", headers=bearer(reader_token))
        assert len(mine.json()["items"]) == 1

        # Sessions: after a logout on A, A refuses the token at once; B's copy goes through
        # the invalidation channel within milliseconds, and from then on B refuses it too.
        for client in (a, b):
            for _ in range(50):
                again = await client.get("/api/auth/me", headers=bearer(reader_token))
                if again.headers.get("x-cache") == "l1":
                    break
            assert again.headers.get("x-cache") == "l1"
        # An instance whose L1 lost them answers a signed-in read from Redis, before the route.
        app_b.app.state.runtime.cache.local.clear()
        from_redis = await b.get("/api/auth/me", headers=bearer(reader_token))
        assert from_redis.headers.get("x-cache") == "redis"
        assert from_redis.content == again.content
        key = full_key(session_key(token_hash(reader_token)))
        out = await a.post("/api/auth/logout", headers=bearer(reader_token))
        logged_out = time.perf_counter()
        assert out.status_code == 204
        assert (await a.get("/api/auth/me", headers=bearer(reader_token))).status_code == 401
        await wait_until(lambda: app_b.app.state.runtime.cache.peek_local(key) is None, timeout=5,
                         step=0.0005)
        delay_ms = (time.perf_counter() - logged_out) * 1000
        for headers in (bearer(reader_token), cookie(reader_token)):
            assert (await b.get("/api/auth/me", headers=headers)).status_code == 401
        print(f"logout on A reached B's L1 after {delay_ms:.1f} ms")
