"""The breakers inside the app on embedded defaults: fast 503, visibility, listeners."""

import sys
import types
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.api.app import create_app
from snaproom_gateway.api.deps import RedisBreakerDep, SessionDep
from snaproom_gateway.resilience import State, require
from snaproom_gateway.resilience.events import PUBLISHER_MODULE
from tests.support.apps import running_app
from tests.support.users_api import admin_headers

probe_router = APIRouter()
handler_calls: list[str] = []


@probe_router.get("/t/db")
async def read_db(session: SessionDep) -> dict:
    handler_calls.append("db")
    return {"value": (await session.execute(text("SELECT 41 + 1"))).scalar_one()}


@probe_router.get("/t/missing")
async def missing(db: Annotated[AsyncSession, Depends(require("database"))]) -> dict:
    raise HTTPException(status_code=404, detail="no such thing")


@probe_router.get("/t/db-unreachable")
async def unreachable(session: SessionDep) -> dict:
    # What asyncpg raises when the server's port is closed.
    raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")


@probe_router.post("/t/redis")
async def write_redis(redis: RedisBreakerDep) -> dict:
    await redis(lambda c: c.master.set("k", "v"))
    return {"ok": True}


def with_probes(settings, **options):
    app = create_app(settings, **options)
    app.include_router(probe_router)
    return app


@pytest.fixture
async def client_app(embedded_settings, monkeypatch):
    import tests.support.apps as apps

    monkeypatch.setattr(apps, "create_app", with_probes)
    async with running_app(embedded_settings) as (app, client):
        yield app, client


async def test_a_session_route_works_through_the_closed_breaker(client_app):
    app, client = client_app
    response = await client.get("/t/db")
    assert response.status_code == 200
    assert response.json() == {"value": 42}
    assert app.state.runtime.breakers["database"].totals.calls == 1


async def test_open_database_breaker_answers_503_without_running_the_handler(client_app):
    app, client = client_app
    app.state.runtime.breakers["database"].force(State.OPEN, "test")
    handler_calls.clear()
    response = await client.get("/t/db")
    assert response.status_code == 503
    body = response.json()
    assert body["dependency"] == "database"
    assert body["detail"]
    assert body["retry_after"] >= 1
    assert response.headers["retry-after"] == str(body["retry_after"])
    assert handler_calls == []


async def test_a_404_is_not_a_failure(client_app):
    app, client = client_app
    for _ in range(10):
        assert (await client.get("/t/missing")).status_code == 404
    breaker = app.state.runtime.breakers["database"]
    assert breaker.state == State.CLOSED
    assert breaker.totals.failures == 0


async def test_infrastructure_errors_answer_503_and_open_the_breaker(client_app):
    app, client = client_app
    threshold = app.state.runtime.settings.breakers.failure_threshold
    for _ in range(threshold):
        response = await client.get("/t/db-unreachable")
        assert response.status_code == 503
        assert response.json()["dependency"] == "database"
    assert app.state.runtime.breakers["database"].state == State.OPEN
    assert (await client.get("/t/db")).status_code == 503


async def test_redis_dependency_is_503_when_redis_is_not_configured(client_app):
    _, client = client_app
    response = await client.post("/t/redis")
    assert response.status_code == 503
    assert response.json()["dependency"] == "redis"


async def test_admin_breakers_route_needs_an_admin(embedded_settings):
    async with running_app(embedded_settings) as (app, client):
        assert (await client.get("/api/admin/breakers")).status_code == 401
        headers = await admin_headers(app, client)
        app.state.runtime.breakers["kafka"].force(State.OPEN, "test")
        response = await client.get("/api/admin/breakers", headers=headers)
    assert response.status_code == 200
    breakers = response.json()["breakers"]
    assert set(breakers) == {"database", "redis", "kafka"}
    assert breakers["kafka"]["state"] == "open"
    assert breakers["kafka"]["last_change"].endswith("Z")
    assert breakers["database"]["state"] == "closed"


async def test_health_detailed_and_full_show_each_breaker(embedded_settings):
    async with running_app(embedded_settings) as (app, client):
        app.state.runtime.breakers["redis"].force(State.OPEN, "test")
        detailed = (await client.get("/api/health/detailed")).json()
        full = (await client.get("/api/health/full")).json()
    assert detailed["dependencies"]["redis"]["breaker"]["state"] == "open"
    assert detailed["dependencies"]["database"]["breaker"]["state"] == "closed"
    assert "consecutive_failures" in detailed["dependencies"]["kafka"]["breaker"]
    assert full["components"]["breakers"]["redis"]["state"] == "open"


async def test_metrics_expose_breaker_state(embedded_settings):
    async with running_app(embedded_settings) as (app, client):
        app.state.runtime.breakers["kafka"].force(State.OPEN, "test")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'snaproom_breaker_state{dependency="kafka"} 2.0' in response.text
    assert 'snaproom_breaker_state{dependency="database"} 0.0' in response.text
    assert 'snaproom_breaker_opened_total{dependency="kafka"} 1.0' in response.text


async def test_metrics_need_the_bearer_token_when_one_is_set(embedded_settings):
    embedded_settings.observability.metrics_token = "scrape-secret"
    async with running_app(embedded_settings) as (_, client):
        without = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert without.status_code == 401 and "METRICS_TOKEN" in without.json()["detail"]
    assert wrong.status_code == 401
    assert right.status_code == 200 and "snaproom_breaker_state" in right.text


async def test_state_changes_are_published_through_the_outbox_publisher(embedded_settings,
                                                                         monkeypatch):
    published = []
    fake = types.ModuleType(PUBLISHER_MODULE)

    async def publish(session, event, *, user_id, data):
        published.append((event, user_id, data))

    fake.publish = publish
    monkeypatch.setitem(sys.modules, PUBLISHER_MODULE, fake)
    async with running_app(embedded_settings) as (app, _):
        breaker = app.state.runtime.breakers["kafka"]
        breaker.force(State.OPEN, "3 consecutive failures")
        breaker.force(State.HALF_OPEN, "reset timeout elapsed")
        breaker.force(State.CLOSED, "probe succeeded")
        await app.state.runtime.breakers.drain()
    assert [event for event, _, _ in published] == ["system.breaker.opened",
                                                     "system.breaker.closed"]
    assert published[0][2]["dependency"] == "kafka"
    assert published[0][2]["reason"] == "3 consecutive failures"
    assert published[1][2] == {"dependency": "kafka"}


async def test_a_failing_listener_does_not_break_the_breaker(embedded_settings):
    async with running_app(embedded_settings) as (app, _):
        async def broken(change):
            raise RuntimeError("listener bug")

        app.state.runtime.breakers.add_listener(broken)
        app.state.runtime.breakers["redis"].force(State.OPEN, "test")
        await app.state.runtime.breakers.drain()
        assert app.state.runtime.breakers["redis"].state == State.OPEN


class _DeadRedis:
    """Stands in for RedisClients in a unit test: its master refuses every call."""

    class master:  # noqa: N801 - shaped like RedisClients.master
        @staticmethod
        async def set(*_args, **_kwargs):
            import redis.exceptions

            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")


async def test_a_failing_redis_call_answers_503_and_counts_once(client_app):
    app, client = client_app
    app.state.runtime.redis = _DeadRedis()
    response = await client.post("/t/redis")
    assert response.status_code == 503
    assert response.json()["dependency"] == "redis"
    breaker = app.state.runtime.breakers["redis"]
    assert breaker.totals.failures == 1
    assert breaker.totals.calls == 1
