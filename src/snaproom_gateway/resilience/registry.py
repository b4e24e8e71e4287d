"""The process's breakers, one per dependency, and the async listeners told of every change."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.resilience.breaker import (
    BreakerConfig,
    CircuitBreaker,
    Listener,
    StateChange,
)

log = logging.getLogger(__name__)

DEPENDENCIES = ("database", "redis", "kafka")


class BreakerRegistry:
    """Holds the breakers by dependency name; fans state changes out to async listeners.

    Breakers change state synchronously inside a request; listeners (event publishing, ...) run
    as background tasks so a request never waits on them. `drain()` waits for those still running.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.breakers: dict[str, CircuitBreaker] = {}
        self.listeners: list[Listener] = []
        self._pending: set[asyncio.Task[None]] = set()

    def add(self, name: str, config: BreakerConfig) -> CircuitBreaker:
        breaker = CircuitBreaker(name, config, self.clock, self._changed)
        self.breakers[name] = breaker
        return breaker

    def __getitem__(self, name: str) -> CircuitBreaker:
        return self.breakers[name]

    def __contains__(self, name: object) -> bool:
        return name in self.breakers

    def add_listener(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: breaker.snapshot() for name, breaker in self.breakers.items()}

    def _changed(self, change: StateChange) -> None:
        for listener in self.listeners:
            try:
                task = asyncio.get_running_loop().create_task(self._run(listener, change))
            except RuntimeError:  # no loop (a sync unit test): nobody to tell
                return
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _run(self, listener: Listener, change: StateChange) -> None:
        try:
            await listener(change)
        except Exception:  # a listener must never break the breaker or the request
            log.exception("breaker listener %r failed for %s -> %s", listener, change.dependency,
                          change.new.value)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait (bounded) for listeners still running; used on shutdown and by tests."""
        if not self._pending:
            return
        done, pending = await asyncio.wait(set(self._pending), timeout=timeout)
        for task in pending:
            task.cancel()


def config_for(settings: Settings, dependency: str) -> BreakerConfig:
    timeouts = {
        "database": settings.breakers.timeout_database,
        "redis": settings.breakers.timeout_redis,
        "kafka": settings.breakers.timeout_kafka,
    }
    return BreakerConfig(
        failure_threshold=settings.breakers.failure_threshold,
        failure_rate=settings.breakers.failure_rate,
        window=settings.breakers.window,
        min_calls=settings.breakers.min_calls,
        reset_timeout=settings.breakers.reset_timeout,
        half_open_probes=settings.breakers.half_open_probes,
        success_threshold=settings.breakers.success_threshold,
        call_timeout=timeouts[dependency],
    )


def build_registry(settings: Settings) -> BreakerRegistry:
    registry = BreakerRegistry()
    for dependency in DEPENDENCIES:
        registry.add(dependency, config_for(settings, dependency))
    return registry
