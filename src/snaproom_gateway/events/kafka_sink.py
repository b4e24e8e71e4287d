"""The relay's Kafka sink: the process's idempotent producer (acks=all), topics ensured first.

Rows are handed to the producer with `send()` (it batches them per partition, linger_ms) and the
delivery futures gathered, rather than awaiting each send in turn; order per key holds because
rows are sent in seq order and the idempotent producer keeps order across its retries.
"""

from __future__ import annotations

import asyncio
import logging

from snaproom_gateway.events.outbox import OutboxRow
from snaproom_gateway.events.topics import ensure_topics
from snaproom_gateway.infra.kafka import KafkaConnection
from snaproom_gateway.settings import Settings

log = logging.getLogger(__name__)


class KafkaSink:
    name = "kafka"

    def __init__(self, kafka: KafkaConnection, settings: Settings) -> None:
        self.kafka = kafka
        self.settings = settings
        self.topics_ready = not settings.kafka_ensure_topics
        # Set once the producer is connected and the topics exist: consumers start after it.
        self.ready_event = asyncio.Event()

    async def ready(self) -> bool:
        if self.kafka.producer is None or self.kafka.admin is None:
            return False
        if not self.topics_ready:
            await ensure_topics(self.kafka.admin, self.settings)
            self.topics_ready = True
        self.ready_event.set()
        return True

    async def send(self, rows: list[OutboxRow]) -> list[BaseException | None]:
        producer = self.kafka.producer
        if producer is None:
            error = ConnectionError("kafka producer not connected")
            return [error] * len(rows)
        results: list[BaseException | None] = [None] * len(rows)
        futures: list[asyncio.Future] = []
        try:
            async with asyncio.timeout(self._bound):
                for index, row in enumerate(rows):
                    try:
                        futures.append(await producer.send(
                            row.topic, row.payload,
                            key=row.key.encode() if row.key is not None else None))
                    except Exception as exc:
                        # Later rows are not sent, so no key's later event overtakes this one.
                        for rest in range(index, len(rows)):
                            results[rest] = exc
                        break
                await asyncio.wait(futures)
        except TimeoutError:
            pass
        for index, future in enumerate(futures):
            results[index] = _outcome(future)
        return results

    async def settle(self, pending: list[PendingDelivery]) -> list[BaseException | None]:
        """Wait again for deliveries still in the producer from an earlier round."""
        futures = [p.future for p in pending]
        if futures:
            await asyncio.wait(futures, timeout=self._bound)
        return [_outcome(future) for future in futures]

    @property
    def _bound(self) -> float:
        # With enable_idempotence aiokafka never expires a batch: it retries until the brokers
        # are back. So a delivery still pending after this bound is handed back to the relay as
        # PendingDelivery and awaited later, never sent a second time (that would duplicate it).
        return self.settings.kafka_request_timeout_ms / 1000 + 5


class PendingDelivery(Exception):
    """A row the producer holds and keeps retrying: not acknowledged yet, not to be resent."""

    def __init__(self, future: asyncio.Future) -> None:
        super().__init__("delivery still pending in the producer (brokers unreachable)")
        self.future = future


def _outcome(future: asyncio.Future) -> BaseException | None:
    if not future.done():
        return PendingDelivery(future)
    if future.cancelled():
        return asyncio.CancelledError("delivery cancelled")
    return future.exception()
