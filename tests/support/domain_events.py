"""Let the outbox's events reach the domain handlers, then tell which events were written.

The events package's relay and in-process bus (or Kafka consumers) deliver on their own:
`deliver_events` waits until no outbox row is pending.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import func, select

from snaproom_gateway.events.models import OutboxEvent


def envelope_of(payload: dict[str, Any]) -> SimpleNamespace:
    inner = payload["data"]
    return SimpleNamespace(id=payload["id"], timestamp=payload["timestamp"],
                           correlation_id=payload.get("correlation_id"),
                           data=SimpleNamespace(event=inner["event"], user_id=inner["user_id"],
                                                data=inner["data"]))


async def pending_events(app) -> list[dict[str, Any]]:
    """Every event written to the outbox so far (sent or not), oldest first."""
    async with app.state.runtime.sessionmaker() as session:
        rows = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
        return [orjson.loads(row.payload) | {"_topic": row.topic} for row in rows]


async def _written_since_last_call(app) -> list[str]:
    cursor = getattr(app.state, "test_events_cursor", 0)
    async with app.state.runtime.sessionmaker() as session:
        rows = list((await session.scalars(
            select(OutboxEvent).where(OutboxEvent.seq > cursor)
            .order_by(OutboxEvent.seq))).all())
    if rows:
        app.state.test_events_cursor = rows[-1].seq
    return [orjson.loads(row.payload)["data"]["event"] for row in rows]


async def _wait_until_relayed(app, bound: float = 30.0) -> None:
    # The relay marks a batch sent in the transaction that handed it to the handlers, and
    # events those handlers publish are committed before that: no pending row means all done.
    async with asyncio.timeout(bound):
        while True:
            async with app.state.runtime.sessionmaker() as session:
                pending = await session.scalar(select(func.count()).select_from(OutboxEvent)
                                               .where(OutboxEvent.sent_at.is_(None)))
            if not pending:
                return
            await asyncio.sleep(0.05)


async def deliver_events(app) -> list[str]:
    """Deliver every pending event (and the events handlers publish); return the names of the
    events written since the last call."""
    await _wait_until_relayed(app)
    return await _written_since_last_call(app)
