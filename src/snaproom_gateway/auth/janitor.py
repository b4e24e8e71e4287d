"""Removes expired session rows now and then (the cache entries expire on their own TTL)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from snaproom_gateway.auth import sessions

log = logging.getLogger(__name__)


async def purge_once(sessionmaker: Any) -> int:
    async with sessionmaker() as session:
        removed = await sessions.purge_expired(session)
        await session.commit()
    return removed


async def purge_forever(sessionmaker: Any, interval: float) -> None:
    """Every instance runs it; the DELETE is idempotent, so no coordination is needed."""
    while True:
        await asyncio.sleep(interval)
        try:
            async with asyncio.timeout(60):
                removed = await purge_once(sessionmaker)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is away: try again next round
            log.warning("expired session purge failed: %r", exc)
        else:
            if removed:
                log.info("purged %s expired sessions", removed)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
