"""The relay's claim on the real PostgreSQL: rows locked elsewhere hold back later rows of their
key, unless this relay already has them acknowledged by Kafka (marking in the background)."""

from __future__ import annotations

import pytest

from snaproom_gateway.events import outbox
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.infra import database

pytestmark = pytest.mark.integration


async def _two_rows_of_one_key_and_one_of_another(sessionmaker) -> list[int]:
    async with sessionmaker() as session, session.begin():
        rows = [OutboxEvent(event_id=f"claim-{n}", topic="user-events", key=key, payload=b"{}",
                            attempts=0) for n, key in enumerate(["k", "k", "other"])]
        session.add_all(rows)
    return [row.seq for row in rows]


@pytest.mark.parametrize("acked", [False, True])
async def test_a_row_locked_by_another_round_holds_back_its_key_unless_acknowledged(
        clean_db, acked):
    engine = database.create_engine(clean_db)
    sessionmaker = database.create_sessionmaker(engine)
    try:
        first_k, second_k, other = await _two_rows_of_one_key_and_one_of_another(sessionmaker)
        async with sessionmaker() as holder, sessionmaker() as claimer:
            held = await outbox.claim(holder, 1)  # an earlier round: locks the first "k" row
            assert [row.seq for row in held] == [first_k]
            claimed = await outbox.claim(claimer, 10,
                                         acked={first_k} if acked else frozenset())
            await claimer.rollback()
            await holder.rollback()
    finally:
        await engine.dispose()
    expected = [second_k, other] if acked else [other]
    assert [row.seq for row in claimed] == expected
