"""`require(name)`: the one FastAPI dependency through which handlers reach a guarded dependency.

    db: Annotated[AsyncSession, Depends(require("database"))]
    redis: Annotated[Guarded[RedisClients], Depends(require("redis"))]

While the breaker is open the request fails at once with 503 (`DependencyUnavailable`), never
touching the dead server. Otherwise the handler runs; an infrastructure error raised in it is
counted against the breaker and answered with the same 503, any other error counts as a success
(the server answered) and propagates unchanged. A full pool or admission gate is load, not an
outage: a 503 "busy" with Retry-After, counted apart (`busy`), never against the breaker.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from snaproom_gateway.resilience.breaker import BreakerOpen, CircuitBreaker
from snaproom_gateway.resilience.classify import (
    PoolBusy,
    is_infrastructure_error,
    is_pool_exhausted,
    is_schema_error,
)
from snaproom_gateway.resilience.registry import BreakerRegistry

T = TypeVar("T")
R = TypeVar("R")


class DependencyUnavailable(Exception):
    """Answered with 503, `{"detail", "dependency", "retry_after"}` and a Retry-After header."""

    def __init__(self, dependency: str, retry_after: float, detail: str | None = None) -> None:
        self.dependency = dependency
        self.retry_after = max(math.ceil(retry_after), 1)
        self.detail = detail or f"{dependency} is temporarily unavailable"
        super().__init__(self.detail)

    @classmethod
    def from_open(cls, exc: BreakerOpen) -> DependencyUnavailable:
        return cls(exc.dependency, exc.retry_after)

    @classmethod
    def busy(cls, dependency: str) -> DependencyUnavailable:
        # Waiting requests drain in well under a second; retrying after one is enough.
        return cls(dependency, 1, f"{dependency} is busy: too many requests in flight; "
                                  "retry shortly")


async def dependency_unavailable_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DependencyUnavailable)
    return JSONResponse(
        {"detail": exc.detail, "dependency": exc.dependency, "retry_after": exc.retry_after},
        status_code=503,
        headers={"Retry-After": str(exc.retry_after)},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DependencyUnavailable, dependency_unavailable_handler)


@dataclass(frozen=True)
class Guarded(Generic[T]):
    """A client whose every call goes through its breaker, bounded by the call timeout.

        await redis(lambda c: c.master.set("k", "v"))

    An open breaker or an infrastructure error becomes DependencyUnavailable (503).
    """

    client: T
    breaker: CircuitBreaker

    async def __call__(self, op: Callable[[T], Awaitable[R]], *,
                       timeout: float | None = None) -> R:
        try:
            return await self.breaker.call(lambda: op(self.client), timeout=timeout)
        except BreakerOpen as exc:
            raise DependencyUnavailable.from_open(exc) from None
        except Exception as exc:
            if is_pool_exhausted(exc):  # the breaker counted it as busy, not as a failure
                raise DependencyUnavailable.busy(self.breaker.name) from exc
            if is_infrastructure_error(exc):
                raise DependencyUnavailable(
                    self.breaker.name, self.breaker.retry_after() or 1.0
                ) from exc
            raise


def breakers(request: Request) -> BreakerRegistry:
    return request.app.state.runtime.breakers


def _resource(request: Request, name: str) -> Any:
    runtime = request.app.state.runtime
    if name == "redis":
        return runtime.redis
    if name == "kafka":
        return runtime.kafka
    raise KeyError(name)


@cache  # one callable per name, so FastAPI shares it within a request
def require(name: str) -> Callable[[Request], AsyncIterator[Any]]:
    """The dependency for `name` (database, redis, kafka); see the module docstring."""
    if name == "database":
        return _require_database
    if name not in ("redis", "kafka"):
        raise ValueError(f"no breaker guards {name!r}")

    async def guarded_client(request: Request) -> AsyncIterator[Any]:
        breaker = breakers(request)[name]
        try:
            breaker.check()
        except BreakerOpen as exc:
            raise DependencyUnavailable.from_open(exc) from None
        client = _resource(request, name)
        if client is None:  # not configured on this instance: there is nothing to reach
            raise DependencyUnavailable(name, 60, f"{name} is not configured")
        yield Guarded(client, breaker)

    guarded_client.__name__ = f"require_{name}"
    return guarded_client


async def _require_database(request: Request) -> AsyncIterator[Any]:
    """An AsyncSession admitted by the admission gate and the database breaker; the handler's
    outcome is recorded.

    The gate comes first: a request waiting in line holds no breaker probe and no connection.
    The session's own I/O is time-bounded by the driver (connect timeout, command_timeout,
    statement_timeout, pool timeout), so no asyncio timeout spans the handler here.
    """
    breaker = breakers(request)["database"]
    runtime = request.app.state.runtime
    if (behind := await runtime.schema_guard.current_or_detail()) is not None:
        raise DependencyUnavailable("database", 5, behind)
    gate = runtime.database_gate
    async with AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(gate.admit())
        except PoolBusy:
            breaker.record_busy()
            raise DependencyUnavailable.busy("database") from None
        session = await stack.enter_async_context(_database_session(request, breaker))
        yield session


@asynccontextmanager
async def _database_session(request: Request, breaker: Any) -> AsyncIterator[Any]:
    try:
        probe = breaker.acquire()
    except BreakerOpen as exc:
        raise DependencyUnavailable.from_open(exc) from None
    try:
        async with request.app.state.runtime.sessionmaker() as session:
            yield session
    except DependencyUnavailable:
        breaker.release(probe)  # another breaker refused: no verdict on the database
        raise
    except BaseException as exc:
        breaker.record(exc, probe)
        if is_pool_exhausted(exc):  # the pool's checkout timed out: load, counted as busy
            raise DependencyUnavailable.busy("database") from exc
        if is_schema_error(exc):  # not migrated: 503 naming `migrate`
            guard = request.app.state.runtime.schema_guard
            raise DependencyUnavailable("database", 5, guard.mismatch_seen()) from exc
        if is_infrastructure_error(exc):
            raise DependencyUnavailable(
                "database", breaker.retry_after() or breaker.config.reset_timeout
            ) from exc
        raise
    else:
        breaker.record_success(probe)
