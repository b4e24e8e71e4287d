"""Events Kafka could never take: refused by publish(), dead-lettered by the relay (SQLite and the
in-process bus; the Kafka case is in tests/integration/test_events_kafka.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from snaproom_gateway.events import outbox
from snaproom_gateway.events.catalog import MAX_EVENT_BYTES
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.publisher import EventTooLargeError, publish
from tests.support.apps import running_app
from tests.support.events_support import wait_for


async def test_publish_refuses_an_envelope_over_the_size_limit_and_writes_nothing(
        embedded_settings):
    async with running_app(embedded_settings) as (app, _):
        async with app.state.runtime.sessionmaker() as session:
            with pytest.raises(EventTooLargeError, match="byte limit"):
                await publish(session, "user.updated", user_id=5,
                              data={"fields": ["bio"], "pad": "x" * MAX_EVENT_BYTES})
            await session.commit()
            assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


async def test_the_relay_dead_letters_a_row_too_large_and_sends_the_rows_behind_it(
        embedded_settings):
    async with running_app(embedded_settings) as (app, _):
        events = app.state.runtime.events
        async with app.state.runtime.sessionmaker() as session:
            session.add(OutboxEvent(event_id="too-big", topic="user-events", key="5", attempts=0,
                                    payload=b"x" * (MAX_EVENT_BYTES + 1)))
            after = await publish(session, "user.logout", user_id=5, data={})
            await session.commit()

        async def settled():
            async with app.state.runtime.sessionmaker() as session:
                sent = await session.scalar(select(OutboxEvent.sent_at)
                                            .where(OutboxEvent.event_id == after.id))
            return sent is not None
        await wait_for(settled, 10)
        async with app.state.runtime.sessionmaker() as session:
            big = (await session.execute(select(OutboxEvent)
                                         .where(OutboxEvent.event_id == "too-big"))).scalar_one()
            pending, oldest, dead = await outbox.pending_stats(session)
            assert await outbox.claim(session, 10) == []
        async with app.state.runtime.sessionmaker() as session, session.begin():
            pruned = await outbox.prune(session, timedelta(0))
        async with app.state.runtime.sessionmaker() as session:
            kept = await session.scalar(select(func.count()).where(OutboxEvent.event_id == "too-big"))
    assert big.dead_at is not None and big.sent_at is None and "byte limit" in big.last_error
    assert (pending, oldest, dead) == (0, None, 1)
    assert pruned == 1 and kept == 1  # the sent row went, the dead one stays
    notices = [d for d in events.bus.dead_letters if d.get("source", {}).get("event_id") == "too-big"]
    assert len(notices) == 1 and notices[0]["topic"] == "user-events.dlq"
    assert notices[0]["truncated"] is True and notices[0]["source"]["size"] == MAX_EVENT_BYTES + 1
    assert events.relay.failing is False
