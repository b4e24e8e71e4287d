"""Breakers against real outages: PostgreSQL stopped, Redis master killed, Redis stopped, Kafka
brokers killed. Runs the app in-process (lifespan + httpx ASGITransport) with a test-only router
(probe_app.py). Durations are printed as figures (`-s`), never asserted; the only time bounds here
are loop limits that turn a hang into a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from snaproom_gateway.infra import migrations
from tests.support import probe_app

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@asynccontextmanager
async def gateway(stack_env, **overrides) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = probe_app.build(probe_app.settings_for(stack_env, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway",
                                     timeout=30) as client:
            yield app, client


async def steady_load(client: httpx.AsyncClient, paths: list[str], rate: float,
                      stop: asyncio.Event, statuses: Counter, sources: Counter,
                      workers: int = 10) -> None:
    """`rate` requests per second in total, spread over `workers`, until `stop` is set."""
    interval = workers / rate

    async def worker(offset: int) -> None:
        i = offset
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not stop.is_set():
            response = await client.get(paths[i % len(paths)])
            statuses[response.status_code] += 1
            if response.status_code == 200:
                sources[response.json().get("source", "?")] += 1
            i += workers
            next_at += interval
            await asyncio.sleep(max(next_at - loop.time(), 0))

    await asyncio.gather(*(worker(n) for n in range(workers)))


async def until(predicate, bound: float, pause: float = 0.1):
    """Poll an async predicate until it returns a truthy value or `bound` seconds pass."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(pause)
    return None


async def test_postgres_outage_answers_fast_503_and_recovers_without_restart(stack, stack_env):
    async with gateway(stack_env) as (app, client):
        assert (await client.get("/t/db")).status_code == 200
        stack.down("postgres")
        try:
            latencies = []
            for _ in range(20):
                started = time.perf_counter()
                response = await client.get("/t/db")
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 503, response.text
                assert response.json()["dependency"] == "database"
                assert int(response.headers["retry-after"]) >= 1
            health = (await client.get("/api/health/detailed")).json()
            assert health["dependencies"]["database"]["breaker"]["state"] == "open"
            # A hang detector, not a speed target: the old failure mode was a 30 s wait.
            assert max(latencies) < 5, latencies
        finally:
            stack.up("postgres")
        restarted = time.monotonic()

        async def served() -> bool:
            return (await client.get("/t/db")).status_code == 200

        assert await until(served, bound=60), "database requests never succeeded again"
        print(f"\n[figure] postgres down: 503 latency max {max(latencies) * 1000:.1f} ms, "
              f"median {sorted(latencies)[10] * 1000:.1f} ms; served again "
              f"{time.monotonic() - restarted:.2f} s after the server was ready")
        assert app.state.runtime.breakers["database"].state == "closed"


async def test_reads_survive_a_redis_master_kill_and_writes_follow_the_new_master(stack,
                                                                                   stack_env):
    async with gateway(stack_env) as (app, client):
        paths = [f"/t/cached/k{n}" for n in range(50)]
        for path in paths:  # warm the cache
            assert (await client.get(path)).status_code == 200
        assert (await client.put("/t/cached/w")).status_code == 200
        old_master = stack.redis_node_for_port(stack.redis_master_port())
        statuses, sources = Counter(), Counter()
        stop = asyncio.Event()
        load = asyncio.create_task(steady_load(client, paths, 200, stop, statuses, sources))
        try:
            await asyncio.sleep(1.0)
            stack.kill(old_master)
            killed = time.monotonic()

            async def write_works() -> bool:
                return (await client.put("/t/cached/w")).status_code == 200

            recovered = await until(write_works, bound=60, pause=0.2)
            writes_back = time.monotonic() - killed
            await asyncio.sleep(2.0)  # keep reading on the new master for a while
        finally:
            stop.set()
            await load
            stack.start(old_master)  # it rejoins as a replica of the new master
        assert recovered, "writes never worked again after the failover"
        new_master = stack.redis_node_for_port(stack.redis_master_port())
        print(f"\n[figure] redis master killed: {sum(statuses.values())} reads {dict(statuses)}, "
              f"sources {dict(sources)}; writes back after {writes_back:.2f} s "
              f"(down-after 2 s); master {old_master} -> {new_master}")
        assert sum(statuses.values()) > 200
        assert all(status < 500 for status in statuses), statuses
        assert new_master != old_master


async def test_reads_come_from_the_database_while_redis_is_stopped(stack, stack_env):
    async with gateway(stack_env) as (app, client):
        breaker = app.state.runtime.breakers["redis"]
        assert (await client.get("/t/cached/a")).status_code == 200
        stack.down("redis")  # master, replica and the three Sentinels
        try:
            for n in range(30):
                response = await client.get(f"/t/cached/a{n}")
                assert response.status_code == 200, response.text
                assert response.json()["source"] == "database"
            assert breaker.state == "open"
            assert (await client.put("/t/cached/w")).status_code == 503
            health = (await client.get("/api/health/detailed")).json()
            assert health["dependencies"]["redis"]["breaker"]["state"] == "open"
        finally:
            stack.up("redis")
        returned = time.monotonic()

        async def closed() -> bool:
            await client.get("/t/cached/b")
            return breaker.state == "closed"

        assert await until(closed, bound=60), breaker.snapshot()
        print(f"\n[figure] redis stopped: breaker closed {time.monotonic() - returned:.2f} s "
              f"after Redis and the Sentinels were ready (reset timeout "
              f"{breaker.config.reset_timeout:g} s)")
        assert (await client.put("/t/cached/w")).status_code == 200


async def _create_topic(app: FastAPI) -> None:
    from aiokafka.admin import NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    kafka = app.state.runtime.kafka
    assert await kafka.wait_connected(60), kafka.last_error
    try:
        await kafka.admin.create_topics([NewTopic(probe_app.TOPIC, 3, 3)])
    except TopicAlreadyExistsError:
        pass


async def test_publishing_goes_on_with_a_broker_down_and_writes_succeed_with_none(stack,
                                                                                  stack_env):
    async with gateway(stack_env, breaker_timeout_kafka=2.0) as (app, client):
        await migrations.upgrade(app.state.runtime.engine)
        await _create_topic(app)

        async def published() -> bool:
            return (await client.post("/t/outbox")).json()["sent"]

        # A new topic's leaders take a moment to be known; the breaker may open meanwhile.
        assert await until(published, bound=60, pause=0.5), app.state.runtime.breakers["kafka"].snapshot()

        stack.kill("kafka-2")
        killed = time.monotonic()
        try:
            results: list[bool] = []

            async def publishing_again() -> bool:
                response = await client.post("/t/outbox")
                assert response.status_code == 200, response.text  # the write never fails
                results.append(response.json()["sent"])
                return results[-10:] == [True] * 10

            # Partitions led by the dead broker wait for a new leader (KRaft fences it after
            # broker.session.timeout.ms); meanwhile their events stay pending in the outbox.
            resumed = await until(publishing_again, bound=90, pause=0.05)
            resumed_after = time.monotonic() - killed
        finally:
            stack.start("kafka-2")
        print(f"\n[figure] one broker of three killed: {results.count(True)} of {len(results)} "
              f"writes published at once, the rest left pending; 10 in a row published again "
              f"{resumed_after:.2f} s after the kill")
        assert resumed, results

        stack.down("kafka")
        try:
            outcomes = []
            for _ in range(10):
                response = await client.post("/t/outbox")
                assert response.status_code == 200, response.text
                outcomes.append(response.json()["sent"])
            health = (await client.get("/api/health/detailed")).json()
        finally:
            stack.up("kafka")
        assert outcomes == [False] * 10
        assert health["dependencies"]["kafka"]["breaker"]["state"] == "open"
        assert app.state.runtime.breakers["kafka"].totals.rejected > 0  # later writes did not wait
