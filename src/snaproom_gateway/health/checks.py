"""Health probes: each dependency checked concurrently, each under a short time bound."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import psutil
from sqlalchemy.ext.asyncio import AsyncEngine

from snaproom_gateway import SERVICE_NAME, __version__
from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra import database, kafka, redis
from snaproom_gateway.infra.kafka import KafkaConnection
from snaproom_gateway.infra.redis import RedisClients
from snaproom_gateway.resilience.registry import BreakerRegistry

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
_process = psutil.Process(os.getpid())
_process.cpu_percent(None)  # prime it: the first reading is always 0.0


def header(status: str = HEALTHY) -> dict[str, Any]:
    return {
        "status": status,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service": SERVICE_NAME,
        "version": __version__,
    }


def _error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:300]


async def check_database(engine: AsyncEngine, settings: Settings) -> dict[str, Any]:
    driver = "sqlite" if settings.database.uses_sqlite else "postgresql"
    try:
        elapsed = await database.ping(engine, settings.health_probe_timeout)
    except Exception as exc:
        return {"status": UNHEALTHY, "driver": driver, "error": _error(exc)}
    return {"status": HEALTHY, "driver": driver, "response_time": f"{elapsed:.0f}ms"}


async def check_redis(clients: RedisClients | None, settings: Settings) -> dict[str, Any]:
    if clients is None:
        return {"status": HEALTHY, "cluster_status": "in-process", "mode": "memory"}
    timeout = settings.health_probe_timeout
    started = time.perf_counter()
    try:
        elapsed = await redis.ping(clients, timeout)
        facts = await redis.describe(clients, max(timeout - (time.perf_counter() - started), 0.1))
    except Exception as exc:
        return {"status": UNHEALTHY, "cluster_status": "down", "mode": clients.mode,
                "error": _error(exc)}
    replicas_ok = clients.sentinel is None or facts.get("connected_replicas", 0) > 0
    return {
        "status": HEALTHY,
        "cluster_status": "ok" if replicas_ok else "no-replica",
        "response_time": f"{elapsed:.0f}ms",
        **facts,
    }


async def check_kafka(connection: KafkaConnection | None, settings: Settings) -> dict[str, Any]:
    if connection is None:
        return {"status": HEALTHY, "brokers": 0, "mode": "in-process"}
    try:
        cluster = await kafka.describe_cluster(connection, settings.health_probe_timeout)
    except Exception as exc:
        return {"status": UNHEALTHY, "brokers": 0, "mode": "kafka", "error": _error(exc)}
    expected = min(settings.kafka.replication_factor, max(len(settings.kafka.brokers), 1))
    status = HEALTHY if cluster["brokers"] >= expected else DEGRADED
    return {"status": status, "mode": "kafka", **cluster}


def metrics(started_at: float) -> dict[str, Any]:
    with _process.oneshot():
        rss = _process.memory_info().rss
        cpu = _process.cpu_percent(None)
    return {
        "uptime": int(time.monotonic() - started_at),
        "memory_usage": f"{rss / 2**20:.0f}MB",
        "cpu_usage": f"{cpu:.0f}%",
    }


def overall(dependencies: dict[str, dict[str, Any]]) -> str:
    """The database is required; Redis and Kafka are optional, so they only degrade."""
    if dependencies["database"]["status"] == UNHEALTHY:
        return UNHEALTHY
    if any(dep["status"] != HEALTHY for dep in dependencies.values()):
        return DEGRADED
    return HEALTHY


class CheckedHost(Protocol):
    """What check_all reads of the app's runtime (api/runtime.py)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def redis(self) -> RedisClients | None: ...
    @property
    def kafka(self) -> KafkaConnection | None: ...
    @property
    def breakers(self) -> BreakerRegistry: ...


async def check_all(runtime: CheckedHost) -> dict[str, dict[str, Any]]:
    settings = runtime.settings
    database_status, redis_status, kafka_status = await asyncio.gather(
        check_database(runtime.engine, settings),
        check_redis(runtime.redis, settings),
        check_kafka(runtime.kafka, settings),
    )
    dependencies = {"database": database_status, "redis": redis_status, "kafka": kafka_status}
    # Each dependency's circuit breaker (state, failure counts, last change) beside its probe.
    for name, body in dependencies.items():
        if name in runtime.breakers:
            body["breaker"] = runtime.breakers[name].snapshot()
    return dependencies
