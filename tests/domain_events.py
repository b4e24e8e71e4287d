"""Deliver the outbox's pending events to the domain handlers, in order, like a consumer would.

Stands in for the event relay and consumer runner of the events branch while that is not merged:
each handler gets its own session (committed after it, as the runner does) and the envelope of
the contract. Once the events package is on this branch, tests wait for the real bus instead.
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import select

from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events_standin import registered_handlers


def envelope_of(payload: dict[str, Any]) -> SimpleNamespace:
    inner = payload["data"]
    return SimpleNamespace(id=payload["id"], timestamp=payload["timestamp"],
                           correlation_id=payload.get("correlation_id"),
                           data=SimpleNamespace(event=inner["event"], user_id=inner["user_id"],
                                                data=inner["data"]))


async def pending_events(app) -> list[dict[str, Any]]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.sent_at.is_(None)).order_by(OutboxEvent.seq))
        return [orjson.loads(row.payload) | {"_topic": row.topic} for row in rows]


async def deliver_events(app) -> list[str]:
    """Run handlers for every pending event (and the events they publish); return their names."""
    delivered: list[str] = []
    while True:
        async with app.state.sessionmaker() as session:
            rows = list((await session.scalars(
                select(OutboxEvent).where(OutboxEvent.sent_at.is_(None))
                .order_by(OutboxEvent.seq))).all())
            for row in rows:
                row.sent_at = datetime.now(UTC)
            await session.commit()
        if not rows:
            return delivered
        for row in rows:
            payload = orjson.loads(row.payload)
            envelope = envelope_of(payload)
            delivered.append(envelope.data.event)
            for pattern, _group, handler in registered_handlers:
                if not fnmatch.fnmatchcase(envelope.data.event, pattern):
                    continue
                async with app.state.sessionmaker() as session:
                    ctx = SimpleNamespace(session=session, state=app.state,
                                          settings=app.state.settings)
                    await handler(envelope, ctx)
                    await session.commit()
