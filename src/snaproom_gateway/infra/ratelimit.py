"""Rate limiting on the `limits` library: in memory, or in Redis with atomic Lua windows.

The Redis storage is built on the process's own master pool (Sentinel-aware, follows failover),
not on a second client. Every call is bounded by RATE_LIMIT_TIMEOUT; when Redis fails or is slow
the limiter fails open (the request goes through) and reports it in the health components.

Exact under concurrency: the decision is the storage's atomic hit (a Lua script or INCR in
Redis), shared by every instance; the window's stats, read after it, only feed the headers, so a
slow stats read can never turn a refusal into an admission. A burst waits for one of
RATE_LIMIT_MAX_IN_FLIGHT slots before its Redis call is timed: waiting in line is load, not a
slow Redis, and must not fail open (that would admit a burst past the limit). A request that
cannot get a slot within RATE_LIMIT_QUEUE_TIMEOUT is refused as busy (`LimiterBusy`, a 503).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    FixedWindowRateLimiter,
    MovingWindowRateLimiter,
    RateLimiter,
    SlidingWindowCounterRateLimiter,
)

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra.redis import RedisClients

log = logging.getLogger(__name__)

KEY_PREFIX = "snaproom:ratelimit"
STRATEGIES: dict[str, type[RateLimiter]] = {
    "moving-window": MovingWindowRateLimiter,
    "sliding-window-counter": SlidingWindowCounterRateLimiter,
    "fixed-window": FixedWindowRateLimiter,
}


class LimiterBusy(Exception):
    """Too many limiter calls in flight in this process: refuse (503), never admit unchecked."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window frees a slot

    @property
    def retry_after(self) -> int:
        return max(1, int(self.reset_at - time.time() + 0.999))


def build_storage(settings: Settings, redis: RedisClients | None) -> Storage:
    if redis is None:
        return MemoryStorage()
    # "redis://" is only the scheme; the pool carries address, password and Sentinel discovery.
    return RedisStorage("async+redis://", implementation="redispy", key_prefix=KEY_PREFIX,
                        wrap_exceptions=True, connection_pool=redis.master.connection_pool)


class RequestLimiter:
    """One per process: the configured strategy over the storage, failing open on errors."""

    def __init__(self, settings: Settings, redis: RedisClients | None) -> None:
        self.settings = settings
        self.backend = "redis" if redis is not None else "memory"
        self.storage = build_storage(settings, redis)
        self.strategy = STRATEGIES[settings.rate_limits.strategy](self.storage)
        self.failing_open = False
        self.last_error: str | None = None
        self.failed_open_count = 0
        self.busy_count = 0
        self._items: dict[str, RateLimitItem] = {}
        self._slots = asyncio.Semaphore(settings.rate_limits.max_in_flight)

    def item(self, spec: str) -> RateLimitItem:
        if spec not in self._items:
            self._items[spec] = parse(spec)
        return self._items[spec]

    async def hit(self, spec: str, *identifiers: str) -> Decision | None:
        """Count one request. None means the limiter could not decide and let it through.

        Raises LimiterBusy when no slot frees up within RATE_LIMIT_QUEUE_TIMEOUT."""
        try:
            async with asyncio.timeout(self.settings.rate_limits.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            self.busy_count += 1
            raise LimiterBusy(f"rate limiter busy: {self.settings.rate_limits.max_in_flight} "
                              "checks in flight") from None
        try:
            return await self._hit(self.item(spec), identifiers)
        finally:
            self._slots.release()

    async def _hit(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> Decision | None:
        try:
            async with asyncio.timeout(self.settings.rate_limits.timeout):
                allowed = await self.strategy.hit(item, *identifiers)
        except Exception as exc:  # Redis down or slow: fail open, say so in health
            self.failed_open_count += 1
            self.last_error = "timed out" if isinstance(exc, TimeoutError) else repr(exc)[:200]
            if not self.failing_open:
                log.warning("rate limiter failing open: %s", self.last_error)
            self.failing_open = True
            return None
        if self.failing_open:
            log.info("rate limiter recovered")
        self.failing_open = False
        try:  # for the headers only: the decision above stands whatever happens here
            async with asyncio.timeout(self.settings.rate_limits.timeout):
                stats = await self.strategy.get_window_stats(item, *identifiers)
            remaining, reset_at = max(stats.remaining, 0), stats.reset_time
        except Exception:  # noqa: BLE001 - approximate headers rather than no decision
            remaining = item.amount - 1 if allowed else 0
            reset_at = time.time() + item.get_expiry()
        return Decision(allowed, item.amount, remaining, reset_at)

    async def clear(self, spec: str, *identifiers: str) -> None:
        await self.strategy.clear(self.item(spec), *identifiers)

    def health(self) -> dict[str, Any]:
        return {
            "status": "degraded" if self.failing_open else "healthy",
            "backend": self.backend,
            "strategy": self.settings.rate_limits.strategy,
            "enabled": self.settings.rate_limits.enabled,
            "failing_open": self.failing_open,
            "failed_open_requests": self.failed_open_count,
            "busy_requests": self.busy_count,
            "last_error": self.last_error,
        }
