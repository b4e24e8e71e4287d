"""Publish every breaker change as system.breaker.opened / .closed through the outbox.

The outbox (events.publisher) belongs to the event backbone; it is imported at call time, so this
listener is only wired where that module exists. Going through the outbox means a change seen
while Kafka is down is still delivered later. A change of the *database* breaker usually cannot
be written (the outbox lives in the database): it is logged and dropped, and the health endpoints
still show it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
from collections.abc import Callable
from typing import Any

from snaproom_gateway.resilience.breaker import Listener, State, StateChange

log = logging.getLogger(__name__)

PUBLISHER_MODULE = "snaproom_gateway.events.publisher"
EVENT_NAMES = {State.OPEN: "system.breaker.opened", State.CLOSED: "system.breaker.closed"}


def publisher_available() -> bool:
    if PUBLISHER_MODULE in sys.modules:
        return True
    try:
        return importlib.util.find_spec(PUBLISHER_MODULE) is not None
    except (ModuleNotFoundError, ValueError):
        return False


def event_for(change: StateChange) -> tuple[str, dict[str, Any]] | None:
    """The event name and data for a change; half-open is internal and not published."""
    name = EVENT_NAMES.get(change.new)
    if name is None:
        return None
    data: dict[str, Any] = {"dependency": change.dependency}
    if change.new == State.OPEN:
        data["failures"] = change.failures
        data["reason"] = change.reason
    return name, data


def outbox_listener(sessionmaker: Callable[[], Any], timeout: float = 5.0) -> Listener:
    async def publish_change(change: StateChange) -> None:
        described = event_for(change)
        if described is None:
            return
        name, data = described
        publisher = importlib.import_module(PUBLISHER_MODULE)
        try:
            async with asyncio.timeout(timeout):
                async with sessionmaker() as session:
                    await publisher.publish(session, name, user_id=None, data=data)
                    await session.commit()
        except Exception as exc:
            log.warning("could not record %s for %s in the outbox: %r", name,
                        change.dependency, exc)

    return publish_change
