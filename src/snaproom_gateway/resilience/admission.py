"""A bounded number of requests at a time for a dependency; the rest wait, bounded, in line.

Bursts beyond the pool's size used to reach the pool all at once: each took a connection or timed
out in the pool, and those timeouts opened the database breaker on a healthy server. Here they
wait before doing any work (no connection, no Redis call held), in arrival order, and one that
waits past its bound is refused with `PoolBusy` (503, Retry-After): back-pressure, never counted
by a breaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from snaproom_gateway.resilience.classify import PoolBusy


class AdmissionGate:
    def __init__(self, dependency: str, limit: int, timeout: float) -> None:
        self.dependency = dependency
        self.limit = limit
        self.timeout = timeout
        self._slots = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.waiting = 0
        self.admitted_total = 0
        self.refused_total = 0

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold one slot for the block; raise PoolBusy after waiting `timeout` for one."""
        if self._slots.locked():  # only then is there a wait to bound (and to count)
            self.waiting += 1
            try:
                async with asyncio.timeout(self.timeout):
                    await self._slots.acquire()
            except TimeoutError:
                self.refused_total += 1
                raise PoolBusy(self.dependency, f"{self.dependency} is busy: "
                               f"{self.limit} requests in flight; retry shortly") from None
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()
        self.in_flight += 1
        self.admitted_total += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()

    def health(self) -> dict[str, Any]:
        return {"status": "healthy", "limit": self.limit, "in_flight": self.in_flight,
                "waiting": self.waiting, "admitted_total": self.admitted_total,
                "refused_total": self.refused_total, "queue_timeout": self.timeout}
