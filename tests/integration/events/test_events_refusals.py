"""Rows the brokers refuse for good, against the real 3-broker Kafka and PostgreSQL: the relay
dead-letters the row and renews its producer (whose sequence numbers the refusal put out of
step), so the rows behind it still go out."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import select

from snaproom_gateway.events.kafka_sink import KafkaSink
from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.relay import OutboxRelay
from snaproom_gateway.infra import database
from snaproom_gateway.infra.kafka import KafkaConnection
from tests.support.events_support import read_topic, wait_for

pytestmark = pytest.mark.integration


async def _create_topics(brokers: list[str], topic: str) -> None:
    """`topic` takes records of at most 10,000 bytes; its `.dlq` the default."""
    admin = AIOKafkaAdminClient(bootstrap_servers=brokers)
    await admin.start()
    try:
        await admin.create_topics([
            NewTopic(topic, 1, 3, topic_configs={"max.message.bytes": "10000"}),
            NewTopic(f"{topic}.dlq", 1, 3)])
    finally:
        await admin.close()


async def _is(awaitable, expected) -> bool:
    return await awaitable == expected


@dataclass
class _Parts:
    topic: str
    engine: Any
    sessionmaker: Any
    kafka: KafkaConnection


@contextlib.asynccontextmanager
async def _limited_topic(settings, prefix: str) -> AsyncIterator[_Parts]:
    """A new topic that takes records of at most 10,000 bytes, with the database and a
    connected Kafka client; closed after."""
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await _create_topics(settings.kafka.brokers, topic)
    engine = database.create_engine(settings)
    kafka = KafkaConnection(settings)
    await kafka.start()
    try:
        assert await kafka.wait_connected(30)
        yield _Parts(topic, engine, database.create_sessionmaker(engine), kafka)
    finally:
        await kafka.close()
        await engine.dispose()


@contextlib.asynccontextmanager
async def _relay_running(parts: _Parts, settings) -> AsyncIterator[OutboxRelay]:
    relay = OutboxRelay(parts.engine, parts.sessionmaker, settings,
                        KafkaSink(parts.kafka, settings))
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        relay.stop()
        await asyncio.wait_for(task, 30)


async def test_a_row_refused_when_sent_alone_is_dead_lettered_and_later_rows_still_go_out(
        clean_db):
    settings = clean_db
    big_id, small_ids = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(4)]
    async with _limited_topic(settings, "it-refuse") as parts:
        topic = parts.topic

        async def add(*rows: tuple[str, bytes]) -> None:
            async with parts.sessionmaker() as session, session.begin():
                for event_id, payload in rows:
                    session.add(OutboxEvent(event_id=event_id, topic=topic, key="k",
                                            attempts=0, payload=payload))

        async def counts() -> tuple[int, int]:
            async with parts.sessionmaker() as session:
                rows = (await session.execute(select(OutboxEvent.sent_at, OutboxEvent.dead_at)
                                              .where(OutboxEvent.topic == topic))).all()
            return (sum(sent is not None for sent, _ in rows),
                    sum(dead is not None for _, dead in rows))

        first_producer = parts.kafka.producer
        async with _relay_running(parts, settings):
            # One row accepted first: the brokers now track this producer's sequence numbers
            # on the partition, so a skipped number is an error from then on.
            await add((small_ids[0], orjson.dumps({"id": small_ids[0]})))
            await wait_for(lambda: _is(counts(), (1, 0)), 60)
            # Under the gateway's own size limit, over this topic's: only the brokers refuse it.
            await add((big_id, b"b" * 20_000),
                      *((i, orjson.dumps({"id": i})) for i in small_ids[1:]))
            await wait_for(lambda: _is(counts(), (4, 1)), 60)
        records = await read_topic(settings.kafka.brokers, topic)
        notices = await read_topic(settings.kafka.brokers, f"{topic}.dlq")
        async with parts.sessionmaker() as session:
            big = (await session.execute(select(OutboxEvent)
                                         .where(OutboxEvent.event_id == big_id))).scalar_one()
        renewed = parts.kafka.producer is not first_producer
    # The rows behind the refused one arrived once each, in order.
    assert [orjson.loads(r["value"])["id"] for r in records] == small_ids
    assert big.dead_at is not None and big.sent_at is None
    assert "refused by Kafka" in big.last_error and "TooLarge" in big.last_error
    [notice] = [orjson.loads(r["value"]) for r in notices]
    assert notice["source"]["event_id"] == big_id and notice["source"]["size"] == 20_000
    assert renewed  # the refusal put the first producer's sequence numbers out of step


async def test_a_topic_that_refuses_full_batches_gets_smaller_ones_and_every_row_goes_out(
        clean_db):
    """max.message.bytes 10,000: one producer batch of these rows (~100 KB) is refused, each row
    (1.5 KB) alone is not. Without smaller batches the relay would send one probe row per
    failure and backoff, so the failures would count about one per row."""
    settings = clean_db
    ids = [str(uuid.uuid4()) for _ in range(60)]
    async with _limited_topic(settings, "it-batch") as parts:
        topic = parts.topic

        async def sent() -> int:
            async with parts.sessionmaker() as session:
                rows = (await session.execute(select(OutboxEvent.sent_at)
                                              .where(OutboxEvent.topic == topic))).all()
            return sum(at is not None for at, in rows)

        async with parts.sessionmaker() as session, session.begin():
            for event_id in ids:
                session.add(OutboxEvent(event_id=event_id, topic=topic, key="k", attempts=0,
                                        payload=orjson.dumps({"id": event_id, "pad": "p" * 1450})))
        async with _relay_running(parts, settings) as relay:
            await wait_for(lambda: _is(sent(), len(ids)), 120)
        records = await read_topic(settings.kafka.brokers, topic)
    assert [orjson.loads(r["value"])["id"] for r in records] == ids  # once each, in order
    assert relay.sink.batch_bytes[topic] < 50_000  # lowered, from the refused ~90 KB batch on
    assert relay.failures <= 8  # one per halving (256 KiB -> under 10,000 bytes), not per row
