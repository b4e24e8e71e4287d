"""The outbox on real PostgreSQL: the relay's claim while an earlier round is still being
marked sent, and the NOTIFY that wakes the relays of other instances.

A relay marks an acknowledged round in the background while it claims the next: the round's
rows stay locked until marked, so no relay takes them again, and only the relay that has them in
Kafka lets later rows of their keys go.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select

from snaproom_gateway.events import outbox
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.relay import OutboxRelay
from snaproom_gateway.infra import database
from tests.support.apps import running_app
from tests.support.events_support import kafka_settings, wait_for

pytestmark = pytest.mark.integration


async def test_rows_being_marked_stay_locked_and_hold_back_their_keys_for_other_relays(
        clean_db):
    engine = database.create_engine(clean_db)
    sessionmaker = database.create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            for n in range(6):  # keys a, b, a, b, a, b
                session.add(OutboxEvent(event_id=f"claim-{n}", topic="user-events",
                                        key="ab"[n % 2], payload=b"{}", attempts=0))
        marking = sessionmaker()  # round 1: sent and acknowledged, its marking not committed
        first = await outbox.claim(marking, 2)
        await outbox.mark_sent(marking, [row.seq for row in first])
        acknowledged = frozenset(row.seq for row in first)

        async with sessionmaker() as own:  # the same relay's next round
            mine = await outbox.claim(own, 10, acknowledged)
        async with sessionmaker() as other:  # another relay meanwhile
            theirs = await outbox.claim(other, 10)
        await marking.commit()
        await marking.close()
        async with sessionmaker() as later:  # after the marking committed
            after = await outbox.claim(later, 10)
    finally:
        await engine.dispose()

    assert [row.event_id for row in first] == ["claim-0", "claim-1"]
    assert [row.event_id for row in mine] == ["claim-2", "claim-3", "claim-4", "claim-5"]
    assert theirs == []  # both keys have an earlier row it cannot see as sent
    assert [row.event_id for row in after] == ["claim-2", "claim-3", "claim-4", "claim-5"]


async def test_a_commit_of_another_writer_wakes_the_relay_through_the_insert_trigger(clean_db):
    """No in-process signal and no poll within the test's bound: only the NOTIFY can wake it."""
    settings = kafka_settings({"DATABASE_URL": clean_db.database.url, "KAFKA_BROKERS": ""},
                              kafka_brokers=[], outbox_poll_interval=60,
                              events_consumers_enabled=False)
    async with running_app(settings) as (app, _):
        relay = app.state.runtime.events.relay
        await wait_for(lambda: _true_when(relay.state == "running"), 30)
        await asyncio.sleep(0.5)  # the relay is waiting for a signal now
        engine = database.create_engine(settings)  # a writer outside the app's sessions
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(OutboxEvent), [{
                    "event_id": "notify-1", "topic": "user-events", "key": "1",
                    "payload": b"{}", "attempts": 0}])

            async def sent():
                async with engine.connect() as conn:
                    return await conn.scalar(select(OutboxEvent.sent_at)
                                             .where(OutboxEvent.event_id == "notify-1"))
            await wait_for(sent, 10)
        finally:
            await engine.dispose()


async def _true_when(value: bool) -> bool:
    return value


class _RecordingSink:
    """Acknowledges every row at once and records the order it was handed them in."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def ready(self) -> bool:
        return True

    async def send(self, rows):
        self.sent.extend(row.event_id for row in rows)
        return [None] * len(rows)

    async def settle(self, pending):
        return [None] * len(pending)


async def test_a_failed_background_marking_sends_its_rows_again_and_loses_none(
        clean_db, monkeypatch):
    """The database fails while a round is being marked sent: its rows stay pending and are
    sent again (at least once; the consumers' processed-events record absorbs the repeat)."""
    settings = kafka_settings({"DATABASE_URL": clean_db.database.url, "KAFKA_BROKERS": ""},
                              kafka_brokers=[], outbox_batch_size=2, outbox_poll_interval=0.1)
    engine = database.create_engine(settings)
    sessionmaker = database.create_sessionmaker(engine)
    mark_sent = outbox.mark_sent
    calls = []

    async def fail_first(session, seqs):
        calls.append(seqs)
        if len(calls) == 1:
            raise ConnectionError("database went away while marking")
        await mark_sent(session, seqs)

    monkeypatch.setattr(outbox, "mark_sent", fail_first)
    sink = _RecordingSink()
    relay = OutboxRelay(engine, sessionmaker, settings, sink)
    try:
        async with sessionmaker() as session, session.begin():
            for n in range(6):
                session.add(OutboxEvent(event_id=f"again-{n}", topic="user-events",
                                        key="ab"[n % 2], payload=b"{}", attempts=0))
        task = asyncio.create_task(relay.run())

        async def all_marked():
            async with sessionmaker() as session:
                pending = await session.scalar(select(func.count()).select_from(OutboxEvent)
                                               .where(OutboxEvent.sent_at.is_(None)))
            return pending == 0
        await wait_for(all_marked, 20)
        relay.stop()
        await asyncio.wait_for(task, 10)
    finally:
        await engine.dispose()

    ids = [f"again-{n}" for n in range(6)]
    assert set(sink.sent) == set(ids)
    assert sink.sent.count("again-0") == 2 and sink.sent.count("again-1") == 2
    assert relay.failures >= 1
