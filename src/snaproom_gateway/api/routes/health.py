"""Health endpoints in the shapes of the Snaproom guide, plus live/ready for orchestrators.

HTTP 200 when healthy or degraded (an optional dependency is down), 503 when unhealthy.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from snaproom_gateway.api.deps import (
    EngineDep,
    EventsDep,
    KafkaDep,
    RedisDep,
    RuntimeDep,
    SchemaGuardDep,
    SettingsDep,
)
from snaproom_gateway.api.runtime import Runtime
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
async def ready(engine: EngineDep, settings: SettingsDep, guard: SchemaGuardDep) -> JSONResponse:
    database = await checks.check_database(engine, settings)
    if database["status"] != UNHEALTHY:
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
async def detailed(runtime: RuntimeDep) -> JSONResponse:
    return _answer(await _report(runtime))


@router.get("/full", summary="Complete system health: dependencies, metrics, components",
            responses=_UNHEALTHY_RESPONSE)
async def full(runtime: RuntimeDep) -> JSONResponse:
    body = await _report(runtime)
    body["components"] = {name: probe() for name, probe in runtime.health_components.items()}
    return _answer(body)


async def _report(runtime: Runtime) -> dict[str, Any]:
    """Every dependency's check and the process metrics: /detailed, and the base of /full."""
    dependencies = await checks.check_all(runtime)
    body = checks.header(checks.overall(dependencies))
    body["dependencies"] = dependencies
    body["metrics"] = checks.metrics(runtime.started_at)
    return body


def _single(name: str, body: dict[str, Any]) -> JSONResponse:
    answer = checks.header(body["status"])
    answer[name] = body
    return _answer(answer)


@router.get("/database", summary="PostgreSQL/SQLite round trip", responses=_UNHEALTHY_RESPONSE)
async def database(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    return _single("database", await checks.check_database(engine, settings))


@router.get("/redis", summary="Redis master, replica and Sentinel status",
            responses=_UNHEALTHY_RESPONSE)
async def redis(clients: RedisDep, settings: SettingsDep) -> JSONResponse:
    return _single("redis", await checks.check_redis(clients, settings))


@router.get("/kafka", summary="Kafka brokers and controller", responses=_UNHEALTHY_RESPONSE)
async def kafka(connection: KafkaDep, settings: SettingsDep, events: EventsDep) -> JSONResponse:
    body = await checks.check_kafka(connection, settings)
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
