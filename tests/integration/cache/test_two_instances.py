"""Two gateway instances (two apps in one test) on one Redis and one Kafka: a write on A is
seen by B's next read, through event-driven invalidation.

The write publishes `user.updated` to Kafka (the domain never deletes cache keys). Until the
event backbone (events branch: outbox, relay, consumer runner) is merged, `broadcast_consumer`
below stands in for its per-instance broadcast consumer and calls the very handler the
backbone will call (cache/invalidation.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from types import SimpleNamespace

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from fastapi import FastAPI, HTTPException, Request, Response
from sqlalchemy import select, update

from snaproom_gateway.app import create_app
from snaproom_gateway.cache import user_key, user_tags
from snaproom_gateway.cache.http import cached_response
from snaproom_gateway.cache.invalidation import invalidate_for_event
from snaproom_gateway.deps import CacheDep, SessionDep
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


@asynccontextmanager
async def broadcast_consumer(app: FastAPI, brokers: str) -> AsyncIterator[list[str]]:
    """Per-instance consumer from the latest offset (a group of its own: broadcast)."""
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=brokers,
                                group_id=f"cache-test-{uuid.uuid4().hex}",
                                auto_offset_reset="latest", enable_auto_commit=False)
    await consumer.start()
    handled: list[str] = []
    ready = asyncio.Event()

    async def run() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            if consumer.assignment():
                ready.set()
            for records in batches.values():
                for record in records:
                    envelope = orjson.loads(record.value)
                    data = envelope["data"]
                    wrapped = SimpleNamespace(data=SimpleNamespace(
                        event=data["event"], user_id=data["user_id"], data=data["data"]))
                    await invalidate_for_event(wrapped, SimpleNamespace(state=app.state))
                    handled.append(envelope["id"])
            await consumer.commit()

    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(60):
            await ready.wait()
            # position at the end now, so the event published next is read
            for partition in consumer.assignment():
                await consumer.position(partition)
        yield handled
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with asyncio.timeout(10):
            await consumer.stop()


async def ensure_topic(brokers: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=6, replication_factor=3)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def test_update_on_instance_a_is_read_on_instance_b(stack_settings):
    settings = stack_settings.model_copy(update={"kafka_consumer_group_id": "cache-two-apps"})
    brokers = ",".join(settings.kafka_brokers)
    await ensure_topic(brokers)
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
        assert await app_a.state.kafka.wait_connected(60)
        handled_a = await stack.enter_async_context(broadcast_consumer(app_a, brokers))
        handled_b = await stack.enter_async_context(broadcast_consumer(app_b, brokers))

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

        # A writes and publishes the event; it deletes no cache key itself
        async with app_a.state.sessionmaker() as session:
            await session.execute(
                update(User).where(User.id == user_id).values(display_name="after"))
            await session.commit()
        event_id = str(uuid.uuid4())
        envelope = {"id": event_id, "timestamp": "2026-11-23T00:00:00Z",
                    "service": "snaproom-gateway", "version": "1.0.0",
                    "data": {"event": "user.updated", "user_id": user_id,
                             "data": {"fields": ["display_name"]}}}
        published = time.perf_counter()
        await app_a.state.kafka.producer.send_and_wait(
            TOPIC, orjson.dumps(envelope), key=str(user_id).encode())

        # The mechanism: B's L1 entry goes, by the pub/sub broadcast of whichever instance
        # handled the event first, or by B's own consumer (the durable path).
        await wait_until(lambda: cache_b.peek_local(user_key(user_id)) is None, timeout=60,
                         step=0.001)
        dropped_after_ms = (time.perf_counter() - published) * 1000
        await wait_until(lambda: event_id in handled_a and event_id in handled_b, timeout=60)
        assert cache_b.counters.invalidations == own_before + 1  # B's consumer ran the handler
        assert cache_b.counters.remote_invalidations > remote_before  # and A's broadcast came
        async with app_a.state.sessionmaker() as session:
            assert (await session.scalar(
                select(User.display_name).where(User.id == user_id))) == "after"

        fresh = await client_b.get(f"/api/users/{user_id}")
        assert fresh.json()["display_name"] == "after"
        assert "x-cache" not in fresh.headers  # B's route reloaded it from the database
        assert (await client_a.get(f"/api/users/{user_id}")).json()["display_name"] == "after"
        print(f"\nB's L1 entry dropped {dropped_after_ms:.1f} ms after A published the event")
