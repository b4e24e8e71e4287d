"""The relay's claim on real PostgreSQL while an earlier round is still being marked sent.

A relay marks an acknowledged round in the background while it claims the next: the round's
rows stay locked until marked, so no relay takes them again, and only the relay that has them in
Kafka lets later rows of their keys go.
"""

from __future__ import annotations

import pytest

from snaproom_gateway.events import outbox
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.infra import database

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
