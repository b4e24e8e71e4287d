"""The event backbone through failures: Kafka stopped under writes, consumers killed mid-batch
while a second consumer joins the group (a rebalance)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select

from snaproom_gateway.events.models import OutboxEvent
from snaproom_gateway.events.publisher import publish
from tests.support.apps import running_app
from tests.support.events_support import (
    REPO,
    cli_env,
    effects,
    envelopes_of,
    group_at_end,
    read_topic,
    topic_ends,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def _pending(app, ids: list[str]) -> int:
    async with app.state.runtime.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.sent_at.is_(None), OutboxEvent.event_id.in_(ids)))


async def _write(app, count: int, start: int) -> list[str]:
    ids = []
    for n in range(start, start + count):
        async with app.state.runtime.sessionmaker() as session:
            envelope = await publish(session, "user.updated", user_id=4_000 + n % 5,
                                     data={"fields": ["bio"], "n": n})
            await session.commit()
        ids.append(envelope.id)
    return ids


async def test_writes_succeed_while_kafka_is_down_and_every_event_arrives_after(
        clean_db, stack, recorder):
    settings = clean_db
    group = recorder("it-outage")
    await group_at_end(settings, group, ["user-events"])
    start = await topic_ends(settings.kafka.brokers, "user-events")
    async with running_app(settings) as (app, _):
        relay = app.state.runtime.events.relay

        async def topics_ready():
            return relay.sink.topics_ready
        await wait_for(topics_ready, 60)
        before = await _write(app, 5, 0)

        async def first_handled():
            return len(await effects(settings, group, before)) >= 5
        await wait_for(first_handled, 60)

        stack.down("kafka")
        try:
            during = await _write(app, 60, 5)  # every commit succeeds with Kafka gone
            await asyncio.sleep(2)
            assert await _pending(app, during) == 60  # the outbox holds them all
        finally:
            stack.up("kafka")
        after = await _write(app, 5, 65)
        ids = before + during + after

        async def all_handled():
            return len(await effects(settings, group, ids)) >= len(ids)
        await wait_for(all_handled, 240, interval=0.5)
        assert await _pending(app, ids) == 0
        records = await read_topic(settings.kafka.brokers, "user-events", timeout=30,
                                   start=start)
    found = envelopes_of(records, set(ids))
    assert sorted(e["id"] for e in found) == sorted(ids)  # every event, none twice
    by_key: dict[bytes, list[int]] = {}
    for e in found:
        by_key.setdefault(e["_key"], []).append(e["data"]["data"]["n"])
    assert all(ns == sorted(ns) for ns in by_key.values())  # per-key order
    done = [e[0] for e in await effects(settings, group, ids)]
    assert sorted(done) == sorted(ids)  # one effect each


def _consumer(stack_env, group: str, timeout_ms: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "snaproom_gateway", "consume", "user-events", "--group", group,
         "--timeout", str(timeout_ms), "--batch-size", "20"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=cli_env(stack_env, EVENTS_HANDLER_MODULES="tests.support.event_handlers_fixture",
                    IT_EFFECT_GROUP=group, IT_EFFECT_DELAY="0.01"))


async def test_consumers_killed_mid_batch_and_rebalanced_have_one_effect_per_event(
        clean_db, stack_env):
    settings = clean_db
    settings.events.consumers_enabled = False
    group = f"it-kill-{uuid.uuid4().hex[:8]}"
    await group_at_end(settings, group, ["user-events"])
    async with running_app(settings) as (app, _):
        ids = []
        async with app.state.runtime.sessionmaker() as session:
            for n in range(600):
                envelope = await publish(session, "user.updated", user_id=5_000 + n % 11,
                                         data={"fields": ["bio"], "n": n})
                ids.append(envelope.id)
            await session.commit()

        async def relayed():
            return await _pending(app, ids) == 0
        await wait_for(relayed, 60)

    async def handled_at_least(count: int):
        async def check():
            return len(await effects(settings, group)) >= count
        return check

    first = _consumer(stack_env, group, 60_000)
    second = None
    try:
        await wait_for(await handled_at_least(60), 90)
        second = _consumer(stack_env, group, 20_000)  # joins: the group rebalances
        await wait_for(await handled_at_least(200), 90)
        first.send_signal(signal.SIGKILL)  # mid-batch, offsets of its last batch uncommitted
        first.wait(10)
        await asyncio.to_thread(second.wait, 120)
        assert second.returncode == 0, second.stderr.read()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    # A restarted consumer picks up whatever the killed one left uncommitted.
    last = _consumer(stack_env, group, 5_000)
    await asyncio.to_thread(last.wait, 120)
    assert last.returncode == 0, last.stderr.read()

    done = [e[0] for e in await effects(settings, group)]
    assert len(done) == len(set(done))  # no event had a second effect
    assert set(ids) <= set(done)  # every event had its effect
