"""One circuit breaker: closed -> open -> half-open -> closed, on a monotonic (injectable) clock.

Written here rather than taken from purgatory or aiobreaker because neither has what the gateway
needs (docs/resilience.md compares them): opening on a failure *rate* over a sliding window as
well as on consecutive failures, a bounded number of concurrent half-open probes, an injectable
clock for tests, async listeners, and a time bound on every call.

Only failures that `classify.is_infrastructure_error` accepts count; any other exception (a 404, a
validation error, a unique violation) means the server answered, so it counts as a success. Our
own pool running dry (`classify.is_pool_exhausted`) is neither: it is load, counted as `busy`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from snaproom_gateway.resilience.classify import (
    describe,
    is_infrastructure_error,
    is_pool_exhausted,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 5  # consecutive infrastructure failures that open the breaker
    failure_rate: float = 0.5  # ... or this share of failures within `window` seconds
    window: float = 10.0
    min_calls: int = 20  # the rate only counts once the window holds this many calls
    reset_timeout: float = 3.0  # open -> half-open after this many seconds
    half_open_probes: int = 2  # concurrent calls let through while half-open
    success_threshold: int = 1  # probe successes that close it again
    call_timeout: float = 1.0  # bound for every call made through `call`/`guard`


@dataclass(frozen=True)
class StateChange:
    """What listeners receive on every transition."""

    dependency: str
    old: State
    new: State
    failures: int
    reason: str | None
    at: datetime


Listener = Callable[[StateChange], Awaitable[None]]


class BreakerOpen(Exception):
    """The breaker refuses the call without touching the dependency."""

    def __init__(self, dependency: str, retry_after: float, reason: str | None = None) -> None:
        super().__init__(f"{dependency} is unavailable (circuit open)")
        self.dependency = dependency
        self.retry_after = retry_after
        self.reason = reason


@dataclass
class _Counters:
    calls: int = 0
    failures: int = 0
    rejected: int = 0
    timeouts: int = 0
    opened: int = 0
    busy: int = 0  # calls that found this process's pool (or admission gate) full: load


@dataclass
class CircuitBreaker:
    name: str
    config: BreakerConfig = field(default_factory=BreakerConfig)
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[StateChange], None] | None = None

    def __post_init__(self) -> None:
        self.state = State.CLOSED
        self.consecutive_failures = 0
        self.last_failure: str | None = None
        self.last_change: datetime | None = None
        self.totals = _Counters()
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0
        # (time, failed) of recent outcomes, for the failure rate over the window.
        self._outcomes: deque[tuple[float, bool]] = deque()

    # --- admission -------------------------------------------------------------------------

    def retry_after(self) -> float:
        """Seconds until the breaker lets a probe through (0 when it is not open)."""
        if self.state != State.OPEN:
            return 0.0
        return max(self._opened_at + self.config.reset_timeout - self.clock(), 0.0)

    def check(self) -> None:
        """Raise BreakerOpen while open; admit nothing (the calls themselves are admitted)."""
        if self.state == State.OPEN and self.retry_after() > 0:
            self.totals.rejected += 1
            raise BreakerOpen(self.name, self.retry_after(), self.last_failure)

    def acquire(self) -> bool:
        """Admit one call or raise BreakerOpen. Returns True when the call is a half-open probe.

        Every admitted call must be followed by exactly one `record_success`/`record_failure`
        (or `release` when it ended without an outcome), passing the returned probe flag.
        """
        if self.state == State.OPEN:
            if self.retry_after() > 0:
                self.totals.rejected += 1
                raise BreakerOpen(self.name, self.retry_after(), self.last_failure)
            self._transition(State.HALF_OPEN, "reset timeout elapsed")
        if self.state == State.HALF_OPEN:
            if self._probes_in_flight >= self.config.half_open_probes:
                self.totals.rejected += 1
                # Probes are running; their verdict is usually known within a second.
                raise BreakerOpen(self.name, min(self.config.call_timeout, 1.0),
                                  self.last_failure)
            self._probes_in_flight += 1
            self.totals.calls += 1
            return True
        self.totals.calls += 1
        return False

    def release(self, probe: bool) -> None:
        if probe:
            self._probes_in_flight = max(self._probes_in_flight - 1, 0)

    # --- outcomes --------------------------------------------------------------------------

    def record_success(self, probe: bool = False) -> None:
        self.release(probe)
        self.consecutive_failures = 0
        self._remember(False)
        if self.state == State.HALF_OPEN and probe:
            self._probe_successes += 1
            if self._probe_successes >= self.config.success_threshold:
                self._transition(State.CLOSED, "probe succeeded")

    def record_failure(self, exc: BaseException | str, probe: bool = False) -> None:
        self.release(probe)
        self.totals.failures += 1
        if isinstance(exc, TimeoutError):
            self.totals.timeouts += 1
        self.last_failure = exc if isinstance(exc, str) else describe(exc)
        self.consecutive_failures += 1
        self._remember(True)
        if self.state == State.HALF_OPEN:
            if probe:
                self._transition(State.OPEN, f"probe failed: {self.last_failure}")
            return
        if self.state != State.CLOSED:
            return
        if self.consecutive_failures >= self.config.failure_threshold:
            self._transition(
                State.OPEN, f"{self.consecutive_failures} consecutive failures: {self.last_failure}"
            )
            return
        calls, failed = self._window_counts()
        if calls >= self.config.min_calls and failed / calls >= self.config.failure_rate:
            self._transition(
                State.OPEN, f"{failed} of {calls} calls failed in {self.config.window:g}s: "
                f"{self.last_failure}"
            )

    def record_busy(self, probe: bool = False) -> None:
        """The call never reached the server (our pool was full): no verdict, counted apart."""
        self.release(probe)
        self.totals.busy += 1

    def record(self, exc: BaseException | None, probe: bool = False) -> None:
        """Record the outcome of an admitted call: only infrastructure errors are failures."""
        if exc is not None and is_pool_exhausted(exc):
            self.record_busy(probe)
        elif exc is not None and is_infrastructure_error(exc):
            self.record_failure(exc, probe)
        elif isinstance(exc, asyncio.CancelledError):
            self.release(probe)  # the caller went away: no verdict on the dependency
        else:
            self.record_success(probe)

    # --- calling through it ----------------------------------------------------------------

    @asynccontextmanager
    async def guard(self, timeout: float | None = None) -> AsyncIterator[None]:
        """`async with breaker.guard():` admits, bounds the block by the call timeout, records."""
        probe = self.acquire()
        try:
            async with asyncio.timeout(self.config.call_timeout if timeout is None else timeout):
                yield
        except BaseException as exc:
            self.record(exc, probe)
            raise
        self.record_success(probe)

    async def call(self, fn: Callable[[], Awaitable[T]], *, timeout: float | None = None) -> T:
        """Run `fn()` through the breaker, bounded by the call timeout."""
        # The same as `guard`, written out: the context-manager machinery doubled the cost.
        probe = self.acquire()
        try:
            async with asyncio.timeout(self.config.call_timeout if timeout is None else timeout):
                result = await fn()
        except BaseException as exc:
            self.record(exc, probe)
            raise
        self.record_success(probe)
        return result

    async def call_or(self, fn: Callable[[], Awaitable[T]],
                      fallback: Callable[[], Awaitable[T]], *,
                      timeout: float | None = None) -> T:
        """For a soft dependency: `fn()` through the breaker, else `fallback()` when the breaker
        is open or the call fails on infrastructure (a cache miss that reads the database)."""
        try:
            return await self.call(fn, timeout=timeout)
        except BreakerOpen:
            return await fallback()
        except Exception as exc:
            if not (is_infrastructure_error(exc) or is_pool_exhausted(exc)):
                raise
            return await fallback()

    # --- state -----------------------------------------------------------------------------

    def force(self, state: State, reason: str = "forced") -> None:
        """Move to `state` by hand (admin, tests)."""
        if state != self.state:
            self._transition(state, reason)

    def snapshot(self) -> dict[str, Any]:
        calls, failed = self._window_counts()
        return {
            "state": self.state.value,
            "consecutive_failures": self.consecutive_failures,
            "failures_total": self.totals.failures,
            "timeouts_total": self.totals.timeouts,
            "rejected_total": self.totals.rejected,
            "busy_total": self.totals.busy,
            "calls_total": self.totals.calls,
            "opened_total": self.totals.opened,
            "window": {"seconds": self.config.window, "calls": calls, "failures": failed},
            "last_failure": self.last_failure,
            "last_change": self.last_change.strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.last_change else None,
            "retry_after": math.ceil(self.retry_after()) if self.state == State.OPEN else None,
        }

    def _remember(self, failed: bool) -> None:
        now = self.clock()
        self._outcomes.append((now, failed))
        self._trim(now)

    def _trim(self, now: float) -> None:
        horizon = now - self.config.window
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()

    def _window_counts(self) -> tuple[int, int]:
        self._trim(self.clock())
        failed = sum(1 for _, bad in self._outcomes if bad)
        return len(self._outcomes), failed

    def _transition(self, new: State, reason: str) -> None:
        old, self.state = self.state, new
        self.last_change = datetime.now(UTC)
        self._probe_successes = 0
        if new == State.OPEN:
            self._opened_at = self.clock()
            self._probes_in_flight = 0
            self.totals.opened += 1
        if new == State.CLOSED:
            self.consecutive_failures = 0
            self._outcomes.clear()  # a fresh start: old failures must not re-open it at once
        if new == State.HALF_OPEN:
            self._probes_in_flight = 0
        log_at = logging.WARNING if new == State.OPEN else logging.INFO
        log.log(log_at, "breaker %s: %s -> %s (%s)", self.name, old.value, new.value, reason)
        if self.on_change is not None:
            self.on_change(StateChange(self.name, old, new, self.consecutive_failures, reason,
                                       self.last_change))
