"""Two gateway instances on one Redis and one Kafka: a write on A is seen by B's next read,
through event-driven invalidation.

A runs in-process; B is served by uvicorn with the gateway's HTTP protocol, so B's cached reads
are the ones its protocol answers from the L1 (cache/http_protocol.py). The write is the real
PATCH /api/users/me on A: it publishes `user.updated` through A's outbox and deletes no cache key
itself. B's L1 entry goes by A's pub/sub broadcast and by B's own consumer (the durable path).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from snaproom_gateway.cache import user_key
from tests.support.apps import running_app, served
from tests.support.cache_fixtures import wait_until
from tests.support.users_api import bearer, signup

pytestmark = pytest.mark.integration


async def test_update_on_instance_a_is_read_on_instance_b(stack_settings):
    settings = stack_settings.with_changes(**{"kafka_consumer_group_id": "cache-two-apps"})
    async with AsyncExitStack() as stack:
        app_a, client_a = await stack.enter_async_context(running_app(settings))
        counting_b, base_b = await stack.enter_async_context(served(settings))
        app_b = counting_b.app
        client_b = await stack.enter_async_context(httpx.AsyncClient(base_url=base_b,
                                                                     timeout=10))
        for app in (app_a, app_b):
            assert await app.state.runtime.cache.subscriber.wait_live(10)
            # the app's cache reports its Redis errors to the shared Redis breaker
            assert app.state.runtime.cache.redis.breaker is app.state.runtime.breakers["redis"]
            assert await app.state.runtime.kafka.wait_connected(60)
            # each instance's broadcast cache group is assigned before the write
            await wait_until(lambda app=app: _cache_consumer_running(app), timeout=60)

        user, token = await signup(client_a, f"u{uuid.uuid4().hex[:12]}")
        path = f"/api/users/{user['id']}"

        # B reads twice: the route fills its L1, then B's protocol answers without the app
        first = await client_b.get(path)
        assert first.status_code == 200 and first.json()["display_name"] != "after"
        calls = counting_b.calls
        cached = await client_b.get(path)
        assert cached.content == first.content
        assert cached.headers["x-cache"] == "l1" and counting_b.calls == calls
        cache_b = app_b.state.runtime.cache
        remote_before = cache_b.counters.remote_invalidations
        own_before = cache_b.counters.invalidations

        changed = await client_a.patch("/api/users/me", json={"display_name": "after"},
                                       headers=bearer(token))
        assert changed.status_code == 200, changed.text
        published = time.perf_counter()

        # The mechanism: B's L1 entry goes, by the pub/sub broadcast of whichever instance
        # handled the event first, or by B's own consumer.
        await wait_until(lambda: cache_b.peek_local(user_key(user["id"])) is None, timeout=60,
                         step=0.001)
        dropped_after_ms = (time.perf_counter() - published) * 1000
        await wait_until(lambda: cache_b.counters.invalidations > own_before, timeout=60)
        await wait_until(lambda: cache_b.counters.remote_invalidations > remote_before,
                         timeout=60)

        calls = counting_b.calls
        fresh = await client_b.get(path)
        assert fresh.json()["display_name"] == "after"
        assert counting_b.calls == calls + 1  # B's app read it again (Redis or the database)
        # Then B's protocol serves the new value from its L1 again. A late copy of the
        # invalidation (each instance's consumer and broadcast send one) may drop the first
        # refill, so poll; every answer must already be the new value.
        for _ in range(200):
            again = await client_b.get(path)
            assert again.json()["display_name"] == "after"
            if again.headers.get("x-cache") == "l1":
                break
            await asyncio.sleep(0.05)
        assert again.headers.get("x-cache") == "l1"
        assert (await client_a.get(path)).json()["display_name"] == "after"
        print(f"\nB's L1 entry dropped {dropped_after_ms:.1f} ms after A's write returned")


def _cache_consumer_running(app: FastAPI) -> bool:
    groups = app.state.runtime.health_components["consumers"]()["groups"]
    return any(name == "cache" and info["state"] == "running"
               for name, info in groups.items())
