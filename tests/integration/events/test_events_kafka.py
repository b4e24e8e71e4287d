"""The event backbone against the real 3-broker Kafka and PostgreSQL of the harness."""

from __future__ import annotations

import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.publisher import publish
from snaproom_gateway.users.models import User
from tests.support.apps import running_app
from tests.support.events_support import (
    effects,
    envelopes_of,
    group_at_end,
    kafka_settings,
    read_topic,
    topic_ends,
    wait_for,
)
from tests.support.users_api import admin_headers

pytestmark = pytest.mark.integration


async def _write_users(app, count: int, users: int = 4) -> list[str]:
    """Domain changes with their events, one transaction each; returns the event ids."""
    ids = []
    tag = uuid.uuid4().hex[:8]
    for n in range(count):
        async with app.state.runtime.sessionmaker() as session:
            user_id = 1_000 + n % users
            if n < users:
                session.add(User(email=f"{tag}-{n}@example.com", username=f"{tag}{n}",
                                 password_hash="x"))
            envelope = await publish(session, "user.updated", user_id=user_id,
                                     data={"fields": ["bio"], "n": n})
            await session.commit()
            ids.append(envelope.id)
    return ids


async def test_an_event_written_with_a_domain_change_reaches_kafka_once(clean_db, recorder):
    settings = clean_db
    group = recorder("it-once")
    await group_at_end(settings, group, ["user-events"])
    start = await topic_ends(settings.kafka.brokers, "user-events")
    async with running_app(settings) as (app, _):
        ids = await _write_users(app, 40)

        async def all_handled():
            return len(await effects(settings, group, ids)) >= 40
        await wait_for(all_handled, 60)
        records = await read_topic(settings.kafka.brokers, "user-events", start=start)
    found = envelopes_of(records, set(ids))
    assert sorted(e["id"] for e in found) == sorted(ids)  # each id once on the topic
    # One key's events sit on one partition, in the order they were written.
    by_key: dict[bytes, list[int]] = {}
    for e in found:
        by_key.setdefault(e["_key"], []).append(e["data"]["data"]["n"])
    assert set(by_key) == {b"1000", b"1001", b"1002", b"1003"}
    assert all(ns == sorted(ns) for ns in by_key.values())
    assert all(len({e["_partition"] for e in found if e["_key"] == k}) == 1 for k in by_key)
    done = await effects(settings, group, ids)
    assert sorted(e[0] for e in done) == sorted(ids)  # one effect per event


async def test_topics_are_created_on_start_with_their_partition_counts(clean_db):
    from snaproom_gateway.events.topics import describe_topics

    async with running_app(clean_db) as (app, _):
        await wait_for(lambda: _true_when(app.state.runtime.events.relay.sink.topics_ready), 60)
        topics = {t["topic"]: t for t in await describe_topics(app.state.runtime.kafka.admin)}
    assert len(topics["user-events"]["partitions"]) == 6
    assert len(topics["audit-events"]["partitions"]) == 3
    assert len(topics["analytics-events"]["partitions"]) == 3
    assert all(len(p["replicas"]) == 3 for p in topics["user-events"]["partitions"])
    assert "user-events.dlq" in topics


async def _true_when(value):
    return bool(value)


async def test_a_malformed_message_lands_in_the_dlq_and_the_consumer_goes_on(clean_db, recorder):
    settings = clean_db
    group = recorder("it-dlq")
    await group_at_end(settings, group, ["user-events"])
    dlq_start = await topic_ends(settings.kafka.brokers, "user-events.dlq")
    marker = uuid.uuid4().hex
    async with running_app(settings) as (app, _):
        await wait_for(lambda: _true_when(app.state.runtime.events.relay.sink.topics_ready), 60)
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.brokers)
        await producer.start()
        try:
            await producer.send_and_wait("user-events", f"not json {marker}".encode(), key=b"77")
            bad_schema = {"id": f"bad-{marker}", "timestamp": "2026-01-01T00:00:00Z",
                          "data": {"event": "user.created", "user_id": 77, "data": {}}}
            await producer.send_and_wait("user-events", orjson.dumps(bad_schema), key=b"77")
        finally:
            await producer.stop()
        async with app.state.runtime.sessionmaker() as session:
            good = await publish(session, "user.logout", user_id=77, data={})
            await session.commit()

        async def good_handled():
            return bool(await effects(settings, group, [good.id]))
        await wait_for(good_handled, 60)
        dlq = await read_topic(settings.kafka.brokers, "user-events.dlq", start=dlq_start)
    ours = [orjson.loads(r["value"]) for r in dlq if marker.encode() in r["value"]]
    groups = {m["group"] for m in ours}
    assert group in groups
    mine = [m for m in ours if m["group"] == group]
    assert len(mine) == 2
    assert any("JSON" in m["error"] or "json" in m["error"] for m in mine)
    assert any("username" in m["error"] for m in mine)
    assert all(m["source"]["topic"] == "user-events" and m["source"]["offset"] >= 0
               for m in mine)


async def test_two_relays_on_one_database_publish_every_row_once_in_key_order(clean_db):
    """Two gateway instances (relays) share the outbox: SKIP LOCKED and the per-key guard."""
    settings = kafka_settings({"DATABASE_URL": clean_db.database.url,
                               "KAFKA_BROKERS": ",".join(clean_db.kafka.brokers)},
                              outbox_batch_size=50, events_consumers_enabled=False)
    start = await topic_ends(settings.kafka.brokers, "user-events")
    async with running_app(settings) as (app_a, _), running_app(settings) as (app_b, _):
        ids = []
        async with app_a.state.runtime.sessionmaker() as session:
            for n in range(600):
                envelope = await publish(session, "user.updated", user_id=2_000 + n % 7,
                                         data={"fields": ["x"], "n": n})
                ids.append(envelope.id)
            await session.commit()

        async def drained():
            async with app_a.state.runtime.sessionmaker() as session:
                return await session.scalar(select(func.count()).select_from(OutboxEvent)
                                            .where(OutboxEvent.sent_at.is_(None))) == 0
        await wait_for(drained, 60)
        records = await read_topic(settings.kafka.brokers, "user-events", start=start)
        sent_by = (app_a.state.runtime.events.relay.sent_total,
                   app_b.state.runtime.events.relay.sent_total)
    found = envelopes_of(records, set(ids))
    assert len(found) == 600 and len({e["id"] for e in found}) == 600
    by_key: dict[bytes, list[int]] = {}
    for e in found:
        by_key.setdefault(e["_key"], []).append(e["data"]["data"]["n"])
    assert all(ns == sorted(ns) for ns in by_key.values())
    assert sum(sent_by) == 600


async def test_cluster_info_consumers_and_kafka_health_report_brokers_controller_and_lag(
        clean_db, recorder):
    group = recorder("it-info")
    settings = clean_db
    await group_at_end(settings, group, ["user-events"])
    async with running_app(settings) as (app, client):
        # A fresh name: the stack's database keeps users from earlier runs.
        admin = await admin_headers(app, client, f"kafka_admin_{uuid.uuid4().hex[:8]}")
        ids = await _write_users(app, 5)

        async def handled():
            return len(await effects(settings, group, ids)) >= 5
        await wait_for(handled, 60)
        cluster = (await client.get("/api/admin/kafka/cluster", headers=admin)).json()
        consumers: dict = {}

        async def committed():  # offsets are committed in the background (EVENTS_COMMIT_INTERVAL)
            consumers.update((await client.get("/api/admin/kafka/consumers",
                                               headers=admin)).json())
            return any(g["group"] == f"snaproom-gateway.{group}" and g["partitions"]
                       for g in consumers["groups"])
        await wait_for(committed, 30, interval=0.5)
        health = await client.get("/api/health/kafka")
        full = (await client.get("/api/health/full")).json()
    assert [b["id"] for b in cluster["brokers"]] == [1, 2, 3]
    assert cluster["controller"] in (1, 2, 3)
    assert {"topic": "user-events", "partitions": 6, "replication": 3,
            "under_replicated": 0} in cluster["topics"]
    described = next(g for g in consumers["groups"]
                     if g["group"] == f"snaproom-gateway.{group}")
    user_parts = [p for p in described["partitions"] if p["topic"] == "user-events"]
    assert 1 <= len(user_parts) <= 6  # partitions the group has committed on
    assert all(p["lag"] == p["end"] - p["committed"] >= 0 for p in user_parts)
    assert described["lag"] == sum(p["lag"] for p in described["partitions"])
    body = health.json()
    assert health.status_code == 200 and body["kafka"]["controller"] in (1, 2, 3)
    assert body["kafka"]["brokers"] == 3 and isinstance(body["kafka"]["total_lag"], int)
    assert full["components"]["consumers"]["groups"][group]["state"] == "running"
    assert full["components"]["outbox"]["sink"] == "kafka"


async def test_a_row_too_large_for_kafka_is_dead_lettered_and_the_rows_behind_it_go_on(
        clean_db, recorder):
    """A row written past publish() (an older version, another writer) that no broker would
    take: its notice lands in the .dlq, it is kept as dead, and the next event of its key
    still reaches the consumers."""
    from snaproom_gateway.events.catalog import MAX_EVENT_BYTES

    settings = clean_db
    group = recorder("it-dead-row")
    await group_at_end(settings, group, ["user-events"])
    dlq_start = await topic_ends(settings.kafka.brokers, "user-events.dlq")
    big_id = str(uuid.uuid4())
    async with running_app(settings) as (app, _):
        await wait_for(lambda: _true_when(app.state.runtime.events.relay.sink.topics_ready), 60)
        async with app.state.runtime.sessionmaker() as session:
            session.add(OutboxEvent(event_id=big_id, topic="user-events", key="88", attempts=0,
                                    payload=b'{"pad": "' + b"x" * (MAX_EVENT_BYTES + 10) + b'"}'))
            await session.commit()
        async with app.state.runtime.sessionmaker() as session:
            after = await publish(session, "user.logout", user_id=88, data={})
            await session.commit()

        async def after_handled():
            return bool(await effects(settings, group, [after.id]))
        await wait_for(after_handled, 60)
        dlq = await read_topic(settings.kafka.brokers, "user-events.dlq", start=dlq_start)
        async with app.state.runtime.sessionmaker() as session:
            big = (await session.execute(select(OutboxEvent)
                                         .where(OutboxEvent.event_id == big_id))).scalar_one()
    notices = [orjson.loads(r["value"]) for r in dlq if big_id.encode() in r["value"]]
    assert len(notices) == 1
    assert notices[0]["source"]["event_id"] == big_id and notices[0]["truncated"] is True
    assert "over the" in notices[0]["error"]
    assert big.dead_at is not None and big.sent_at is None and len(big.payload) > MAX_EVENT_BYTES
