"""Health in zero-infra mode, and start-up with Redis and Kafka pointed at closed ports."""

import time

from snaproom_gateway.core.settings import Settings
from tests.support.apps import running_app

ENDPOINTS = ["", "/live", "/ready", "/detailed", "/full", "/database", "/redis", "/kafka"]


async def test_every_health_endpoint_is_healthy_on_embedded_defaults(embedded_settings):
    async with running_app(embedded_settings) as (_, client):
        for suffix in ENDPOINTS:
            response = await client.get(f"/api/health{suffix}")
            assert response.status_code == 200, suffix
            body = response.json()
            assert body["status"] == "healthy", (suffix, body)
            assert body["service"] == "snaproom-gateway"
            assert body["timestamp"].endswith("Z")
        detailed = (await client.get("/api/health/detailed")).json()
        assert detailed["dependencies"]["database"]["driver"] == "sqlite"
        assert detailed["dependencies"]["database"]["response_time"].endswith("ms")
        assert detailed["dependencies"]["redis"]["cluster_status"] == "in-process"
        assert detailed["dependencies"]["kafka"]["mode"] == "in-process"
        assert set(detailed["metrics"]) == {"uptime", "memory_usage", "cpu_usage"}
        assert detailed["metrics"]["memory_usage"].endswith("MB")


async def test_embedded_mode_migrates_its_sqlite_file(embedded_settings, tmp_path):
    async with running_app(embedded_settings) as (app, _):
        from snaproom_gateway.infra.migrations import current

        assert await current(app.state.runtime.engine) is not None
    assert (tmp_path / "gateway.db").exists()


async def test_request_id_is_echoed_or_made(embedded_settings):
    async with running_app(embedded_settings) as (_, client):
        given = await client.get("/api/health", headers={"X-Request-ID": "abc-123"})
        made = await client.get("/api/health")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32


async def test_starts_degraded_and_answers_fast_when_redis_and_kafka_are_unreachable(tmp_path):
    # Port 1 on loopback: nothing listens there, the connection is refused for real.
    settings = Settings(_env_file=None, app_env="testing",
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/g.db",
                        redis_host="127.0.0.1", redis_port=1, kafka_brokers=["127.0.0.1:1"])
    started = time.monotonic()
    async with running_app(settings) as (_, client):
        assert time.monotonic() - started < 10, "start-up must not wait for Redis or Kafka"
        response = await client.get("/api/health/detailed")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["dependencies"]["redis"]["status"] == "unhealthy"
        assert body["dependencies"]["kafka"]["status"] == "unhealthy"
        assert body["dependencies"]["database"]["status"] == "healthy"
        assert (await client.get("/api/health/ready")).status_code == 200
        assert (await client.get("/api/health/redis")).status_code == 503
        assert (await client.get("/api/health/kafka")).status_code == 503


async def test_ready_is_503_when_the_database_is_unreachable(tmp_path):
    settings = Settings(_env_file=None, app_env="testing", db_connect_timeout=0.5,
                        database_url="postgresql+asyncpg://u:p@127.0.0.1:1/none")
    async with running_app(settings) as (_, client):
        ready = await client.get("/api/health/ready")
        live = await client.get("/api/health/live")
        detailed = await client.get("/api/health/detailed")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unhealthy"
    assert live.status_code == 200
    assert detailed.status_code == 503


async def test_openapi_lists_the_health_routes(embedded_settings):
    async with running_app(embedded_settings) as (_, client):
        schema = (await client.get("/openapi.json")).json()
    for suffix in ENDPOINTS:
        assert f"/api/health{suffix}" in schema["paths"]
    assert "503" in schema["paths"]["/api/health/ready"]["get"]["responses"]
