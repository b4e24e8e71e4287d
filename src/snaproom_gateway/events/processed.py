"""The processed-events record: which event ids a consumer group has handled.

`record()` claims a whole batch of ids in one statement (INSERT ... ON CONFLICT DO NOTHING
RETURNING) in the caller's transaction and returns the ids that are new. An id recorded before,
or by a concurrent transaction of the same group (PostgreSQL waits for that transaction and
then skips the row), is not returned, so its handlers run nowhere else: one effect per id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.events.models import ProcessedEvent
from snaproom_gateway.orm import utcnow

# Rows per statement: well under SQLite's and asyncpg's bound-parameter limits (3 per row).
CHUNK = 1000


async def record(session: AsyncSession, group: str, event_ids: Sequence[str]) -> set[str]:
    """Record `event_ids` as handled by `group`; return those not recorded before."""
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    # Sorted: two consumers inserting overlapping ids lock them in the same order (no deadlock).
    ids = sorted(set(event_ids))
    new: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        rows = [{"consumer_group": group, "event_id": event_id, "processed_at": now}
                for event_id in ids[start:start + CHUNK]]
        statement = (insert(ProcessedEvent).values(rows).on_conflict_do_nothing()
                     .returning(ProcessedEvent.event_id))
        new.update((await session.scalars(statement)).all())
    return new
