"""What app.py calls: `install(app)` at build time, `start(state, settings)` in the lifespan."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.resilience import dependency, events, metrics
from snaproom_gateway.resilience.admission import AdmissionGate
from snaproom_gateway.resilience.registry import BreakerRegistry, build_registry

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    """The 503 handler and /metrics (the admin breakers route is the API layer's)."""
    dependency.install(app)
    app.include_router(metrics.router)


def start(state: Any, settings: Settings) -> BreakerRegistry:
    """Build the breakers, expose them to health and metrics, wire the event listener."""
    registry = build_registry(settings)
    state.breakers = registry
    state.health_components["breakers"] = registry.snapshot
    state.database_gate = AdmissionGate("database", settings.database_request_limit,
                                        settings.database.request_queue_timeout)
    state.health_components["database_admission"] = state.database_gate.health
    state.metrics = (metrics.create_registry(registry)
                     if settings.observability.metrics_enabled else None)
    if not settings.database.uses_sqlite:
        bound_connect_timeout(state.engine, settings.database.request_connect_timeout)
    if events.publisher_available():
        registry.add_listener(events.outbox_listener(state.sessionmaker))
    else:
        log.info("events.publisher not present: breaker changes are not published")
    return registry


def bound_connect_timeout(engine: AsyncEngine, timeout: float) -> None:
    """Lower asyncpg's connect timeout for this engine's pool: requests are waiting on it."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _bounded(_dialect, _record, _cargs, cparams) -> None:
        cparams["timeout"] = min(cparams.get("timeout") or timeout, timeout)
