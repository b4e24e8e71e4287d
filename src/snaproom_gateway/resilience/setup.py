"""What app.py calls: `install(app)` at build time, `start(runtime, stack)` in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.resilience import dependency, events, metrics
from snaproom_gateway.resilience.admission import AdmissionGate
from snaproom_gateway.resilience.registry import BreakerRegistry, build_registry

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    """The 503 handler and /metrics (the admin breakers route is the API layer's)."""
    dependency.install(app)
    app.include_router(metrics.router)


class ResilienceHost(Protocol):
    """What this part reads of the app's runtime (api/runtime.py), and the fields it sets."""

    breakers: BreakerRegistry
    database_gate: AdmissionGate
    metrics: CollectorRegistry | None

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def health_components(self) -> dict[str, Callable[[], dict[str, Any]]]: ...


async def start(runtime: ResilienceHost, stack: AsyncExitStack) -> None:
    """Build the breakers, expose them to health and metrics, wire the event listener."""
    settings = runtime.settings
    registry = runtime.breakers = build_registry(settings)
    stack.push_async_callback(registry.drain)
    runtime.health_components["breakers"] = registry.snapshot
    runtime.database_gate = AdmissionGate("database", settings.database_request_limit,
                                          settings.database.request_queue_timeout)
    runtime.health_components["database_admission"] = runtime.database_gate.health
    runtime.metrics = (metrics.create_registry(registry)
                       if settings.observability.metrics_enabled else None)
    if not settings.database.uses_sqlite:
        bound_connect_timeout(runtime.engine, settings.database.request_connect_timeout)
    if events.publisher_available():
        registry.add_listener(events.outbox_listener(runtime.sessionmaker))
    else:
        log.info("events.publisher not present: breaker changes are not published")


def bound_connect_timeout(engine: AsyncEngine, timeout: float) -> None:
    """Lower asyncpg's connect timeout for this engine's pool: requests are waiting on it."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _bounded(_dialect, _record, _cargs, cparams) -> None:
        cparams["timeout"] = min(cparams.get("timeout") or timeout, timeout)
