"""Two gateway instances (two apps in one test) on one Redis and one Kafka: a write on A is
seen by B's next read, through event-driven invalidation.

The write publishes `user.updated` to Kafka (the domain never deletes cache keys). Until the
event backbone (events branch: outbox, relay, consumer runner) is merged, `broadcast_consumer`
below stands in for its per-instance broadcast consumer and calls the very handler the
backbone will call (cache/invalidation.py).
"""

from __future__ import annotations

import time
import uuid
from contextlib import AsyncExitStack

import httpx
import orjson
import pytest
from fastapi import FastAPI, HTTPException, Request, Response
from sqlalchemy import select, update

from snaproom_gateway.app import create_app
from snaproom_gateway.cache import user_key, user_tags
from snaproom_gateway.cache.http import cached_response
from snaproom_gateway.deps import CacheDep, SessionDep
from snaproom_gateway.events import publisher
from snaproom_gateway.infra import migrations
from snaproom_gateway.users.models import User
from tests.cache_fixtures import wait_until

pytestmark = pytest.mark.integration

TOPIC = "user-events"


def profile_app(settings) -> FastAPI:
    """The app with a profile route built as the domain's: ORM read -> bytes -> get_or_set."""
    app = create_app(settings)

    @app.get("/api/users/{user_id}")
    async def profile(user_id: int, request: Request, cache: CacheDep,
                      session: SessionDep) -> Response:
        async def load() -> bytes:
            user = await session.get(User, user_id)
            if user is None:
                raise HTTPException(status_code=404, detail="User not found")
            return orjson.dumps({"id": user.id, "display_name": user.display_name})

        body = await cache.get_or_set(user_key(user_id), load, ttl=1800, tags=user_tags(user_id))
        return cached_response(request, body)

    return app


async def test_update_on_instance_a_is_read_on_instance_b(stack_settings):
    settings = stack_settings.model_copy(update={"kafka_consumer_group_id": "cache-two-apps"})
    app_a, app_b = profile_app(settings), profile_app(settings)
    async with AsyncExitStack() as stack:
        for app in (app_a, app_b):
            await stack.enter_async_context(app.router.lifespan_context(app))
        await migrations.upgrade(app_a.state.engine)
        client_a = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_a), base_url="http://a"))
        client_b = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app_b), base_url="http://b"))
        for app in (app_a, app_b):
            assert await app.state.cache.subscriber.wait_live(10)
            # the app's cache reports its Redis errors to the shared Redis breaker
            assert app.state.cache.redis.breaker is app.state.breakers["redis"]
        for app in (app_a, app_b):
            assert await app.state.kafka.wait_connected(60)
            # each instance's broadcast cache group is assigned before the write
            await wait_until(lambda app=app: _cache_consumer_running(app), timeout=60)

        name = uuid.uuid4().hex[:12]
        async with app_a.state.sessionmaker() as session:
            user = User(email=f"{name}@example.com", username=name, password_hash="x",
                        display_name="before")
            session.add(user)
            await session.commit()
            user_id = user.id

        # A and B read; B's second answer comes from B's L1
        assert (await client_a.get(f"/api/users/{user_id}")).json()["display_name"] == "before"
        assert (await client_b.get(f"/api/users/{user_id}")).json()["display_name"] == "before"
        cached = await client_b.get(f"/api/users/{user_id}")
        assert cached.headers["x-cache"] == "l1"
        cache_b = app_b.state.cache
        remote_before = cache_b.counters.remote_invalidations
        own_before = cache_b.counters.invalidations

        # A writes and publishes user.updated through its outbox in the same transaction; it
        # deletes no cache key itself. A's relay sends it to Kafka.
        async with app_a.state.sessionmaker() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(display_name="after"))
            await publisher.publish(session, "user.updated", user_id=user_id,
                                    data={"fields": ["display_name"]})
            await session.commit()
        published = time.perf_counter()

        # The mechanism: B's L1 entry goes, by the pub/sub broadcast of whichever instance
        # handled the event first, or by B's own consumer (the durable path).
        await wait_until(lambda: cache_b.peek_local(user_key(user_id)) is None, timeout=60,
                         step=0.001)
        dropped_after_ms = (time.perf_counter() - published) * 1000
        # B's own consumer ran the handler (the durable path), and A's pub/sub broadcast came
        await wait_until(lambda: cache_b.counters.invalidations > own_before, timeout=60)
        await wait_until(lambda: cache_b.counters.remote_invalidations > remote_before,
                         timeout=60)
        async with app_a.state.sessionmaker() as session:
            assert (await session.scalar(
                select(User.display_name).where(User.id == user_id))) == "after"

        fresh = await client_b.get(f"/api/users/{user_id}")
        assert fresh.json()["display_name"] == "after"
        assert "x-cache" not in fresh.headers  # B's route reloaded it from the database
        assert (await client_a.get(f"/api/users/{user_id}")).json()["display_name"] == "after"
        print(f"\nB's L1 entry dropped {dropped_after_ms:.1f} ms after A published the event")


def _cache_consumer_running(app: FastAPI) -> bool:
    groups = app.state.health_components["consumers"]()["groups"]
    return any(name == "cache" and info["state"] == "running"
               for name, info in groups.items())
