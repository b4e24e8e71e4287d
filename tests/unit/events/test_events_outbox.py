"""Outbox housekeeping and the supervisor of the background tasks (SQLite, no servers)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from snaproom_gateway.events import outbox
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.runtime import supervise
from snaproom_gateway.infra import database, migrations


async def _sessionmaker(settings):
    engine = database.create_engine(settings)
    await migrations.upgrade(engine)
    return engine, database.create_sessionmaker(engine)


async def test_prune_removes_only_rows_sent_before_the_retention(embedded_settings):
    engine, sessionmaker = await _sessionmaker(embedded_settings)
    now = datetime.now(UTC)
    try:
        async with sessionmaker() as session, session.begin():
            for name, sent_at in (("old", now - timedelta(hours=30)),
                                  ("recent", now - timedelta(hours=1)), ("pending", None)):
                session.add(OutboxEvent(event_id=name, topic="user-events", key="1",
                                        payload=b"{}", attempts=0, sent_at=sent_at))
        async with sessionmaker() as session, session.begin():
            removed = await outbox.prune(session, timedelta(hours=24))
        async with sessionmaker() as session:
            left = set((await session.scalars(select(OutboxEvent.event_id))).all())
        assert removed == 1 and left == {"recent", "pending"}
    finally:
        await engine.dispose()


async def test_claim_returns_pending_rows_in_seq_order_and_mark_sent_hides_them(
        embedded_settings):
    engine, sessionmaker = await _sessionmaker(embedded_settings)
    try:
        async with sessionmaker() as session, session.begin():
            for n in range(5):
                session.add(OutboxEvent(event_id=f"e{n}", topic="user-events", key=str(n % 2),
                                        payload=b"{}", attempts=0))
        async with sessionmaker() as session, session.begin():
            rows = await outbox.claim(session, 3)
            assert [r.event_id for r in rows] == ["e0", "e1", "e2"]
            await outbox.mark_sent(session, [r.seq for r in rows])
        async with sessionmaker() as session, session.begin():
            assert [r.event_id for r in await outbox.claim(session, 10)] == ["e3", "e4"]
            count, oldest, dead = await outbox.pending_stats(session)
        assert count == 2 and oldest is not None and dead == 0
    finally:
        await engine.dispose()


async def test_a_crashing_task_is_restarted_until_asked_to_stop():
    runs: list[int] = []
    stopping = asyncio.Event()

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("crash")
        stopping.set()

    await asyncio.wait_for(supervise("flaky", flaky, stopping.is_set), 10)
    assert len(runs) == 3
