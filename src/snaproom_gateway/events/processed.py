"""The processed-events record: which event ids a consumer group has handled.

`record()` claims a whole batch of ids in one statement (INSERT ... ON CONFLICT DO NOTHING
RETURNING) in the caller's transaction and returns the ids that are new. An id recorded before,
or by a concurrent transaction of the same group (PostgreSQL waits for that transaction and
then skips the row), is not returned, so its handlers run nowhere else: one effect per id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.events.models import ProcessedEvent
from snaproom_gateway.infra.orm import utcnow

# SQLite rows per statement: well under its bound-parameter limit (3 per row).
CHUNK = 1000


# PostgreSQL: one constant statement with an array parameter. A multi-row VALUES insert is
# compiled anew for every batch size, which took an eighth of the consumer process's CPU.
_RECORD = text("""
INSERT INTO processed_events (consumer_group, event_id, processed_at)
SELECT :group, event_id, now() FROM unnest(CAST(:ids AS varchar[])) AS event_id
ON CONFLICT DO NOTHING
RETURNING event_id
""")


async def record(session: AsyncSession, group: str, event_ids: Sequence[str]) -> set[str]:
    """Record `event_ids` as handled by `group`; return those not recorded before."""
    # Sorted: two consumers inserting overlapping ids lock them in the same order (no deadlock).
    ids = sorted(set(event_ids))
    if session.bind.dialect.name == "postgresql":
        return set((await session.scalars(_RECORD, {"group": group, "ids": ids})).all())
    now = utcnow()
    new: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        rows = [{"consumer_group": group, "event_id": event_id, "processed_at": now}
                for event_id in ids[start:start + CHUNK]]
        statement = (sqlite_insert(ProcessedEvent).values(rows).on_conflict_do_nothing()
                     .returning(ProcessedEvent.event_id))
        new.update((await session.scalars(statement)).all())
    return new
