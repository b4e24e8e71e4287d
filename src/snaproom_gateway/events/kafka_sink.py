"""The relay's Kafka sink: the process's idempotent producer (acks=all), topics ensured first.

Rows are grouped per partition (the default partitioner's choice for their key, as `send()`
would make it) into producer batches handed over with `send_batch()`: far less Python work per
message than one `send()` future each. Order per key holds: one key maps to one partition, its
rows go in seq order, and the idempotent producer keeps order across its retries.

A topic whose `max.message.bytes` is below a full producer batch (256 KiB) refuses full batches
while it takes single rows: after such a refusal the sink halves the batches it builds for that
topic, until they pass (or hold one row, which the relay then dead-letters if refused).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import errors as kafka_errors
from aiokafka.partitioner import DefaultPartitioner

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events import dead_rows
from snaproom_gateway.events.catalog import dlq_topic
from snaproom_gateway.events.outbox import OutboxRow
from snaproom_gateway.events.topics import TopicsNotAuthorized, ensure_topics
from snaproom_gateway.infra.kafka import KafkaConnection, send_dead_letter

log = logging.getLogger(__name__)

# Refusals of a record itself: sent alone and refused, the row can never be sent.
_ROW_REFUSALS = (kafka_errors.MessageSizeTooLargeError, kafka_errors.RecordListTooLargeError,
                 kafka_errors.RecordTooLargeError, kafka_errors.CorruptRecordException)
# A batch over the topic's max.message.bytes (its rows may pass in smaller batches).
_BATCH_REFUSALS = (kafka_errors.MessageSizeTooLargeError, kafka_errors.RecordListTooLargeError)
# Errors after which the producer's sequence numbers are out of step with the brokers'.
_DESYNCED = (*_ROW_REFUSALS, kafka_errors.OutOfOrderSequenceNumber)


class KafkaSink:
    name = "kafka"

    def __init__(self, kafka: KafkaConnection, settings: Settings) -> None:
        self.kafka = kafka
        self.settings = settings
        self.topics_ready = not settings.kafka.ensure_topics
        self.denied_topics: list[str] = []  # topics the ACLs hide from this principal
        # Set once the producer is connected and the topics exist: consumers start after it.
        self.ready_event = asyncio.Event()
        self._partitioner = DefaultPartitioner()
        # Set after the brokers refused a batch for good: the next send first renews the
        # producer, whose sequence numbers are out of step (KafkaConnection.renew_producer).
        self._renew = False
        # Topics that refused a batch as too large: the batch size (bytes) to keep below.
        self.batch_bytes: dict[str, int] = {}

    async def ready(self) -> bool:
        if self.kafka.producer is None or self.kafka.admin is None:
            return False
        if not self.topics_ready:
            try:
                await ensure_topics(self.kafka.admin, self.settings)
            except TopicsNotAuthorized as exc:
                # Said once; the rows of those topics stay pending (each send is refused),
                # the other topics flow.
                self.denied_topics = exc.topics
                log.warning("kafka: %s; their events wait in the outbox", exc)
            self.topics_ready = True
        self.ready_event.set()
        return True

    def refuses_row(self, error: BaseException | None) -> bool:
        """True when the brokers refused the record itself (too large, corrupt): sent alone
        and refused so, the row can never be sent."""
        return isinstance(error, _ROW_REFUSALS)

    async def _producer(self) -> Any:
        """The producer to send with; renewed first after a refusal. Raises when Kafka is
        away (renewal) and ConnectionError when not connected yet."""
        if self._renew and self.kafka.producer is not None:
            await self.kafka.renew_producer()
            self._renew = False
        if self.kafka.producer is None:
            raise ConnectionError("kafka producer not connected")
        return self.kafka.producer

    async def send(self, rows: list[OutboxRow]) -> list[BaseException | None]:
        try:
            producer = await self._producer()
        except Exception as exc:
            return [exc] * len(rows)
        results: list[BaseException | None] = [None] * len(rows)
        sent: list[tuple[list[int], asyncio.Future]] = []
        sizes: list[tuple[str, int]] = []  # (topic, bytes) of each batch in `sent`
        try:
            async with asyncio.timeout(self._bound):
                denied: dict[int, BaseException] = {}
                plan = await self._plan(producer, rows, denied)
                for index, error in denied.items():
                    results[index] = error
                for (topic, partition), indices in plan.items():
                    for chunk, batch in self._batches(producer, rows, indices,
                                                      self.batch_bytes.get(topic)):
                        size = batch.size()
                        future = await producer.send_batch(batch, topic, partition=partition)
                        sent.append((chunk, future))
                        sizes.append((topic, size))  # in step with `sent`: zipped below
                await asyncio.wait([future for _, future in sent])
        except Exception as exc:  # metadata or enqueue failure, or the time bound: whatever was
            # not enqueued fails (the rest is settled below; still pending = PendingDelivery)
            queued = {i for chunk, _ in sent for i in chunk}
            for index in range(len(rows)):
                if index not in queued and results[index] is None:
                    results[index] = exc
        for (chunk, future), (topic, size) in zip(sent, sizes, strict=True):
            outcome = _outcome(future)
            for index in chunk:
                results[index] = outcome
            if isinstance(outcome, _BATCH_REFUSALS) and len(chunk) > 1:
                self._smaller_batches(topic, size)
        if any(isinstance(error, _DESYNCED) for error in results):
            self._renew = True
        return results

    async def _plan(self, producer: Any, rows: list[OutboxRow],
                    denied: dict[int, BaseException]) -> dict[tuple[str, int], list[int]]:
        """Row indices per (topic, partition), in seq order. The partition of a key is the
        default partitioner's (murmur2 of the key), as send() would pick it. Rows of a topic
        this principal may not use go into `denied` instead."""
        partitions: dict[str, list[int] | BaseException] = {}
        plan: dict[tuple[str, int], list[int]] = {}
        for index, row in enumerate(rows):
            if row.topic not in partitions:
                try:
                    partitions[row.topic] = sorted(await producer.partitions_for(row.topic))
                except kafka_errors.TopicAuthorizationFailedError as exc:
                    partitions[row.topic] = exc  # an ACL: only this topic's rows wait
            available = partitions[row.topic]
            if isinstance(available, BaseException):
                denied[index] = available
                continue
            key = row.key.encode() if row.key is not None else None
            partition = self._partitioner(key, available, available)
            plan.setdefault((row.topic, partition), []).append(index)
        return plan

    def _smaller_batches(self, topic: str, refused: int) -> None:
        limit = refused // 2
        if limit < self.batch_bytes.get(topic, refused):
            self.batch_bytes[topic] = limit
            log.warning("kafka: %s refused a batch of %d bytes as too large (its "
                        "max.message.bytes): batches to it are kept below %d bytes now",
                        topic, refused, limit)

    @staticmethod
    def _batches(producer: Any, rows: list[OutboxRow], indices: list[int],
                 limit: int | None = None):
        """Fill producer batches (max_batch_size each, or below `limit` bytes) with the rows,
        in order."""
        batch, chunk = producer.create_batch(), []
        for index in indices:
            row = rows[index]
            key = row.key.encode() if row.key is not None else None
            # The trace context rides as headers (traceparent, correlation_id): ~110 bytes.
            headers = row.headers()
            # 64: a record's own header, over its key and value
            over = limit is not None and bool(chunk) and \
                batch.size() + len(row.payload) + len(key or b"") + 64 + 128 > limit
            if over or batch.append(key=key, value=row.payload, timestamp=None,
                                    headers=headers) is None:
                yield chunk, batch
                batch, chunk = producer.create_batch(), []
                batch.append(key=key, value=row.payload, timestamp=None, headers=headers)
            chunk.append(index)
        if chunk:
            yield chunk, batch

    async def dead_letter(self, row: OutboxRow, error: str) -> BaseException | None:
        """Send a dead row's notice to its topic's `.dlq`; None once acknowledged."""
        try:
            await send_dead_letter(
                await self._producer(), dlq_topic(row.topic),
                orjson.dumps(dead_rows.notice(row, error)),
                key=row.key.encode() if row.key is not None else None, error=error,
                source_topic=row.topic, timeout=self._bound, headers=row.headers())
        except Exception as exc:
            return exc
        return None

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
        return self.settings.kafka.request_timeout_ms / 1000 + 5


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
