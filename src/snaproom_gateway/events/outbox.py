"""Outbox queries: claim pending rows in per-key order, mark them sent, prune old ones, list
and requeue dead ones.

On PostgreSQL several relays may run at once (one per gateway instance): rows are claimed with
`FOR UPDATE SKIP LOCKED`, so no row is published twice in the normal case, and a relay drops from
its claim every key that has an earlier pending row it could not lock (held by another relay),
so one key's events are never published out of order. Rows a relay has published and is still
marking stay locked by it until marked, so no relay claims them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from snaproom_gateway.core.types import as_utc
from snaproom_gateway.events.catalog import MAX_EVENT_BYTES
from snaproom_gateway.events.models import OutboxEvent


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    topic: str
    key: str | None
    payload: bytes
    traceparent: str | None = None
    correlation_id: str | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers of the row: its trace context and correlation id, when known."""
        found = []
        if self.traceparent:
            found.append(("traceparent", self.traceparent.encode()))
        if self.correlation_id:
            found.append(("correlation_id", self.correlation_id.encode("latin-1", "replace")))
        return found


# PostgreSQL claim: lock the oldest pending rows no other relay holds (SKIP LOCKED), and list the
# other pending rows up to the last of them with their keys: those held by another relay. `NOT
# IN` over the claimed rows and over this relay's acknowledged ones runs as hashed subplans (an
# anti-join against the CTE was planned as a nested loop, quadratic in the batch size); `seq <=
# max` keeps the second part on the index of unsent rows. Returning only the others, not every
# pending row again, halved the claim of a 2,000-row backlog round.
_CLAIM = text("""
WITH claimed AS MATERIALIZED (
    SELECT seq, event_id, topic, key, payload, traceparent, correlation_id FROM outbox
    WHERE sent_at IS NULL AND dead_at IS NULL ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED
)
SELECT seq, event_id, topic, key, payload, traceparent, correlation_id, true AS claimed
FROM claimed
UNION ALL
SELECT o.seq, NULL, NULL, o.key, NULL, NULL, NULL, false FROM outbox o
WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.seq <= (SELECT max(seq) FROM claimed)
  AND o.seq NOT IN (SELECT seq FROM claimed)
  AND o.seq NOT IN (SELECT unnest(CAST(:acknowledged AS bigint[])))
ORDER BY seq
""")


async def claim(session: AsyncSession, limit: int,
                acknowledged: frozenset[int] = frozenset()) -> list[OutboxRow]:
    """The oldest pending rows, locked until the session's transaction ends.

    `acknowledged`: seqs this relay already has in Kafka, still locked by the transaction that
    marks them sent. They hold back no later row of their key: it follows them."""
    if session.bind.dialect.name != "postgresql":
        query = (select(OutboxEvent.seq, OutboxEvent.event_id, OutboxEvent.topic,
                        OutboxEvent.key, OutboxEvent.payload, OutboxEvent.traceparent,
                        OutboxEvent.correlation_id)
                 .where(OutboxEvent.sent_at.is_(None), OutboxEvent.dead_at.is_(None))
                 .order_by(OutboxEvent.seq).limit(limit))
        return [OutboxRow(*row) for row in (await session.execute(query)).all()]
    # One round trip: our locked rows, and the pending rows before the last of them that are
    # not ours.
    result = (await session.execute(_CLAIM, {"limit": limit,
                                             "acknowledged": list(acknowledged)})).all()
    rows = [OutboxRow(*row[:-1]) for row in result if row[-1]]
    # Keys whose earliest pending row is not ours are held by another relay (or an earlier
    # transaction committed late): leave them, and keep every later row of theirs, for now.
    first_other: dict[str, int] = {}
    for seq, _, _, key, *_, claimed in result:
        if not claimed and key is not None:
            first_other.setdefault(key, seq)
    if not rows or not first_other:
        return rows
    ours_first: dict[str | None, int] = {}
    for row in rows:
        ours_first.setdefault(row.key, row.seq)
    blocked = {key for key, seq in ours_first.items()
               if key in first_other and first_other[key] < seq}
    return [row for row in rows if row.key not in blocked]


async def mark_sent(session: AsyncSession, seqs: list[int]) -> None:
    if not seqs:
        return
    if session.bind.dialect.name == "postgresql":
        # One array parameter instead of thousands of IN parameters (compile time dominated).
        await session.execute(text("UPDATE outbox SET sent_at = now() WHERE seq = ANY(:seqs)"),
                              {"seqs": seqs})
        return
    await session.execute(update(OutboxEvent).where(OutboxEvent.seq.in_(seqs))
                          .values(sent_at=datetime.now(UTC)))


async def mark_failed(session: AsyncSession, seqs: list[int], error: str) -> None:
    if seqs:
        await session.execute(update(OutboxEvent).where(OutboxEvent.seq.in_(seqs))
                              .values(attempts=OutboxEvent.attempts + 1, last_error=error[:2000]))


async def mark_dead(session: AsyncSession, seqs: list[int], error: str) -> None:
    """Rows Kafka can never take: no claim returns them again; prune keeps them."""
    if seqs:
        await session.execute(update(OutboxEvent).where(OutboxEvent.seq.in_(seqs))
                              .values(dead_at=datetime.now(UTC), last_error=error[:2000]))


async def list_dead(session: AsyncSession, limit: int) -> list[dict]:
    """The dead rows, oldest first: what they were and why Kafka could not take them."""
    rows = (await session.execute(
        select(OutboxEvent.seq, OutboxEvent.event_id, OutboxEvent.topic, OutboxEvent.key,
               func.length(OutboxEvent.payload), OutboxEvent.created_at, OutboxEvent.dead_at,
               OutboxEvent.last_error)
        .where(OutboxEvent.dead_at.is_not(None)).order_by(OutboxEvent.seq).limit(limit))).all()
    return [{"seq": seq, "event_id": event_id, "topic": topic, "key": key, "size": size,
             "created_at": as_utc(created), "dead_at": as_utc(died), "error": error}
            for seq, event_id, topic, key, size, created, died, error in rows]


async def requeue(session: AsyncSession, seqs: list[int] | None) -> tuple[list[int], list[int]]:
    """Make dead rows pending again (all of them when `seqs` is None), say after the topic's
    max.message.bytes was raised. Rows over MAX_EVENT_BYTES stay dead: no topic takes them.
    Returns (requeued seqs, seqs left dead as too large)."""
    dead_rows = OutboxEvent.dead_at.is_not(None)
    if seqs is not None:
        dead_rows = dead_rows & OutboxEvent.seq.in_(seqs)
    too_large = func.length(OutboxEvent.payload) > MAX_EVENT_BYTES
    found = (await session.execute(select(OutboxEvent.seq, too_large).where(dead_rows)
                                   .order_by(OutboxEvent.seq))).all()
    ready = [seq for seq, large in found if not large]
    if ready:
        await session.execute(update(OutboxEvent).where(OutboxEvent.seq.in_(ready))
                              .values(dead_at=None, last_error=None, attempts=0))
    return ready, [seq for seq, large in found if large]


async def prune(session: AsyncSession, older_than: timedelta) -> int:
    """Delete rows sent before now - older_than; return how many."""
    cutoff = datetime.now(UTC) - older_than
    result = await session.execute(delete(OutboxEvent).where(OutboxEvent.sent_at.is_not(None),
                                                             OutboxEvent.sent_at < cutoff))
    return result.rowcount or 0


async def pending_stats(session: AsyncSession) -> tuple[int, datetime | None, int]:
    """Pending rows, the oldest one's creation time, and dead rows (never to be sent)."""
    live = OutboxEvent.dead_at.is_(None)
    count, oldest, dead = (await session.execute(
        select(func.count().filter(live), func.min(OutboxEvent.created_at).filter(live),
               func.count().filter(OutboxEvent.dead_at.is_not(None)))
        .where(OutboxEvent.sent_at.is_(None))
    )).one()
    return int(count), as_utc(oldest), int(dead)
