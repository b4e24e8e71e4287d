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
        # The producer expires undeliverable batches after request_timeout_ms; this outer bound
        # only guards against aiokafka hanging when brokers vanish (aio-libs/aiokafka#1101).
        bound = self.settings.kafka_request_timeout_ms / 1000 * 2 + 5
        try:
            async with asyncio.timeout(bound):
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
                outcomes = await asyncio.gather(*futures, return_exceptions=True)
        except TimeoutError as exc:
            for future in futures:
                future.cancel()
            return [exc] * len(rows)
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, BaseException):
                results[index] = outcome
        return results
