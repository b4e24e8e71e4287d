"""The processed-events record on SQLite: a batch of ids claimed in one statement."""

from __future__ import annotations

from sqlalchemy import func, select

from snaproom_gateway.events import processed
from snaproom_gateway.events.models import ProcessedEvent
from snaproom_gateway.infra import database, migrations


async def test_record_returns_only_ids_the_group_has_not_handled(embedded_settings):
    engine = database.create_engine(embedded_settings)
    await migrations.upgrade(engine)
    sessionmaker = database.create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            first = await processed.record(session, "g", ["a", "b"])
        async with sessionmaker() as session, session.begin():
            second = await processed.record(session, "g", ["b", "c", "c"])
            other_group = await processed.record(session, "h", ["a"])
        async with sessionmaker() as session:
            rows = await session.scalar(select(func.count()).select_from(ProcessedEvent))
    finally:
        await engine.dispose()
    assert first == {"a", "b"}
    assert second == {"c"}
    assert other_group == {"a"}
    assert rows == 4


async def test_a_rolled_back_record_leaves_the_ids_unhandled(embedded_settings):
    engine = database.create_engine(embedded_settings)
    await migrations.upgrade(engine)
    sessionmaker = database.create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            assert await processed.record(session, "g", ["x"]) == {"x"}
            await session.rollback()  # the handlers failed: nothing is recorded
        async with sessionmaker() as session, session.begin():
            again = await processed.record(session, "g", ["x"])
    finally:
        await engine.dispose()
    assert again == {"x"}
