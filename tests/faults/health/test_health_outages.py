"""Health while a real dependency is down: degraded for Redis and Kafka, 503 for PostgreSQL.

Each test stops servers of the harness and brings them back before it ends.
"""

import asyncio
import time

import pytest

from tests.support.apps import running_app

pytestmark = [pytest.mark.integration, pytest.mark.faults]

# Not a speed target: the probe timeout is 1.5 s, so an answer later than this means a probe hung.
NO_HANG_BOUND = 4.0


async def _timed_get(client, path):
    started = time.monotonic()
    response = await client.get(path)
    return response, time.monotonic() - started


async def _eventually_status(client, path, expected, attempts=60):
    for _ in range(attempts):
        response = await client.get(path)
        if response.json()["status"] == expected:
            return response
        await asyncio.sleep(0.5)
    raise AssertionError(f"{path} never became {expected}: {response.json()}")


async def test_redis_stopped_reports_degraded_without_hanging(stack_settings, stack):
    async with running_app(stack_settings) as (app, client):
        assert await app.state.runtime.kafka.wait_connected(30)
        stack.down("redis-master", "redis-replica")
        try:
            response, elapsed = await _timed_get(client, "/api/health/detailed")
            assert elapsed < NO_HANG_BOUND
            assert response.status_code == 200
            body = response.json()
            assert body["status"] == "degraded"
            assert body["dependencies"]["redis"]["status"] == "unhealthy"
            assert body["dependencies"]["database"]["status"] == "healthy"
            assert (await client.get("/api/health/ready")).status_code == 200
            redis_only, elapsed = await _timed_get(client, "/api/health/redis")
            assert elapsed < NO_HANG_BOUND
            assert redis_only.status_code == 503
        finally:
            stack.up("redis-master", "redis-replica")
        await _eventually_status(client, "/api/health/detailed", "healthy")


async def test_kafka_stopped_reports_degraded(stack_settings, stack):
    async with running_app(stack_settings) as (app, client):
        assert await app.state.runtime.kafka.wait_connected(30)
        stack.down("kafka")
        try:
            response, elapsed = await _timed_get(client, "/api/health/detailed")
            assert elapsed < NO_HANG_BOUND
            body = response.json()
            assert response.status_code == 200
            assert body["status"] == "degraded"
            assert body["dependencies"]["kafka"]["status"] == "unhealthy"
        finally:
            stack.up("kafka")
        await _eventually_status(client, "/api/health/detailed", "healthy")


async def test_postgres_stopped_makes_ready_503_and_recovers_without_restart(
    stack_settings, stack
):
    async with running_app(stack_settings) as (_, client):
        assert (await client.get("/api/health/ready")).status_code == 200
        stack.down("postgres")
        try:
            ready, elapsed = await _timed_get(client, "/api/health/ready")
            assert elapsed < NO_HANG_BOUND
            assert ready.status_code == 503
            assert ready.json()["dependencies"]["database"]["status"] == "unhealthy"
            assert (await client.get("/api/health/live")).status_code == 200
            detailed = await client.get("/api/health/detailed")
            assert detailed.status_code == 503
            assert detailed.json()["status"] == "unhealthy"
        finally:
            stack.up("postgres")
        recovered = await _eventually_status(client, "/api/health/ready", "healthy")
        assert recovered.status_code == 200
