"""The Kafka consumer runner: one consumer group, its topics, its handlers (via Dispatcher).

At-least-once: offsets are committed only after the batch's handlers succeeded (or the poison
messages went to `<topic>.dlq`), in the background and at most every EVENTS_COMMIT_INTERVAL
(and on idle, rebalance and stop); de-duplication by event id (Dispatcher) turns redeliveries
after a crash or a rebalance into no-ops. When the database is away the same messages are
redelivered after a backoff, and nothing is committed past them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.events.catalog import dlq_topic
from snaproom_gateway.events.dispatch import Delivery, Dispatcher, DispatchUnavailable
from snaproom_gateway.infra.kafka import KafkaConnection, client_options, send_dead_letter

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, runner: KafkaGroupRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        log.info("group %s: partitions revoked: %d", self.runner.group_id, len(revoked))
        # Hand over what was handled, so the next owner does not redeliver it.
        await self.runner.flush_commits(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.runner.assignment = sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)
        log.info("group %s: partitions assigned: %s", self.runner.group_id,
                 ", ".join(self.runner.assignment))


class KafkaGroupRunner:
    """Consume `topics` as `group_id` and dispatch every message until stopped.

    `idle_timeout` (seconds) stops after that long without a message (the CLI's --timeout);
    `until_caught_up` stops once every assigned partition reached the end it had at start.
    """

    def __init__(self, settings: Settings, kafka: KafkaConnection, dispatcher: Dispatcher,
                 topics: list[str], group_id: str | None, *, from_latest: bool = False,
                 idle_timeout: float | None = None, until_caught_up: bool = False,
                 max_records: int = 500, on_batch: Callable[[int], None] | None = None) -> None:
        self.settings = settings
        self.kafka = kafka
        self.dispatcher = dispatcher
        self.topics = topics
        self.group_id = group_id
        self.from_latest = from_latest
        self.idle_timeout = idle_timeout
        self.until_caught_up = until_caught_up
        self.max_records = max_records
        self.on_batch = on_batch
        self.consumer: AIOKafkaConsumer | None = None
        self.assignment: list[str] = []
        self.state = "starting"
        self.last_error: str | None = None
        self.consumed = 0
        self._stopping = asyncio.Event()
        self._positions: dict[TopicPartition, int] = {}
        # Offsets handled but not committed yet, and the one commit in flight (see _commit_soon).
        self._uncommitted: dict[TopicPartition, int] = {}
        self._commit_task: asyncio.Task[None] | None = None
        self._last_commit = 0.0

    def stop(self) -> None:
        """Finish the batch in hand, commit, and leave the group."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def lag(self) -> int | None:
        """Messages behind the partition ends, from the consumer's own fetch metadata."""
        consumer = self.consumer
        if consumer is None:
            return None
        total = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = self._positions.get(tp)
            if high is not None and position is not None:
                total += max(high - position, 0)
        return total

    def partition_lag(self) -> dict[tuple[str, int], int]:
        """Messages behind the end of each assigned partition whose position is known."""
        consumer = self.consumer
        found: dict[tuple[str, int], int] = {}
        if consumer is None:
            return found
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = self._positions.get(tp)
            if high is not None and position is not None:
                found[(tp.topic, tp.partition)] = max(high - position, 0)
        return found

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="latest" if self.from_latest else "earliest",
            max_poll_records=self.max_records,
            # The broker answers a fetch as soon as new data is committed (fetch_min_bytes=1,
            # checked on every high-watermark advance), so this is no latency floor: it only
            # bounds how long an empty fetch is parked. At 100 ms each idle group sent 30 empty
            # fetches/s to the three brokers; Kafka's default 500 ms is a fifth of that load.
            fetch_max_wait_ms=500,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            max_poll_interval_ms=300_000,
            metadata_max_age_ms=30_000,
        )

    async def run(self) -> None:
        consumer = self._new_consumer()
        self.consumer = consumer
        try:
            async with asyncio.timeout(self.settings.kafka.request_timeout_ms / 1000 + 10):
                await consumer.start()
            consumer.subscribe(self.topics, listener=_Rebalance(self))
            self.state = "running"
            await self._loop(consumer)
        finally:
            self.state = "stopping"
            try:
                async with asyncio.timeout(self.settings.kafka.close_timeout):
                    await self.flush_commits()
            except Exception as exc:  # noqa: BLE001 - redelivered and de-duplicated later
                log.warning("consumer %s: last commit failed: %r", self.group_id, exc)
            try:
                async with asyncio.timeout(self.settings.kafka.close_timeout):
                    await consumer.stop()  # leaves the group, so a rebalance starts at once
            except Exception as exc:  # noqa: BLE001 - a dead broker must not hang shutdown
                log.warning("consumer %s did not stop cleanly: %r", self.group_id, exc)
            self.consumer = None
            self.state = "stopped"

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        last_message = time.monotonic()
        ends: dict[TopicPartition, int] | None = None
        backoff = 0.2
        while not self.stopping:
            if self.until_caught_up and consumer.assignment():
                if ends is None:
                    ends = await consumer.end_offsets(list(consumer.assignment()))
                if await self._caught_up(consumer, ends):
                    return
            batches = await consumer.getmany(timeout_ms=300, max_records=self.max_records)
            if not batches:
                self._commit_soon(consumer, force=True)  # idle: commit what was handled
                if self.idle_timeout is not None and \
                        time.monotonic() - last_message >= self.idle_timeout:
                    return
                continue
            last_message = time.monotonic()
            deliveries = [
                Delivery(record.value or b"", tp.topic, tp.partition, record.offset, record.key,
                         headers=record.headers)
                for tp, records in batches.items() for record in records
            ]
            try:
                await self.dispatcher.handle_batch(deliveries)
            except DispatchUnavailable as exc:
                # Redeliver the same messages once the database is back; commit nothing.
                self.last_error = str(exc)
                self.state = "waiting-for-database"
                log.warning("group %s: database unavailable, retrying in %.1fs: %s",
                            self.group_id, backoff, exc)
                for tp, records in batches.items():
                    consumer.seek(tp, records[0].offset)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.2
            self.state = "running"
            self.consumed += len(deliveries)
            done = {tp: records[-1].offset + 1 for tp, records in batches.items()}
            self._positions.update(done)
            if self.group_id is not None:
                self._uncommitted.update(done)
                self._commit_soon(consumer)
            if self.on_batch is not None:
                self.on_batch(len(deliveries))

    async def _caught_up(self, consumer: AIOKafkaConsumer,
                         ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if tp in consumer.assignment() and await consumer.position(tp) < end:
                return False
        return True

    def _commit_soon(self, consumer: AIOKafkaConsumer, *, force: bool = False) -> None:
        """Commit the handled offsets in the background, one commit at a time, at most every
        EVENTS_COMMIT_INTERVAL (at once with `force`). Only offsets of messages whose handlers
        finished are ever committed, so this stays at-least-once; the next batch is fetched and
        handled meanwhile instead of waiting for the brokers to replicate the commit."""
        if not self._uncommitted or (self._commit_task and not self._commit_task.done()):
            return
        now = time.monotonic()
        if not force and now - self._last_commit < self.settings.events.commit_interval:
            return
        offsets, self._uncommitted = self._uncommitted, {}
        self._last_commit = now
        self._commit_task = asyncio.create_task(self._commit(consumer, offsets),
                                                name=f"commit-{self.group_id}")

    async def flush_commits(self, partitions: set[TopicPartition] | None = None) -> None:
        """Wait for the commit in flight, then commit what is handled (of `partitions`)."""
        if self._commit_task is not None:
            await asyncio.gather(self._commit_task, return_exceptions=True)
        consumer = self.consumer
        if consumer is None or self.group_id is None:
            return
        offsets = {tp: o for tp, o in self._uncommitted.items()
                   if partitions is None or tp in partitions}
        for tp in offsets:
            del self._uncommitted[tp]
        if offsets:
            await self._commit(consumer, offsets, retry_later=False)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int],
                      *, retry_later: bool = True) -> None:
        try:
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        except Exception as exc:  # rebalance or broker change: the events are redelivered, and
            # the processed-events record makes the redelivery a no-op.
            self.last_error = f"commit failed: {exc!r}"
            log.warning("group %s: %s", self.group_id, self.last_error)
            if retry_later:  # the next commit takes them again, unless newer ones came
                assigned = consumer.assignment()
                for tp, offset in offsets.items():
                    if tp in assigned and self._uncommitted.get(tp, -1) < offset:
                        self._uncommitted[tp] = offset


def kafka_dead_letter(kafka: KafkaConnection, group: str, timeout: float):
    """A dead-letter sink that sends the original message and the error to `<topic>.dlq`."""

    async def send(delivery: Delivery, error: str) -> None:
        producer = kafka.producer
        if producer is None:
            raise DispatchUnavailable("kafka producer not connected: cannot dead-letter")
        body = {
            "error": error,
            "group": group,
            "source": {"topic": delivery.topic, "partition": delivery.partition,
                       "offset": delivery.offset},
            "failed_at": time.time(),
            "value": delivery.value.decode("utf-8", "replace"),
        }
        try:
            await send_dead_letter(producer, dlq_topic(delivery.topic), orjson.dumps(body),
                                   key=delivery.key, error=error, source_topic=delivery.topic,
                                   timeout=timeout, headers=delivery.trace_headers())
        except Exception as exc:
            raise DispatchUnavailable(f"cannot dead-letter to {dlq_topic(delivery.topic)}: "
                                      f"{exc!r}") from exc

    return send


def runner_health(runner: KafkaGroupRunner) -> dict[str, Any]:
    return {"group_id": runner.group_id, "topics": runner.topics, "state": runner.state,
            "assigned": runner.assignment, "lag": runner.lag(), "consumed": runner.consumed,
            "handled": runner.dispatcher.handled, "skipped": runner.dispatcher.skipped,
            "dead_lettered": runner.dispatcher.dead_lettered, "last_error": runner.last_error}
