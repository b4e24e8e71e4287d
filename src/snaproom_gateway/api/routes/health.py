"""Health endpoints in the shapes of the Snaproom guide, plus live/ready for orchestrators.

HTTP 200 when healthy or degraded (an optional dependency is down), 503 when unhealthy.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from snaproom_gateway.health import checks
from snaproom_gateway.health.checks import UNHEALTHY

router = APIRouter(prefix="/api/health", tags=["health"])

_UNHEALTHY_RESPONSE = {503: {"description": "Unhealthy: a required dependency is down"}}


def _answer(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=503 if body["status"] == UNHEALTHY else 200)


@router.get("", summary="Basic health: the process answers")
async def health() -> dict[str, Any]:
    return checks.header()


@router.get("/live", summary="Liveness: 200 while the process serves requests")
async def live() -> dict[str, Any]:
    return checks.header()


@router.get("/ready", summary="Readiness: 503 while the database is unreachable or not migrated",
            responses=_UNHEALTHY_RESPONSE)
async def ready(request: Request) -> JSONResponse:
    state = request.app.state
    database = await checks.check_database(state.engine, state.settings)
    guard = getattr(state, "schema_guard", None)
    if guard is not None and database["status"] != UNHEALTHY:
        behind = await guard.check()  # an orchestrator polls this: after `migrate`, ready
        database["schema"] = "behind" if behind else "current"
        if behind:
            database["status"], database["error"] = UNHEALTHY, behind
    body = checks.header(UNHEALTHY if database["status"] == UNHEALTHY else "healthy")
    if database["status"] == UNHEALTHY and "error" in database:
        body["detail"] = database["error"]
    body["dependencies"] = {"database": database}
    return _answer(body)


@router.get("/detailed", summary="Every dependency and process metrics",
            responses=_UNHEALTHY_RESPONSE)
async def detailed(request: Request) -> JSONResponse:
    dependencies = await checks.check_all(request.app.state)
    body = checks.header(checks.overall(dependencies))
    body["dependencies"] = dependencies
    body["metrics"] = checks.metrics(request.app.state.started_at)
    return _answer(body)


@router.get("/full", summary="Complete system health: dependencies, metrics, components",
            responses=_UNHEALTHY_RESPONSE)
async def full(request: Request) -> JSONResponse:
    state = request.app.state
    dependencies = await checks.check_all(state)
    body = checks.header(checks.overall(dependencies))
    body["dependencies"] = dependencies
    body["metrics"] = checks.metrics(state.started_at)
    body["components"] = {name: probe() for name, probe in state.health_components.items()}
    return _answer(body)


def _single(name: str, body: dict[str, Any]) -> JSONResponse:
    answer = checks.header(body["status"])
    answer[name] = body
    return _answer(answer)


@router.get("/database", summary="PostgreSQL/SQLite round trip", responses=_UNHEALTHY_RESPONSE)
async def database(request: Request) -> JSONResponse:
    state = request.app.state
    return _single("database", await checks.check_database(state.engine, state.settings))


@router.get("/redis", summary="Redis master, replica and Sentinel status",
            responses=_UNHEALTHY_RESPONSE)
async def redis(request: Request) -> JSONResponse:
    state = request.app.state
    return _single("redis", await checks.check_redis(state.redis, state.settings))


@router.get("/kafka", summary="Kafka brokers and controller", responses=_UNHEALTHY_RESPONSE)
async def kafka(request: Request) -> JSONResponse:
    state = request.app.state
    body = await checks.check_kafka(state.kafka, state.settings)
    events = getattr(state, "events", None)
    if events is not None:
        # The lag the running consumers see (their fetch high-water marks): no extra round trip.
        consumers = events.consumers_health()
        body["total_lag"] = consumers["total_lag"]
        body["consumer_groups"] = {name: {"state": g["state"], "lag": g["lag"]}
                                   for name, g in consumers["groups"].items()}
        outbox = events.outbox_health()
        body["outbox_pending"] = outbox["pending"]
        if outbox["last_error"] and body["status"] == checks.HEALTHY:
            # Connected, but the brokers refuse what the relay sends (an ACL, say): say why.
            body["status"], body["error"] = checks.DEGRADED, outbox["last_error"]
    return _single("kafka", body)
