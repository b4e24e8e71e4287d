"""Consumer bookkeeping on the real PostgreSQL and Kafka: concurrent claims of one event id in
the processed-events record, and offsets committed after handling."""

from __future__ import annotations

import asyncio

import pytest

from snaproom_gateway.events import processed
from snaproom_gateway.events.offsets import group_offsets, kafka_group_id
from snaproom_gateway.events.publisher import publish
from snaproom_gateway.infra import database
from tests.support.apps import running_app
from tests.support.events_support import effects, group_at_end, wait_for

pytestmark = pytest.mark.integration


async def test_a_concurrent_claim_of_the_same_id_waits_then_skips_it(clean_db):
    engine = database.create_engine(clean_db)
    sessionmaker = database.create_sessionmaker(engine)
    try:
        async with sessionmaker() as first, sessionmaker() as second:
            assert await processed.record(first, "g", ["e1", "e2"]) == {"e1", "e2"}
            # The second transaction blocks on e2 until the first one ends.
            racing = asyncio.create_task(processed.record(second, "g", ["e2", "e3"]))
            await asyncio.sleep(0.3)
            assert not racing.done()
            await first.commit()
            assert await racing == {"e3"}  # e2 was handled by the first: no second effect
            await second.commit()
    finally:
        await engine.dispose()


async def test_a_claim_rolled_back_by_a_failed_handler_lets_the_other_consumer_handle_it(
        clean_db):
    engine = database.create_engine(clean_db)
    sessionmaker = database.create_sessionmaker(engine)
    try:
        async with sessionmaker() as first, sessionmaker() as second:
            assert await processed.record(first, "g", ["r1"]) == {"r1"}
            racing = asyncio.create_task(processed.record(second, "g", ["r1"]))
            await asyncio.sleep(0.3)
            await first.rollback()
            assert await racing == {"r1"}
            await second.commit()
    finally:
        await engine.dispose()


async def test_a_consumer_commits_what_it_handled_once_idle_without_waiting_the_interval(
        clean_db, recorder):
    settings = clean_db
    settings.events.commit_interval = 60.0  # only the idle flush can commit within the test
    group = recorder("it-commit")
    await group_at_end(settings, group, ["user-events"])
    async with running_app(settings) as (app, _):
        ids = []
        async with app.state.runtime.sessionmaker() as session:
            for n in range(5):
                envelope = await publish(session, "user.updated", user_id=7_000 + n,
                                         data={"fields": ["bio"], "n": n})
                ids.append(envelope.id)
            await session.commit()

        async def handled():
            return len(await effects(settings, group, ids)) == 5
        await wait_for(handled, 60)

        async def committed_to_the_end():
            rows = await group_offsets(app.state.runtime.kafka.admin, app.state.runtime.events.reader,
                                       kafka_group_id(settings, group), ["user-events"])
            return sum(row["lag"] or 0 for row in rows) == 0
        await wait_for(committed_to_the_end, 30)
