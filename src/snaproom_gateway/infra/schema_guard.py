"""Is the database's schema the one this code needs? Checked at start, by readiness and, while
it is not, by requests (at most once a second), so running `snaproom-gateway migrate` brings the
instance back without a restart.

An unmigrated or behind database is a 503 naming the migrate command, never a 500: readiness
fails, requests that need the database answer 503 with that one line, the relay and the
consumers wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from snaproom_gateway.infra import migrations

log = logging.getLogger(__name__)

RECHECK_INTERVAL = 1.0  # seconds between checks while the schema is behind (or unknown)


class SchemaGuard:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self.engine = engine
        self.timeout = timeout
        self.detail: str | None = None  # the one line, while the schema is behind
        self.checked = False  # False until a check reached the database
        self._last_check = 0.0
        self._checking = False
        self._warned_unknown = False

    @property
    def behind(self) -> bool:
        return self.detail is not None

    async def check(self) -> str | None:
        """Read the schema's revision (bounded). An unreachable database changes nothing: that
        is the breaker's and the health probe's to report."""
        self._last_check = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                state = await migrations.schema_state(self.engine)
        except Exception as exc:  # noqa: BLE001 - unreachable or slow: unknown, not behind
            log.debug("schema check failed: %r", exc)
            return self.detail
        was = self.detail
        self.checked = True
        self.detail = state.describe() if state.behind else None
        if was is not None and self.detail is None:
            log.info("database schema is current (%s)", ", ".join(state.current))
        if not state.known and not self._warned_unknown:
            self._warned_unknown = True
            log.warning("database schema %s is newer than this code (%s); serving anyway",
                        ", ".join(state.current), ", ".join(state.heads))
        return self.detail

    async def recheck_if_due(self) -> None:
        """Check again if the last check is a second old and none is running (never waits for
        another caller's check)."""
        if self._checking or time.monotonic() - self._last_check < RECHECK_INTERVAL:
            return
        self._checking = True
        try:
            await self.check()
        finally:
            self._checking = False

    async def current_or_detail(self) -> str | None:
        """For requests: None when they may go on, else the line to answer 503 with."""
        if self.checked and self.detail is None:
            return None
        await self.recheck_if_due()
        return self.detail

    def mismatch_seen(self) -> str:
        """A query failed on a missing table or column: check again soon, answer with this."""
        self._last_check = 0.0
        return self.detail or ("the database schema does not match the code: run "
                               f"`{migrations.MIGRATE_COMMAND}`")

    async def wait_current(self, stopping: Callable[[], bool], interval: float = 2.0) -> None:
        """Until the schema is known and current (or `stopping()`): the relay and consumers
        start only then, instead of failing a round every second."""
        while not stopping() and not (self.checked and self.detail is None):
            await self.check()
            if self.checked and self.detail is None:
                return
            await asyncio.sleep(interval)


async def start(engine: AsyncEngine, timeout: float) -> SchemaGuard:
    """Check once at start; a behind schema is said in one line (the process still serves:
    readiness keeps it out of rotation until someone migrates)."""
    guard = SchemaGuard(engine, timeout)
    if await guard.check() is not None:
        log.error("snaproom-gateway: %s", guard.detail)
    return guard
