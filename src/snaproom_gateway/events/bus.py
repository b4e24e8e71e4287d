"""The in-process event bus (zero-infra mode): the relay hands it outbox rows and it runs every
registered group's handlers through the same Dispatcher as the Kafka consumers, so validation,
idempotency (processed_events), retries and dead-lettering are the same.

Delivery is synchronous: a row is marked sent only after every group handled it, so a crash
loses nothing (the rows are still pending and replayed, and de-duplicated, at the next start).
Dead letters are kept in memory (the last 1000) and logged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from snaproom_gateway.events import dead_rows
from snaproom_gateway.events.catalog import dlq_topic
from snaproom_gateway.events.dispatch import DeadLetterSink, Delivery, Dispatcher
from snaproom_gateway.events.outbox import OutboxRow
from snaproom_gateway.events.subscribers import Subscribers


class InProcessBus:
    name = "in-process"

    def __init__(self, subscribers: Subscribers,
                 dispatcher_for: Callable[[str, bool, DeadLetterSink], Dispatcher]) -> None:
        self.dead_letters: deque[dict[str, Any]] = deque(maxlen=1000)
        self.dispatchers: dict[str, Dispatcher] = {}
        self.topics: dict[str, set[str]] = {}
        for group, broadcast in subscribers.groups().items():
            self.dispatchers[group] = dispatcher_for(group, broadcast, self._dead_letter(group))
            self.topics[group] = set(subscribers.topics_for_group(group))

    def _dead_letter(self, group: str):
        async def keep(delivery: Delivery, error: str) -> None:
            self.dead_letters.append({"topic": dlq_topic(delivery.topic), "group": group,
                                      "error": error, "value": delivery.value})
        return keep

    async def ready(self) -> bool:
        return True

    async def send(self, rows: list[OutboxRow]) -> list[BaseException | None]:
        """Run each group's handlers over the rows, in order. Raises DispatchUnavailable when
        the database is away (the relay keeps the rows pending and retries)."""
        for group, dispatcher in self.dispatchers.items():
            topics = self.topics[group]
            batch = [Delivery(row.payload, row.topic, None, row.seq,
                              row.key.encode() if row.key is not None else None,
                              headers=row.headers())
                     for row in rows if row.topic in topics]
            if batch:
                await dispatcher.handle_batch(batch)
        return [None] * len(rows)

    def refuses_row(self, error: BaseException | None) -> bool:
        return False  # the bus takes any row

    async def dead_letter(self, row: OutboxRow, error: str) -> BaseException | None:
        self.dead_letters.append({"topic": dlq_topic(row.topic)} | dead_rows.notice(row, error))
        return None

    async def settle(self, pending: list[Any]) -> list[BaseException | None]:
        return [None] * len(pending)  # the bus never leaves a delivery pending

    def health(self) -> dict[str, Any]:
        return {group: {"state": "running", "mode": "in-process", "handled": d.handled,
                        "skipped": d.skipped, "dead_lettered": d.dead_lettered, "lag": 0}
                for group, d in self.dispatchers.items()}
