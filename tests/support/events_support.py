"""Helpers for the event-backbone tests against the real stack: settings, a clean outbox,
and reading a topic back from Kafka (a group-less consumer, from the beginning)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text

from snaproom_gateway.core.settings import Settings
from snaproom_gateway.infra import database, migrations

REPO = Path(__file__).resolve().parents[2]
EFFECTS_DDL = ("CREATE TABLE IF NOT EXISTS it_effects (id BIGSERIAL PRIMARY KEY, "
               "grp TEXT NOT NULL, event_id TEXT NOT NULL, user_id BIGINT, n INTEGER)")


def kafka_settings(stack_env: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        _env_file=None, app_env="testing", database_url=stack_env["DATABASE_URL"],
        kafka_brokers=stack_env["KAFKA_BROKERS"].split(","), redis_sentinels=[], redis_url=None,
        redis_host=None, cache_driver=None, outbox_backoff_max=2.0, events_retry_backoff=0.05,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def clean_db(stack_env):
    """Migrated PostgreSQL with an empty outbox, processed-events log and effects table."""
    settings = kafka_settings(stack_env)
    engine = database.create_engine(settings)
    try:
        await migrations.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text(EFFECTS_DDL))
            await conn.execute(text("TRUNCATE outbox, processed_events, it_effects"))
    finally:
        await engine.dispose()
    return settings


async def effects(settings: Settings, group: str, ids: list[str] | None = None
                  ) -> list[tuple[str, int | None, int | None]]:
    """(event_id, user_id, n) of each effect of `group`, in order; only `ids` when given (a
    durable group also handles events other tests put on the topic since its last run)."""
    engine = database.create_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT event_id, user_id, n FROM it_effects "
                                           "WHERE grp = :g ORDER BY id"), {"g": group})
            wanted = set(ids) if ids is not None else None
            return [tuple(r) for r in rows if wanted is None or r[0] in wanted]
    finally:
        await engine.dispose()


async def topic_ends(brokers: list[str], topic: str) -> dict[int, int]:
    """The current end offset of each partition (read records after these with read_topic)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert parts, f"topic {topic} has no partitions"
        return {tp.partition: end for tp, end in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()


async def group_at_end(settings: Settings, group: str, topics: list[str]) -> None:
    """Start a fresh test group at the topics' end, so it skips what other runs left there."""
    from snaproom_gateway.events.commands import offsets_reset

    await offsets_reset(settings, group, topics, "latest", None)


async def read_topic(brokers: list[str], topic: str, timeout: float = 10.0,
                     start: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """Every record of `topic` from `start` (default: the beginning) up to its current end,
    with partition, offset, key, value."""
    consumer = AIOKafkaConsumer(bootstrap_servers=brokers, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            await consumer._client.force_metadata_update()
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        for tp in parts:
            if start and tp.partition in start:
                consumer.seek(tp, start[tp.partition])
        ends = await consumer.end_offsets(parts)
        out: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for r in records:
                        if r.offset < ends[tp]:
                            out.append({"partition": tp.partition, "offset": r.offset,
                                        "key": r.key, "value": r.value, "headers": r.headers})
        return out
    finally:
        await consumer.stop()


def envelopes_of(records: list[dict[str, Any]], ids: set[str]) -> list[dict[str, Any]]:
    """Parsed envelopes among `records` whose id is in `ids`, in partition/offset order."""
    found = []
    for record in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        try:
            body = orjson.loads(record["value"])
        except orjson.JSONDecodeError:
            continue
        if isinstance(body, dict) and body.get("id") in ids:
            found.append(body | {"_partition": record["partition"], "_key": record["key"]})
    return found


async def wait_for(predicate, timeout: float, interval: float = 0.1) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():  # noqa: ASYNC110 - polling servers' state
            await asyncio.sleep(interval)


def cli(stack_env: dict[str, str], *args: str, timeout: float = 120, **env: str
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snaproom_gateway", *args], cwd=REPO,
                          env=cli_env(stack_env, **env), capture_output=True, text=True,
                          timeout=timeout)


def cli_env(stack_env: dict[str, str], **env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "KAFKA_"))}
    return base | {"DATABASE_URL": stack_env["DATABASE_URL"],
                   "KAFKA_BROKERS": stack_env["KAFKA_BROKERS"], "CACHE_DRIVER": "memory",
                   "APP_ENV": "testing", "PYTHONPATH": str(REPO), "LOG_LEVEL": "warning"} | env


@pytest.fixture
def recorder():
    """Register effect-writing handlers for groups named by the test; unregistered afterwards."""
    from tests.support.apps import extra_subscribers

    registered = []

    def register(group: str, pattern: str = "user.*") -> str:
        group = f"{group}-{uuid.uuid4().hex[:8]}"  # fresh each run: no backlog from others
        async def record(envelope, ctx) -> None:
            await ctx.session().execute(
                text("INSERT INTO it_effects (grp, event_id, user_id, n) "
                     "VALUES (:g, :e, :u, :n)"),
                {"g": ctx.group, "e": envelope.id, "u": envelope.user_id,
                 "n": envelope.payload.get("n")})

        record.__qualname__ = f"record_{group}"
        extra_subscribers.subscriber(pattern, group=group)(record)
        registered.append(record)
        return group

    yield register
    for fn in registered:
        extra_subscribers.remove(fn)
