"""Profile views counted in process and written in batches, off the request path.

A view is one dict increment on the request path (the HTTP fast path included); a background
task writes what gathered every PROFILE_VIEWS_FLUSH_INTERVAL, or sooner once
PROFILE_VIEWS_FLUSH_MAX are waiting, in one transaction (analytics/service.add_views). A batch
that fails to write is kept and retried with the next one, so each recorded view is counted
once; a crash loses the views not yet written: at most one interval's, plus a batch in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from snaproom_gateway.analytics import service

log = logging.getLogger(__name__)


class ProfileViewCounter:
    def __init__(self, sessionmaker: Any, *, interval: float, max_pending: int) -> None:
        self._sessionmaker = sessionmaker
        self.interval = interval
        self.max_pending = max_pending
        self._pending: Counter[int] = Counter()
        self._waiting = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def record(self, profile_user_id: int) -> None:
        self._pending[profile_user_id] += 1
        self._waiting += 1
        if self._waiting >= self.max_pending:
            self._wake.set()

    @property
    def waiting(self) -> int:
        return self._waiting

    def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever(), name="profile-views-flush")

    async def close(self, timeout: float = 5.0) -> None:
        """Stop the task, then write what is left (bounded: a database that is away keeps it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(timeout):
                await self.flush()
        except TimeoutError:
            log.warning("%d profile views not written at shutdown", self._waiting)

    async def _flush_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Write the views gathered so far; returns how many were written."""
        if not self._pending:
            return 0
        batch, self._pending, self._waiting = self._pending, Counter(), 0
        try:
            async with self._sessionmaker() as session:
                await service.add_views(session, batch)
                await session.commit()
        except Exception as exc:  # kept for the next round: counted once, later
            log.warning("profile views not written (%r); retrying with the next batch", exc)
            self._pending.update(batch)
            self._waiting += batch.total()
            return 0
        written = batch.total()
        self.written += written
        return written
