"""Outbox rows Kafka can never take: envelopes over MAX_EVENT_BYTES (written by an older version
or by a writer outside the app; publish() refuses them), and rows the brokers refuse for
themselves when sent alone (a topic whose size limit is lower).

Retried, such a row would be the relay's probe forever and hold back every row behind it. The
relay sends a notice of it to the topic's `.dlq` instead, marks it dead (kept in the outbox,
never pruned) and goes on. A row over MAX_EVENT_BYTES is not even sent: a refused batch also
puts the idempotent producer's sequence numbers out of step (the Kafka sink then renews it).
"""

from __future__ import annotations

import time
from typing import Any

from snaproom_gateway.events.catalog import MAX_EVENT_BYTES
from snaproom_gateway.events.outbox import OutboxRow

# The head of the payload the notice carries: enough to tell which event it was.
NOTICE_VALUE_BYTES = 64 * 1024


class DeadRow(Exception):
    """A send result: the row was dead-lettered, mark it dead (not sent, not failed)."""


def too_large(row: OutboxRow) -> bool:
    return len(row.payload) > MAX_EVENT_BYTES


def reason(row: OutboxRow) -> str:
    return (f"envelope of {len(row.payload):,} bytes is over the {MAX_EVENT_BYTES:,}-byte limit: "
            "not sent, kept in the outbox as dead")


def notice(row: OutboxRow, error: str) -> dict[str, Any]:
    """The `.dlq` record of a dead row, shaped like the consumers' dead letters."""
    return {
        "error": error,
        "group": None,
        "source": {"outbox_seq": row.seq, "event_id": row.event_id, "topic": row.topic,
                   "key": row.key, "size": len(row.payload)},
        "failed_at": time.time(),
        "value": row.payload[:NOTICE_VALUE_BYTES].decode("utf-8", "replace"),
        "truncated": len(row.payload) > NOTICE_VALUE_BYTES,
    }
