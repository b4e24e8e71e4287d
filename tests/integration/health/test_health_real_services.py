"""Health against the real PostgreSQL, Redis Sentinel and 3-broker Kafka of the harness."""

import pytest

from tests.support.apps import running_app

pytestmark = pytest.mark.integration


async def test_detailed_health_is_healthy_on_the_full_stack(stack_settings):
    async with running_app(stack_settings) as (app, client):
        assert await app.state.runtime.kafka.wait_connected(30)
        response = await client.get("/api/health/detailed")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy", body
    database, redis, kafka = (body["dependencies"][n] for n in ("database", "redis", "kafka"))
    assert database["driver"] == "postgresql"
    assert database["response_time"].endswith("ms")
    assert redis["mode"] == "sentinel"
    assert redis["cluster_status"] == "ok"
    assert redis["role"] == "master"
    assert redis["connected_replicas"] >= 1
    assert redis["sentinels"] == 3
    assert kafka["brokers"] == 3
    assert kafka["controller"] in kafka["broker_ids"]


async def test_single_dependency_endpoints_report_the_real_servers(stack_settings, stack):
    async with running_app(stack_settings) as (app, client):
        assert await app.state.runtime.kafka.wait_connected(30)
        redis = (await client.get("/api/health/redis")).json()["redis"]
        kafka = (await client.get("/api/health/kafka")).json()["kafka"]
        ready = await client.get("/api/health/ready")
    assert redis["master"] == f"127.0.0.1:{stack.redis_master_port()}"
    assert len(redis["replicas"]) == 1
    assert kafka["broker_ids"] == [1, 2, 3]
    assert ready.status_code == 200
